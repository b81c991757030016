"""Jobs, CronJobs and TTL-after-finished on a real API server, with the test as the kubelet.

The controller manager runs on a ``FakeClock`` that starts at the real time (the API server
stamps creationTimestamps with it); ``eventually`` ticks the clock a little on every poll so
rate-limited retries proceed, and tests jump it forward to fire backoffs, deadlines and cron
schedules in zero wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import CRONJOBS, EVENTS, JOBS, PODS
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import running_apiserver
from kybernetes.util.clock import FakeClock

NS = "default"
TRACKING = "batch.kubernetes.io/job-tracking"
INDEX = "batch.kubernetes.io/job-completion-index"


@dataclass
class Cluster:
    client: Client
    clock: FakeClock


@pytest_asyncio.fixture
async def cluster() -> AsyncIterator[Cluster]:
    clock = FakeClock(start=time.time())
    async with running_apiserver() as api, Client(api.url) as client:
        manager = ControllerManager(
            client,
            controllers=["job", "cronjob", "ttl-after-finished", "garbage-collector"],
            clock=clock,
        )
        task = asyncio.ensure_future(manager.run())
        try:
            yield Cluster(client, clock)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(
    cluster: Cluster, check: Callable[[], Awaitable[bool]], timeout: float = 15.0
) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            cluster.clock.advance(0.01)
            await asyncio.sleep(0.01)


def job_body(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox"}],
                }
            },
            **spec,
        },
    }


async def job_pods(client: Client, job: str, *, active: bool = False) -> list[dict[str, Any]]:
    page = await client.list(PODS, NS, label_selector=f"batch.kubernetes.io/job-name={job}")
    pods: list[dict[str, Any]] = page["items"]
    if active:
        pods = [
            p
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
    return sorted(pods, key=lambda p: p["metadata"]["name"])


async def finish(cluster: Cluster, pod: dict[str, Any], phase: str, code: int = 0) -> None:
    """Play the kubelet: the pod's only container exited with ``code``."""
    stamp = datetime.fromtimestamp(cluster.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {
        "phase": phase,
        "containerStatuses": [
            {
                "name": "main",
                "image": "busybox",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": code, "finishedAt": stamp}},
            }
        ],
    }
    meta = pod["metadata"]
    await cluster.client.patch(PODS, meta["name"], {"status": status}, NS, subresource="status")


async def finish_all_active(cluster: Cluster, job: str, phase: str = "Succeeded") -> int:
    pods = await job_pods(cluster.client, job, active=True)
    for pod in pods:
        await finish(cluster, pod, phase, 0 if phase == "Succeeded" else 1)
    return len(pods)


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c["type"] == type_ and c["status"] == "True":
            return dict(c)
    return None


async def has_condition(client: Client, name: str, type_: str) -> bool:
    return condition(await client.get(JOBS, name, NS), type_) is not None


async def reasons(client: Client, name: str) -> set[str]:
    page = await client.list(EVENTS, NS)
    return {e["reason"] for e in page["items"] if e["involvedObject"].get("name") == name}


async def test_job_runs_to_completion(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(JOBS, job_body("pi", completions=3, parallelism=2), NS)

    async def count_active(n: int) -> bool:
        return len(await job_pods(client, "pi", active=True)) == n

    await eventually(cluster, lambda: count_active(2))
    pod = (await job_pods(client, "pi"))[0]
    assert TRACKING in pod["metadata"]["finalizers"]
    assert pod["metadata"]["generateName"] == "pi-"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert await finish_all_active(cluster, "pi") == 2
    await eventually(cluster, lambda: count_active(1))
    await finish_all_active(cluster, "pi")
    await eventually(cluster, lambda: has_condition(client, "pi", "Complete"))

    job = await client.get(JOBS, "pi", NS)
    status = job["status"]
    assert status["succeeded"] == 3
    assert "active" not in status
    assert status["ready"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert status["completionTime"]
    assert status["startTime"]
    complete = condition(job, "Complete")
    assert complete is not None
    assert complete["reason"] == "CompletionsReached"
    assert condition(job, "SuccessCriteriaMet") is not None
    assert all(
        TRACKING not in (p["metadata"].get("finalizers") or ())
        for p in await job_pods(client, "pi")
    )

    async def recorded() -> bool:
        return {"SuccessfulCreate", "Completed"} <= await reasons(client, "pi")

    await eventually(cluster, recorded)


async def test_failing_pods_reach_backoff_limit(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(JOBS, job_body("flaky", backoffLimit=1), NS)

    async def one_active() -> bool:
        return len(await job_pods(client, "flaky", active=True)) == 1

    await eventually(cluster, one_active)
    await finish_all_active(cluster, "flaky", "Failed")

    async def failed_counted() -> bool:
        status = (await client.get(JOBS, "flaky", NS)).get("status", {})
        return bool(status.get("failed") == 1)

    await eventually(cluster, failed_counted)
    await asyncio.sleep(0.2)
    assert await job_pods(client, "flaky", active=True) == []  # still backing off (10 s)
    cluster.clock.advance(11)
    await eventually(cluster, one_active)
    await finish_all_active(cluster, "flaky", "Failed")
    await eventually(cluster, lambda: has_condition(client, "flaky", "Failed"))
    job = await client.get(JOBS, "flaky", NS)
    failed = condition(job, "Failed")
    assert failed is not None
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert condition(job, "FailureTarget") is not None
    assert job["status"]["failed"] == 2
    assert "completionTime" not in job["status"]

    async def recorded() -> bool:
        return "BackoffLimitExceeded" in await reasons(client, "flaky")

    await eventually(cluster, recorded)


async def test_pod_failure_policy_fails_the_job(cluster: Cluster) -> None:
    client = cluster.client
    policy = {
        "rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        ]
    }
    await client.create(JOBS, job_body("strict", podFailurePolicy=policy), NS)

    async def one_active() -> bool:
        return len(await job_pods(client, "strict", active=True)) == 1

    await eventually(cluster, one_active)
    pod = (await job_pods(client, "strict", active=True))[0]
    await finish(cluster, pod, "Failed", 42)
    await eventually(cluster, lambda: has_condition(client, "strict", "Failed"))
    failed = condition(await client.get(JOBS, "strict", NS), "Failed")
    assert failed is not None
    assert failed["reason"] == "PodFailurePolicy"
    assert "exit code 42 matching FailJob rule at index 0" in failed["message"]


async def test_indexed_job(cluster: Cluster) -> None:
    client = cluster.client
    body = job_body("idx", completions=3, parallelism=3, completionMode="Indexed")
    await client.create(JOBS, body, NS)

    async def three_active() -> bool:
        return len(await job_pods(client, "idx", active=True)) == 3

    await eventually(cluster, three_active)
    pods = await job_pods(client, "idx", active=True)
    by_index = {int(p["metadata"]["annotations"][INDEX]): p for p in pods}
    assert sorted(by_index) == [0, 1, 2]
    for index, pod in by_index.items():
        assert pod["metadata"]["labels"][INDEX] == str(index)
        assert pod["spec"]["hostname"] == f"idx-{index}"
        assert pod["metadata"]["generateName"] == f"idx-{index}-"
        env = {e["name"] for e in pod["spec"]["containers"][0]["env"]}
        assert "JOB_COMPLETION_INDEX" in env
    await finish(cluster, by_index[1], "Succeeded")

    async def index_one_done() -> bool:
        status = (await client.get(JOBS, "idx", NS)).get("status", {})
        return bool(status.get("completedIndexes") == "1")

    await eventually(cluster, index_one_done)
    await finish(cluster, by_index[0], "Succeeded")
    await finish(cluster, by_index[2], "Succeeded")
    await eventually(cluster, lambda: has_condition(client, "idx", "Complete"))
    status = (await client.get(JOBS, "idx", NS))["status"]
    assert status["completedIndexes"] == "0-2"
    assert status["succeeded"] == 3


async def test_active_deadline(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(JOBS, job_body("slow", activeDeadlineSeconds=30), NS)

    async def one_active() -> bool:
        return len(await job_pods(client, "slow", active=True)) == 1

    await eventually(cluster, one_active)
    cluster.clock.advance(31)
    await eventually(cluster, lambda: has_condition(client, "slow", "Failed"))
    failed = condition(await client.get(JOBS, "slow", NS), "Failed")
    assert failed is not None
    assert failed["reason"] == "DeadlineExceeded"

    async def pods_gone() -> bool:
        return await job_pods(client, "slow") == []

    await eventually(cluster, pods_gone)


# --- CronJobs -----------------------------------------------------------------------------


def cronjob_body(name: str, policy: str, **spec: Any) -> dict[str, Any]:
    template = job_body("unused")["spec"]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": "*/1 * * * *",
            "concurrencyPolicy": policy,
            "jobTemplate": {"metadata": {"labels": {"app": name}}, "spec": template},
            **spec,
        },
    }


async def cron_jobs(client: Client, cronjob: str) -> list[dict[str, Any]]:
    page = await client.list(JOBS, NS, label_selector=f"app={cronjob}")
    return sorted(page["items"], key=lambda j: j["metadata"]["name"])


async def next_minute(cluster: Cluster) -> int:
    """Jump the fake clock just past the next minute boundary; returns that minute."""
    minute = int(cluster.clock.now()) // 60 + 1
    cluster.clock.advance(minute * 60 + 0.5 - cluster.clock.now())
    return minute


async def wait_jobs(cluster: Cluster, cronjob: str, names: set[str]) -> None:
    async def check() -> bool:
        return {j["metadata"]["name"] for j in await cron_jobs(cluster.client, cronjob)} == names

    await eventually(cluster, check)


async def test_cronjob_forbid(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(CRONJOBS, cronjob_body("tick", "Forbid"), NS)
    await asyncio.sleep(0.2)
    first = await next_minute(cluster)
    await wait_jobs(cluster, "tick", {f"tick-{first}"})
    job = (await cron_jobs(client, "tick"))[0]
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert datetime.fromisoformat(stamp).timestamp() == first * 60
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"

    async def recorded(reason: str) -> bool:
        return reason in await reasons(client, "tick")

    await eventually(cluster, lambda: recorded("SuccessfulCreate"))
    second = await next_minute(cluster)
    await eventually(cluster, lambda: recorded("JobAlreadyActive"))
    assert len(await cron_jobs(client, "tick")) == 1

    async def pod_running() -> bool:
        return len(await job_pods(client, f"tick-{first}", active=True)) == 1

    await eventually(cluster, pod_running)
    await finish_all_active(cluster, f"tick-{first}")

    # The run Forbid held back starts as soon as the first one has finished.
    async def second_started() -> bool:
        status = (await client.get(CRONJOBS, "tick", NS)).get("status", {})
        active = [ref["name"] for ref in status.get("active") or ()]
        return active == [f"tick-{second}"] and bool(status.get("lastSuccessfulTime"))

    await eventually(cluster, second_started)
    await eventually(cluster, lambda: recorded("SawCompletedJob"))
    status = (await client.get(CRONJOBS, "tick", NS))["status"]
    assert status["lastScheduleTime"] == datetime.fromtimestamp(second * 60, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


async def test_cronjob_replace(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(CRONJOBS, cronjob_body("swap", "Replace"), NS)
    await asyncio.sleep(0.2)
    first = await next_minute(cluster)
    await wait_jobs(cluster, "swap", {f"swap-{first}"})
    second = await next_minute(cluster)

    async def replaced() -> bool:
        names = {
            j["metadata"]["name"]
            for j in await cron_jobs(client, "swap")
            if not j["metadata"].get("deletionTimestamp")
        }
        return names == {f"swap-{second}"}

    await eventually(cluster, replaced)

    async def active_is_second() -> bool:
        active = (await client.get(CRONJOBS, "swap", NS)).get("status", {}).get("active") or []
        return [ref["name"] for ref in active] == [f"swap-{second}"]

    await eventually(cluster, active_is_second)
    assert "SuccessfulDelete" in await reasons(client, "swap")


async def test_cronjob_history_limit(cluster: Cluster) -> None:
    client = cluster.client
    body = cronjob_body("hist", "Allow", successfulJobsHistoryLimit=1)
    await client.create(CRONJOBS, body, NS)
    await asyncio.sleep(0.2)
    names = []
    for _ in range(2):
        minute = await next_minute(cluster)
        name = f"hist-{minute}"
        names.append(name)

        async def pod_running(job: str = name) -> bool:
            return len(await job_pods(client, job, active=True)) == 1

        await eventually(cluster, pod_running)
        await finish_all_active(cluster, name)

        async def complete(job: str = name) -> bool:
            return await has_condition(client, job, "Complete")

        await eventually(cluster, complete)
    await wait_jobs(cluster, "hist", {names[-1]})


async def test_ttl_after_finished_deletes_job(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(JOBS, job_body("brief", ttlSecondsAfterFinished=100), NS)

    async def one_active() -> bool:
        return len(await job_pods(client, "brief", active=True)) == 1

    await eventually(cluster, one_active)
    await finish_all_active(cluster, "brief")
    await eventually(cluster, lambda: has_condition(client, "brief", "Complete"))
    await asyncio.sleep(0.2)
    assert await client.get(JOBS, "brief", NS)
    cluster.clock.advance(101)

    async def gone() -> bool:
        try:
            await client.get(JOBS, "brief", NS)
        except errors.NotFound:
            return True
        return False

    await eventually(cluster, gone)
