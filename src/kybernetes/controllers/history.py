"""ControllerRevisions: the recorded pod templates of StatefulSets and DaemonSets.

A revision stores, in ``data``, the patch that restores its owner's pod template
(``{"spec": {"template": {..., "$patch": "replace"}}}``, as upstream), a ``revision`` number and
the labels of the template plus a hash. Two revisions are the same when their ``data`` is equal;
the hash only names them (``<owner>-<hash>``) and, when a different revision already holds the
name, ``collisionCount`` is bumped and the hash changes.

- StatefulSets name revisions by ``hash_revision`` (FNV-1 over the patch bytes, upstream's
  ``HashControllerRevision``); DaemonSets by ``hash_template`` (FNV-1a over the template, the
  ``ComputeHash`` that also names their pods' ``controller-revision-hash``).
- ``truncate_history`` deletes the oldest revisions that no live pod uses, keeping
  ``revisionHistoryLimit`` of them.

Invariant: a revision's ``data`` never changes after creation; only its ``revision`` number is
raised when an old template comes back, so history numbers stay increasing.
"""

from __future__ import annotations

import copy
import logging
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson

from kybernetes.api import errors
from kybernetes.api.meta import controller_of, name_of, namespace_of, uid_of
from kybernetes.client.resource import CONTROLLERREVISIONS
from kybernetes.client.rest import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]

#: On ControllerRevisions: the hash their name ends with (``history.ControllerRevisionHashLabel``).
REVISION_HASH_LABEL: Final = "controller.kubernetes.io/hash"
#: On pods: the revision (name for StatefulSets, hash for DaemonSets) they were created from.
POD_REVISION_LABEL: Final = "controller-revision-hash"
_SAFE_ALPHANUMS: Final = "bcdfghjklmnpqrstvwxz2456789"
_MAX_PREFIX: Final = 223


def fnv32(data: bytes) -> int:
    """32-bit FNV-1 (Go's ``fnv.New32``)."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value * 0x01000193) & 0xFFFFFFFF) ^ byte
    return value


def fnv32a(data: bytes) -> int:
    """32-bit FNV-1a (Go's ``fnv.New32a``)."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: each character mapped onto consonants and digits."""
    return "".join(_SAFE_ALPHANUMS[ord(ch) % len(_SAFE_ALPHANUMS)] for ch in text)


def canonical(value: Any) -> bytes:
    """Compact JSON with sorted keys: what Go's ``json.Marshal`` of a decoded map writes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def template_patch(template: Mapping[str, Any]) -> Obj:
    """The revision data restoring ``template`` (upstream's ``getPatch``)."""
    replaced = copy.deepcopy(dict(template))
    replaced["$patch"] = "replace"
    return {"spec": {"template": replaced}}


def template_of(revision: Mapping[str, Any]) -> Obj:
    """The pod template a revision's data restores."""
    data = revision.get("data") or {}
    template = dict(((data.get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    return template


def hash_revision(data: Mapping[str, Any], collision_count: int | None) -> str:
    """``HashControllerRevision``: FNV-1 over the data, then the collision count in decimal."""
    raw = canonical(data)
    if collision_count is not None:
        raw += str(collision_count).encode()
    return safe_encode(str(fnv32(raw)))


def hash_template(template: Mapping[str, Any], collision_count: int | None) -> str:
    """``ComputeHash``: FNV-1a over the template, then the collision count as 4 LE bytes."""
    raw = canonical(template)
    if collision_count is not None:
        raw += struct.pack("<I", collision_count & 0xFFFFFFFF)
    return safe_encode(str(fnv32a(raw)))


def revision_name(prefix: str, hash_: str) -> str:
    """``ControllerRevisionName``: the owner's name (cut to 223 characters), a dash, the hash."""
    return f"{prefix[:_MAX_PREFIX]}-{hash_}"


def new_revision(
    owner: Mapping[str, Any],
    controller_ref: Mapping[str, Any],
    template: Mapping[str, Any],
    number: int,
    hash_: str,
    hash_label: str = REVISION_HASH_LABEL,
) -> Obj:
    """A ControllerRevision of ``owner`` recording ``template`` as revision ``number``.

    Labels are the template's plus ``hash_label`` (StatefulSets use ``REVISION_HASH_LABEL``,
    DaemonSets ``POD_REVISION_LABEL``); annotations are the owner's.
    """
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels[hash_label] = hash_
    meta: Obj = {
        "name": revision_name(name_of(owner), hash_),
        "namespace": namespace_of(owner),
        "labels": labels,
        "ownerReferences": [dict(controller_ref)],
    }
    annotations = (owner.get("metadata") or {}).get("annotations")
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": meta,
        "data": template_patch(template),
        "revision": number,
    }


def same_data(lhs: Mapping[str, Any], rhs: Mapping[str, Any]) -> bool:
    """Whether two revisions record the same state (``EqualRevision``)."""
    return bool(lhs.get("data") == rhs.get("data"))


def by_revision(revisions: Iterable[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name."""
    return sorted(
        revisions,
        key=lambda r: (
            int(r.get("revision") or 0),
            str((r.get("metadata") or {}).get("creationTimestamp") or ""),
            name_of(r),
        ),
    )


def next_number(revisions: Sequence[Obj]) -> int:
    """One more than the highest revision number (1 for an empty history)."""
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


async def create_revision(
    client: Client,
    owner: Mapping[str, Any],
    revision: Obj,
    collision_count: int,
) -> tuple[Obj, int]:
    """Create ``revision`` (hashed by ``hash_revision``), bumping the collision count on clashes.

    An existing revision of the same name with the same data owned by ``owner`` is the one we
    wanted (a retry after a lost answer); any other occupant is a hash collision. Returns the
    stored revision and the collision count it needed (upstream's ``CreateControllerRevision``).
    """
    while True:
        hash_ = hash_revision(revision["data"], collision_count)
        attempt = copy.deepcopy(revision)
        attempt["metadata"]["name"] = revision_name(name_of(owner), hash_)
        attempt["metadata"]["labels"][REVISION_HASH_LABEL] = hash_
        try:
            return await client.create(CONTROLLERREVISIONS, attempt, namespace_of(owner)), (
                collision_count
            )
        except errors.AlreadyExists:
            existing = await client.get(
                CONTROLLERREVISIONS, attempt["metadata"]["name"], namespace_of(owner)
            )
            ref = controller_of(existing)
            if ref is not None and ref.get("uid") == uid_of(owner) and same_data(existing, attempt):
                return existing, collision_count
            collision_count += 1
            log.info(
                "controller revision hash collision owner=%s/%s name=%s collision_count=%d",
                namespace_of(owner),
                name_of(owner),
                attempt["metadata"]["name"],
                collision_count,
            )


async def renumber(client: Client, revision: Obj, number: int) -> Obj:
    """Give an existing revision a new revision number (its data stays)."""
    updated = copy.deepcopy(revision)
    updated["revision"] = number
    return await client.update(CONTROLLERREVISIONS, updated)


async def truncate_history(
    client: Client, revisions: Sequence[Obj], live: set[str], limit: int
) -> None:
    """Delete the oldest revisions not named in ``live`` until at most ``limit`` are left."""
    unused = [r for r in by_revision(revisions) if name_of(r) not in live]
    for revision in unused[: max(0, len(unused) - max(0, limit))]:
        try:
            await client.delete(
                CONTROLLERREVISIONS,
                name_of(revision),
                namespace_of(revision),
                preconditions={"uid": uid_of(revision)},
            )
        except (errors.NotFound, errors.Conflict):
            continue
        log.info(
            "controller revision deleted revision=%s/%s number=%s",
            namespace_of(revision),
            name_of(revision),
            revision.get("revision"),
        )
