"""Node lifecycle: silent nodes become Unknown and tainted; their pods are evicted in time.

Every ``monitor_period`` (5 s) the controller looks at each Node's heartbeats — its Lease's
``renewTime`` and its Ready condition's ``lastHeartbeatTime`` — and records, on its own
monotonic clock, when it last saw either change (upstream's ``probeTimestamp``; comparing
remote timestamps with local time would make clock skew look like an outage). A node silent for
``grace_period`` (40 s) gets every condition set to ``Unknown`` (reason ``NodeStatusUnknown``,
"Kubelet stopped posting node status.") and its pods marked not Ready, so Services stop sending
them traffic.

Taints follow the Ready condition, as upstream's TaintNodesByCondition and NoExecute tainting:
``node.kubernetes.io/unreachable`` (Unknown) or ``node.kubernetes.io/not-ready`` (False), with
both NoSchedule and NoExecute effects; they are removed when the node is Ready again.

Taint eviction: a pod on a node with a NoExecute taint it does not tolerate is deleted at once;
one that tolerates it for ``tolerationSeconds`` is deleted that long after the taint's
``timeAdded`` (the default 300 s comes from the DefaultTolerationSeconds admission plugin); its
controller then creates a replacement, which the scheduler places on a healthy node.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339, parse_time
from kybernetes.api.taints import tolerates
from kybernetes.client.cache import NODE_NAME_INDEX, index_by_node_name, key_of
from kybernetes.client.events import NORMAL
from kybernetes.client.informer import Handler
from kybernetes.client.resource import LEASES, NODES, PODS
from kybernetes.controllers.base import ControllerContext, QueueController

log = logging.getLogger(__name__)

Obj = dict[str, Any]
UNREACHABLE: Final = "node.kubernetes.io/unreachable"
NOT_READY: Final = "node.kubernetes.io/not-ready"
NODE_CONDITIONS: Final = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
DEFAULT_GRACE_PERIOD: Final = 40.0
DEFAULT_MONITOR_PERIOD: Final = 5.0
_EVICT_PREFIX: Final = "evict|"


class NodeLifecycleController(QueueController):
    name = "node-lifecycle"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.grace_period = float(
            context.options.get("node_monitor_grace_period", DEFAULT_GRACE_PERIOD)
        )
        self.monitor_period = float(
            context.options.get("node_monitor_period", DEFAULT_MONITOR_PERIOD)
        )
        self.nodes = self.informer(factory.informer(NODES))
        self.leases = self.informer(factory.informer(LEASES, "kube-node-lease"))
        self.pods = self.informer(factory.informer(PODS))
        self.pods.add_indexer(NODE_NAME_INDEX, index_by_node_name)
        self.recorder = context.recorder("node-controller")
        # node name -> (heartbeat seen, our monotonic time when it last changed)
        self._probes: dict[str, tuple[tuple[str, str], float]] = {}
        self.nodes.add_handler(Handler(self.enqueue, lambda _o, new: self.enqueue(new)))
        self.pods.add_handler(Handler(self._pod_changed, lambda _o, new: self._pod_changed(new)))

    def _pod_changed(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self.queue.add(_EVICT_PREFIX + key_of(pod))

    async def run(self, workers: int = 1) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(super().run(workers))
            group.create_task(self._monitor())

    async def _monitor(self) -> None:
        """Look at every node each period: silence is noticed even without any event."""
        await self.nodes.wait_synced()
        while True:
            for node in self.nodes.store.list():
                self.queue.add(node["metadata"]["name"])
            await self.clock.sleep(self.monitor_period)

    async def sync(self, key: str) -> None:
        if key.startswith(_EVICT_PREFIX):
            await self._sync_pod(key.removeprefix(_EVICT_PREFIX))
            return
        node = self.nodes.store.get(key)
        if node is None:
            self._probes.pop(key, None)
            return
        ready = self._observe(node)
        node = await self._mark_unknown_if_silent(node) if not ready else node
        await self._sync_taints(node)
        for pod in self.pods.store.by_index(NODE_NAME_INDEX, key):
            self.queue.add(_EVICT_PREFIX + key_of(pod))

    # --- health ---------------------------------------------------------------------------

    def _observe(self, node: Obj) -> bool:
        """Record heartbeats; True while the node has been heard from within the grace period."""
        name = node["metadata"]["name"]
        ready = _condition(node, "Ready") or {}
        lease = self.leases.store.get_by_name(name, "kube-node-lease")
        beat = (
            str(ready.get("lastHeartbeatTime", "")),
            str(((lease or {}).get("spec") or {}).get("renewTime", "")),
        )
        now = self.clock.monotonic()
        previous = self._probes.get(name)
        if previous is None or previous[0] != beat:
            self._probes[name] = (beat, now)
            return True
        return now - previous[1] < self.grace_period

    async def _mark_unknown_if_silent(self, node: Obj) -> Obj:
        conditions = [dict(c) for c in (node.get("status") or {}).get("conditions") or ()]
        now = now_rfc3339(datetime.fromtimestamp(self.clock.now(), UTC))
        changed = False
        for type_ in NODE_CONDITIONS:
            existing = next((c for c in conditions if c.get("type") == type_), None)
            if existing is None:
                existing = {"type": type_}
                conditions.append(existing)
            if existing.get("status") == "Unknown":
                continue
            existing.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=now,
            )
            changed = True
        if not changed:
            return node
        log.info("node stopped posting status node=%s", node["metadata"]["name"])
        updated = dict(node)
        updated["status"] = {**(node.get("status") or {}), "conditions": conditions}
        result = await self.client.update_status(NODES, updated)
        self.recorder.event(
            node,
            NORMAL,
            "NodeNotReady",
            f"Node {node['metadata']['name']} status is now: NodeNotReady",
        )
        await self._mark_pods_not_ready(node["metadata"]["name"], now)
        return result

    async def _mark_pods_not_ready(self, node_name: str, now: str) -> None:
        for pod in self.pods.store.by_index(NODE_NAME_INDEX, node_name):
            status = pod.get("status") or {}
            conditions = [dict(c) for c in status.get("conditions") or ()]
            ready = next((c for c in conditions if c.get("type") == "Ready"), None)
            if ready is None or ready.get("status") == "False":
                continue
            ready.update(status="False", lastTransitionTime=now)
            updated = dict(pod)
            updated["status"] = {**status, "conditions": conditions}
            try:
                await self.client.update_status(PODS, updated)
            except (errors.NotFound, errors.Conflict):
                continue

    async def _sync_taints(self, node: Obj) -> None:
        ready = (_condition(node, "Ready") or {}).get("status")
        wanted_key = {"Unknown": UNREACHABLE, "False": NOT_READY}.get(str(ready))
        spec = node.get("spec") or {}
        taints = list(spec.get("taints") or ())
        ours = [t for t in taints if t.get("key") in (UNREACHABLE, NOT_READY)]
        kept = [t for t in taints if t.get("key") not in (UNREACHABLE, NOT_READY)]
        if wanted_key is None:
            wanted: list[Obj] = []
        else:
            stamp = now_rfc3339(datetime.fromtimestamp(self.clock.now(), UTC))
            wanted = []
            for effect in ("NoSchedule", "NoExecute"):
                same = next(
                    (t for t in ours if t["key"] == wanted_key and t.get("effect") == effect), None
                )
                if same is not None:
                    wanted.append(same)
                elif effect == "NoExecute":
                    wanted.append({"key": wanted_key, "effect": effect, "timeAdded": stamp})
                else:
                    wanted.append({"key": wanted_key, "effect": effect})
        if wanted == ours:
            return
        updated = dict(node)
        updated["spec"] = {**spec, "taints": kept + wanted}
        if not updated["spec"]["taints"]:
            del updated["spec"]["taints"]
        await self.client.update(NODES, updated)
        log.info(
            "node taints changed node=%s taints=%s",
            node["metadata"]["name"],
            ",".join(f"{t['key']}:{t['effect']}" for t in wanted) or "-",
        )

    # --- taint eviction -------------------------------------------------------------------

    async def _sync_pod(self, pod_key: str) -> None:
        pod = self.pods.store.get(pod_key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        node = self.nodes.store.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None:
            return
        taints = [
            t
            for t in (node.get("spec") or {}).get("taints") or ()
            if t.get("effect") == "NoExecute"
        ]
        if not taints:
            return
        tolerations = (pod.get("spec") or {}).get("tolerations") or ()
        delay = eviction_delay(taints, tolerations, self.clock.now())
        if delay is None:
            return
        if delay > 0:
            self.queue.add_after(_EVICT_PREFIX + pod_key, delay)
            return
        namespace, _, name = pod_key.partition("/")
        self.recorder.event(
            pod, NORMAL, "TaintManagerEviction", f"Marking for deletion Pod {pod_key}"
        )
        log.info("evicting pod from tainted node pod=%s node=%s", pod_key, node["metadata"]["name"])
        try:
            await self.client.delete(
                PODS, name, namespace, preconditions={"uid": pod["metadata"]["uid"]}
            )
        except (errors.NotFound, errors.Conflict):
            return


def eviction_delay(taints: list[Obj], tolerations: Any, now: float) -> float | None:
    """Seconds until a pod must leave a node with these NoExecute taints; None: never.

    As upstream's taint manager: any taint not tolerated means now; otherwise the smallest
    ``tolerationSeconds`` among the tolerations used, counted from when the taints were added;
    tolerations without ``tolerationSeconds`` tolerate forever.
    """
    used = []
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        used.extend(matching)
    bounded = [int(t["tolerationSeconds"]) for t in used if t.get("tolerationSeconds") is not None]
    if not bounded:
        return None
    added = [parse_time(t["timeAdded"]).timestamp() for t in taints if t.get("timeAdded")]
    since = max(0.0, now - max(added)) if added else 0.0
    return max(0.0, max(0, min(bounded)) - since)


def _condition(node: Obj, type_: str) -> Obj | None:
    for condition in (node.get("status") or {}).get("conditions") or ():
        if condition.get("type") == type_:
            return dict(condition)
    return None
