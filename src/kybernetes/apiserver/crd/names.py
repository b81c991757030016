"""The status a CRD should have: accepted names and conditions, as upstream's naming and
establishing controllers compute them.

A requested name (plural, singular, short names, kind, list kind) is accepted when it is
already this CRD's accepted name or no other CRD of the same group has accepted it; otherwise
``NamesAccepted`` is False with upstream's reason (``PluralConflict``...) and message
(``"widgets" is already in use``) and the conflicting name keeps its old accepted value.
``Established`` becomes True once names were accepted (``InitialNamesAccepted``) and stays so.

Invariant: pure functions of the CRDs; the controller writes what they return.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

Obj = Mapping[str, Any]
TERMINATING = "Terminating"


def condition(obj: Obj, type_: str) -> Mapping[str, Any] | None:
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(entry, Mapping) and entry.get("type") == type_:
            return entry
    return None


def is_true(obj: Obj, type_: str) -> bool:
    found = condition(obj, type_)
    return found is not None and found.get("status") == "True"


def _claimed(crds: Iterable[Obj], me: Obj) -> tuple[set[str], set[str]]:
    group = (me.get("spec") or {}).get("group")
    my_name = (me.get("metadata") or {}).get("name")
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in crds:
        if (other.get("metadata") or {}).get("name") == my_name:
            continue
        if (other.get("spec") or {}).get("group") != group:
            continue
        accepted = (other.get("status") or {}).get("acceptedNames") or {}
        resources.update(str(n) for n in (accepted.get("plural"), accepted.get("singular")) if n)
        resources.update(str(n) for n in accepted.get("shortNames") or ())
        kinds.update(str(n) for n in (accepted.get("kind"), accepted.get("listKind")) if n)
    return resources, kinds


def _fresh(requested: str, accepted: str, used: set[str]) -> str:
    if requested == accepted or requested not in used:
        return ""
    return f'"{requested}" is already in use'


def desired_status(crd: Obj, crds: Iterable[Obj]) -> dict[str, Any]:
    """The names and conditions part of ``crd``'s status, given every CRD (``crds``)."""
    resources, kinds = _claimed(crds, crd)
    requested = (crd.get("spec") or {}).get("names") or {}
    status = dict(crd.get("status") or {})
    accepted: dict[str, Any] = dict(status.get("acceptedNames") or {})
    names = dict(accepted)
    reason = message = ""
    for field, used, why in (
        ("plural", resources, "PluralConflict"),
        ("singular", resources, "SingularConflict"),
    ):
        wanted = str(requested.get(field) or "")
        problem = _fresh(wanted, str(accepted.get(field) or ""), used)
        if problem:
            reason, message = why, problem
        elif wanted:
            names[field] = wanted
    mine = set(accepted.get("shortNames") or ())
    short_problem = ""
    for short in requested.get("shortNames") or ():
        if short not in mine and short in resources:
            short_problem = f'"{short}" is already in use'
    if short_problem:
        reason, message = "ShortNamesConflict", short_problem
    elif requested.get("shortNames"):
        names["shortNames"] = list(requested["shortNames"])
    else:
        names.pop("shortNames", None)
    for field, why in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        wanted = str(requested.get(field) or "")
        problem = _fresh(wanted, str(accepted.get(field) or ""), kinds)
        if problem:
            reason, message = why, problem
        elif wanted:
            names[field] = wanted
    if requested.get("categories"):
        names["categories"] = list(requested["categories"])
    else:
        names.pop("categories", None)
    if reason:
        names_accepted = {
            "type": "NamesAccepted",
            "status": "False",
            "reason": reason,
            "message": message,
        }
    else:
        names_accepted = {
            "type": "NamesAccepted",
            "status": "True",
            "reason": "NoConflicts",
            "message": "no conflicts found",
        }
    established = dict(condition(crd, "Established") or {})
    if established.get("status") != "True":
        if reason:
            established = {
                "type": "Established",
                "status": "False",
                "reason": "NotAccepted",
                "message": "not all names are accepted",
            }
        else:
            established = {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            }
    status["acceptedNames"] = names
    status["conditions"] = [names_accepted, established]
    terminating = condition(crd, TERMINATING)
    if terminating is not None:
        status["conditions"].append(dict(terminating))
    return status


def with_status(crd: Obj, status: dict[str, Any], now: datetime) -> dict[str, Any]:
    """``crd`` with ``status``; a condition keeps its transition time unless its status
    changed."""
    previous = {c.get("type"): c for c in (crd.get("status") or {}).get("conditions") or [] if c}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    for entry in status.get("conditions") or []:
        old = previous.get(entry.get("type"))
        if old is not None and old.get("status") == entry.get("status"):
            entry["lastTransitionTime"] = old.get("lastTransitionTime", stamp)
        else:
            entry["lastTransitionTime"] = stamp
    out = copy.deepcopy(dict(crd))
    out["status"] = status
    return out


def same_status(a: Obj, b: Obj) -> bool:
    """Whether two statuses differ only in condition timestamps."""

    def strip(status: Obj) -> Any:
        conditions = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"}
            for c in status.get("conditions") or []
        ]
        return {**status, "conditions": conditions}

    return bool(strip(a.get("status") or {}) == strip(b.get("status") or {}))
