"""Authorization: may this user do this verb on this resource (or non-resource path)?

An :class:`Authorizer` answers ALLOW, DENY or NO_OPINION; :class:`UnionAuthorizer` asks each in
order and the first ALLOW or DENY decides, and a request nobody allows is denied (as
kube-apiserver's authorizer chain). The chain the server uses today is
:func:`default_authorizer`: members of ``system:masters`` first, then every authenticated user.

Invariant to keep when RBAC lands: ``system:masters`` is allowed everything *before* any other
authorizer is asked (upstream's privileged-groups authorizer), so no RBAC object, however
wrong, can lock the cluster admin out. The RBAC authorizer replaces :class:`AllowAuthenticated`
in the chain, never :class:`PrivilegedGroups`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kybernetes.apiserver.auth.authn import SYSTEM_AUTHENTICATED, SYSTEM_MASTERS, UserInfo

# Served to anyone, authenticated or not: upstream's ``system:public-info-viewer`` role
# (kr8s asks for ``/version/`` with the slash).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a request asks to do. ``path`` is set, and the resource fields empty, for
    non-resource requests such as ``/version`` or ``/apis``."""

    verb: str
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True


class DecisionKind(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.kind is DecisionKind.ALLOW


ALLOW = Decision(DecisionKind.ALLOW)
NO_OPINION = Decision(DecisionKind.NO_OPINION)


class Authorizer(Protocol):
    def authorize(self, user: UserInfo, attributes: Attributes) -> Decision:
        """ALLOW or DENY with a reason, or NO_OPINION to let the next authorizer decide."""
        ...


class PrivilegedGroups:
    """Allows everything to members of the given groups (``system:masters``)."""

    def __init__(self, groups: Iterable[str] = (SYSTEM_MASTERS,)) -> None:
        self._groups = frozenset(groups)

    def authorize(self, user: UserInfo, attributes: Attributes) -> Decision:
        if self._groups.intersection(user.groups):
            return ALLOW
        return NO_OPINION


class AllowAuthenticated:
    """Allows every authenticated user everything; the stand-in until RBAC."""

    def authorize(self, user: UserInfo, attributes: Attributes) -> Decision:
        if SYSTEM_AUTHENTICATED in user.groups:
            return ALLOW
        return NO_OPINION


class UnionAuthorizer:
    """Asks each authorizer in order; the first definite answer wins; nobody's is a DENY."""

    def __init__(self, authorizers: Iterable[Authorizer]) -> None:
        self._authorizers: Sequence[Authorizer] = tuple(authorizers)

    def authorize(self, user: UserInfo, attributes: Attributes) -> Decision:
        reasons: list[str] = []
        for authorizer in self._authorizers:
            decision = authorizer.authorize(user, attributes)
            if decision.kind is not DecisionKind.NO_OPINION:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
        return Decision(DecisionKind.DENY, ", ".join(reasons))


def default_authorizer() -> UnionAuthorizer:
    """``system:masters`` first (see the module docstring), then any authenticated user."""
    return UnionAuthorizer([PrivilegedGroups(), AllowAuthenticated()])


def is_public_path(path: str) -> bool:
    """Whether ``path`` is served without authentication (health and version)."""
    return path in PUBLIC_PATHS


def forbidden_message(user: UserInfo, attributes: Attributes) -> str:
    """The text upstream puts after ``... is forbidden: `` in a 403 Status.

    E.g. ``User "bob" cannot list resource "pods" in API group "" in the namespace "default"``.
    """
    who = _go_quote(user.name)
    verb = attributes.verb
    if not attributes.resource_request:
        return f"User {who} cannot {verb} path {_go_quote(attributes.path)}"
    resource = attributes.resource
    if attributes.subresource:
        resource = f"{resource}/{attributes.subresource}"
    where = (
        f"in the namespace {_go_quote(attributes.namespace)}"
        if attributes.namespace
        else "at the cluster scope"
    )
    return (
        f"User {who} cannot {verb} resource {_go_quote(resource)} "
        f"in API group {_go_quote(attributes.api_group)} {where}"
    )


def _go_quote(s: str) -> str:
    # Go's %q and JSON agree on the printable ASCII that names and paths are made of.
    return json.dumps(s, ensure_ascii=False)
