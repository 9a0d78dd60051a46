"""The errors of every use case: a rule refused the request; `message` is shown to people.

The web layer maps each class to an HTTP answer (`infra.errors`); nothing here knows HTTP.
"""

from collections.abc import Mapping


class DomainError(Exception):
    """A business rule refused the request. `message` is shown to people (zh-CN)."""

    code = "domain_error"

    def __init__(self, message: str, details: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, object] = dict(details or {})


class RuleViolation(DomainError):
    """A guard failed: the transition exists but its condition does not hold."""

    code = "rule_violation"


class PermissionDenied(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class ValidationError(DomainError):
    """Input is malformed; `details` maps each field to its message."""

    code = "validation_error"

    def __init__(self, field_errors: Mapping[str, str], message: str = "提交的数据有误") -> None:
        super().__init__(message, {"fields": dict(field_errors)})
        self.field_errors = dict(field_errors)
