"""Pure Deployment helpers: template hashes, revisions, annotations, ReplicaSet bookkeeping.

Everything here is a function of plain-dict objects (no I/O), in the vocabulary of upstream's
``deployment/util``:

- ``compute_hash`` names the ReplicaSet of a pod template. Upstream feeds a ``spew`` dump of
  the Go struct (plus ``collisionCount``) into FNV-1a 32 and encodes the decimal digits with
  ``rand.SafeEncodeString``; we hash the template's canonical JSON (sorted keys, no spaces)
  instead, so names are stable across runs but differ from upstream's for the same template.
- ``equal_ignore_hash`` compares templates the way ``EqualIgnoreHash`` does: the
  ``pod-template-hash`` label is ignored and a missing map or list equals an empty one.
- revisions live in the ``deployment.kubernetes.io/revision`` annotation of each ReplicaSet;
  ``set_new_rs_annotations`` bumps it, keeps ``revision-history`` when an old ReplicaSet comes
  back (a rollback), and copies the Deployment's own annotations.

Invariant: functions that change an object say so and change only the object they are given;
cache objects are never passed to them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson

from kybernetes.api import intstr
from kybernetes.api.meta import annotations_of

Obj = dict[str, Any]

HASH_LABEL: Final = "pod-template-hash"
REVISION: Final = "deployment.kubernetes.io/revision"
REVISION_HISTORY: Final = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS: Final = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS: Final = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO: Final = "deprecated.deployment.rollback.to"
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
MAX_REVISION_HISTORY_CHARS: Final = 2000
INT32_MAX: Final = 2**31 - 1

# Annotations the controller owns; never copied from the Deployment to its ReplicaSets.
_SKIP_COPY: Final = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)
_SAFE_ALPHANUMS: Final = "bcdfghjklmnpqrstvwxz2456789"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def status_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def replicas(obj: Mapping[str, Any]) -> int:
    """``spec.replicas`` (defaulted by the API server; 0 when absent)."""
    return _int(spec_of(obj).get("replicas"))


# --------------------------------------------------------------------------------------------
# Template hashing and comparison.


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: each character mapped onto consonants and digits."""
    return "".join(_SAFE_ALPHANUMS[ord(ch) % len(_SAFE_ALPHANUMS)] for ch in text)


def compute_hash(template: Mapping[str, Any], collision_count: int | None) -> str:
    """The ``pod-template-hash`` of ``template`` (see the module docstring for the encoding)."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0"
    return safe_encode(str(fnv32a(data)))


def _normalised(value: Any) -> Any:
    """Drop nulls and empty maps/lists, as Go's semantic equality treats nil and empty alike."""
    if isinstance(value, Mapping):
        out = {k: _normalised(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def without_hash(template: Mapping[str, Any]) -> Obj:
    """A copy of ``template`` without the ``pod-template-hash`` label."""
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    meta["labels"] = labels
    return {**template, "metadata": meta}


def equal_ignore_hash(t1: Mapping[str, Any], t2: Mapping[str, Any]) -> bool:
    same: bool = _normalised(without_hash(t1)) == _normalised(without_hash(t2))
    return same


# --------------------------------------------------------------------------------------------
# Strategy parameters.


def is_rolling(d: Mapping[str, Any]) -> bool:
    strategy = spec_of(d).get("strategy") or {}
    return bool(strategy.get("type", "RollingUpdate") == "RollingUpdate")


def _rolling_params(d: Mapping[str, Any]) -> tuple[intstr.IntOrString, intstr.IntOrString]:
    rolling = (spec_of(d).get("strategy") or {}).get("rollingUpdate") or {}
    return rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")


def resolve_fenceposts(
    max_surge: intstr.IntOrString | None, max_unavailable: intstr.IntOrString | None, desired: int
) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable down; never both zero."""
    surge = intstr.scaled_value_from_int_or_percent(
        0 if max_surge is None else max_surge, desired, True
    )
    unavailable = intstr.scaled_value_from_int_or_percent(
        0 if max_unavailable is None else max_unavailable, desired, False
    )
    if surge == 0 and unavailable == 0:
        # Rounding down can make both zero, and a rollout must move: allow one unavailable.
        unavailable = 1
    return surge, unavailable


def max_surge(d: Mapping[str, Any]) -> int:
    if not is_rolling(d):
        return 0
    surge, _ = resolve_fenceposts(*_rolling_params(d), replicas(d))
    return surge


def max_unavailable(d: Mapping[str, Any]) -> int:
    desired = replicas(d)
    if not is_rolling(d) or desired == 0:
        return 0
    _, unavailable = resolve_fenceposts(*_rolling_params(d), desired)
    return min(unavailable, desired)


# --------------------------------------------------------------------------------------------
# Sets of ReplicaSets.


def creation_key(rs: Mapping[str, Any]) -> tuple[str, str]:
    """Sort key oldest first, ties by name (``ReplicaSetsByCreationTimestamp``)."""
    meta = rs.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def by_creation(rss: Iterable[Obj]) -> list[Obj]:
    return sorted(rss, key=creation_key)


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """ReplicaSets that exist and want pods (``FilterActiveReplicaSets``)."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def spec_total(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def status_total(rss: Iterable[Obj | None], field: str) -> int:
    return sum(_int(status_of(rs).get(field)) for rs in rss if rs is not None)


def find_new(d: Mapping[str, Any], rss: Iterable[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's."""
    template = spec_of(d).get("template") or {}
    for rs in by_creation(rss):
        if equal_ignore_hash(spec_of(rs).get("template") or {}, template):
            return rs
    return None


def find_old(new: Obj | None, rss: Iterable[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets with replicas, all old ReplicaSets)."""
    new_uid = (new or {}).get("metadata", {}).get("uid")
    old = [rs for rs in rss if new is None or rs["metadata"].get("uid") != new_uid]
    return [rs for rs in old if replicas(rs) != 0], old


def find_active_or_latest(new: Obj | None, old: Sequence[Obj]) -> Obj | None:
    """The only active ReplicaSet, else the newest one when none is active, else ``None``."""
    if new is None and not old:
        return None
    newest_first = sorted(old, key=creation_key, reverse=True)
    live = active([*newest_first, new])
    if not live:
        return new if new is not None else newest_first[0]
    return live[0] if len(live) == 1 else None


def is_saturated(d: Mapping[str, Any], rs: Obj | None) -> bool:
    """The ReplicaSet has all the Deployment's replicas, all available."""
    if rs is None:
        return False
    try:
        desired = int(annotations_of(rs).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    want = replicas(d)
    return (
        replicas(rs) == want
        and desired == want
        and _int(status_of(rs).get("availableReplicas")) == want
    )


# --------------------------------------------------------------------------------------------
# Revisions and annotations.


def revision(rs: Mapping[str, Any]) -> int:
    """The ReplicaSet's revision (0 without the annotation); ``ValueError`` if malformed."""
    value = annotations_of(rs).get(REVISION)
    return 0 if value is None else int(value)


def max_revision(rss: Iterable[Obj]) -> int:
    best = 0
    for rs in rss:
        try:
            best = max(best, revision(rs))
        except ValueError:
            continue
    return best


def revision_key(rs: Mapping[str, Any]) -> tuple[int, tuple[str, str]]:
    """Sort key oldest revision first, ties by creation (``ReplicaSetsByRevision``)."""
    try:
        number = revision(rs)
    except ValueError:
        number = 0
    return number, creation_key(rs)


def _annotations(obj: Obj) -> dict[str, str]:
    meta = obj.setdefault("metadata", {})
    values = meta.get("annotations")
    if isinstance(values, dict):
        return values
    fresh: dict[str, str] = {}
    meta["annotations"] = fresh
    return fresh


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    """Record desired and max replicas on ``rs`` (mutates it); whether anything changed."""
    notes = _annotations(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if notes.get(key) != value:
            notes[key] = value
            changed = True
    return changed


def set_new_rs_annotations(d: Mapping[str, Any], rs: Obj, new_revision: str, exists: bool) -> bool:
    """Copy the Deployment's annotations and the new revision onto ``rs`` (mutates it)."""
    notes = _annotations(rs)
    changed = False
    for key, value in annotations_of(d).items():
        if key not in _SKIP_COPY and notes.get(key) != value:
            notes[key] = value
            changed = True
    old_revision = notes.get(REVISION, "")
    try:
        old_number = int(old_revision) if old_revision else 0
    except ValueError:
        return False
    if old_number < int(new_revision):
        notes[REVISION] = new_revision
        changed = True
        if old_revision:  # an old ReplicaSet is current again: remember the revision it had
            _append_history(notes, old_revision)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def _append_history(notes: dict[str, str], old_revision: str) -> None:
    history = notes.get(REVISION_HISTORY, "")
    if not history:
        notes[REVISION_HISTORY] = old_revision
        return
    entries = history.split(",")
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > MAX_REVISION_HISTORY_CHARS and start < len(entries):
        total -= len(entries[start]) + 1
        start += 1
    if total <= MAX_REVISION_HISTORY_CHARS:
        notes[REVISION_HISTORY] = ",".join([*entries[start:], old_revision])


def has_deadline(d: Mapping[str, Any]) -> bool:
    value = spec_of(d).get("progressDeadlineSeconds")
    return isinstance(value, int) and value != INT32_MAX


def has_history_limit(d: Mapping[str, Any]) -> bool:
    value = spec_of(d).get("revisionHistoryLimit")
    return isinstance(value, int) and value != INT32_MAX
