"""Metadata helpers over plain-dict objects (apimachinery api/meta conditions_test.go,
apis/meta/v1 controller_ref_test.go, client-go cache SplitMetaNamespaceKey)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.api import meta

T0 = "2024-01-02T03:04:05Z"
T1 = "2024-01-02T03:05:00Z"


def _pod(**metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {}, "status": {}}


def test_new_uid_is_a_uuid() -> None:
    first, second = meta.new_uid(), meta.new_uid()
    assert first != second
    assert str(uuid.UUID(first)) == first


@pytest.mark.parametrize(
    ("moment", "seconds", "micros"),
    [
        pytest.param(
            datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.123456Z",
            id="utc",
        ),
        pytest.param(
            datetime(2024, 1, 2, 5, 4, 5, 7, tzinfo=timezone(timedelta(hours=2))),
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.000007Z",
            id="offset-converted",
        ),
        pytest.param(
            datetime(2024, 1, 2, 3, 4, 5),
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.000000Z",
            id="naive-is-utc",
        ),
    ],
)
def test_timestamps(moment: datetime, seconds: str, micros: str) -> None:
    assert meta.now_rfc3339(moment) == seconds
    assert meta.micro_time(moment) == micros
    expected = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    assert meta.parse_time(micros) == expected


def test_now_defaults_to_the_current_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    parsed = meta.parse_time(meta.now_rfc3339())
    assert before <= parsed <= datetime.now(UTC)
    assert meta.parse_time(meta.micro_time()).tzinfo is UTC


def test_parse_time_accepts_offsets_and_naive() -> None:
    assert meta.parse_time("2024-01-02T05:04:05+02:00") == meta.parse_time(T0)
    assert meta.parse_time("2024-01-02T03:04:05") == meta.parse_time(T0)


@pytest.mark.parametrize(
    ("obj", "key"),
    [
        pytest.param(_pod(name="web", namespace="default"), "default/web", id="namespaced"),
        pytest.param(_pod(name="node-1"), "node-1", id="cluster-scoped"),
        pytest.param({}, "", id="no-metadata"),
    ],
)
def test_object_key(obj: dict[str, Any], key: str) -> None:
    assert meta.object_key(obj) == key
    assert meta.split_key(key) == (meta.namespace_of(obj), meta.name_of(obj))


def test_split_key_rejects_extra_slashes() -> None:
    with pytest.raises(ValueError, match=r'^unexpected key format: "a/b/c"$'):
        meta.split_key("a/b/c")


def test_labels_and_annotations() -> None:
    obj: dict[str, Any] = {"kind": "Pod"}
    assert meta.labels_of(obj) == {}
    assert meta.annotations_of(obj) == {}
    meta.set_label(obj, "app", "web")
    meta.set_annotation(obj, "note", "x")
    assert obj == {
        "kind": "Pod",
        "metadata": {"labels": {"app": "web"}, "annotations": {"note": "x"}},
    }
    assert meta.labels_of(obj) == {"app": "web"}
    assert meta.annotations_of(obj) == {"note": "x"}


OWNER = _pod(name="rs-1", namespace="default", uid="u-1")


def test_new_controller_ref() -> None:
    assert meta.new_controller_ref(OWNER, "apps/v1", "ReplicaSet") == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "rs-1",
        "uid": "u-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }


@pytest.mark.parametrize(
    ("refs", "controller_uid", "owned_by_u1"),
    [
        pytest.param([], None, False, id="none"),
        pytest.param([{"uid": "u-1"}], None, True, id="owner-not-controller"),
        pytest.param([{"uid": "u-1", "controller": False}], None, True, id="controller-false"),
        pytest.param(
            [{"uid": "u-2"}, {"uid": "u-1", "controller": True}], "u-1", True, id="controller"
        ),
        pytest.param([{"uid": "u-2", "controller": True}], "u-2", False, id="other-controller"),
    ],
)
def test_owner_references(
    refs: list[dict[str, Any]], controller_uid: str | None, owned_by_u1: bool
) -> None:
    obj = _pod(name="p", ownerReferences=refs)
    original = copy.deepcopy(obj)
    ref = meta.controller_of(obj)
    assert (ref or {}).get("uid") == controller_uid
    assert meta.is_owned_by(obj, "u-1") is owned_by_u1
    assert meta.is_controlled_by(obj, "u-1") is (controller_uid == "u-1")
    if ref is not None:
        ref["uid"] = "changed"  # a copy: the object is untouched
    assert obj == original


def test_owner_references_ignores_malformed_entries() -> None:
    obj = _pod(ownerReferences=["junk", {"uid": "u-1"}])
    assert meta.owner_references(obj) == [{"uid": "u-1"}]
    assert meta.owner_references({"metadata": {"ownerReferences": "junk"}}) == []


def _cond(status: str, reason: str = "", time: str | None = None, **extra: Any) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": "Ready", "status": status, "reason": reason, **extra}
    if time is not None:
        condition["lastTransitionTime"] = time
    return condition


# TestSetStatusCondition.
@pytest.mark.parametrize(
    ("before", "new", "changed", "after"),
    [
        pytest.param([], _cond("True"), True, [_cond("True", time=T1)], id="append-stamps-now"),
        pytest.param(
            [], _cond("True", time=T0), True, [_cond("True", time=T0)], id="append-keeps-own-time"
        ),
        pytest.param(
            [_cond("True", time=T0)],
            _cond("True", time=T1),
            False,
            [_cond("True", time=T0)],
            id="same-status-keeps-time",
        ),
        pytest.param(
            [_cond("True", time=T0)],
            _cond("True", "Moved"),
            True,
            [_cond("True", "Moved", time=T0)],
            id="reason-change-keeps-time",
        ),
        pytest.param(
            [_cond("True", time=T0)],
            _cond("False"),
            True,
            [_cond("False", time=T1)],
            id="status-change-stamps-now",
        ),
        pytest.param(
            [_cond("True", time=T0, message="old")],
            _cond("True"),
            True,
            [_cond("True", time=T0)],
            id="replaces-other-fields",
        ),
    ],
)
def test_set_condition(
    before: list[dict[str, Any]], new: dict[str, Any], changed: bool, after: list[dict[str, Any]]
) -> None:
    conditions = copy.deepcopy(before)
    original_new = copy.deepcopy(new)
    assert meta.set_condition(conditions, new, T1) is changed
    assert conditions == after
    assert new == original_new


def test_condition_queries_and_removal() -> None:
    conditions = [_cond("True", time=T0), {"type": "Progressing", "status": "False"}]
    assert meta.get_condition(conditions, "Ready") == conditions[0]
    assert meta.get_condition(conditions, "Missing") is None
    assert meta.get_condition(None, "Ready") is None
    assert meta.is_condition_true(conditions, "Ready")
    assert not meta.is_condition_true(conditions, "Progressing")
    assert not meta.is_condition_true(conditions, "Missing")
    assert meta.remove_condition(conditions, "Ready")
    assert not meta.remove_condition(conditions, "Ready")
    assert [c["type"] for c in conditions] == ["Progressing"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda o: o["spec"].update(replicas=3), True, id="spec"),
        pytest.param(lambda o: o.update(data={"a": "b"}), True, id="other-top-level"),
        pytest.param(lambda o: o["status"].update(phase="Running"), False, id="status"),
        pytest.param(lambda o: o["metadata"].update(labels={"a": "b"}), False, id="metadata"),
        pytest.param(lambda o: o.update(apiVersion="v2"), False, id="api-version"),
        pytest.param(lambda o: None, False, id="nothing"),
    ],
)
def test_spec_changed(change: Callable[[dict[str, Any]], object], expected: bool) -> None:
    old = _pod(name="p", uid="u")
    new = copy.deepcopy(old)
    change(new)
    assert meta.spec_changed(old, new) is expected


@given(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20})?", fullmatch=True),
    st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,20})?", fullmatch=True),
)
def test_key_round_trip(namespace: str, name: str) -> None:
    obj = _pod(name=name, namespace=namespace)
    assert meta.split_key(meta.object_key(obj)) == (namespace, name)
