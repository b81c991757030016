"""``matchConditions``: CEL expressions that decide whether a matched webhook is called.

Each condition is compiled once (per webhook version) with the ``common-expression-language``
package the custom resource validation already uses, and evaluated with upstream's variables
``object``, ``oldObject`` and ``request`` (the AdmissionRequest; ``authorizer`` is not offered).
As upstream: a condition that is false skips the webhook; errors, when no condition is false,
fail the request under ``failurePolicy: Fail`` and skip the webhook under ``Ignore``.

Invariant: evaluation never raises; the outcome is a ``Decision``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import cel


class Decision(enum.Enum):
    CALL = "call"
    SKIP = "skip"
    ERROR = "error"


@lru_cache(maxsize=512)
def _compiled(expression: str) -> Any:
    return cel.compile(expression)


def evaluate(
    conditions: tuple[tuple[str, str], ...],
    *,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    request: Mapping[str, Any],
) -> tuple[Decision, str]:
    """Whether to call the webhook, and the error text when the answer is ``ERROR``."""
    if not conditions:
        return Decision.CALL, ""
    context = cel.Context()
    context.add_variable("object", obj)
    context.add_variable("oldObject", old)
    context.add_variable("request", request)
    problems: list[str] = []
    for name, expression in conditions:
        try:
            result = _compiled(expression).execute(context)
        except Exception as exc:  # the library raises several types; each is an evaluation error
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problems.append(f"matchCondition {name!r} failed: {detail}")
            continue
        if result is False:
            return Decision.SKIP, ""
        if result is not True:
            problems.append(f"matchCondition {name!r} did not evaluate to a boolean")
    if problems:
        return Decision.ERROR, "; ".join(problems)
    return Decision.CALL, ""
