"""The StatusError family and field errors (apimachinery api/errors and validation/field).

Status bodies follow errors_test.go and the JSON tags of metav1.Status; field error strings were
confirmed against apimachinery v0.32.1's field.Error.Error().
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.api import errors
from kybernetes.api.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    NotFound,
    ResourceExpired,
    StatusDetails,
    StatusError,
    TooManyRequests,
    aggregate_message,
    from_status,
    go_quote,
)

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _status(message: str, reason: str, code: int, details: Any = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        status["details"] = details
    status["code"] = code
    return status


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            errors.new_not_found("pods", "web"),
            _status('pods "web" not found', "NotFound", 404, {"name": "web", "kind": "pods"}),
            id="not-found",
        ),
        pytest.param(
            errors.new_not_found("deployments", "x", group="apps"),
            _status(
                'deployments.apps "x" not found',
                "NotFound",
                404,
                {"name": "x", "group": "apps", "kind": "deployments"},
            ),
            id="not-found-group",
        ),
        pytest.param(
            errors.new_already_exists("pods", "web"),
            _status(
                'pods "web" already exists', "AlreadyExists", 409, {"name": "web", "kind": "pods"}
            ),
            id="already-exists",
        ),
        pytest.param(
            errors.new_conflict("pods", "web"),
            _status(
                'Operation cannot be fulfilled on pods "web": the object has been modified; '
                "please apply your changes to the latest version and try again",
                "Conflict",
                409,
                {"name": "web", "kind": "pods"},
            ),
            id="conflict",
        ),
        pytest.param(
            errors.new_invalid("Pod", "web", [errors.required("spec.containers[0].name", "")]),
            _status(
                'Pod "web" is invalid: spec.containers[0].name: Required value',
                "Invalid",
                422,
                {
                    "name": "web",
                    "kind": "Pod",
                    "causes": [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value",
                            "field": "spec.containers[0].name",
                        }
                    ],
                },
            ),
            id="invalid-one",
        ),
        pytest.param(
            errors.new_invalid(
                "Deployment",
                "Bad_Name",
                [
                    errors.invalid("metadata.name", "Bad_Name", SUBDOMAIN_MSG),
                    errors.not_supported(
                        "spec.strategy.type", "Foo", ["Recreate", "RollingUpdate"]
                    ),
                ],
                group="apps",
            ),
            _status(
                'Deployment.apps "Bad_Name" is invalid: [metadata.name: Invalid value: '
                f'"Bad_Name": {SUBDOMAIN_MSG}, spec.strategy.type: Unsupported value: "Foo": '
                'supported values: "Recreate", "RollingUpdate"]',
                "Invalid",
                422,
                {
                    "name": "Bad_Name",
                    "group": "apps",
                    "kind": "Deployment",
                    "causes": [
                        {
                            "reason": "FieldValueInvalid",
                            "message": f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}',
                            "field": "metadata.name",
                        },
                        {
                            "reason": "FieldValueNotSupported",
                            "message": 'Unsupported value: "Foo": supported values: '
                            '"Recreate", "RollingUpdate"',
                            "field": "spec.strategy.type",
                        },
                    ],
                },
            ),
            id="invalid-several",
        ),
        pytest.param(
            errors.new_invalid("Pod", "web", []),
            _status('Pod "web" is invalid', "Invalid", 422, {"name": "web", "kind": "Pod"}),
            id="invalid-none",
        ),
        pytest.param(
            errors.new_resource_expired("too old resource version: 5 (10)"),
            _status("too old resource version: 5 (10)", "Expired", 410),
            id="expired",
        ),
        pytest.param(errors.new_gone("gone"), _status("gone", "Gone", 410), id="gone"),
        pytest.param(
            errors.new_forbidden("pods", "web", 'User "bob" cannot get resource "pods"'),
            _status(
                'pods "web" is forbidden: User "bob" cannot get resource "pods"',
                "Forbidden",
                403,
                {"name": "web", "kind": "pods"},
            ),
            id="forbidden",
        ),
        pytest.param(
            errors.new_forbidden("pods", "", "no"),
            _status("pods is forbidden: no", "Forbidden", 403, {"kind": "pods"}),
            id="forbidden-no-name",
        ),
        pytest.param(
            errors.new_forbidden("", "", "no"),
            _status("forbidden: no", "Forbidden", 403, {}),
            id="forbidden-no-resource",
        ),
        pytest.param(
            errors.new_unauthorized(),
            _status("not authorized", "Unauthorized", 401),
            id="unauthorized",
        ),
        pytest.param(
            errors.new_bad_request("bad"), _status("bad", "BadRequest", 400), id="bad-request"
        ),
        pytest.param(
            errors.new_method_not_supported("pods", "patch"),
            _status(
                'patch is not supported on resources of kind "pods"',
                "MethodNotAllowed",
                405,
                {"kind": "pods"},
            ),
            id="method-not-supported",
        ),
        pytest.param(
            errors.new_not_acceptable(["application/json", "application/yaml"]),
            _status(
                "only the following media types are accepted: application/json, application/yaml",
                "NotAcceptable",
                406,
            ),
            id="not-acceptable",
        ),
        pytest.param(
            errors.new_unsupported_media_type(["application/json"]),
            _status(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json",
                "UnsupportedMediaType",
                415,
            ),
            id="unsupported-media-type",
        ),
        pytest.param(
            errors.new_request_entity_too_large("limit is 3145728"),
            _status("Request entity too large: limit is 3145728", "RequestEntityTooLarge", 413),
            id="too-large",
        ),
        pytest.param(
            errors.new_too_many_requests("slow down", 5),
            _status("slow down", "TooManyRequests", 429, {"retryAfterSeconds": 5}),
            id="too-many-requests",
        ),
        pytest.param(
            errors.new_internal_error(RuntimeError("boom")),
            _status(
                "Internal error occurred: boom",
                "InternalError",
                500,
                {"causes": [{"message": "boom"}]},
            ),
            id="internal",
        ),
        pytest.param(
            errors.new_service_unavailable("etcd down"),
            _status("etcd down", "ServiceUnavailable", 503),
            id="service-unavailable",
        ),
        pytest.param(
            errors.new_timeout("request did not complete within 60s"),
            _status("Timeout: request did not complete within 60s", "Timeout", 504, {}),
            id="timeout",
        ),
        pytest.param(
            errors.new_server_timeout("pods", "create", 2),
            _status(
                "The create operation against pods could not be completed at this time, please "
                "try again.",
                "ServerTimeout",
                500,
                {"name": "create", "kind": "pods", "retryAfterSeconds": 2},
            ),
            id="server-timeout",
        ),
    ],
)
def test_to_status(error: StatusError, expected: dict[str, Any]) -> None:
    status = error.to_status()
    assert status == expected
    assert list(status) == list(expected)  # upstream's key order
    assert str(error) == expected["message"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            errors.invalid("metadata.name", "Bad_Name", SUBDOMAIN_MSG),
            f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}',
            id="invalid",
        ),
        pytest.param(
            errors.required("spec.containers[0].name"),
            "spec.containers[0].name: Required value",
            id="required",
        ),
        pytest.param(
            errors.required("spec.x", "must be set"),
            "spec.x: Required value: must be set",
            id="required-detail",
        ),
        pytest.param(errors.duplicate("spec.x", "a"), 'spec.x: Duplicate value: "a"', id="dup"),
        pytest.param(errors.forbidden("spec.x", "nope"), "spec.x: Forbidden: nope", id="forbidden"),
        pytest.param(
            errors.too_long("metadata.annotations", 262144),
            "metadata.annotations: Too long: may not be more than 262144 bytes",
            id="too-long",
        ),
        pytest.param(
            errors.too_long("spec.x", -1), "spec.x: Too long: value is too long", id="too-long-?"
        ),
        pytest.param(
            errors.too_many("spec.x", 5, 3),
            "spec.x: Too many: 5: must have at most 3 items",
            id="too-many",
        ),
        pytest.param(
            errors.too_many("spec.x", -1, -1),
            "spec.x: Too many: has too many items",
            id="too-many-unknown",
        ),
        pytest.param(
            errors.not_supported("spec.x", "b", ["a", 'c"d']),
            'spec.x: Unsupported value: "b": supported values: "a", "c\\"d"',
            id="not-supported",
        ),
        pytest.param(
            errors.not_supported("spec.x", "b"), 'spec.x: Unsupported value: "b"', id="ns-no-list"
        ),
        pytest.param(errors.not_found("spec.x", "y"), 'spec.x: Not found: "y"', id="not-found"),
        pytest.param(
            errors.internal("spec.x", "oops"), "spec.x: Internal error: oops", id="internal"
        ),
        pytest.param(
            errors.type_invalid("spec.x", "1", "must be an integer"),
            'spec.x: Invalid value: "1": must be an integer',
            id="type-invalid",
        ),
        pytest.param(errors.invalid("spec.x", 3, "d"), "spec.x: Invalid value: 3: d", id="int"),
        pytest.param(errors.invalid("spec.x", 1e6, "d"), "spec.x: Invalid value: 1e+06: d", id="f"),
        pytest.param(errors.invalid("spec.x", 0.5, "d"), "spec.x: Invalid value: 0.5: d", id="f2"),
        pytest.param(errors.invalid("spec.x", True, "d"), "spec.x: Invalid value: true: d", id="b"),
        pytest.param(
            errors.invalid("spec.x", None, "d"), 'spec.x: Invalid value: "null": d', id="none"
        ),
        pytest.param(
            errors.invalid("spec.x", ["a", "b"], "d"),
            'spec.x: Invalid value: []string{"a", "b"}: d',
            id="string-list",
        ),
        pytest.param(
            errors.invalid("spec.x", "tab\there\x00", "d"),
            'spec.x: Invalid value: "tab\\there\\x00": d',
            id="escapes",
        ),
    ],
)
def test_field_error_strings(error: FieldError, expected: str) -> None:
    assert str(error) == expected
    assert expected == f"{error.field}: {error.body()}"


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        pytest.param([], "", id="none"),
        pytest.param(["a"], "a", id="one"),
        pytest.param(["a", "b"], "[a, b]", id="two"),
        pytest.param(["a", "b", "a"], "[a, b]", id="deduplicated"),
        pytest.param(["a", "a"], "a", id="all-same"),
    ],
)
def test_aggregate_message(messages: list[str], expected: str) -> None:
    assert aggregate_message(messages) == expected


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        pytest.param("web", '"web"', id="plain"),
        pytest.param('a"b\\c', '"a\\"b\\\\c"', id="quote-backslash"),
        pytest.param("\n\t\a\x7f", '"\\n\\t\\a\\x7f"', id="controls"),
        pytest.param("é☃", '"é☃"', id="printable-unicode"),
        pytest.param("\u200b", '"\\u200b"', id="format-char"),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        pytest.param(errors.new_not_found("pods", "a"), NotFound, id="not-found"),
        pytest.param(errors.new_already_exists("pods", "a"), AlreadyExists, id="exists"),
        pytest.param(errors.new_conflict("pods", "a"), Conflict, id="conflict"),
        pytest.param(errors.new_invalid("Pod", "a", [errors.required("x")]), Invalid, id="inv"),
        pytest.param(errors.new_resource_expired("old"), ResourceExpired, id="expired"),
        pytest.param(errors.new_gone("gone"), Gone, id="gone"),
        pytest.param(errors.new_forbidden("pods", "a", "no"), Forbidden, id="forbidden"),
        pytest.param(errors.new_too_many_requests("x", 1), TooManyRequests, id="429"),
        pytest.param(errors.new_internal_error("x"), InternalError, id="500"),
    ],
)
def test_from_status_round_trip(error: StatusError, cls: type[StatusError]) -> None:
    rebuilt = from_status(error.to_status())
    assert type(rebuilt) is cls
    assert rebuilt.to_status() == error.to_status()
    assert rebuilt.details == error.details


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        pytest.param({"code": 404, "message": "nope"}, NotFound, id="code-only"),
        pytest.param({"code": 404, "reason": "Mystery"}, NotFound, id="unknown-reason"),
        pytest.param({"code": 418, "reason": "Teapot"}, StatusError, id="unknown-both"),
        pytest.param({"code": 500, "reason": "BadRequest"}, BadRequest, id="reason-wins"),
        pytest.param({"reason": "Expired", "code": 410}, ResourceExpired, id="expired"),
    ],
)
def test_from_status_classification(status: dict[str, Any], cls: type[StatusError]) -> None:
    rebuilt = from_status(status)
    assert type(rebuilt) is cls
    assert rebuilt.code == status["code"]


def test_from_status_tolerates_malformed_details() -> None:
    rebuilt = from_status(
        {"code": 422, "reason": "Invalid", "details": {"causes": ["x", {"reason": 5}]}}
    )
    assert rebuilt.details == StatusDetails(causes=(errors.StatusCause(),))


def test_subclass_hierarchy_and_defaults() -> None:
    assert issubclass(ResourceExpired, Gone)
    error = BadRequest("no")
    assert (error.code, error.reason, error.details) == (400, "BadRequest", None)
    assert error.to_status() == _status("no", "BadRequest", 400)
    assert repr(error) == "BadRequest('no', code=400, reason='BadRequest')"


@given(st.text(max_size=20), st.text(max_size=20), st.sampled_from(["", "apps", "batch"]))
def test_not_found_round_trips_through_status(resource: str, name: str, group: str) -> None:
    error = errors.new_not_found(resource, name, group=group)
    assert from_status(error.to_status()).to_status() == error.to_status()
