"""API errors of the sandbox cluster, rendered as the real apiserver's `Status` bodies.

One exception type, `ApiError`, carries an HTTP code, a `reason` and a message;
`status()` renders the `kind: Status` body the real apiserver sends. The
constructors mirror `k8s.io/apimachinery/pkg/api/errors` (`NewNotFound`,
`NewConflict`, `NewInvalid`, ...) and use the same message texts, so clients
(kubectl, kubernetes-asyncio) react to them exactly as to a real cluster:

    ApiError (code, reason)
    ├── 400 BadRequest            bad_request()
    ├── 403 Forbidden             forbidden()
    ├── 404 NotFound              not_found(), no_route()
    ├── 405 MethodNotAllowed      method_not_allowed(), method_not_supported()
    ├── 406 NotAcceptable         not_acceptable()
    ├── 409 AlreadyExists         already_exists()
    ├── 409 Conflict              conflict()
    ├── 410 Expired / Gone        expired(), gone()
    ├── 415 UnsupportedMediaType  unsupported_media_type()
    ├── 422 Invalid               invalid(), invalid_request()
    └── 500 InternalError         internal()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class GoLiteral(str):
    """A value already spelled as Go prints it in a field error (`map[string]string(nil)`)."""


@dataclass(frozen=True)
class FieldError:
    """One `field.Error`: a cause inside a 422 Invalid (`type` is e.g. `FieldValueRequired`)."""

    type: str
    field: str
    detail: str = ""
    value: Any = None

    def body(self) -> str:
        """The text after the field name, as `field.Error.ErrorBody()` renders it."""
        if self.type == "FieldValueRequired":
            text = "Required value"
        elif self.type == "FieldValueInvalid":
            text = f"Invalid value: {_go_repr(self.value)}"
        elif self.type == "FieldValueNotSupported":
            text = f"Unsupported value: {_go_repr(self.value)}"
        elif self.type == "FieldValueForbidden":
            text = "Forbidden"
        elif self.type == "FieldValueDuplicate":
            text = f"Duplicate value: {_go_repr(self.value)}"
        else:
            text = "Invalid value"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def _go_repr(value: Any) -> str:
    """Approximately how Go's `%#v`/`%q` print a value in field errors."""
    if isinstance(value, GoLiteral):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        inner = ", ".join(f"{_go_repr(k)}:{_go_repr(v)}" for k, v in sorted(value.items()))
        return "map[string]string{" + inner + "}"
    return str(value)


class ApiError(Exception):
    """An error the API answers with: HTTP `code`, Status `reason`, `message`, `details`."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.reason!r}, {self.message!r})"

    def status(self) -> dict[str, Any]:
        """The `kind: Status` body the real apiserver sends for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body

    # ---- constructors: same codes, reasons and texts as apimachinery's errors.go ----

    @classmethod
    def not_found(cls, group_resource: str, name: str) -> ApiError:
        """`deployments.apps "api" not found` (404 NotFound)."""
        return cls(
            404, "NotFound", f'{group_resource} "{name}" not found', _details(group_resource, name)
        )

    @classmethod
    def no_route(cls) -> ApiError:
        """The answer for a path the server does not serve (unknown resource or group)."""
        return cls(404, "NotFound", "the server could not find the requested resource", {})

    @classmethod
    def already_exists(cls, group_resource: str, name: str) -> ApiError:
        """`deployments.apps "api" already exists` (409 AlreadyExists)."""
        return cls(
            409,
            "AlreadyExists",
            f'{group_resource} "{name}" already exists',
            _details(group_resource, name),
        )

    @classmethod
    def conflict(cls, group_resource: str, name: str, why: str | None = None) -> ApiError:
        """409 Conflict; by default the stale-resourceVersion text of optimistic concurrency."""
        why = why or (
            "the object has been modified; please apply your changes to the latest "
            "version and try again"
        )
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {group_resource} "{name}": {why}',
            _details(group_resource, name),
        )

    @classmethod
    def invalid(cls, group_kind: str, name: str, errors: list[FieldError]) -> ApiError:
        """`Deployment.apps "api" is invalid: spec.template...: ...` (422 Invalid)."""
        kind, _, group = group_kind.partition(".")
        causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors]
        if not errors:
            message = f'{group_kind} "{name}" is invalid'
        elif len(errors) == 1:
            message = f'{group_kind} "{name}" is invalid: {errors[0]}'
        else:
            message = f'{group_kind} "{name}" is invalid: [' + ", ".join(map(str, errors)) + "]"
        details: dict[str, Any] = {}
        if name:
            details["name"] = name
        if group:
            details["group"] = group
        details["kind"] = kind
        details["causes"] = causes
        return cls(422, "Invalid", message, details)

    @classmethod
    def invalid_request(cls) -> ApiError:
        """422 with the generic text, as for a JSON patch that cannot be applied."""
        return cls(
            422, "Invalid", "the server rejected our request due to an error in our request", {}
        )

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def forbidden(cls, group_resource: str, name: str, why: str) -> ApiError:
        message = (
            f'{group_resource} "{name}" is forbidden: {why}'
            if name
            else f"{group_resource} is forbidden: {why}"
        )
        return cls(403, "Forbidden", message, _details(group_resource, name))

    @classmethod
    def method_not_allowed(cls) -> ApiError:
        """405 for an HTTP method the path does not serve (the router's answer)."""
        return cls(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            {},
        )

    @classmethod
    def method_not_supported(cls, group_resource: str, action: str) -> ApiError:
        """405 `create is not supported on resources of kind "nodes"` (NewMethodNotSupported)."""
        group, resource = _split(group_resource)
        details = {"group": group, "kind": resource} if group else {"kind": resource}
        return cls(
            405,
            "MethodNotAllowed",
            f'{action} is not supported on resources of kind "{group_resource}"',
            details,
        )

    @classmethod
    def unsupported_media_type(cls, accepted: list[str]) -> ApiError:
        return cls(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types "
            "include: " + ", ".join(accepted),
        )

    @classmethod
    def not_acceptable(cls, accepted: list[str]) -> ApiError:
        return cls(
            406,
            "NotAcceptable",
            "only the following media types are accepted: " + ", ".join(accepted),
        )

    @classmethod
    def expired(cls, message: str) -> ApiError:
        """410 Expired, as a watch from a resourceVersion older than the history gets."""
        return cls(410, "Expired", message)

    @classmethod
    def gone(cls, message: str) -> ApiError:
        return cls(410, "Gone", message)

    @classmethod
    def internal(cls, message: str) -> ApiError:
        return cls(
            500,
            "InternalError",
            f"Internal error occurred: {message}",
            {"causes": [{"message": message}]},
        )


def _split(group_resource: str) -> tuple[str, str]:
    resource, _, group = group_resource.partition(".")
    return group, resource


def _details(group_resource: str, name: str) -> dict[str, Any]:
    group, resource = _split(group_resource)
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource
    return details
