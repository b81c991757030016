"""The delay before a Job replaces failed pods: 10 s after a failure, doubling, at most 10 min.

A ``BackoffRecord`` remembers, per Job, how many pod failures came after the last success and
when the latest of them finished. ``advance`` folds in the pods that finished since the record
was last saved (a success resets the count; failures that finished after the latest success
still count); ``remaining`` is how long pod creation still has to wait.

Invariant: pure values; the controller keeps one record per Job key and replaces it only
after the finishes it folded in are counted in the Job's status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_BACKOFF", "MAX_BACKOFF", "BackoffRecord", "advance", "remaining"]

DEFAULT_BACKOFF: Final = 10.0
MAX_BACKOFF: Final = 600.0


@dataclass(frozen=True, slots=True)
class BackoffRecord:
    failures: int = 0
    last_failure: float | None = None


def advance(
    record: BackoffRecord, succeeded: Sequence[float], failed: Sequence[float]
) -> BackoffRecord:
    """The record after pods finished at ``succeeded`` and ``failed`` times (epoch seconds)."""
    if not failed:
        return BackoffRecord() if succeeded else record
    failed = sorted(failed)
    if not succeeded:
        return BackoffRecord(record.failures + len(failed), failed[-1])
    last_success = max(succeeded)
    later = [t for t in failed if t > last_success]
    return BackoffRecord(len(later), later[-1] if later else None)


def remaining(
    record: BackoffRecord,
    now: float,
    base: float = DEFAULT_BACKOFF,
    maximum: float = MAX_BACKOFF,
) -> float:
    """Seconds pod creation must still wait (0 when it may go ahead)."""
    if record.failures == 0 or record.last_failure is None:
        return 0.0
    delay = min(base * float(2 ** min(record.failures - 1, 32)), maximum)
    return max(0.0, delay - (now - record.last_failure))
