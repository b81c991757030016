"""Plugin results: ``Code`` and ``Status`` (upstream ``framework.Status``).

A plugin answers ``None`` for success, as upstream answers a nil ``*Status``: the hot paths then
allocate nothing for the common case. A ``Status`` is immutable once the framework has stamped
the failing plugin's name on it; ``message()`` joins its reasons as upstream does.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Code", "Status", "is_rejected", "is_success"]


class Code(IntEnum):
    """Upstream's status codes, in upstream's order."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5

    def __str__(self) -> str:
        return _CODE_NAMES[self]


_CODE_NAMES = {
    Code.SUCCESS: "Success",
    Code.ERROR: "Error",
    Code.UNSCHEDULABLE: "Unschedulable",
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE: "UnschedulableAndUnresolvable",
    Code.WAIT: "Wait",
    Code.SKIP: "Skip",
}


class Status:
    """A code, the reasons behind it and the plugin that returned it."""

    __slots__ = ("code", "plugin", "reasons")

    def __init__(self, code: Code, *reasons: str, plugin: str = "") -> None:
        self.code = code
        self.reasons: tuple[str, ...] = reasons
        self.plugin = plugin

    @classmethod
    def error(cls, err: BaseException | str, plugin: str = "") -> Status:
        """An internal error (``framework.AsStatus``)."""
        return cls(Code.ERROR, str(err), plugin=plugin)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_rejected(self) -> bool:
        """Unschedulable or UnschedulableAndUnresolvable: the pod does not fit, nothing failed."""
        return self.code == Code.UNSCHEDULABLE or self.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE

    def with_plugin(self, plugin: str) -> Status:
        """This status, naming ``plugin`` as its source when none was named yet."""
        if not self.plugin:
            self.plugin = plugin
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return (self.code, self.reasons, self.plugin) == (other.code, other.reasons, other.plugin)

    def __hash__(self) -> int:
        return hash((self.code, self.reasons, self.plugin))

    def __repr__(self) -> str:
        plugin = f", plugin={self.plugin!r}" if self.plugin else ""
        return f"Status({self.code}, {self.message()!r}{plugin})"


def is_success(status: Status | None) -> bool:
    """Whether ``status`` is a success (``None`` counts, as a nil status does upstream)."""
    return status is None or status.code == Code.SUCCESS


def is_rejected(status: Status | None) -> bool:
    return status is not None and status.is_rejected()
