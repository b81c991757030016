"""ControllerRevision helpers: hashing, naming, template round trips, ordering."""

from __future__ import annotations

from typing import Any

from kybernetes.controllers import history

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
}
OWNER = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "annotations": {"a": "b"}}}
REF = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1"}


def test_fnv_hashes_match_the_reference_vectors() -> None:
    assert history.fnv32(b"") == 0x811C9DC5
    assert history.fnv32(b"a") == 0x050C5D7E
    assert history.fnv32(b"foobar") == 0x31F0B262
    assert history.fnv32a(b"a") == 0xE40C292C
    assert history.fnv32a(b"foobar") == 0xBF9CF968


def test_safe_encode_uses_only_unambiguous_characters() -> None:
    encoded = history.safe_encode("1234567890")
    assert len(encoded) == 10
    assert set(encoded) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_revision_name_cuts_long_prefixes() -> None:
    assert history.revision_name("web", "abc") == "web-abc"
    assert history.revision_name("x" * 300, "abc") == "x" * 223 + "-abc"


def test_template_patch_round_trips_and_is_canonical() -> None:
    data = history.template_patch(TEMPLATE)
    assert data["spec"]["template"]["$patch"] == "replace"
    assert history.template_of({"data": data}) == TEMPLATE
    assert "$patch" not in TEMPLATE  # the input is not modified
    reordered = {"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}
    assert history.canonical(reordered) == history.canonical(TEMPLATE)


def test_hashes_change_with_the_template_and_the_collision_count() -> None:
    data = history.template_patch(TEMPLATE)
    assert history.hash_revision(data, None) == history.hash_revision(data, None)
    assert history.hash_revision(data, 0) != history.hash_revision(data, 1)
    other = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    assert history.hash_template(TEMPLATE, 0) != history.hash_template(other, 0)
    assert history.hash_template(TEMPLATE, 0) != history.hash_template(TEMPLATE, 1)


def test_new_revision_carries_labels_owner_and_annotations() -> None:
    revision = history.new_revision(OWNER, REF, TEMPLATE, 3, "h4sh")
    meta = revision["metadata"]
    assert meta["name"] == "web-h4sh"
    assert meta["namespace"] == "ns"
    assert meta["labels"] == {"app": "web", history.REVISION_HASH_LABEL: "h4sh"}
    assert meta["annotations"] == {"a": "b"}
    assert meta["ownerReferences"] == [REF]
    assert revision["revision"] == 3
    daemon = history.new_revision(OWNER, REF, TEMPLATE, 1, "h", history.POD_REVISION_LABEL)
    assert daemon["metadata"]["labels"][history.POD_REVISION_LABEL] == "h"
    assert history.same_data(revision, daemon)


def test_ordering_and_next_number() -> None:
    revisions = [
        {"metadata": {"name": "b"}, "revision": 2},
        {"metadata": {"name": "a"}, "revision": 5},
        {"metadata": {"name": "c"}, "revision": 1},
    ]
    assert [r["metadata"]["name"] for r in history.by_revision(revisions)] == ["c", "b", "a"]
    assert history.next_number(revisions) == 6
    assert history.next_number([]) == 1
