"""Cron schedules: parsing, next activation (zones and DST), and the CronJob timing rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kybernetes.controllers.cronjob.jobs import job_name, rfc3339
from kybernetes.controllers.cronjob.schedule import ScheduleError, parse
from kybernetes.controllers.cronjob.timing import (
    InvalidSchedule,
    most_recent,
    requeue_after,
)

NY = ZoneInfo("America/New_York")


def runs(spec: str, start: datetime, count: int = 3, zone: str | None = None) -> list[str]:
    schedule = parse(spec, zone)
    out: list[str] = []
    t: datetime | None = start
    for _ in range(count):
        assert t is not None
        t = schedule.next(t)
        if t is None:
            break
        out.append(t.astimezone(schedule.zone).isoformat())
    return out


@pytest.mark.parametrize(
    ("spec", "start", "expected"),
    [
        (
            "*/15 * * * *",
            datetime(2024, 1, 1, 0, 7, tzinfo=UTC),
            ["2024-01-01T00:15:00+00:00", "2024-01-01T00:30:00+00:00", "2024-01-01T00:45:00+00:00"],
        ),
        (
            "0 9 * * mon-fri",
            datetime(2024, 1, 5, 10, tzinfo=UTC),
            ["2024-01-08T09:00:00+00:00", "2024-01-09T09:00:00+00:00", "2024-01-10T09:00:00+00:00"],
        ),
        (
            "@weekly",
            datetime(2024, 1, 1, tzinfo=UTC),
            ["2024-01-07T00:00:00+00:00", "2024-01-14T00:00:00+00:00", "2024-01-21T00:00:00+00:00"],
        ),
        (
            "0 0 1 jan,jul ?",
            datetime(2024, 2, 1, tzinfo=UTC),
            ["2024-07-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00", "2025-07-01T00:00:00+00:00"],
        ),
        (  # both day fields restricted: either matches (cron's OR rule)
            "0 0 13 * 5",
            datetime(2024, 1, 1, tzinfo=UTC),
            ["2024-01-05T00:00:00+00:00", "2024-01-12T00:00:00+00:00", "2024-01-13T00:00:00+00:00"],
        ),
        (
            "5-10/5 1 * * *",
            datetime(2024, 1, 1, tzinfo=UTC),
            ["2024-01-01T01:05:00+00:00", "2024-01-01T01:10:00+00:00", "2024-01-02T01:05:00+00:00"],
        ),
        (
            "@every 90s",
            datetime(2024, 1, 1, 0, 0, 0, 500, tzinfo=UTC),
            ["2024-01-01T00:01:30+00:00", "2024-01-01T00:03:00+00:00", "2024-01-01T00:04:30+00:00"],
        ),
    ],
)
def test_next_activations(spec: str, start: datetime, expected: list[str]) -> None:
    assert runs(spec, start) == expected


def test_impossible_date_never_runs() -> None:
    assert runs("0 0 30 2 *", datetime(2024, 1, 1, tzinfo=UTC)) == []


def test_time_zone_field_and_legacy_prefix() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert runs("0 9 * * *", start, 1, zone="Asia/Tokyo") == ["2024-01-02T09:00:00+09:00"]
    assert runs("TZ=Asia/Tokyo 0 9 * * *", start, 1) == ["2024-01-02T09:00:00+09:00"]
    assert parse("0 9 * * *", "Asia/Tokyo").next(start) == datetime(2024, 1, 2, 0, tzinfo=UTC)


def test_dst_spring_forward_skips_the_missing_hour() -> None:
    start = datetime(2024, 3, 8, 12, tzinfo=UTC)
    assert runs("30 2 * * *", start, zone="America/New_York") == [
        "2024-03-09T02:30:00-05:00",
        "2024-03-11T02:30:00-04:00",  # 2024-03-10 02:30 does not exist in New York
        "2024-03-12T02:30:00-04:00",
    ]


def test_dst_fall_back_runs_the_repeated_hour_twice() -> None:
    start = datetime(2024, 11, 2, 12, tzinfo=UTC)
    assert runs("30 1 * * *", start, zone="America/New_York") == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:30:00-05:00",
        "2024-11-04T01:30:00-05:00",
    ]


@pytest.mark.parametrize(
    "spec", ["", "* * * *", "60 * * * *", "* * * * 7", "5-1 * * * *", "*/0 * * * *", "@often"]
)
def test_invalid_schedules(spec: str) -> None:
    with pytest.raises(ScheduleError):
        parse(spec)


def test_unknown_zone() -> None:
    with pytest.raises(ScheduleError):
        parse("* * * * *", "Mars/Olympus")


def test_most_recent_and_missed_counts() -> None:
    hourly = parse("0 * * * *")
    created = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    assert most_recent(hourly, created, datetime(2024, 1, 1, 0, 59, tzinfo=UTC)).time is None
    one = most_recent(hourly, created, datetime(2024, 1, 1, 1, 5, tzinfo=UTC))
    assert one.time == datetime(2024, 1, 1, 1, tzinfo=UTC)
    assert one.count == 1
    many = most_recent(hourly, created, datetime(2024, 1, 10, 0, 5, tzinfo=UTC))
    assert many.time == datetime(2024, 1, 10, 0, tzinfo=UTC)
    assert many.count > 100  # the "too many missed start times" warning applies


def test_starting_deadline_limits_how_far_back() -> None:
    hourly = parse("0 * * * *")
    created = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime(2024, 1, 1, 5, 30, tzinfo=UTC)
    assert most_recent(hourly, created, now, starting_deadline=60).time is None
    recent = most_recent(hourly, created, now, starting_deadline=3600)
    assert recent.time == datetime(2024, 1, 1, 5, tzinfo=UTC)
    assert recent.count == 1


def test_invalid_interval() -> None:
    with pytest.raises(InvalidSchedule):
        most_recent(parse("59 23 31 2 *"), datetime(2024, 1, 1, tzinfo=UTC), datetime.now(UTC))


def test_requeue_after_waits_for_the_next_activation_plus_slack() -> None:
    every_minute = parse("* * * * *")
    now = datetime(2024, 1, 1, 0, 0, 20, tzinfo=UTC)
    delay = requeue_after(every_minute, now - timedelta(seconds=5), now)
    assert delay == pytest.approx(40.1)


def test_job_names_and_annotation_times() -> None:
    scheduled = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    assert job_name({"metadata": {"name": "backup"}}, scheduled) == "backup-28401660"
    assert rfc3339(scheduled) == "2024-01-01T09:00:00Z"
    assert rfc3339(scheduled.astimezone(NY)) == "2024-01-01T04:00:00-05:00"
