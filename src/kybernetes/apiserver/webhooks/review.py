"""AdmissionReview v1: the request a webhook receives and the checks its answer must pass.

``build`` writes the request of the ``admission.k8s.io/v1`` AdmissionReview exactly as
kube-apiserver sends it: ``uid``; ``kind``, ``resource`` and ``subResource`` as the webhook
matched them; ``requestKind``, ``requestResource`` and ``requestSubResource`` as the client sent
them; ``name``, ``namespace``, ``operation``, ``userInfo``, ``object`` and ``oldObject``
(``null`` when absent), ``dryRun`` and ``options``. ``parse`` reads the answer and refuses one
that upstream's ``VerifyAdmissionResponse`` refuses, in its words: a missing response, another
uid, another apiVersion or kind, a patch without a patchType, a patch from a validating webhook.

Invariant: ``build`` never mutates the objects it is given.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from kybernetes.apiserver.webhooks.attributes import Attributes
from kybernetes.apiserver.webhooks.matching import Invocation

API_VERSION: Final = "admission.k8s.io/v1"
KIND: Final = "AdmissionReview"


class InvalidResponse(Exception):
    """The webhook answered, but not with an AdmissionReview upstream would accept."""


@dataclass(frozen=True, slots=True)
class Response:
    allowed: bool
    #: The ``metav1.Status`` of a refusal, as the webhook wrote it (None if it wrote none).
    status: Mapping[str, Any] | None = None
    patch_type: str = ""
    patch: bytes = b""
    warnings: tuple[str, ...] = ()


def _user_info(attrs: Attributes) -> dict[str, Any]:
    user = attrs.user
    if user is None:
        return {}
    out: dict[str, Any] = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {key: list(values) for key, values in user.extra.items()}
    return out


def _typed(obj: Mapping[str, Any] | None, api_version: str, kind: str) -> Any:
    if obj is None:
        return None
    if obj.get("apiVersion") == api_version and obj.get("kind") == kind:
        return obj
    return {**obj, "apiVersion": api_version, "kind": kind}


def build(
    uid: str,
    invocation: Invocation,
    attrs: Attributes,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The AdmissionRequest of one webhook call (the ``request`` of its AdmissionReview)."""
    group = invocation.group
    api_version = f"{group}/{invocation.version}" if group else invocation.version
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": invocation.version, "kind": invocation.kind},
        "resource": {
            "group": group,
            "version": invocation.version,
            "resource": invocation.resource,
        },
    }
    if attrs.subresource:
        request["subResource"] = attrs.subresource
    request["requestKind"] = {"group": attrs.group, "version": attrs.version, "kind": attrs.kind}
    request["requestResource"] = {
        "group": attrs.group,
        "version": attrs.version,
        "resource": attrs.resource,
    }
    if attrs.subresource:
        request["requestSubResource"] = attrs.subresource
    name = attrs.name
    if not name and attrs.operation == "DELETE" and old is not None:
        name = str((old.get("metadata") or {}).get("name") or "")
    if name:
        request["name"] = name
    if attrs.namespace:
        request["namespace"] = attrs.namespace
    request["operation"] = attrs.operation
    request["userInfo"] = _user_info(attrs)
    request["object"] = _typed(obj, api_version, invocation.kind)
    request["oldObject"] = _typed(old, api_version, invocation.kind)
    request["dryRun"] = attrs.dry_run
    request["options"] = attrs.options
    return request


def encode(request: Mapping[str, Any]) -> bytes:
    """The AdmissionReview carrying ``request``, serialized."""
    return orjson.dumps({"kind": KIND, "apiVersion": API_VERSION, "request": request})


def parse(body: bytes, uid: str, *, mutating: bool) -> Response:
    """Read a webhook's answer; ``InvalidResponse`` says what upstream would say is wrong."""
    try:
        review = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"couldn't decode the webhook response: {exc}") from None
    if not isinstance(review, dict):
        raise ValueError("couldn't decode the webhook response: not a JSON object")
    response = review.get("response")
    if not isinstance(response, dict):
        raise InvalidResponse("webhook response was absent")
    got_uid = response.get("uid")
    if got_uid != uid:
        raise InvalidResponse(f'expected response.uid="{uid}", got "{got_uid or ""}"')
    api_version = str(review.get("apiVersion") or "")
    kind = str(review.get("kind") or "")
    if (api_version, kind) != (API_VERSION, KIND):
        group, _, version = api_version.rpartition("/")
        raise InvalidResponse(
            f"expected webhook response of {API_VERSION}, Kind={KIND}, "
            f"got {group}/{version}, Kind={kind}"
        )
    patch = b""
    encoded = response.get("patch")
    if isinstance(encoded, str) and encoded:
        try:
            patch = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"couldn't decode response.patch: {exc}") from None
    patch_type = response.get("patchType") or ""
    if patch and not patch_type:
        raise InvalidResponse("webhook returned response.patch but not response.patchType")
    if patch and not mutating:
        raise InvalidResponse("validating webhook may not return response.patch")
    status = response.get("status")
    warnings = response.get("warnings")
    return Response(
        allowed=response.get("allowed") is True,
        status=status if isinstance(status, dict) else None,
        patch_type=str(patch_type),
        patch=patch,
        warnings=tuple(w for w in warnings if isinstance(w, str))
        if isinstance(warnings, list)
        else (),
    )
