"""Calling admission webhooks for a request, in upstream's order and with upstream's outcomes.

``WebhookAdmission`` holds what every request shares (the configurations, read from the watch
cache; the HTTPS client); ``bind`` makes a ``RequestWebhooks`` for one request, which the
registry calls at its two admission points:

* ``mutate`` after the built-in defaulting and before validation: the mutating webhooks one at a
  time, in order, each seeing the previous one's result; JSON patches are applied with the
  project's RFC 6902 implementation. With ``reinvocationPolicy: IfNeeded`` a webhook called
  before a later webhook changed the object is called once more (upstream's single second round);
* ``validate`` after validation and before the quota and storage: the validating webhooks
  concurrently; the first refusal wins.

Outcomes, in upstream's words: a refusal is the webhook's own Status with its message prefixed
``admission webhook "<name>" denied the request`` and a code of at least 400; a failed call is a
500 ``Internal error occurred: failed calling webhook "<name>": ...`` under ``failurePolicy:
Fail`` and is logged and skipped under ``Ignore``; a dry-run request is refused with 400 by a
webhook whose ``sideEffects`` are not ``None`` or ``NoneOnDryRun``. Warnings are collected for
the response's ``Warning`` headers.

Invariant: the objects handed in are never mutated; ``mutate`` returns a new object when a
webhook changed it, and the same object otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from kybernetes.api import errors
from kybernetes.api.meta import new_uid
from kybernetes.api.patch import PatchError, json_patch
from kybernetes.api.validation import structural
from kybernetes.apiserver.webhooks import conditions, review
from kybernetes.apiserver.webhooks.attributes import Attributes
from kybernetes.apiserver.webhooks.client import CallError, ServiceResolver, WebhookClient
from kybernetes.apiserver.webhooks.config import DRY_RUN_SAFE, Configurations, Webhook
from kybernetes.apiserver.webhooks.matching import (
    Equivalents,
    Invocation,
    NamespaceLabels,
    is_exempt,
    match_rules,
    namespace_matches,
    object_matches,
)

log = logging.getLogger(__name__)

Object = dict[str, Any]
#: Converts an object to (group, version, kind); None when no conversion is known.
Converter = Callable[[Mapping[str, Any], str, str, str], Object | None]
#: Prunes unknown fields from an object, in place, and reports what is wrong with it.
Recheck = Callable[[Object], list[structural.Problem]]


def _same_version(obj: Mapping[str, Any], group: str, version: str, kind: str) -> Object:
    """The conversion of resources whose versions differ in ``apiVersion`` only."""
    return {**obj, "apiVersion": f"{group}/{version}" if group else version, "kind": kind}


class CallingError(Exception):
    """A webhook could not be called or answered nonsense; subject to its failurePolicy."""

    def __init__(self, webhook: Webhook, reason: str) -> None:
        super().__init__(f'failed calling webhook "{webhook.name}": {reason}')
        self.webhook = webhook


def denied(webhook: Webhook, status: Mapping[str, Any] | None) -> errors.StatusError:
    """Upstream's ``ToStatusErr``: the webhook's Status, explained and at least a 400."""
    result = dict(status or {})
    code = result.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or code < 400:
        result["code"] = 400
    denied_by = f'admission webhook "{webhook.name}" denied the request'
    message = result.get("message")
    reason = result.get("reason")
    if isinstance(message, str) and message:
        result["message"] = f"{denied_by}: {message}"
    elif isinstance(reason, str) and reason:
        result["message"] = f"{denied_by}: {reason}"
    else:
        result["message"] = f"{denied_by} without explanation"
    return errors.from_status(result)


def dry_run_unsupported(webhook: Webhook) -> errors.StatusError:
    return errors.new_bad_request(f'admission webhook "{webhook.name}" does not support dry run')


class WebhookAdmission:
    """The admission webhooks of one API server."""

    def __init__(
        self,
        mutating: Callable[[], Iterable[Mapping[str, Any]]],
        validating: Callable[[], Iterable[Mapping[str, Any]]],
        namespace_labels: NamespaceLabels,
        *,
        resolve_service: ServiceResolver | None = None,
        equivalents: Equivalents | None = None,
        convert: Converter = _same_version,
    ) -> None:
        self.mutating = Configurations(mutating, mutating=True)
        self.validating = Configurations(validating, mutating=False)
        self.namespace_labels = namespace_labels
        self.equivalents = equivalents
        self.convert = convert
        self.client = WebhookClient(resolve_service)
        self._known: frozenset[str] = frozenset()

    def configured(self) -> bool:
        """Whether any webhook is configured now (most requests then skip everything here)."""
        mutating, validating = self.mutating.webhooks(), self.validating.webhooks()
        if mutating or validating or self._known:  # (none before, none now: nothing to forget)
            self._forget_removed((*mutating, *validating))
        return bool(mutating or validating)

    def bind(self, attrs: Attributes, recheck: Recheck | None = None) -> RequestWebhooks:
        """The webhooks of one request; ``recheck`` is the resource's structural check."""
        return RequestWebhooks(self, attrs, recheck)

    def _forget_removed(self, hooks: Iterable[Webhook]) -> None:
        """Close the client sessions of webhooks that are no longer configured."""
        names = frozenset(h.uid for h in hooks)
        if names != self._known:
            self._known = names
            self.client.forget_except(set(names))

    async def close(self) -> None:
        await self.client.close()


class RequestWebhooks:
    """The webhooks' part in admitting one request (the registry's ``RequestAdmission``)."""

    def __init__(
        self, admission: WebhookAdmission, attrs: Attributes, recheck: Recheck | None
    ) -> None:
        self._admission = admission
        self.attrs = attrs
        self._recheck = recheck
        #: Warnings the webhooks returned, for the response's ``Warning`` headers.
        self.warnings: list[str] = []

    # ----- the registry's admission points ------------------------------------------------

    async def mutate(self, obj: Object, old: Object | None) -> Object:
        hooks = self._admission.mutating.webhooks()
        if not hooks or is_exempt(self.attrs):
            return obj
        invoked_before: set[str] = set()
        reinvoke: set[str] = set()
        for hook in hooks:
            invocation = self._should_call(hook, obj, old)
            if invocation is None:
                continue
            changed, result = await self._call_mutating(invocation, obj, old)
            obj = result if result is not None else obj
            if changed:
                reinvoke |= invoked_before
                invoked_before.clear()
            if hook.reinvoke_if_needed:
                invoked_before.add(hook.uid)
        if reinvoke:
            for hook in hooks:
                if hook.uid not in reinvoke:
                    continue
                invocation = self._should_call(hook, obj, old)
                if invocation is not None:
                    _, result = await self._call_mutating(invocation, obj, old)
                    obj = result if result is not None else obj
        return obj

    async def mutate_without_object(self) -> None:
        """The mutating webhooks of a DELETE: they see neither object and may not patch."""
        hooks = self._admission.mutating.webhooks()
        if not hooks or is_exempt(self.attrs):
            return
        for hook in hooks:
            invocation = self._should_call(hook, None, None)
            if invocation is not None:
                await self._call_mutating(invocation, None, None)

    async def validate(self, obj: Object | None, old: Object | None) -> None:
        hooks = self._admission.validating.webhooks()
        if not hooks or is_exempt(self.attrs):
            return
        invocations = [i for h in hooks if (i := self._should_call(h, obj, old)) is not None]
        if not invocations:
            return
        if len(invocations) == 1:
            await self._call_validating(invocations[0], obj, old)
            return
        refusals: list[BaseException] = []

        async def call(invocation: Invocation) -> None:
            try:
                await self._call_validating(invocation, obj, old)
            except errors.StatusError as exc:
                refusals.append(exc)  # in the order they complete, as upstream's channel

        async with asyncio.TaskGroup() as group:
            for invocation in invocations:
                group.create_task(call(invocation))
        if refusals:
            raise refusals[0]

    # ----- one webhook ----------------------------------------------------------------------

    def _should_call(
        self, hook: Webhook, obj: Object | None, old: Object | None
    ) -> Invocation | None:
        """Upstream's ``ShouldCallHook``: rules, selectors, then match conditions."""
        attrs = self.attrs
        invocation = match_rules(hook, attrs, self._admission.equivalents)
        if invocation is None:
            return None
        if hook.error:
            raise errors.new_internal_error(hook.error)
        if not namespace_matches(hook, attrs, obj, self._admission.namespace_labels):
            return None
        if not object_matches(hook, obj, old):
            return None
        if hook.match_conditions:
            request = review.build("", invocation, attrs, obj, old)
            decision, problem = conditions.evaluate(
                hook.match_conditions, obj=obj, old=old, request=request
            )
            if decision is conditions.Decision.SKIP:
                return None
            if decision is conditions.Decision.ERROR:
                if hook.failure_policy == "Ignore":
                    return None
                raise errors.new_forbidden(
                    attrs.resource,
                    attrs.name,
                    f'failed calling webhook "{hook.name}": {problem}',
                    group=attrs.group,
                )
        return invocation

    def _in_version(self, invocation: Invocation, obj: Object | None) -> Object | None:
        attrs = self.attrs
        if obj is None or invocation.version == attrs.version:
            return obj
        return self._admission.convert(obj, invocation.group, invocation.version, invocation.kind)

    async def _call(
        self, invocation: Invocation, obj: Object | None, old: Object | None
    ) -> review.Response | None:
        """Call one webhook: its answer, or None when it failed and may be ignored."""
        hook = invocation.webhook
        if self.attrs.dry_run and hook.side_effects not in DRY_RUN_SAFE:
            raise dry_run_unsupported(hook)
        uid = new_uid()
        try:
            body = review.encode(
                review.build(
                    uid,
                    invocation,
                    self.attrs,
                    self._in_version(invocation, obj),
                    self._in_version(invocation, old),
                )
            )
            try:
                answer = await self._admission.client.post(hook, body)
                response = review.parse(answer, uid, mutating=hook.mutating)
            except CallError as exc:
                raise CallingError(hook, f"failed to call webhook: {exc}") from None
            except review.InvalidResponse as exc:
                raise CallingError(hook, f"received invalid webhook response: {exc}") from None
            except ValueError as exc:
                raise CallingError(hook, f"failed to call webhook: {exc}") from None
        except CallingError as exc:
            if hook.failure_policy == "Ignore":
                log.warning(
                    "webhook call failed, failing open webhook=%s configuration=%s error=%s",
                    hook.name,
                    hook.configuration,
                    exc,
                )
                return None
            log.warning(
                "webhook call failed, failing closed webhook=%s configuration=%s error=%s",
                hook.name,
                hook.configuration,
                exc,
            )
            raise errors.new_internal_error(str(exc)) from None
        self.warnings.extend(w for w in response.warnings if w.strip())
        if not response.allowed:
            log.info(
                "webhook denied the request webhook=%s operation=%s resource=%s name=%s",
                hook.name,
                self.attrs.operation,
                self.attrs.resource,
                self.attrs.name,
            )
            raise denied(hook, response.status)
        return response

    async def _call_validating(
        self, invocation: Invocation, obj: Object | None, old: Object | None
    ) -> None:
        await self._call(invocation, obj, old)

    async def _call_mutating(
        self, invocation: Invocation, obj: Object | None, old: Object | None
    ) -> tuple[bool, Object | None]:
        """Call one mutating webhook; whether it changed the object, and the object now."""
        response = await self._call(invocation, obj, old)
        if response is None or not response.patch:
            return False, obj
        hook = invocation.webhook
        if response.patch_type != "JSONPatch":
            reason = f'unsupported patch type "{response.patch_type}"'
            if hook.failure_policy == "Ignore":
                log.warning("webhook patch ignored webhook=%s error=%s", hook.name, reason)
                return False, obj
            raise errors.new_internal_error(f'failed calling webhook "{hook.name}": {reason}')
        try:
            operations = orjson.loads(response.patch)
        except orjson.JSONDecodeError as exc:
            raise errors.new_internal_error(str(exc)) from None
        if not isinstance(operations, list):
            raise errors.new_internal_error(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        if not operations:
            return False, obj
        current = self._in_version(invocation, obj)
        if current is None:
            raise errors.new_internal_error(
                f'admission webhook "{hook.name}" attempted to modify the object, which is not '
                "supported for this operation"
            )
        try:
            patched = json_patch(current, operations)
        except PatchError as exc:
            raise errors.new_internal_error(str(exc)) from None
        if not isinstance(patched, dict):
            raise errors.new_internal_error("the patched object is not a JSON object")
        result = self._back_to_request_version(invocation, patched)
        if result == obj:
            return False, obj
        log.debug("webhook mutated the object webhook=%s name=%s", hook.name, self.attrs.name)
        return True, result

    def _back_to_request_version(self, invocation: Invocation, patched: Object) -> Object:
        attrs = self.attrs
        if invocation.version != attrs.version:
            converted = self._admission.convert(patched, attrs.group, attrs.version, attrs.kind)
            if converted is None:
                raise errors.new_internal_error(
                    f"cannot convert the patched object to {attrs.api_version}"
                )
            patched = converted
        if self._recheck is not None:
            # As upstream, which decodes the patched JSON into the kind's type: unknown fields
            # go, a value of the wrong type is the webhook's error.
            problems = self._recheck(patched)
            wrong = [p for p in problems if p.kind is structural.ProblemKind.INVALID_TYPE]
            if wrong:
                raise errors.new_internal_error("; ".join(p.message for p in wrong[:10]))
        return patched
