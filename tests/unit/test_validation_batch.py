"""Semantic validation of Jobs and CronJobs, with kube-apiserver 1.32's paths and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults, generate_job_selector
from kybernetes.api.validation.cron import parse_error
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]


def job(restart: str | None = "Never", **spec: Any) -> Obj:
    pod_spec: Obj = {"containers": [{"name": "work", "image": "busybox:1.36"}]}
    if restart is not None:
        pod_spec["restartPolicy"] = restart
    obj: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "pi",
            "namespace": "default",
            "uid": "0b5f6c1e-0000-4000-8000-000000000001",
        },
        "spec": {"template": {"spec": pod_spec}, **spec},
    }
    return obj


def create_errors(obj: Obj) -> list[str]:
    """What the Job registry does on create: default, generate the selector, validate."""
    apply_defaults("batch", "v1", obj["kind"], obj)
    if obj["kind"] == "Job":
        generate_job_selector(obj)
    return [str(e) for e in validate_object("batch", obj["kind"], obj)]


def test_valid_job_gets_generated_selector_and_labels() -> None:
    obj = job()
    assert create_errors(obj) == []
    uid = obj["metadata"]["uid"]
    assert obj["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert obj["spec"]["template"]["metadata"]["labels"] == {
        "job-name": "pi",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid,
        "batch.kubernetes.io/controller-uid": uid,
    }


JOB_CASES = [
    pytest.param(
        job("Always"),
        ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'],
        id="restart-always",
    ),
    pytest.param(
        job(None),
        ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'],
        id="restart-defaulted-to-always",
    ),
    pytest.param(
        job("Sometimes"),
        [
            'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
            '"Always", "OnFailure", "Never"',
            'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
            '"OnFailure", "Never"',
        ],
        id="restart-unknown",
    ),
    pytest.param(
        job(parallelism=-1, completions=-2, backoffLimit=-3),
        [
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            "spec.completions: Invalid value: -2: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0",
        ],
        id="negative-counts",
    ),
    pytest.param(
        job(completionMode="Indexed", completions=None),
        ["spec.completions: Required value: when completion mode is Indexed"],
        id="indexed-needs-completions",
    ),
    pytest.param(
        job(backoffLimitPerIndex=1),
        ["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"],
        id="per-index-needs-indexed",
    ),
    pytest.param(
        job(
            "OnFailure",
            podFailurePolicy={
                "rules": [
                    {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3, 0, 1]}}
                ]
            },
        ),
        [
            "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be "
            "0 for the In operator",
            "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{3, 0, 1}: "
            "must be ordered",
            'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is '
            "supported when podFailurePolicy is specified",
        ],
        id="pod-failure-policy",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), JOB_CASES)
def test_job(obj: Obj, expected: list[str]) -> None:
    if "completions" in obj["spec"] and obj["spec"]["completions"] is None:
        del obj["spec"]["completions"]
        obj["spec"]["parallelism"] = 2
    assert create_errors(obj) == expected


def test_tampered_generated_labels() -> None:
    obj = job()
    obj["spec"]["template"]["metadata"] = {"labels": {"job-name": "other"}}
    (got,) = create_errors(obj)
    assert got.startswith(
        "spec.template.metadata.labels[job-name]: Invalid value: map[string]string{"
    )
    assert got.endswith('"job-name":"other"}: must be \'pi\'')


def test_job_template_is_immutable() -> None:
    old = job()
    create_errors(old)
    old["metadata"]["resourceVersion"] = "3"
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.37"
    got = [str(e) for e in validate_object("batch", "Job", new, old)]
    assert got == ["spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"x": "y"}}
    got = [str(e) for e in validate_object("batch", "Job", new, old)]
    assert (
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"x":"y"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable" in got
    )


def cron_job(schedule: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "backup", "namespace": "default"},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "b", "image": "busybox"}],
                        }
                    }
                }
            },
            **spec,
        },
    }


@pytest.mark.parametrize(
    "schedule",
    [
        "*/5 * * * *",
        "0 2 * * MON-FRI",
        "15,45 */2 1-15 JAN,jul ?",
        "@hourly",
        "@daily",
        "@every 90s",
        "0 0 1 1 *",
    ],
)
def test_valid_schedules(schedule: str) -> None:
    assert create_errors(cron_job(schedule)) == []


SCHEDULE_ERRORS = [
    pytest.param("", None, id="empty"),
    pytest.param("* * * *", "expected exactly 5 fields, found 4: [* * * *]", id="four-fields"),
    pytest.param(
        "0 0 * * * *", "expected exactly 5 fields, found 6: [0 0 * * * *]", id="six-fields"
    ),
    pytest.param("60 * * * *", "end of range (60) above maximum (59): 60", id="minute-range"),
    pytest.param("* * 0 * *", "beginning of range (0) below minimum (1): 0", id="day-of-month"),
    pytest.param("* * * * 7", "end of range (7) above maximum (6): 7", id="day-of-week"),
    pytest.param(
        "5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2", id="reversed-range"
    ),
    pytest.param("*/0 * * * *", "step of range should be a positive number: */0", id="zero-step"),
    pytest.param("1-2-3 * * * *", "too many hyphens: 1-2-3", id="hyphens"),
    pytest.param("*/2/3 * * * *", "too many slashes: */2/3", id="slashes"),
    pytest.param(
        "a * * * *",
        'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax',
        id="not-a-number",
    ),
    # robfig splits "-1" on "-" first, so the empty low bound fails, as in Go.
    pytest.param(
        "-1 * * * *",
        'failed to parse int from : strconv.Atoi: parsing "": invalid syntax',
        id="leading-hyphen",
    ),
    pytest.param("*/-1 * * * *", "negative number (-1) not allowed: -1", id="negative-step"),
    pytest.param("@sometimes", "unrecognized descriptor: @sometimes", id="descriptor"),
    pytest.param(
        "@every 5",
        'failed to parse duration @every 5: time: missing unit in duration "5"',
        id="every-no-unit",
    ),
]


@pytest.mark.parametrize(("schedule", "message"), SCHEDULE_ERRORS)
def test_schedule_errors(schedule: str, message: str | None) -> None:
    if message is None:
        assert create_errors(cron_job(schedule)) == ["spec.schedule: Required value"]
        return
    assert parse_error(schedule) == message
    assert create_errors(cron_job(schedule)) == [
        f'spec.schedule: Invalid value: "{schedule}": {message}'
    ]


def test_time_zone_belongs_in_its_field() -> None:
    assert create_errors(cron_job("CRON_TZ=Europe/Berlin 0 2 * * *")) == [
        'spec.schedule: Invalid value: "CRON_TZ=Europe/Berlin 0 2 * * *": cannot use TZ or CRON_TZ '
        "in schedule, use timeZone field instead"
    ]
    assert create_errors(cron_job("0 2 * * *", timeZone="Europe/Berlin")) == []
    assert create_errors(cron_job("0 2 * * *", timeZone="Europe/Atlantis")) == [
        'spec.timeZone: Invalid value: "Europe/Atlantis": unknown time zone Europe/Atlantis'
    ]
    assert create_errors(cron_job("0 2 * * *", timeZone="Local")) == [
        'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined '
        "in https://www.iana.org/time-zones"
    ]
    assert create_errors(cron_job("0 2 * * *", timeZone="")) == [
        'spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string'
    ]


def test_cron_job_rules() -> None:
    obj = cron_job("@daily", concurrencyPolicy="Sometimes", successfulJobsHistoryLimit=-1)
    obj["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    obj["metadata"]["name"] = "a" * 53
    assert create_errors(obj) == [
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", '
        '"Forbid", "Replace"',
        "spec.jobTemplate.spec.selector: Invalid value: "
        'v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated",
        "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
        f'metadata.name: Invalid value: "{"a" * 53}": must be no more than 52 characters',
    ]


def test_cron_job_template_restart_policy() -> None:
    obj = cron_job("@daily")
    del obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"]
    assert create_errors(obj) == [
        "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "
        '"OnFailure", "Never"'
    ]
