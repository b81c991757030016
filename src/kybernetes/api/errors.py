"""API errors: the ``StatusError`` family and field-level validation errors.

A ``StatusError`` is an exception that carries everything the API server writes into a
``metav1.Status`` body: HTTP code, machine-readable reason, human message and optional details.
``to_status()`` renders exactly the JSON Kubernetes sends, and ``from_status()`` turns such a body
back into the matching subclass, so clients can ``except NotFound``.

Invariants:

- Messages are built by the ``new_*`` constructors with the wording of apimachinery 1.32
  (``pkg/api/errors/errors.go``); ``str(err)`` is always the Status ``message``.
- ``to_status()`` omits empty fields the way Go's ``omitempty`` does, but keeps ``metadata: {}``
  and an empty ``details: {}`` when upstream sets a (blank) details pointer.
- ``FieldError.__str__`` matches ``field.Error.Error()``; values are rendered the way Go's
  ``fmt`` renders them (``%q`` for strings, ``%v`` for numbers and booleans, ``[]string{...}``
  for string lists, ``"null"`` for ``None``; any other object through its ``str()``, like a Go
  ``Stringer``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from kybernetes.util import gofmt

__all__ = [
    "OPTIMISTIC_LOCK_ERROR_MSG",
    "AlreadyExists",
    "BadRequest",
    "Conflict",
    "ErrorType",
    "FieldError",
    "Forbidden",
    "Gone",
    "InternalError",
    "Invalid",
    "MethodNotSupported",
    "NotAcceptable",
    "NotFound",
    "RequestEntityTooLarge",
    "ResourceExpired",
    "ServerTimeout",
    "ServiceUnavailable",
    "StatusCause",
    "StatusDetails",
    "StatusError",
    "Timeout",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "aggregate_message",
    "duplicate",
    "forbidden",
    "from_status",
    "go_quote",
    "internal",
    "invalid",
    "new_already_exists",
    "new_bad_request",
    "new_conflict",
    "new_forbidden",
    "new_gone",
    "new_internal_error",
    "new_invalid",
    "new_method_not_supported",
    "new_not_acceptable",
    "new_not_found",
    "new_request_entity_too_large",
    "new_resource_expired",
    "new_server_timeout",
    "new_service_unavailable",
    "new_timeout",
    "new_too_many_requests",
    "new_unauthorized",
    "new_unsupported_media_type",
    "not_found",
    "not_supported",
    "required",
    "too_long",
    "too_many",
    "type_invalid",
]

#: The detail the registry puts in a Conflict when a resourceVersion precondition fails.
OPTIMISTIC_LOCK_ERROR_MSG = (
    "the object has been modified; please apply your changes to the latest version and try again"
)

# --------------------------------------------------------------------------------------------
# Go-compatible rendering of values inside messages.

_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def go_quote(text: str) -> str:
    """Quote ``text`` like Go's ``strconv.Quote`` (what ``%q`` prints)."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for ch in text:
        escaped = _GO_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _go_value(value: object) -> str:
    """Render a bad value the way ``field.Error.ErrorBody`` does."""
    if value is None:
        return '"null"'  # upstream substitutes the string "null", then quotes it
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return gofmt.format_v(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    return str(value)


# --------------------------------------------------------------------------------------------
# Field errors.


class ErrorType(StrEnum):
    """``field.ErrorType``: the machine-readable cause type of a field error."""

    NOT_FOUND = "FieldValueNotFound"
    REQUIRED = "FieldValueRequired"
    DUPLICATE = "FieldValueDuplicate"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    INTERNAL = "InternalError"
    TYPE_INVALID = "FieldValueTypeInvalid"

    @property
    def text(self) -> str:
        """The human wording upstream prints for this type (``ErrorType.String()``)."""
        return _ERROR_TYPE_TEXT[self]


_ERROR_TYPE_TEXT = {
    ErrorType.NOT_FOUND: "Not found",
    ErrorType.REQUIRED: "Required value",
    ErrorType.DUPLICATE: "Duplicate value",
    ErrorType.INVALID: "Invalid value",
    ErrorType.NOT_SUPPORTED: "Unsupported value",
    ErrorType.FORBIDDEN: "Forbidden",
    ErrorType.TOO_LONG: "Too long",
    ErrorType.TOO_MANY: "Too many",
    ErrorType.INTERNAL: "Internal error",
    ErrorType.TYPE_INVALID: "Invalid value",
}

# Types whose message never shows the offending value.
_VALUELESS = frozenset(
    {ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG, ErrorType.INTERNAL}
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field-level validation error (``field.Error``).

    ``field`` is the rendered path (``spec.containers[0].name``); ``bad_value`` is shown in the
    message unless the type never shows values or ``value_omitted`` is set.
    """

    type: ErrorType
    field: str
    bad_value: Any = ""
    detail: str = ""
    value_omitted: bool = False

    def body(self) -> str:
        """The message without the field path (``ErrorBody()``), used as the cause message."""
        if self.type in _VALUELESS or self.value_omitted:
            text = self.type.text
        else:
            text = f"{self.type.text}: {_go_value(self.bad_value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def to_cause(self) -> StatusCause:
        """The ``StatusCause`` an Invalid status carries for this error."""
        return StatusCause(type=str(self.type), message=self.body(), field=self.field)


def not_found(path: str, value: object) -> FieldError:
    """``field.NotFound``: a referenced value does not exist."""
    return FieldError(ErrorType.NOT_FOUND, path, value)


def required(path: str, detail: str = "") -> FieldError:
    """``field.Required``: a required value is missing."""
    return FieldError(ErrorType.REQUIRED, path, "", detail)


def duplicate(path: str, value: object) -> FieldError:
    """``field.Duplicate``: a value that must be unique is repeated."""
    return FieldError(ErrorType.DUPLICATE, path, value)


def invalid(path: str, value: object, detail: str = "") -> FieldError:
    """``field.Invalid``: a malformed value."""
    return FieldError(ErrorType.INVALID, path, value, detail)


def type_invalid(path: str, value: object, detail: str = "") -> FieldError:
    """``field.TypeInvalid``: the value does not have the schema's type."""
    return FieldError(ErrorType.TYPE_INVALID, path, value, detail)


def not_supported(path: str, value: object, valid_values: Iterable[object] = ()) -> FieldError:
    """``field.NotSupported``: a value outside an enumeration; lists the supported ones."""
    quoted = [go_quote(v if isinstance(v, str) else str(v)) for v in valid_values]
    detail = "supported values: " + ", ".join(quoted) if quoted else ""
    return FieldError(ErrorType.NOT_SUPPORTED, path, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    """``field.Forbidden``: a well-formed value the current conditions do not permit."""
    return FieldError(ErrorType.FORBIDDEN, path, "", detail)


def too_long(path: str, max_length: int) -> FieldError:
    """``field.TooLong``: the value is longer than ``max_length`` bytes (negative: unknown)."""
    detail = f"may not be more than {max_length} bytes" if max_length >= 0 else "value is too long"
    return FieldError(ErrorType.TOO_LONG, path, "<value omitted>", detail)


def too_many(path: str, actual: int, maximum: int) -> FieldError:
    """``field.TooMany``: a list has ``actual`` items, more than ``maximum`` (negative: unknown)."""
    detail = f"must have at most {maximum} items" if maximum >= 0 else "has too many items"
    return FieldError(ErrorType.TOO_MANY, path, actual, detail, value_omitted=actual < 0)


def internal(path: str, message: str) -> FieldError:
    """``field.InternalError``: a failure not caused by the user's input."""
    return FieldError(ErrorType.INTERNAL, path, None, message)


def aggregate_message(errors: Iterable[object]) -> str:
    """Join error messages as ``ErrorList.ToAggregate().Error()`` does.

    Duplicate messages are dropped; one message is returned as is, several as ``[a, b]``, none as
    the empty string.
    """
    messages = list(dict.fromkeys(str(e) for e in errors))
    if len(messages) == 1:
        return messages[0]
    if not messages:
        return ""
    return "[" + ", ".join(messages) + "]"


# --------------------------------------------------------------------------------------------
# Status errors.


@dataclass(frozen=True, slots=True)
class StatusCause:
    """``metav1.StatusCause``; ``type`` is serialised under the JSON key ``reason``."""

    type: str = ""
    message: str = ""
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.type:
            out["reason"] = self.type
        if self.message:
            out["message"] = self.message
        if self.field:
            out["field"] = self.field
        return out


@dataclass(frozen=True, slots=True)
class StatusDetails:
    """``metav1.StatusDetails``: which object the error is about, and why."""

    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""
    causes: tuple[StatusCause, ...] = ()
    retry_after_seconds: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.group:
            out["group"] = self.group
        if self.kind:
            out["kind"] = self.kind
        if self.uid:
            out["uid"] = self.uid
        if self.causes:
            out["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            out["retryAfterSeconds"] = self.retry_after_seconds
        return out


class StatusError(Exception):
    """An API error that renders as a ``metav1.Status`` body.

    Subclasses fix the default ``code`` and ``reason``; ``str(err)`` is the message.
    """

    default_code: ClassVar[int] = 500
    default_reason: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str | None = None,
        details: StatusDetails | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = self.default_code if code is None else code
        self.reason = self.default_reason if reason is None else reason
        self.details = details

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code}, reason={self.reason!r})"

    def to_status(self) -> dict[str, Any]:
        """The ``metav1.Status`` JSON object, keys in upstream's order."""
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
        }
        if self.message:
            status["message"] = self.message
        if self.reason:
            status["reason"] = self.reason
        if self.details is not None:
            status["details"] = self.details.to_dict()
        if self.code:
            status["code"] = self.code
        return status


class BadRequest(StatusError):
    default_code, default_reason = 400, "BadRequest"


class Unauthorized(StatusError):
    default_code, default_reason = 401, "Unauthorized"


class Forbidden(StatusError):
    default_code, default_reason = 403, "Forbidden"


class NotFound(StatusError):
    default_code, default_reason = 404, "NotFound"


class MethodNotSupported(StatusError):
    default_code, default_reason = 405, "MethodNotAllowed"


class NotAcceptable(StatusError):
    default_code, default_reason = 406, "NotAcceptable"


class AlreadyExists(StatusError):
    default_code, default_reason = 409, "AlreadyExists"


class Conflict(StatusError):
    default_code, default_reason = 409, "Conflict"


class Gone(StatusError):
    default_code, default_reason = 410, "Gone"


class ResourceExpired(Gone):
    """410 with reason ``Expired``: a watch or list asked for a compacted resourceVersion."""

    default_reason = "Expired"


class RequestEntityTooLarge(StatusError):
    default_code, default_reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(StatusError):
    default_code, default_reason = 415, "UnsupportedMediaType"


class Invalid(StatusError):
    default_code, default_reason = 422, "Invalid"


class TooManyRequests(StatusError):
    default_code, default_reason = 429, "TooManyRequests"


class InternalError(StatusError):
    default_code, default_reason = 500, "InternalError"


class ServerTimeout(StatusError):
    default_code, default_reason = 500, "ServerTimeout"


class ServiceUnavailable(StatusError):
    default_code, default_reason = 503, "ServiceUnavailable"


class Timeout(StatusError):
    default_code, default_reason = 504, "Timeout"


def _qualified(name: str, group: str) -> str:
    """``GroupResource.String()`` / ``GroupKind.String()``: ``name.group`` or ``name``."""
    return f"{name}.{group}" if group else name


def new_not_found(resource: str, name: str, *, group: str = "") -> NotFound:
    """``pods "web" not found`` (``deployments.apps "web" not found`` for a group)."""
    return NotFound(
        f"{_qualified(resource, group)} {go_quote(name)} not found",
        details=StatusDetails(name=name, group=group, kind=resource),
    )


def new_already_exists(resource: str, name: str, *, group: str = "") -> AlreadyExists:
    """``pods "web" already exists``."""
    return AlreadyExists(
        f"{_qualified(resource, group)} {go_quote(name)} already exists",
        details=StatusDetails(name=name, group=group, kind=resource),
    )


def new_conflict(
    resource: str, name: str, reason: str = OPTIMISTIC_LOCK_ERROR_MSG, *, group: str = ""
) -> Conflict:
    """``Operation cannot be fulfilled on pods "web": <reason>``."""
    return Conflict(
        f"Operation cannot be fulfilled on {_qualified(resource, group)} {go_quote(name)}: "
        f"{reason}",
        details=StatusDetails(name=name, group=group, kind=resource),
    )


def new_invalid(kind: str, name: str, errors: Sequence[FieldError], *, group: str = "") -> Invalid:
    """``Pod "web" is invalid: <errors>``; every field error becomes a cause."""
    prefix = f"{_qualified(kind, group)} {go_quote(name)} is invalid"
    joined = aggregate_message(errors)
    return Invalid(
        f"{prefix}: {joined}" if joined else prefix,
        details=StatusDetails(
            name=name, group=group, kind=kind, causes=tuple(e.to_cause() for e in errors)
        ),
    )


def new_gone(message: str) -> Gone:
    """410 ``Gone``."""
    return Gone(message)


def new_resource_expired(message: str) -> ResourceExpired:
    """410 ``Expired``, e.g. ``too old resource version: 5 (10)``."""
    return ResourceExpired(message)


def new_forbidden(resource: str, name: str, reason: str, *, group: str = "") -> Forbidden:
    """``pods "web" is forbidden: <reason>`` (without a name or resource: shorter forms)."""
    if not resource and not group:
        message = f"forbidden: {reason}"
    elif not name:
        message = f"{_qualified(resource, group)} is forbidden: {reason}"
    else:
        message = f"{_qualified(resource, group)} {go_quote(name)} is forbidden: {reason}"
    return Forbidden(message, details=StatusDetails(name=name, group=group, kind=resource))


def new_unauthorized(reason: str = "") -> Unauthorized:
    """401; the message defaults to ``not authorized``."""
    return Unauthorized(reason or "not authorized")


def new_bad_request(reason: str) -> BadRequest:
    """400 with the reason as the message."""
    return BadRequest(reason)


def new_method_not_supported(resource: str, action: str, *, group: str = "") -> MethodNotSupported:
    """``<action> is not supported on resources of kind "pods"``."""
    return MethodNotSupported(
        f"{action} is not supported on resources of kind {go_quote(_qualified(resource, group))}",
        details=StatusDetails(group=group, kind=resource),
    )


def new_not_acceptable(accepted: Sequence[str]) -> NotAcceptable:
    """406 from content negotiation, listing the media types the endpoint can produce."""
    return NotAcceptable("only the following media types are accepted: " + ", ".join(accepted))


def new_unsupported_media_type(accepted: Sequence[str]) -> UnsupportedMediaType:
    """415 for a request body in a media type the endpoint cannot decode."""
    return UnsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )


def new_request_entity_too_large(message: str) -> RequestEntityTooLarge:
    """``Request entity too large: <message>``."""
    return RequestEntityTooLarge(f"Request entity too large: {message}")


def new_too_many_requests(message: str, retry_after_seconds: int) -> TooManyRequests:
    """429 carrying ``retryAfterSeconds`` in its details."""
    return TooManyRequests(message, details=StatusDetails(retry_after_seconds=retry_after_seconds))


def new_internal_error(error: BaseException | str) -> InternalError:
    """``Internal error occurred: <error>``, the error text repeated as the only cause."""
    text = str(error)
    return InternalError(
        f"Internal error occurred: {text}",
        details=StatusDetails(causes=(StatusCause(message=text),)),
    )


def new_server_timeout(
    resource: str, operation: str, retry_after_seconds: int, *, group: str = ""
) -> ServerTimeout:
    """500 ``ServerTimeout``: the operation could not be completed in time."""
    return ServerTimeout(
        f"The {operation} operation against {_qualified(resource, group)} could not be completed "
        "at this time, please try again.",
        details=StatusDetails(
            name=operation, group=group, kind=resource, retry_after_seconds=retry_after_seconds
        ),
    )


def new_service_unavailable(reason: str) -> ServiceUnavailable:
    """503 with the reason as the message."""
    return ServiceUnavailable(reason)


def new_timeout(message: str, retry_after_seconds: int = 0) -> Timeout:
    """504 ``Timeout: <message>``."""
    return Timeout(
        f"Timeout: {message}", details=StatusDetails(retry_after_seconds=retry_after_seconds)
    )


# --------------------------------------------------------------------------------------------
# Decoding a Status body.

_BY_REASON: dict[str, type[StatusError]] = {
    cls.default_reason: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotSupported,
        NotAcceptable,
        AlreadyExists,
        Conflict,
        Gone,
        ResourceExpired,
        RequestEntityTooLarge,
        UnsupportedMediaType,
        Invalid,
        TooManyRequests,
        InternalError,
        ServerTimeout,
        ServiceUnavailable,
        Timeout,
    )
}

# For a Status whose reason is unknown or missing, client-go decides by code alone.
_BY_CODE: dict[int, type[StatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotSupported,
    406: NotAcceptable,
    409: Conflict,
    410: Gone,
    413: RequestEntityTooLarge,
    415: UnsupportedMediaType,
    422: Invalid,
    429: TooManyRequests,
    500: InternalError,
    503: ServiceUnavailable,
    504: Timeout,
}


def _str_field(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _int_field(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _details_from(data: object) -> StatusDetails | None:
    if not isinstance(data, Mapping):
        return None
    raw_causes = data.get("causes")
    causes = tuple(
        StatusCause(
            type=_str_field(c, "reason"),
            message=_str_field(c, "message"),
            field=_str_field(c, "field"),
        )
        for c in (raw_causes if isinstance(raw_causes, list) else [])
        if isinstance(c, Mapping)
    )
    return StatusDetails(
        name=_str_field(data, "name"),
        group=_str_field(data, "group"),
        kind=_str_field(data, "kind"),
        uid=_str_field(data, "uid"),
        causes=causes,
        retry_after_seconds=_int_field(data, "retryAfterSeconds"),
    )


def from_status(status: Mapping[str, Any]) -> StatusError:
    """Rebuild the ``StatusError`` subclass a ``metav1.Status`` body describes.

    The class is chosen by ``reason``; a Status with an unknown or empty reason is classified by
    its HTTP code, as client-go's ``IsNotFound`` and friends do. Message, code, reason and details
    are kept verbatim, so ``from_status(e.to_status()).to_status() == e.to_status()``.
    """
    reason = _str_field(status, "reason")
    code = _int_field(status, "code")
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code, StatusError)
    return cls(
        _str_field(status, "message"),
        code=code,
        reason=reason,
        details=_details_from(status.get("details")),
    )
