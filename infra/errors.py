"""One mapping from errors to HTTP answers: `{"error", "message", "details"}` always."""

import logging
from typing import Any

import pydantic
from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from infra.http import BadRequest
from infra.http import Unauthorized
from kernel.errors import Conflict
from kernel.errors import DomainError
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import RuleViolation
from kernel.errors import ValidationError

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    PermissionDenied: 403,
    NotFound: 404,
    RuleViolation: 409,
    Conflict: 409,
    ValidationError: 422,
}

HTTP_MESSAGES = {
    400: "请求格式有误",
    401: "请先登录",
    403: "无权访问",
    404: "请求的资源不存在",
    405: "不支持该请求方法",
    413: "请求内容过大",
    415: "不支持的内容类型",
    429: "请求过于频繁，请稍后再试",
}

# An outage answers 503 with this Retry-After: long enough for a restart or fail-over to
# finish, short enough that a citizen's form is sent again while they still wait.
DATABASE_RETRY_SECONDS = 5
DATABASE_UNAVAILABLE = "数据库暂时不可用，请稍后重试"
# PostgreSQL's deadlock_detected, serialization_failure and lock_not_available: the
# transaction lost a race with another one and was rolled back; the same request may succeed.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def database_outage(exc: BaseException) -> bool:
    """Whether a database error means "cannot reach the database now", not a bug.

    Lost or refused connections (OperationalError, InterfaceError, any DBAPIError whose
    connection was invalidated) and an exhausted pool are outages; integrity and
    programming errors are not.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)


def lost_race(exc: BaseException) -> bool:
    """Whether the database rolled the transaction back for a concurrent one (deadlock)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    response = jsonify({"error": code, "message": message, "details": details or {}})
    response.status_code = status
    return response


def _field_message(err: Any) -> str:  # noqa: C901 - a flat table of pydantic error types
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "必填"
    if kind == "extra_forbidden":
        return "不支持的字段"
    if kind in ("string_type", "str_type"):
        return "应为文本"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "应为整数"
    if kind == "bool_type":
        return "应为 true 或 false"
    if kind == "list_type":
        return "应为列表"
    if kind == "enum":
        return f"取值无效，可选：{ctx.get('expected', '')}"
    if kind == "string_too_short":
        return "不能为空"
    if kind == "string_too_long":
        return f"不能超过{ctx.get('max_length')}个字符"
    if kind == "too_long":
        return f"最多{ctx.get('max_length')}项"
    if kind == "string_pattern_mismatch":
        return "格式不正确"
    if kind in ("greater_than_equal", "greater_than"):
        return f"不能小于{ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"不能大于{ctx.get('le', ctx.get('lt'))}"
    if kind.startswith("datetime") or kind.startswith("date"):
        return "时间格式应为 ISO 8601，例如 2026-11-20T10:00:00+08:00"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "")))
    return str(err.get("msg", "取值无效"))


def validation_details(exc: pydantic.ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "_body"
        fields.setdefault(loc, _field_message(err))
    return fields


def _wants_json() -> bool:
    """API routes answer JSON; pages answer HTML (people read those errors)."""
    path = request.path
    return path.startswith("/api/") or path == "/healthz" or path.startswith("/socket.io")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response | tuple[str, int]:
        status = next((s for cls, s in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
        page = app.extensions.get("hotline_error_page")
        if page is not None and not _wants_json():
            return page(exc.message), status
        return error_response(status, exc.code, exc.message, exc.details)

    @app.errorhandler(pydantic.ValidationError)
    def invalid_input(exc: pydantic.ValidationError) -> Response:
        errors = exc.errors()
        if any(e["type"] in ("json_invalid", "json_type") for e in errors):
            return error_response(400, "bad_request", "请求体不是合法的 JSON", {})
        if any(e["type"] == "model_type" and not e["loc"] for e in errors):
            return error_response(400, "bad_request", "请求体应为 JSON 对象", {})
        return error_response(
            422, "validation_error", "提交的数据有误", {"fields": validation_details(exc)}
        )

    @app.errorhandler(StaleDataError)
    def stale(exc: StaleDataError) -> Response:
        return error_response(409, "conflict", "数据已被他人同时修改，请刷新后重试")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        message = HTTP_MESSAGES.get(status, exc.description or "请求失败")
        code = (exc.name or "error").lower().replace(" ", "_")
        page = app.extensions.get("hotline_error_page")
        if page is not None and not _wants_json():
            return page(message), status
        return error_response(status, code, message)

    @app.errorhandler(sa_exc.DBAPIError)
    @app.errorhandler(sa_exc.TimeoutError)
    def database_error(exc: sa_exc.SQLAlchemyError) -> Response | tuple[str, int, dict[str, str]]:
        if lost_race(exc):
            log.warning("request lost a race in the database: %s", _first_line(exc))
            return error_response(409, "conflict", "与他人的操作同时发生，未能保存，请重试")
        if not database_outage(exc):
            return unexpected(exc)
        log.warning("database unavailable: %s", _first_line(exc))
        retry = {"Retry-After": str(DATABASE_RETRY_SECONDS)}
        page = app.extensions.get("hotline_error_page")
        if page is not None and not _wants_json():
            return page(DATABASE_UNAVAILABLE), 503, retry
        response = error_response(
            503,
            "database_unavailable",
            DATABASE_UNAVAILABLE,
            {"retry_after": DATABASE_RETRY_SECONDS},
        )
        response.headers.update(retry)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "服务器内部错误，请稍后重试或联系管理员")


def _first_line(exc: sa_exc.SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's SQL and background link: one log line."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return f"{type(orig).__name__}: {text.splitlines()[0] if text else ''}"
