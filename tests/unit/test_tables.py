"""Server-side printing (kybernetes.api.tables): the Tables kubectl get renders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.api import resources
from kybernetes.api.errors import BadRequest
from kybernetes.api.resources import ResourceInfo
from kybernetes.api.tables import (
    DEFAULT_PRINTER,
    JSONPath,
    JSONPathError,
    custom_resource_printer,
    human_duration,
    printer_for,
    table_for_custom_resource,
    to_table,
    watch_table_event,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def res(group: str, version: str, plural: str) -> ResourceInfo:
    info = resources.get(group, version, plural)
    assert info is not None
    return info


def meta(name: str = "web", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(minutes=5), **extra}


def table(group: str, version: str, plural: str, *objects: dict[str, Any], **kw: Any) -> Any:
    return to_table(res(group, version, plural), list(objects), now=NOW, **kw)


def row(group: str, version: str, plural: str, obj: dict[str, Any]) -> dict[str, str | Any]:
    """The cells of one object keyed by column name (wide columns included)."""
    t = table(group, version, plural, obj)
    names = [c["name"] for c in t["columnDefinitions"]]
    cells = t["rows"][0]["cells"]
    assert len(names) == len(cells)
    return dict(zip(names, cells, strict=True))


# --- ages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-1, "0s"),
        (-1.5, "0s"),
        (-3, "<invalid>"),
        (5, "5s"),
        (119.9, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (195, "3m15s"),
        (599, "9m59s"),
        (600, "10m"),
        (61 * 60, "61m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (7 * 3600 + 59 * 60, "7h59m"),
        (8 * 3600, "8h"),
        (45 * 3600, "45h"),
        (48 * 3600, "2d"),
        (51 * 3600, "2d3h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (730 * 86400, "2y"),
        (731 * 86400, "2y1d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == text


# --- table shape -------------------------------------------------------------------------------


def test_table_shape_and_column_definitions() -> None:
    t = table("", "v1", "configmaps", {"metadata": meta(labels={"a": "b"})})
    assert t["kind"] == "Table"
    assert t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {}
    for column in t["columnDefinitions"]:
        assert set(column) == {"name", "type", "format", "description", "priority"}
    assert t["columnDefinitions"][0]["format"] == "name"
    obj = t["rows"][0]["object"]
    assert obj["kind"] == "PartialObjectMetadata"
    assert obj["apiVersion"] == "meta.k8s.io/v1"
    assert obj["metadata"]["labels"] == {"a": "b"}


def test_include_object_modes_and_list_meta() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(), "data": {"k": "v"}}
    t = table("", "v1", "configmaps", cm, include_object="Object")
    assert t["rows"][0]["object"] == cm
    t = table("", "v1", "configmaps", cm, include_object="None")
    assert t["rows"][0]["object"] is None
    t = table("", "v1", "configmaps", cm, include_object="")
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    t = table(
        "", "v1", "configmaps", cm,
        list_meta={"resourceVersion": "42", "continue": "", "remainingItemCount": 3},
    )  # fmt: skip
    assert t["metadata"] == {"resourceVersion": "42", "remainingItemCount": 3}
    with pytest.raises(BadRequest, match='unrecognized includeObject value: "Everything"'):
        table("", "v1", "configmaps", cm, include_object="Everything")


def test_no_headers_and_watch_event() -> None:
    pod = {"metadata": meta(resourceVersion="77"), "spec": {"containers": [{"name": "c"}]}}
    printer = printer_for(res("", "v1", "pods"))
    event = watch_table_event(printer, pod, now=NOW)
    assert len(event["columnDefinitions"]) == 9
    assert event["metadata"] == {"resourceVersion": "77"}
    assert len(event["rows"]) == 1
    later = watch_table_event(printer, pod, now=NOW, include_columns=False)
    assert later["columnDefinitions"] is None
    assert later["rows"][0]["cells"][0] == "web"


def test_every_printer_fills_every_column_even_for_empty_objects() -> None:
    for info in resources.resources():
        printer = printer_for(info)
        for obj in ({}, {"metadata": {"name": "x"}, "spec": {}, "status": {}}):
            cells, _ = printer.row(obj, NOW)
            assert len(cells) == len(printer.columns), info.plural
            for cell in cells:
                assert cell is None or isinstance(cell, str | int | float | bool)


def test_wide_columns_have_priority_one() -> None:
    pods = list(printer_for(res("", "v1", "pods")).columns)
    assert [c.name for c in pods if c.priority == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert [c.name for c in pods if c.priority == 1] == [
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]


# --- pods --------------------------------------------------------------------------------------


def pod(
    statuses: list[dict[str, Any]] | None = None,
    *,
    phase: str = "Running",
    containers: int = 1,
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    **meta_extra: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}"} for i in range(containers)]}
    status: dict[str, Any] = {"phase": phase}
    if init is not None:
        spec["initContainers"] = init
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        status["conditions"] = conditions
    return {"metadata": meta(**meta_extra), "spec": spec, "status": status}


def running(name: str = "c0", ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ago(minutes=4)}},
    }


def waiting(reason: str, name: str = "c0", restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
    }


def terminated(
    name: str = "c0", *, code: int = 0, reason: str = "", signal: int = 0
) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": code}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def pod_cells(p: dict[str, Any]) -> dict[str, Any]:
    return row("", "v1", "pods", p)


def test_pod_pending_without_statuses() -> None:
    cells = pod_cells(pod(phase="Pending"))
    assert (cells["Ready"], cells["Status"], cells["Restarts"], cells["Age"]) == (
        "0/1",
        "Pending",
        "0",
        "5m",
    )
    assert (cells["IP"], cells["Node"], cells["Nominated Node"], cells["Readiness Gates"]) == (
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    )


@pytest.mark.parametrize(
    "reason", ["ContainerCreating", "ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"]
)
def test_pod_waiting_reason_is_the_status(reason: str) -> None:
    assert pod_cells(pod([waiting(reason)], phase="Pending"))["Status"] == reason


def test_pod_running_and_partially_ready() -> None:
    cells = pod_cells(pod([running("c0"), running("c1", ready=False)], containers=2))
    assert (cells["Ready"], cells["Status"]) == ("1/2", "Running")


def test_pod_completed_has_row_condition() -> None:
    p = pod([terminated(reason="Completed")], phase="Succeeded")
    t = table("", "v1", "pods", p)
    assert t["rows"][0]["cells"][2] == "Completed"
    assert t["rows"][0]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    failed = table("", "v1", "pods", pod([terminated(code=1, reason="Error")], phase="Failed"))
    assert failed["rows"][0]["cells"][2] == "Error"
    assert failed["rows"][0]["conditions"][0]["reason"] == "Failed"


def test_pod_terminated_without_reason_prints_exit_code_or_signal() -> None:
    assert pod_cells(pod([terminated(code=137)]))["Status"] == "ExitCode:137"
    assert pod_cells(pod([terminated(code=0, signal=9)]))["Status"] == "Signal:9"


def test_pod_restarts_with_last_restart_age() -> None:
    status = waiting("CrashLoopBackOff", restarts=5)
    status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(minutes=5)}}
    cells = pod_cells(pod([status]))
    assert cells["Status"] == "CrashLoopBackOff"
    assert cells["Restarts"] == "5 (5m ago)"
    # Without a termination time only the count shows.
    assert pod_cells(pod([running(restarts=2)]))["Restarts"] == "2"


def test_pod_terminating_and_node_lost() -> None:
    deleting = pod([running()], deletionTimestamp=ago(seconds=10))
    assert pod_cells(deleting)["Status"] == "Terminating"
    lost = pod([running()], deletionTimestamp=ago(seconds=10))
    lost["status"]["reason"] = "NodeLost"
    assert pod_cells(lost)["Status"] == "Unknown"
    # A finished pod being deleted keeps its final status.
    done = pod(
        [terminated(reason="Completed")], phase="Succeeded", deletionTimestamp=ago(seconds=1)
    )
    assert pod_cells(done)["Status"] == "Completed"


def test_pod_status_reason_and_scheduling_gates() -> None:
    evicted = pod(phase="Failed")
    evicted["status"]["reason"] = "Evicted"
    assert pod_cells(evicted)["Status"] == "Evicted"
    gated = pod(
        phase="Pending",
        conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
    )
    assert pod_cells(gated)["Status"] == "SchedulingGated"


def test_pod_init_containers() -> None:
    init = [{"name": "i0"}, {"name": "i1"}]
    first = pod(
        [waiting("PodInitializing")],
        phase="Pending",
        init=init,
        init_statuses=[running("i0", ready=False), waiting("PodInitializing", "i1")],
    )
    assert pod_cells(first)["Status"] == "Init:0/2"
    second = pod(
        phase="Pending",
        init=init,
        init_statuses=[terminated("i0", reason="Completed"), running("i1", ready=False)],
    )
    assert pod_cells(second)["Status"] == "Init:1/2"
    pulling = pod(phase="Pending", init=init, init_statuses=[waiting("ErrImagePull", "i0")])
    assert pod_cells(pulling)["Status"] == "Init:ErrImagePull"
    crashed = pod(phase="Pending", init=init, init_statuses=[terminated("i0", code=3)])
    assert pod_cells(crashed)["Status"] == "Init:ExitCode:3"
    killed = pod(phase="Pending", init=init, init_statuses=[terminated("i0", code=1, signal=9)])
    assert pod_cells(killed)["Status"] == "Init:Signal:9"
    looping = pod(
        phase="Pending", init=init, init_statuses=[waiting("CrashLoopBackOff", "i0", restarts=4)]
    )
    cells = pod_cells(looping)
    assert (cells["Status"], cells["Restarts"]) == ("Init:CrashLoopBackOff", "4")


def test_pod_sidecar_counts_towards_ready_and_total() -> None:
    sidecar = {"name": "proxy", "restartPolicy": "Always"}
    status = running("proxy")
    status["started"] = True
    p = pod(
        [running("c0")],
        init=[sidecar],
        init_statuses=[status],
        conditions=[{"type": "Initialized", "status": "True"}],
    )
    cells = pod_cells(p)
    assert (cells["Ready"], cells["Status"]) == ("2/2", "Running")


def test_pod_completed_container_with_another_running() -> None:
    statuses = [running("c0"), terminated("c1", reason="Completed")]
    ready = pod(statuses, containers=2, conditions=[{"type": "Ready", "status": "True"}])
    assert pod_cells(ready)["Status"] == "Running"
    assert pod_cells(pod(statuses, containers=2))["Status"] == "NotReady"


def test_pod_wide_columns() -> None:
    p = pod([running()])
    p["spec"]["nodeName"] = "node-1"
    p["spec"]["readinessGates"] = [{"conditionType": "a"}, {"conditionType": "b"}]
    p["status"]["podIPs"] = [{"ip": "10.42.0.7"}, {"ip": "fd00::7"}]
    p["status"]["nominatedNodeName"] = "node-2"
    p["status"]["conditions"] = [{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]
    cells = pod_cells(p)
    assert (cells["IP"], cells["Node"], cells["Nominated Node"], cells["Readiness Gates"]) == (
        "10.42.0.7",
        "node-1",
        "node-2",
        "1/2",
    )
    only_pod_ip = pod([running()])
    only_pod_ip["status"]["podIP"] = "10.42.0.8"
    assert pod_cells(only_pod_ip)["IP"] == "10.42.0.8"


# --- workloads ---------------------------------------------------------------------------------

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "containers": [{"name": "web", "image": "nginx:1"}, {"name": "log", "image": "busybox"}]
    },
}


def test_deployment() -> None:
    d = {
        "metadata": meta(),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
            },
            "template": TEMPLATE,
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert row("apps", "v1", "deployments", d) == {
        "Name": "web",
        "Ready": "2/3",
        "Up-to-date": 3,
        "Available": 2,
        "Age": "5m",
        "Containers": "web,log",
        "Images": "nginx:1,busybox",
        "Selector": "app=web,tier in (a,b)",
    }
    # Defaulting: no replicas means 1; no status means zeroes.
    fresh = {"metadata": meta(), "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {}}}
    cells = row("apps", "v1", "deployments", fresh)
    assert (cells["Ready"], cells["Up-to-date"], cells["Available"]) == ("0/1", 0, 0)


def test_replicaset_statefulset_daemonset_rc() -> None:
    spec = {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}
    rs = row(
        "apps",
        "v1",
        "replicasets",
        {"metadata": meta(), "spec": spec, "status": {"replicas": 2, "readyReplicas": 1}},
    )
    assert (rs["Desired"], rs["Current"], rs["Ready"], rs["Selector"]) == (2, 2, 1, "app=web")
    sts = row(
        "apps",
        "v1",
        "statefulsets",
        {"metadata": meta(), "spec": spec, "status": {"readyReplicas": 2}},
    )
    assert list(sts) == ["Name", "Ready", "Age", "Containers", "Images"]
    assert sts["Ready"] == "2/2"
    ds_spec = {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": []}},
    }
    ds_status = {
        "desiredNumberScheduled": 3,
        "currentNumberScheduled": 3,
        "numberReady": 2,
        "updatedNumberScheduled": 3,
        "numberAvailable": 2,
    }
    ds = row("apps", "v1", "daemonsets", {"metadata": meta(), "spec": ds_spec, "status": ds_status})
    assert [ds[k] for k in ("Desired", "Current", "Ready", "Up-to-date", "Available")] == [
        3,
        3,
        2,
        3,
        2,
    ]
    assert ds["Node Selector"] == "kubernetes.io/os=linux"
    rc = row(
        "",
        "v1",
        "replicationcontrollers",
        {"metadata": meta(), "spec": {"replicas": 1, "selector": {"app": "web"}}},
    )
    assert (rc["Desired"], rc["Selector"]) == (1, "app=web")


def test_controller_revision() -> None:
    owner = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "db",
        "controller": True,
        "uid": "u",
    }
    cr = {"metadata": meta(ownerReferences=[owner]), "revision": 3}
    cells = row("apps", "v1", "controllerrevisions", cr)
    assert (cells["Controller"], cells["Revision"]) == ("statefulset.apps/db", 3)
    assert row("apps", "v1", "controllerrevisions", {"metadata": meta()})["Controller"] == "<none>"


def job(conditions: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"succeeded": 1, "startTime": ago(minutes=4)}
    if conditions:
        status["conditions"] = conditions
        status["completionTime"] = ago(minutes=3, seconds=30)
    return {"metadata": meta(), "spec": {"template": TEMPLATE, **spec}, "status": status}


@pytest.mark.parametrize(
    ("conditions", "status"),
    [
        (None, "Running"),
        ([{"type": "Complete", "status": "True"}], "Complete"),
        ([{"type": "Failed", "status": "True"}], "Failed"),
        ([{"type": "Suspended", "status": "True"}], "Suspended"),
        ([{"type": "FailureTarget", "status": "True"}], "FailureTarget"),
        ([{"type": "Complete", "status": "False"}], "Running"),
    ],
)
def test_job_status(conditions: list[dict[str, Any]] | None, status: str) -> None:
    assert row("batch", "v1", "jobs", job(conditions, completions=1))["Status"] == status


def test_job_completions_and_duration() -> None:
    done = row("batch", "v1", "jobs", job([{"type": "Complete", "status": "True"}], completions=1))
    assert (done["Completions"], done["Duration"]) == ("1/1", "30s")
    running_job = row("batch", "v1", "jobs", job(parallelism=3))
    assert (running_job["Completions"], running_job["Duration"]) == ("1/1 of 3", "4m")
    assert row("batch", "v1", "jobs", job())["Completions"] == "1/1"
    deleting = job()
    deleting["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert row("batch", "v1", "jobs", deleting)["Status"] == "Terminating"
    unstarted = {"metadata": meta(), "spec": {"completions": 2}}
    assert row("batch", "v1", "jobs", unstarted)["Duration"] == ""


def test_cronjob() -> None:
    cj = {
        "metadata": meta(),
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": TEMPLATE}}},
    }
    cells = row("batch", "v1", "cronjobs", cj)
    assert list(cells)[:7] == [
        "Name",
        "Schedule",
        "Timezone",
        "Suspend",
        "Active",
        "Last Schedule",
        "Age",
    ]
    assert (cells["Schedule"], cells["Timezone"], cells["Suspend"], cells["Active"]) == (
        "*/5 * * * *",
        "<none>",
        "False",
        0,
    )
    assert cells["Last Schedule"] == "<none>"
    cj["spec"].update(timeZone="Europe/Berlin", suspend=True)
    cj["status"] = {"active": [{"name": "j1"}], "lastScheduleTime": ago(seconds=42)}
    cells = row("batch", "v1", "cronjobs", cj)
    assert (cells["Timezone"], cells["Suspend"], cells["Active"], cells["Last Schedule"]) == (
        "Europe/Berlin",
        "True",
        1,
        "42s",
    )


def test_hpa_targets() -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "metadata": meta(),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "512Mi"},
                    },
                },
                {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}},
            ],
        },
        "status": {
            "currentReplicas": 2,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 40}},
                }
            ],
        },
    }
    cells = row("autoscaling", "v2", "horizontalpodautoscalers", hpa)
    assert cells["Reference"] == "Deployment/web"
    assert cells["Targets"] == "cpu: 40%/80%, memory: <unknown>/512Mi + 1 more..."
    assert (cells["MinPods"], cells["MaxPods"], cells["Replicas"]) == ("1", 5, 2)
    v1: dict[str, Any] = {
        "apiVersion": "autoscaling/v1",
        "metadata": meta(),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 4,
            "targetCPUUtilizationPercentage": 50,
        },
    }
    cells = row("autoscaling", "v1", "horizontalpodautoscalers", v1)
    assert (cells["Targets"], cells["MinPods"]) == ("cpu: <unknown>/50%", "2")
    v1["spec"].pop("targetCPUUtilizationPercentage")
    assert (
        row("autoscaling", "v1", "horizontalpodautoscalers", v1)["Targets"] == "cpu: <unknown>/80%"
    )


# --- services, endpoints, ingresses ------------------------------------------------------------


def service(type_: str | None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"port": 80, "protocol": "TCP"}], **spec}
    if type_ is not None:
        body["type"] = type_
    return {"metadata": meta(), "spec": body}


def svc_cells(s: dict[str, Any]) -> dict[str, Any]:
    return row("", "v1", "services", s)


def test_service_types() -> None:
    cluster = svc_cells(
        service(
            "ClusterIP", clusterIP="10.43.0.10", clusterIPs=["10.43.0.10"], selector={"app": "web"}
        )
    )
    assert cluster == {
        "Name": "web",
        "Type": "ClusterIP",
        "Cluster-IP": "10.43.0.10",
        "External-IP": "<none>",
        "Port(s)": "80/TCP",
        "Age": "5m",
        "Selector": "app=web",
    }
    node_port = service(
        "NodePort",
        clusterIP="10.43.0.11",
        ports=[
            {"port": 80, "nodePort": 30080, "protocol": "TCP"},
            {"port": 443, "nodePort": 30443, "protocol": "TCP"},
            {"port": 53, "protocol": "UDP"},
        ],
    )
    cells = svc_cells(node_port)
    assert (cells["Port(s)"], cells["Selector"]) == ("80:30080/TCP,443:30443/TCP,53/UDP", "<none>")
    pending = svc_cells(service("LoadBalancer", clusterIP="10.43.0.12"))
    assert pending["External-IP"] == "<pending>"
    lb = service("LoadBalancer", clusterIP="10.43.0.12")
    lb["status"] = {
        "loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example"}]}
    }
    assert svc_cells(lb)["External-IP"] == "203.0.113.9,lb.example"
    lb["spec"]["externalIPs"] = ["198.51.100.1"]
    assert svc_cells(lb)["External-IP"] == "203.0.113.9,lb.example,198.51.100.1"
    external = svc_cells(service("ClusterIP", clusterIP="10.43.0.13", externalIPs=["198.51.100.2"]))
    assert external["External-IP"] == "198.51.100.2"
    name = svc_cells(
        {"metadata": meta(), "spec": {"type": "ExternalName", "externalName": "db.example"}}
    )
    assert (name["Cluster-IP"], name["External-IP"], name["Port(s)"]) == (
        "<none>",
        "db.example",
        "<none>",
    )
    headless = svc_cells(service(None, clusterIP="None"))
    assert (headless["Type"], headless["Cluster-IP"]) == ("ClusterIP", "None")


def test_endpoints_and_endpointslices() -> None:
    ep = {
        "metadata": meta(),
        "subsets": [
            {
                "addresses": [{"ip": "10.42.0.1"}, {"ip": "10.42.0.2"}, {"ip": "fd00::3"}],
                "ports": [{"port": 8080}],
            },
            {"addresses": [{"ip": "10.42.0.4"}], "ports": [{"port": 9090}]},
        ],
    }
    assert row("", "v1", "endpoints", ep)["Endpoints"] == (
        "10.42.0.1:8080,10.42.0.2:8080,[fd00::3]:8080 + 1 more..."
    )
    assert row("", "v1", "endpoints", {"metadata": meta()})["Endpoints"] == "<none>"
    es = {
        "metadata": meta(),
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "metrics"}],
        "endpoints": [{"addresses": ["10.42.0.1"]}, {"addresses": ["10.42.0.2"]}],
    }
    cells = row("discovery.k8s.io", "v1", "endpointslices", es)
    assert (cells["AddressType"], cells["Ports"], cells["Endpoints"]) == (
        "IPv4",
        "80,metrics",
        "10.42.0.1,10.42.0.2",
    )
    empty = row(
        "discovery.k8s.io", "v1", "endpointslices", {"metadata": meta(), "addressType": "IPv4"}
    )
    assert (empty["Ports"], empty["Endpoints"]) == ("<unset>", "<unset>")


def test_ingress_and_ingressclass() -> None:
    ing = {
        "metadata": meta(),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "a.example"}, {"host": "b.example"}, {}],
            "tls": [{"hosts": ["a.example"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
    }
    assert row("networking.k8s.io", "v1", "ingresses", ing) == {
        "Name": "web",
        "Class": "nginx",
        "Hosts": "a.example,b.example",
        "Address": "192.0.2.1",
        "Ports": "80, 443",
        "Age": "5m",
    }
    bare = row("networking.k8s.io", "v1", "ingresses", {"metadata": meta(), "spec": {}})
    assert (bare["Class"], bare["Hosts"], bare["Address"], bare["Ports"]) == (
        "<none>",
        "*",
        "",
        "80",
    )
    many = {"metadata": meta(), "spec": {"rules": [{"host": f"h{i}"} for i in range(5)]}}
    assert row("networking.k8s.io", "v1", "ingresses", many)["Hosts"] == "h0,h1,h2 + 2 more..."
    ic = {
        "metadata": meta(),
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"},
        },
    }
    cells = row("networking.k8s.io", "v1", "ingressclasses", ic)
    assert (cells["Controller"], cells["Parameters"]) == (
        "k8s.io/ingress-nginx",
        "Params.k8s.example.com/p",
    )


# --- nodes, namespaces, events, config ---------------------------------------------------------


def test_nodes() -> None:
    node = {
        "metadata": meta(
            "node-1",
            labels={
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/master": "",
                "kubernetes.io/role": "etcd",
            },
        ),
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "InternalIP", "address": "192.168.1.5"},
                {"type": "Hostname", "address": "n1"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "kyb://0.1.0",
            },
        },
    }
    assert row("", "v1", "nodes", node) == {
        "Name": "node-1",
        "Status": "Ready,SchedulingDisabled",
        "Roles": "control-plane,etcd,master",
        "Age": "5m",
        "Version": "v1.32.0",
        "Internal-IP": "192.168.1.5",
        "External-IP": "<none>",
        "OS-Image": "Debian GNU/Linux 12 (bookworm)",
        "Kernel-Version": "6.1.0",
        "Container-Runtime": "kyb://0.1.0",
    }
    bare = row("", "v1", "nodes", {"metadata": meta("n2")})
    assert (bare["Status"], bare["Roles"], bare["OS-Image"]) == ("Unknown", "<none>", "<unknown>")
    not_ready = {
        "metadata": meta("n3"),
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
    }
    assert row("", "v1", "nodes", not_ready)["Status"] == "NotReady"


def test_namespaces_configmaps_secrets_serviceaccounts() -> None:
    assert row("", "v1", "namespaces", {"metadata": meta("prod")})["Status"] == "Active"
    terminating = {"metadata": meta("old"), "status": {"phase": "Terminating"}}
    assert row("", "v1", "namespaces", terminating)["Status"] == "Terminating"
    cm = {"metadata": meta(), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert row("", "v1", "configmaps", cm) == {"Name": "web", "Data": 3, "Age": "5m"}
    secret = {
        "metadata": meta(),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "", "tls.key": ""},
    }
    assert row("", "v1", "secrets", secret) == {
        "Name": "web",
        "Type": "kubernetes.io/tls",
        "Data": 2,
        "Age": "5m",
    }
    assert row("", "v1", "secrets", {"metadata": meta()})["Type"] == "Opaque"
    sa = {"metadata": meta("default"), "secrets": [{"name": "t"}]}
    assert row("", "v1", "serviceaccounts", sa) == {"Name": "default", "Secrets": 1, "Age": "5m"}


def test_events() -> None:
    event = {
        "metadata": meta("web.17a"),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "reason": "Pulled",
        "message": "  Successfully pulled image  \n",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(minutes=10),
        "lastTimestamp": ago(seconds=30),
        "count": 3,
    }
    t = table("", "v1", "events", event)
    names = [c["name"] for c in t["columnDefinitions"]]
    assert names == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Subobject",
        "Source",
        "Message",
        "First Seen",
        "Count",
        "Name",
    ]
    assert [c["name"] for c in t["columnDefinitions"] if c["priority"] == 0] == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Message",
    ]
    assert t["rows"][0]["cells"] == [
        "30s",
        "Normal",
        "Pulled",
        "pod/web",
        "spec.containers{web}",
        "kubelet, node-1",
        "Successfully pulled image",
        "10m",
        3,
        "web.17a",
    ]
    # New-style events: eventTime and series, reporting controller, no count.
    modern = {
        "metadata": meta("e2"),
        "involvedObject": {"kind": "Node"},
        "eventTime": ago(minutes=3).replace("Z", ".123456Z"),
        "reportingController": "kyb-scheduler",
        "reason": "Scheduled",
    }
    cells = row("", "v1", "events", modern)
    assert (
        cells["Last Seen"],
        cells["First Seen"],
        cells["Count"],
        cells["Object"],
        cells["Source"],
    ) == (
        "2m59s",
        "2m59s",
        1,
        "node",
        "kyb-scheduler",
    )
    modern["series"] = {"count": 7, "lastObservedTime": ago(seconds=5)}
    cells = row("", "v1", "events", modern)
    assert (cells["Last Seen"], cells["Count"]) == ("5s", 7)


def test_events_k8s_io_events_print_like_core_events() -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "metadata": meta("e3"),
        "regarding": {"kind": "Deployment", "name": "web"},
        "note": "Scaled up replica set web-1 to 3",
        "reason": "ScalingReplicaSet",
        "type": "Normal",
        "eventTime": ago(minutes=1),
        "reportingController": "deployment-controller",
        "reportingInstance": "kyb-1",
    }
    cells = row("events.k8s.io", "v1", "events", event)
    assert (cells["Object"], cells["Message"], cells["Source"], cells["Last Seen"]) == (
        "deployment/web",
        "Scaled up replica set web-1 to 3",
        "deployment-controller, kyb-1",
        "60s",
    )


# --- storage, policy, rbac, scheduling, coordination -------------------------------------------


def test_persistent_volumes_and_claims() -> None:
    pv = {
        "metadata": meta("pv1"),
        "spec": {
            "capacity": {"storage": "1024Mi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "local",
        },
        "status": {"phase": "Bound"},
    }
    assert row("", "v1", "persistentvolumes", pv) == {
        "Name": "pv1",
        "Capacity": "1Gi",
        "Access Modes": "RWO,RWX",
        "Reclaim Policy": "Retain",
        "Status": "Bound",
        "Claim": "default/data",
        "StorageClass": "local",
        "VolumeAttributesClass": "<unset>",
        "Reason": "",
        "Age": "5m",
        "VolumeMode": "Filesystem",
    }
    pvc = {
        "metadata": meta("data"),
        "spec": {"volumeName": "pv1", "resources": {"requests": {"storage": "1Gi"}}},
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
        },
    }
    cells = row("", "v1", "persistentvolumeclaims", pvc)
    assert (cells["Status"], cells["Volume"], cells["Capacity"], cells["Access Modes"]) == (
        "Bound",
        "pv1",
        "1Gi",
        "RWO",
    )
    pending = row("", "v1", "persistentvolumeclaims", {"metadata": meta("p"), "spec": {}})
    assert (pending["Status"], pending["Capacity"], pending["Access Modes"]) == ("Pending", "", "")


def test_storage_priority_lease_pdb_netpol() -> None:
    sc = {
        "metadata": meta(
            "local", annotations={"storageclass.kubernetes.io/is-default-class": "true"}
        ),
        "provisioner": "kybernetes.io/local",
    }
    assert row("storage.k8s.io", "v1", "storageclasses", sc) == {
        "Name": "local (default)",
        "Provisioner": "kybernetes.io/local",
        "ReclaimPolicy": "Delete",
        "VolumeBindingMode": "Immediate",
        "AllowVolumeExpansion": False,
        "Age": "5m",
    }
    pc = {"metadata": meta("high"), "value": 1000, "globalDefault": True}
    assert row("scheduling.k8s.io", "v1", "priorityclasses", pc) == {
        "Name": "high",
        "Value": 1000,
        "Global-Default": True,
        "Age": "5m",
        "PreemptionPolicy": "PreemptLowerPriority",
    }
    lease = {"metadata": meta("node-1"), "spec": {"holderIdentity": "node-1"}}
    assert row("coordination.k8s.io", "v1", "leases", lease)["Holder"] == "node-1"
    pdb = {"metadata": meta(), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    assert row("policy", "v1", "poddisruptionbudgets", pdb) == {
        "Name": "web",
        "Min Available": "50%",
        "Max Unavailable": "N/A",
        "Allowed Disruptions": 1,
        "Age": "5m",
    }
    netpol = {"metadata": meta("deny"), "spec": {"podSelector": {}}}
    assert row("networking.k8s.io", "v1", "networkpolicies", netpol)["Pod-Selector"] == "<none>"
    netpol["spec"]["podSelector"] = {"matchLabels": {"app": "db"}}
    assert row("networking.k8s.io", "v1", "networkpolicies", netpol)["Pod-Selector"] == "app=db"


def test_rbac_bindings_and_roles() -> None:
    rb = {
        "metadata": meta("view"),
        "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
        ],
    }
    assert row("rbac.authorization.k8s.io", "v1", "rolebindings", rb) == {
        "Name": "view",
        "Role": "ClusterRole/view",
        "Age": "5m",
        "Users": "alice, bob",
        "Groups": "devs",
        "ServiceAccounts": "tools/ci",
    }
    crb = row("rbac.authorization.k8s.io", "v1", "clusterrolebindings", rb)
    assert crb["Role"] == "ClusterRole/view"
    # Roles and ClusterRoles have no printer upstream: NAME, CREATED AT.
    role = row(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        {"metadata": meta("r", creationTimestamp="2024-05-01T10:00:00Z")},
    )
    assert role == {"Name": "r", "Created At": "2024-05-01T10:00:00Z"}


def test_default_table_for_kinds_without_printer() -> None:
    crd = {"metadata": {"name": "widgets.example.com", "creationTimestamp": "2024-05-31T23:59:59Z"}}
    t = table("apiextensions.k8s.io", "v1", "customresourcedefinitions", crd)
    assert [(c["name"], c["type"]) for c in t["columnDefinitions"]] == [
        ("Name", "string"),
        ("Created At", "date"),
    ]
    assert t["rows"][0]["cells"] == ["widgets.example.com", "2024-05-31T23:59:59Z"]
    shifted = {"metadata": {"name": "x", "creationTimestamp": "2024-05-31T23:59:59+02:00"}}
    cells, _ = DEFAULT_PRINTER.row(shifted, NOW)
    assert cells == ["x", "2024-05-31T21:59:59Z"]
    assert DEFAULT_PRINTER.row({}, NOW)[0] == ["", "0001-01-01T00:00:00Z"]


def test_missing_or_bad_timestamps() -> None:
    assert row("", "v1", "configmaps", {"metadata": {"name": "x"}})["Age"] == "<unknown>"
    bad = {"metadata": {"name": "x", "creationTimestamp": "yesterday"}}
    assert row("", "v1", "configmaps", bad)["Age"] == "<unknown>"
    future = {"metadata": {"name": "x", "creationTimestamp": ago(seconds=-30)}}
    assert row("", "v1", "configmaps", future)["Age"] == "<invalid>"


# --- custom resources --------------------------------------------------------------------------

CRD_VERSION: dict[str, Any] = {
    "name": "v1",
    "served": True,
    "storage": True,
    "additionalPrinterColumns": [
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Color", "type": "string", "jsonPath": ".spec.color", "description": "The color."},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
        {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "Started", "type": "date", "jsonPath": ".status.startedAt"},
        {"name": "Labels", "type": "string", "jsonPath": ".metadata.labels"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
}


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {
            "name": "w1",
            "creationTimestamp": ago(hours=3),
            "labels": {"b": "2", "a": "<1>"},
        },
        "spec": spec,
        "status": {
            "conditions": [
                {"type": "Synced", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "startedAt": ago(minutes=90),
        },
    }


def test_custom_resource_columns() -> None:
    t = table_for_custom_resource(
        CRD_VERSION, [widget(size=3, color="red", ratio=2, enabled=True)], NOW
    )
    columns = t["columnDefinitions"]
    assert [c["name"] for c in columns] == [
        "Name",
        "Size",
        "Color",
        "Ratio",
        "Enabled",
        "Ready",
        "Started",
        "Labels",
        "Age",
    ]
    assert columns[0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": columns[0]["description"],
        "priority": 0,
    }
    assert (
        columns[1]["description"]
        == "Custom resource definition column (in JSONPath format): .spec.size"
    )
    assert columns[2]["description"] == "The color."
    assert columns[3]["priority"] == 1
    assert t["rows"][0]["cells"] == [
        "w1",
        3,
        "red",
        2.0,
        True,
        "True",
        "90m",
        '{"a":"\\u003c1\\u003e","b":"2"}',
        "3h",
    ]
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_custom_resource_cells_that_do_not_fit_their_type_are_null() -> None:
    w = widget(size=2.9, color=7, ratio="x", enabled="yes")
    w["status"]["startedAt"] = "soon"
    cells = table_for_custom_resource(CRD_VERSION, [w], NOW)["rows"][0]["cells"]
    assert cells[1:6] == [2, "7", None, None, "True"]
    assert cells[6] == "<invalid>"
    missing = table_for_custom_resource(CRD_VERSION, [{"metadata": {"name": "m"}}], NOW)
    assert missing["rows"][0]["cells"] == ["m", None, None, None, None, None, None, None, None]


def test_custom_resource_without_columns_gets_age() -> None:
    printer = custom_resource_printer({"name": "v1"})
    assert [(c.name, c.type) for c in printer.columns] == [("Name", "string"), ("Age", "date")]
    cells, _ = printer.row(widget(), NOW)
    assert cells == ["w1", "3h"]


def test_custom_resource_string_column_formatting() -> None:
    printer = custom_resource_printer(
        {"additionalPrinterColumns": [{"name": "V", "type": "string", "jsonPath": ".spec.v"}]}
    )
    for value, text in [
        (1.5, "1.5"),
        (3.0, "3"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (0.00001, "1e-05"),
        (True, "true"),
        (42, "42"),
        ([1, "a"], '[1,"a"]'),
    ]:
        assert printer.row({"spec": {"v": value}}, NOW)[0][1] == text, value


# --- JSONPath ----------------------------------------------------------------------------------


DOC = {
    "metadata": {"name": "n", "labels": {"app.kubernetes.io/name": "web"}},
    "items": [{"n": 1, "tag": "a"}, {"n": 2, "tag": "b"}, {"n": 3, "tag": "c"}],
    "spec": {"nested": {"n": 9}},
}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        (".metadata.name", ["n"]),
        ("{.metadata.name}", ["n"]),
        ("$.metadata.name", ["n"]),
        (".metadata.labels['app.kubernetes.io/name']", ["web"]),
        ('.metadata.labels["app.kubernetes.io/name"]', ["web"]),
        (".items[0].tag", ["a"]),
        (".items[-1].tag", ["c"]),
        (".items[5].tag", []),
        (".items[*].n", [1, 2, 3]),
        (".items[0:2].n", [1, 2]),
        (".items[?(@.n > 1)].tag", ["b", "c"]),
        (".items[?(@.tag != 'a')].n", [2, 3]),
        (".items[?(@.tag)].n", [1, 2, 3]),
        ("..n", [1, 2, 3, 9]),
        (".missing.deeper", []),
        (".metadata.name.too", []),
    ],
)
def test_jsonpath(path: str, found: list[Any]) -> None:
    assert JSONPath(path).find(DOC) == found


@pytest.mark.parametrize("path", [".a[", ".a[?(@.x ~ 1)]", "a b", ".a[?(x)]"])
def test_jsonpath_rejects_what_it_does_not_support(path: str) -> None:
    with pytest.raises(JSONPathError):
        JSONPath(path)
