"""What admission knows about one write request (upstream's ``admission.Attributes``).

An ``Attributes`` value (``from_request``) names the operation, the resource as the client
addressed it (group, version, resource, subresource, kind), the object's namespace and name,
the user and the request's options. It is built once per request by the handler and never
changes; the objects travel beside it, because they change as mutating admission runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.auth.authn import UserInfo
from kybernetes.apiserver.registry import DeleteOptions
from kybernetes.apiserver.requestinfo import RequestInfo

CREATE: Final = "CREATE"
UPDATE: Final = "UPDATE"
DELETE: Final = "DELETE"
CONNECT: Final = "CONNECT"


@dataclass(frozen=True, slots=True)
class Attributes:
    """One request, as admission plugins see it."""

    operation: str
    group: str
    version: str
    resource: str
    kind: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user: UserInfo | None = None
    dry_run: bool = False
    #: CreateOptions, UpdateOptions or DeleteOptions (meta.k8s.io/v1), as sent to webhooks.
    options: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def options(kind: str, *, dry_run: bool, **fields: Any) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` options object with only the fields that are set."""
    out: dict[str, Any] = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if dry_run:
        out["dryRun"] = ["All"]
    out.update({k: v for k, v in fields.items() if v not in (None, "", [], {})})
    return out


_OPTIONS_KIND: Final = {CREATE: "CreateOptions", UPDATE: "UpdateOptions", DELETE: "DeleteOptions"}


def from_request(
    info: RequestInfo,
    res: ResourceInfo,
    operation: str,
    *,
    user: UserInfo | None,
    query: Mapping[str, str],
    dry_run: bool,
    name: str = "",
    delete: DeleteOptions | None = None,
) -> Attributes:
    """The attributes of a request to ``res`` (as served at ``info``'s version).

    ``name`` is the object's own (a create names it in the body, or not at all with
    ``generateName``); the options are the request's CreateOptions, UpdateOptions (PATCH too,
    as upstream) or DeleteOptions.
    """
    kind = _OPTIONS_KIND.get(operation, "")
    fields: dict[str, Any] = {}
    if delete is not None:
        fields = {
            "gracePeriodSeconds": delete.grace_period_seconds,
            "propagationPolicy": delete.propagation_policy,
        }
        preconditions = {
            "uid": delete.precondition_uid,
            "resourceVersion": delete.precondition_resource_version,
        }
        fields["preconditions"] = {k: v for k, v in preconditions.items() if v}
    elif operation in (CREATE, UPDATE):
        fields = {
            "fieldManager": query.get("fieldManager"),
            "fieldValidation": query.get("fieldValidation"),
        }
    return Attributes(
        operation=operation,
        group=res.group,
        version=res.version,
        resource=res.plural,
        kind=res.kind,
        subresource=info.subresource,
        namespace=info.namespace,
        name=name or info.name,
        user=user,
        dry_run=dry_run,
        options=options(kind, dry_run=dry_run, **fields) if kind else None,
    )
