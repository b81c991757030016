"""Review resources: questions to the server that are answered, never stored.

``kubectl auth can-i`` posts a SelfSubjectAccessReview, ``kubectl auth whoami`` a
SelfSubjectReview, ``kubectl auth can-i --list`` a SelfSubjectRulesReview; webhooks and
aggregated servers post SubjectAccessReviews and TokenReviews. Upstream answers each with the
object it was sent plus a ``status``, with 201, and stores nothing; so does this module, using
the server's own authenticator and authorizer.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.apiserver.auth.authn import Authenticator, RequestFacts, UserInfo
from kybernetes.apiserver.auth.authz import Attributes, Authorizer

#: (group, plural) of every review resource this module answers.
REVIEWS = frozenset(
    {
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authentication.k8s.io", "tokenreviews"),
    }
)


def _attributes(spec: dict[str, Any], namespace: str) -> Attributes:
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return Attributes(
            verb=str(resource.get("verb") or ""),
            api_group=str(resource.get("group") or ""),
            api_version=str(resource.get("version") or ""),
            resource=str(resource.get("resource") or ""),
            subresource=str(resource.get("subresource") or ""),
            namespace=namespace or str(resource.get("namespace") or ""),
            name=str(resource.get("name") or ""),
        )
    other = spec.get("nonResourceAttributes")
    if isinstance(other, dict):
        return Attributes(
            verb=str(other.get("verb") or ""),
            path=str(other.get("path") or ""),
            resource_request=False,
        )
    raise errors.new_invalid(
        "SubjectAccessReview",
        "",
        [
            errors.invalid(
                "spec.resourceAttributes",
                None,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        ],
        group="authorization.k8s.io",
    )


def _decision(authorizer: Authorizer, user: UserInfo, attributes: Attributes) -> dict[str, Any]:
    decision = authorizer.authorize(user, attributes)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    if not decision.allowed and decision.kind.value == "deny":
        status["denied"] = True
    return status


def _user_of(spec: dict[str, Any]) -> UserInfo:
    groups = spec.get("groups") or []
    return UserInfo(
        name=str(spec.get("user") or ""),
        uid=str(spec.get("uid") or ""),
        groups=tuple(str(g) for g in groups if isinstance(g, str)),
    )


def _user_info(user: UserInfo) -> dict[str, Any]:
    info: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


def answer(
    plural: str,
    review: dict[str, Any],
    user: UserInfo | None,
    namespace: str,
    authenticator: Authenticator | None,
    authorizer: Authorizer,
) -> dict[str, Any]:
    """The review with its ``status`` filled in (the caller sets apiVersion and kind)."""
    raw_spec = review.get("spec")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    requester = user or UserInfo(name="system:anonymous", groups=("system:unauthenticated",))
    out = dict(review)
    out.setdefault("metadata", {})
    if plural == "selfsubjectaccessreviews":
        out["status"] = _decision(authorizer, requester, _attributes(spec, ""))
    elif plural in ("subjectaccessreviews", "localsubjectaccessreviews"):
        scope = namespace if plural == "localsubjectaccessreviews" else ""
        out["status"] = _decision(authorizer, _user_of(spec), _attributes(spec, scope))
    elif plural == "selfsubjectrulesreviews":
        everything = _decision(
            authorizer, requester, Attributes(verb="*", api_group="*", resource="*")
        )
        rules = (
            [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
            if everything["allowed"]
            else []
        )
        non_resource = [{"verbs": ["*"], "nonResourceURLs": ["*"]}] if everything["allowed"] else []
        # Rules come from the authorizer's decisions; until RBAC can list its rules, a user
        # allowed everything sees one wildcard rule and others see none (incomplete).
        out["status"] = {
            "resourceRules": rules,
            "nonResourceRules": non_resource,
            "incomplete": not everything["allowed"],
        }
    elif plural == "selfsubjectreviews":
        out["status"] = {"userInfo": _user_info(requester)}
    elif plural == "tokenreviews":
        token = str(spec.get("token") or "")
        reviewed = (
            authenticator.authenticate(RequestFacts(None, f"Bearer {token}"))
            if authenticator is not None and token
            else None
        )
        out["status"] = (
            {"authenticated": True, "user": _user_info(reviewed)}
            if reviewed is not None
            else {"authenticated": False}
        )
    return out
