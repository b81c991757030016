"""The ServiceAccount admission plugin: default account, the kube-api-access volume, mirror pods."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.resources import resources
from kybernetes.apiserver.admission import (
    TOKEN_MOUNT_PATH,
    ServiceAccountAdmission,
    token_volume_source,
)

Obj = dict[str, Any]
PODS = next(r for r in resources() if r.group == "" and r.plural == "pods")
CONFIGMAPS = next(r for r in resources() if r.group == "" and r.plural == "configmaps")
MOUNT = {"name": "kube-api-access-xyz12", "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}


def _pod(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "image": "i"}], **spec},
    }


def _plugin(accounts: dict[str, Obj]) -> ServiceAccountAdmission:
    async def lookup(namespace: str, name: str) -> Obj | None:
        return accounts.get(f"{namespace}/{name}")

    return ServiceAccountAdmission(lookup, lambda prefix: prefix + "xyz12")


DEFAULT = {"ns/default": {"metadata": {"name": "default", "namespace": "ns"}}}


async def test_default_account_and_the_token_volume_as_upstream() -> None:
    pod = _pod(initContainers=[{"name": "init", "image": "i"}])
    await _plugin(DEFAULT).admit_create(PODS, pod)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["initContainers"][0]["volumeMounts"] == [MOUNT]
    assert spec["containers"][0]["volumeMounts"] == [MOUNT]
    assert spec["volumes"] == [
        {"name": "kube-api-access-xyz12", "projected": token_volume_source()}
    ]
    assert token_volume_source() == {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {
                "configMap": {
                    "name": "kube-root-ca.crt",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
        "defaultMode": 0o644,
    }


async def test_named_account_and_the_deprecated_field() -> None:
    accounts = {"ns/robot": {"metadata": {"name": "robot"}}}
    pod = _pod(serviceAccount="robot")
    await _plugin(accounts).admit_create(PODS, pod)
    assert pod["spec"]["serviceAccountName"] == "robot"


async def test_a_missing_account_is_forbidden() -> None:
    pod = _pod(serviceAccountName="ghost")
    with pytest.raises(errors.Forbidden) as refused:
        await _plugin(DEFAULT).admit_create(PODS, pod)
    assert str(refused.value) == (
        'pods "p" is forbidden: error looking up service account ns/ghost: '
        'serviceaccount "ghost" not found'
    )


@pytest.mark.parametrize(
    ("pod_says", "account_says", "mounted"),
    [
        (None, None, True),
        (None, False, False),
        (True, False, True),
        (False, True, False),
    ],
)
async def test_automount_the_pod_wins_then_the_account(
    pod_says: bool | None, account_says: bool | None, mounted: bool
) -> None:
    account: Obj = {"metadata": {"name": "default"}}
    if account_says is not None:
        account["automountServiceAccountToken"] = account_says
    pod = _pod() if pod_says is None else _pod(automountServiceAccountToken=pod_says)
    await _plugin({"ns/default": account}).admit_create(PODS, pod)
    assert ("volumes" in pod["spec"]) is mounted
    assert ("volumeMounts" in pod["spec"]["containers"][0]) is mounted


async def test_existing_mounts_and_volumes_are_kept() -> None:
    own = {"name": "mine", "mountPath": TOKEN_MOUNT_PATH}
    pod = _pod(containers=[{"name": "a", "volumeMounts": [own]}, {"name": "b"}])
    await _plugin(DEFAULT).admit_create(PODS, pod)
    assert pod["spec"]["containers"][0]["volumeMounts"] == [own]
    assert pod["spec"]["containers"][1]["volumeMounts"] == [MOUNT]
    # Admission twice (a webhook changed the pod) adds nothing more.
    again = copy.deepcopy(pod)
    await _plugin(DEFAULT).admit_create(PODS, again)
    assert again == pod
    # Every container mounts something there already: no volume.
    full = _pod(containers=[{"name": "a", "volumeMounts": [own]}])
    await _plugin(DEFAULT).admit_create(PODS, full)
    assert "volumes" not in full["spec"]
    # An existing kube-api-access- volume is reused by name.
    named = _pod(volumes=[{"name": "kube-api-access-keep1", "emptyDir": {}}])
    await _plugin(DEFAULT).admit_create(PODS, named)
    assert named["spec"]["volumes"] == [{"name": "kube-api-access-keep1", "emptyDir": {}}]
    assert named["spec"]["containers"][0]["volumeMounts"][0]["name"] == "kube-api-access-keep1"


async def test_mirror_pods_and_other_kinds() -> None:
    mirror = _pod()
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    await _plugin({}).admit_create(PODS, mirror)
    assert "serviceAccountName" not in mirror["spec"]
    mirror["spec"]["serviceAccountName"] = "default"
    with pytest.raises(errors.Forbidden, match="a mirror pod may not reference service accounts"):
        await _plugin({}).admit_create(PODS, mirror)
    mirror["spec"] = _pod(volumes=[{"name": "v", "projected": token_volume_source()}])["spec"]
    with pytest.raises(errors.Forbidden, match="ServiceAccountToken volume projections"):
        await _plugin({}).admit_create(PODS, mirror)
    configmap: Obj = {"metadata": {"name": "c", "namespace": "ns"}, "spec": {}}
    await _plugin({}).admit_create(CONFIGMAPS, configmap)
    assert configmap == {"metadata": {"name": "c", "namespace": "ns"}, "spec": {}}
