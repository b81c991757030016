"""The HorizontalPodAutoscaler controller (autoscaling/v2, resource metrics).

Every ``sync_period`` (15 s) each HPA is reconciled as upstream's ``reconcileAutoscaler``:

1. read the target's ``scale`` subresource (AbleToScale False/FailedGetScale when it cannot);
2. outside [minReplicas, maxReplicas] the count is brought back inside; a target scaled to
   zero disables autoscaling (ScalingActive False/ScalingDisabled); otherwise every metric
   proposes a count (``replicas.py``, from ``metrics.k8s.io`` and the pods' requests) and the
   largest wins (ScalingActive True/ValidMetricFound, or False with the first failure's reason);
3. the proposal is stabilized and rate-limited (``behavior.py``: AbleToScale, ScalingLimited);
4. a changed count is written to the scale subresource, with the SuccessfulRescale event
   ``New size: 4; reason: cpu resource utilization (percentage of request) above target``;
5. status (currentReplicas, desiredReplicas, currentMetrics, lastScaleTime, conditions) is
   written when it changed.

Informer events only enqueue: a new HPA or a changed spec at once, everything else waits for
the next period, so the controller's own status writes do not make it spin.

Invariant: time is the injected clock's, so stabilization windows and policy periods are
tested with a ``FakeClock`` in zero wall time.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp

from kybernetes.api import errors, selectors
from kybernetes.api.meta import now_rfc3339, set_condition
from kybernetes.api.quantity import Quantity, QuantityError, parse_quantity
from kybernetes.client.cache import split_key
from kybernetes.client.informer import Handler
from kybernetes.client.resource import PODS, Resource
from kybernetes.controllers.base import ControllerContext, Obj, QueueController
from kybernetes.controllers.hpa.behavior import DOWNSCALE_STABILIZATION_WINDOW, Normalizer
from kybernetes.controllers.hpa.metricsclient import pod_metrics
from kybernetes.controllers.hpa.replicas import (
    CPU_INITIALIZATION_PERIOD,
    DEFAULT_TOLERANCE,
    INITIAL_READINESS_DELAY,
    Proposal,
    ReplicaCalcError,
    Settings,
    raw_resource_replicas,
    resource_replicas,
)
from kybernetes.controllers.hpa.scaletarget import ScaleTargetError, ScaleTargets

log = logging.getLogger(__name__)

_FAILURES = (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError)

HPAS: Final = Resource(
    "autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True
)
DEFAULT_SYNC_PERIOD: Final = 15.0
DEFAULT_METRICS: Final = [
    {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
]
_SOURCE_FIELD: Final = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


class _MetricError(Exception):
    """A metric that proposes nothing: ``cause`` for its condition, ``str()`` for the error."""

    def __init__(
        self, reason: str, message: str, cause: str = "", statuses: list[Obj] | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.cause = cause or message
        self.statuses = statuses


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class HorizontalPodAutoscalerController(QueueController):
    """Scales workloads through their scale subresource to keep resource usage on target."""

    name = "horizontal-pod-autoscaler"
    component = "horizontal-pod-autoscaler"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        options = context.options
        self.sync_period = float(
            options.get("horizontal_pod_autoscaler_sync_period", DEFAULT_SYNC_PERIOD)
        )
        self.settings = Settings(
            tolerance=float(options.get("horizontal_pod_autoscaler_tolerance", DEFAULT_TOLERANCE)),
            cpu_initialization_period=float(
                options.get(
                    "horizontal_pod_autoscaler_cpu_initialization_period",
                    CPU_INITIALIZATION_PERIOD,
                )
            ),
            initial_readiness_delay=float(
                options.get(
                    "horizontal_pod_autoscaler_initial_readiness_delay", INITIAL_READINESS_DELAY
                )
            ),
        )
        self.normalizer = Normalizer(
            float(
                options.get(
                    "horizontal_pod_autoscaler_downscale_stabilization",
                    DOWNSCALE_STABILIZATION_WINDOW,
                )
            )
        )
        factory = context.informers
        self.hpas = self.informer(factory.informer(HPAS))
        self.pods = self.informer(factory.informer(PODS))
        self.recorder = context.recorder(self.component)
        self.targets = ScaleTargets(self.client)
        self.hpas.add_handler(
            Handler(on_add=self.enqueue, on_update=self._updated, on_delete=self.enqueue)
        )

    def _updated(self, old: Obj, new: Obj) -> None:
        if old.get("spec") != new.get("spec"):
            self.enqueue(new)

    # --- reconcile ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.hpas.store.get(key)
        if cached is None:
            self.normalizer.forget(key)
            return
        hpa = copy.deepcopy(cached)
        hpa.setdefault("apiVersion", HPAS.api_version)
        hpa.setdefault("kind", HPAS.kind)
        try:
            await self._reconcile(key, hpa, cached)
        finally:
            self.queue.add_after(key, self.sync_period)

    def _condition(self, hpa: Obj, type_: str, status: bool, reason: str, message: str) -> None:
        conditions = hpa.setdefault("status", {}).setdefault("conditions", [])
        new = {
            "type": type_,
            "status": "True" if status else "False",
            "reason": reason,
            "message": message,
        }
        set_condition(conditions, new, self._now())

    def _now(self) -> str:
        return now_rfc3339(datetime.fromtimestamp(self.clock.now(), UTC))

    async def _reconcile(self, key: str, hpa: Obj, original: Obj) -> None:
        namespace, _ = split_key(key)
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        reference = f"{ref.get('kind')}/{ref.get('name')}"
        try:
            path, scale = await self.targets.get(namespace, ref)
        except ScaleTargetError as exc:
            self.recorder.event(hpa, "Warning", "FailedGetScale", str(exc))
            self._condition(
                hpa,
                "AbleToScale",
                False,
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: {exc}",
            )
            await self._write_status(hpa, original, None, None, None, False)
            log.info("hpa cannot get scale hpa=%s target=%s error=%s", key, reference, exc)
            return
        self._condition(
            hpa,
            "AbleToScale",
            True,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = _int((scale.get("spec") or {}).get("replicas"), 0)
        self.normalizer.record_initial(key, current, self.clock.now())
        low = _int(spec.get("minReplicas"), 1)
        high = _int(spec.get("maxReplicas"), low)
        statuses: list[Obj] | None = None
        desired = 0
        reason = ""
        if current == 0 and low != 0:
            self._condition(
                hpa,
                "ScalingActive",
                False,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        elif current > high:
            desired, reason = high, "Current number of replicas above Spec.MaxReplicas"
        elif current < low:
            desired, reason = low, "Current number of replicas below Spec.MinReplicas"
        else:
            try:
                proposed, metric, statuses = await self._compute(hpa, namespace, scale, current)
            except _MetricError as exc:
                self.recorder.event(hpa, "Warning", "FailedComputeMetricsReplicas", str(exc))
                await self._write_status(hpa, original, current, None, exc.statuses, False)
                log.info("hpa cannot compute replicas hpa=%s error=%s", key, exc)
                return
            desired = proposed
            if desired > current:
                reason = f"{metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            outcome = self.normalizer.normalize(
                key, spec.get("behavior"), current, desired, low, high, self.clock.now()
            )
            self._condition(hpa, "AbleToScale", True, outcome.able_reason, outcome.able_message)
            self._condition(
                hpa,
                "ScalingLimited",
                outcome.limited,
                outcome.limited_reason,
                outcome.limited_message,
            )
            desired = outcome.replicas
        rescale = desired != current
        if rescale:
            try:
                await self.targets.set_replicas(path, scale, desired)
            except _FAILURES as exc:
                self.recorder.event(
                    hpa,
                    "Warning",
                    "FailedRescale",
                    f"New size: {desired}; reason: {reason}; error: {exc}",
                )
                self._condition(
                    hpa,
                    "AbleToScale",
                    False,
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {exc}",
                )
                await self._write_status(hpa, original, current, None, statuses, False)
                raise
            self._condition(
                hpa,
                "AbleToScale",
                True,
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            )
            self.recorder.event(
                hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}"
            )
            self.normalizer.record_scale(
                key, spec.get("behavior"), current, desired, self.clock.now()
            )
            log.info(
                "hpa rescaled hpa=%s target=%s from=%d to=%d reason=%r",
                key,
                reference,
                current,
                desired,
                reason,
            )
        else:
            desired = current
        await self._write_status(hpa, original, current, desired, statuses, rescale)

    # --- metrics --------------------------------------------------------------------------------

    async def _compute(
        self, hpa: Obj, namespace: str, scale: Obj, current: int
    ) -> tuple[int, str, list[Obj]]:
        """``computeReplicasForMetrics``: the largest proposal of all metrics."""
        text = str((scale.get("status") or {}).get("selector") or "")
        if not text:
            self.recorder.event(hpa, "Warning", "SelectorRequired", "selector is required")
            self._condition(
                hpa,
                "ScalingActive",
                False,
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            )
            raise _MetricError("SelectorRequired", "selector is required", statuses=[])
        try:
            selector = selectors.parse(text)
        except selectors.SelectorError as exc:
            self.recorder.event(hpa, "Warning", "InvalidSelector", str(exc))
            self._condition(
                hpa,
                "ScalingActive",
                False,
                "InvalidSelector",
                f"the HPA target's scale has an invalid selector: {exc}",
            )
            raise _MetricError("InvalidSelector", str(exc), statuses=[]) from exc
        specs = (hpa.get("spec") or {}).get("metrics") or DEFAULT_METRICS
        pods = [
            p
            for p in self.pods.store.list_namespace(namespace)
            if selector.matches((p.get("metadata") or {}).get("labels") or {})
        ]
        statuses: list[Obj] = [{"type": ""} for _ in specs]
        best, best_metric = 0, ""
        failures: list[_MetricError] = []
        for i, metric in enumerate(specs):
            try:
                proposal, name, status = await self._one(metric, namespace, text, pods, current)
            except _MetricError as exc:
                self.recorder.event(hpa, "Warning", exc.reason, exc.cause)
                failures.append(exc)
                continue
            statuses[i] = status
            if best == 0 or proposal > best:
                best, best_metric = proposal, name
        if failures and (len(failures) >= len(specs) or best < current):
            first = failures[0]
            self._condition(
                hpa,
                "ScalingActive",
                False,
                first.reason,
                f"the HPA was unable to compute the replica count: {first.cause}",
            )
            message = (
                f"invalid metrics ({len(failures)} invalid out of {len(specs)}), "
                f"first error is: {first}"
            )
            raise _MetricError("FailedComputeMetricsReplicas", message, statuses=statuses)
        self._condition(
            hpa,
            "ScalingActive",
            True,
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {best_metric}",
        )
        return best, best_metric, statuses

    async def _one(
        self, metric: Obj, namespace: str, selector: str, pods: list[Obj], current: int
    ) -> tuple[int, str, Obj]:
        kind = str(metric.get("type", ""))
        field = _SOURCE_FIELD.get(kind)
        if kind not in ("Resource", "ContainerResource"):
            if field is None:
                raise _MetricError(
                    "InvalidMetricSourceType", f"unknown metric source type {kind!r}"
                )
            raise _MetricError(
                f"FailedGet{kind}Metric",
                f"failed to get {kind.lower()} metric: no custom or external metrics API "
                "is served by this cluster",
            )
        source = metric.get(field or "") or {}
        resource = str(source.get("name", ""))
        container = str(source.get("container", "")) if kind == "ContainerResource" else ""
        target = source.get("target") or {}
        reason = f"FailedGet{kind}Metric"
        try:
            metrics = await pod_metrics(self.client, namespace, selector, resource, container)
            now = self.clock.now()
            if target.get("averageValue") is not None:
                average = _milli(target["averageValue"])
                proposal = raw_resource_replicas(
                    current, average, resource, pods, metrics, now, self.settings
                )
                name = f"{resource} resource"
            elif target.get("averageUtilization") is not None:
                utilization = _int(target.get("averageUtilization"), 0)
                proposal = resource_replicas(
                    current, utilization, resource, pods, metrics, now, self.settings, container
                )
                name = f"{resource} resource utilization (percentage of request)"
            else:
                raise ReplicaCalcError(
                    "invalid resource metric source: neither an average utilization target "
                    "nor an average value (usage) target was set"
                )
        except ReplicaCalcError as exc:
            what = "usage" if target.get("averageValue") is not None else "utilization"
            cause = str(exc)
            if not cause.startswith("invalid resource metric source"):
                cause = f"failed to get {resource} {what}: {cause}"
            outer = f"failed to get {resource} resource metric value: {cause}"
            raise _MetricError(reason, outer, cause) from exc
        if container:
            name = f"{resource} container resource utilization (percentage of request)"
            if target.get("averageValue") is not None:
                name = f"{resource} container resource"
        return proposal.replicas, name, _status(kind, field or "", resource, container, proposal)

    # --- status ---------------------------------------------------------------------------------

    async def _write_status(
        self,
        hpa: Obj,
        original: Obj,
        current: int | None,
        desired: int | None,
        statuses: list[Obj] | None,
        rescale: bool,
    ) -> None:
        status = hpa.setdefault("status", {})
        if current is not None:
            status["currentReplicas"] = current
            status["desiredReplicas"] = (
                desired if desired is not None else status.get("desiredReplicas", 0)
            )
        status.setdefault("desiredReplicas", 0)
        if statuses is not None:
            if statuses:
                status["currentMetrics"] = statuses
            else:
                status.pop("currentMetrics", None)
        if rescale:
            status["lastScaleTime"] = self._now()
        generation = (hpa.get("metadata") or {}).get("generation")
        if isinstance(generation, int):
            status["observedGeneration"] = generation
        if status == (original.get("status") or {}):
            return
        await self.client.update_status(HPAS, hpa)


def _milli(value: object) -> int:
    try:
        return parse_quantity(value if isinstance(value, str | int) else str(value)).milli_value()
    except QuantityError as exc:
        raise ReplicaCalcError(f"invalid target value {value!r}: {exc}") from exc


def _status(kind: str, field: str, resource: str, container: str, proposal: Proposal) -> Obj:
    current: dict[str, Any] = {}
    if proposal.utilization is not None:
        current["averageUtilization"] = proposal.utilization
    current["averageValue"] = Quantity.from_milli(proposal.raw_average).canonical()
    body: dict[str, Any] = {"name": resource, "current": current}
    if container:
        body["container"] = container
    return {"type": kind, field: body}
