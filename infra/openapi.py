"""The OpenAPI 3.1 building blocks every package's document uses: answers, parameters, schemas.

Each package describes its own routes (`<package>.openapi`: `paths()` and `schemas()`); the
composition root (`hotline.openapi`) joins them. What they all repeat lives here once: the
error answers (`{"error", "message", "details"}`, see infra.errors), query and path
parameters, bounded row ids, request bodies, and the component schemas of pydantic models.
"""

from typing import Any

from pydantic import BaseModel

from infra.ids import MAX_ID

REF_TEMPLATE = "#/components/schemas/{model}"

ERROR_RESPONSES = {
    "400": "请求格式有误（非 JSON、非对象）",
    "401": "未登录或令牌无效",
    "403": "角色或单位无权操作，缺少 CSRF 令牌，或管理员重置密码后须先修改密码",
    "404": "工单、单位或知识不存在",
    "409": "当前状态不允许该操作、规则不满足或并发修改",
    "422": "字段校验失败（details.fields 给出每个字段的错误）",
    "415": "请求体须为 JSON（Content-Type: application/json）",
    "429": "密码错误次数过多：账号已锁定或本地址须等待（Retry-After 给出秒数）",
    "503": (
        "依赖的服务暂不可用：数据库（database_unavailable，Retry-After 给出建议的等待秒数）"
        "或话务服务的 Redis"
    ),
}
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "建议等待的秒数，之后可重试同一请求",
    "schema": {"type": "integer", "minimum": 1},
}
# Every error answer's body (infra.errors).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message", "details"],
    "properties": {
        "error": {"type": "string", "description": "机器可读的错误代码"},
        "message": {"type": "string", "description": "给人看的中文说明"},
        "details": {"type": "object"},
    },
}

# A row id: the app answers a larger one like an unknown id (404), see infra.ids.
ROW_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
# One uploaded file in a multipart form.
FILE: dict[str, Any] = {"type": "string", "format": "binary"}


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema `name`."""
    return {"$ref": REF_TEMPLATE.format(model=name)}


def model_ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to a pydantic model's component schema (see `model_schemas`)."""
    return ref(model.__name__)


def model_schemas(*models: type[BaseModel], **named: type[BaseModel]) -> dict[str, Any]:
    """The component schemas of pydantic models and of the models and enums they use.

    Each model is filed under its class name, or under the keyword it is passed with (for
    two models of one name in different packages). Their own definitions (`$defs`) become
    components too, which the models' schemas already reference.
    """
    out: dict[str, Any] = {}
    for name, model in [(m.__name__, m) for m in models] + list(named.items()):
        schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        out = merge_schemas(out, schema.pop("$defs", {}), {name: schema})
    return out


def merge_schemas(*groups: dict[str, Any]) -> dict[str, Any]:
    """Join component schemas; one name may come twice only with the same schema.

    Two packages describing different things under one name would otherwise have the last
    one silently describe both.
    """
    out: dict[str, Any] = {}
    for group in groups:
        for name, schema in group.items():
            if name in out and out[name] != schema:
                raise ValueError(f"two different component schemas are named {name!r}")
            out[name] = schema
    return out


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """A JSON request body."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def form_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required multipart form request body (files and text fields)."""
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def errors(*codes: str) -> dict[str, Any]:
    """The error answers `codes`, each an Error object."""
    return {
        code: {
            "description": ERROR_RESPONSES[code],
            "content": {"application/json": {"schema": ref("Error")}},
        }
        for code in codes
    }


def responses(ok: str, schema: dict[str, Any], *codes: str) -> dict[str, Any]:
    """A JSON success answer `ok` with `schema`, and the error answers `codes`."""
    out: dict[str, Any] = {
        ok: {"description": "成功", "content": {"application/json": {"schema": schema}}}
    }
    return out | errors(*codes)


def file_responses(description: str, *codes: str) -> dict[str, Any]:
    """A file download (200, `description`) and the error answers `codes`."""
    return {"200": {"description": description}} | errors(*codes)


def operation(
    summary: str,
    ok: str,
    *codes: str,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One operation answering a JSON object; `body` is the request schema if it takes one."""
    out: dict[str, Any] = {"summary": summary}
    if parameters is not None:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = json_body(body)
    out["responses"] = responses(ok, {"type": "object"}, *codes)
    return out


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema}


def add_database_outages(paths: dict[str, Any]) -> None:
    """Every API operation may answer 503 when the database cannot be reached (infra.errors)."""
    for path, item in paths.items():
        if not path.startswith("/api/") or path == "/api/openapi.json":
            continue
        for op in item.values():
            answers = op["responses"]
            answers.setdefault("503", errors("503")["503"])
            answers["503"].setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER
