"""The OpenAPI 3.1 document of the JSON API, assembled from every package's own paths.

Each package describes its routes next to them (`dispatch.openapi`, `callcenter.openapi`,
`kb.openapi`, `reports.openapi`: `paths()` and `schemas()`, built with `infra.openapi` from
the same models that parse input); this module adds the core routes of `hotline.web`
(sign-in, the current user, health, this document) and joins them.
"""

from collections.abc import Iterator
from typing import Any

from callcenter import openapi as callcenter_doc
from dispatch import openapi as dispatch_doc
from infra.commands import LoginRequest
from infra.openapi import ERROR_SCHEMA
from infra.openapi import REF_TEMPLATE
from infra.openapi import add_database_outages
from infra.openapi import json_body
from infra.openapi import merge_schemas
from infra.openapi import model_ref
from infra.openapi import model_schemas
from infra.openapi import responses
from kb import openapi as kb_doc
from reports import openapi as reports_doc

PACKAGES = (dispatch_doc, callcenter_doc, kb_doc, reports_doc)

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "hotline user token 生成的令牌",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "登录后的会话；写操作需带 X-CSRF-Token 头",
    },
}


def build_openapi() -> dict[str, Any]:
    """Return the whole API description as a dict (served at /api/openapi.json)."""
    paths = core_paths()
    for package in PACKAGES:
        theirs = package.paths()
        if twice := sorted(set(paths) & set(theirs)):
            raise ValueError(f"{package.__name__} documents paths already documented: {twice}")
        paths |= theirs
    add_database_outages(paths)
    schemas = merge_schemas(core_schemas(), *(package.schemas() for package in PACKAGES))
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "12345 政务服务便民热线 API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }
    if missing := sorted(set(_refs(doc)) - set(schemas)):
        raise ValueError(f"the document refers to schemas no package provides: {missing}")
    return doc


def core_schemas() -> dict[str, Any]:
    """The error answer every route shares, and the sign-in body."""
    return {"Error": ERROR_SCHEMA} | model_schemas(LoginRequest)


def core_paths() -> dict[str, Any]:
    """hotline.web's routes: health, this document, signing in and out, the current user."""
    return {
        "/healthz": {
            "get": {
                "summary": "健康检查（数据库、Redis）",
                "security": [],
                "responses": {
                    "200": {"description": "全部正常"},
                    "503": {"description": "有依赖不可用"},
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "本文档",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 文档"}},
            }
        },
        "/api/auth/login": {
            "post": {
                "summary": "登录（会话 Cookie），返回 CSRF 令牌",
                "security": [],
                "requestBody": json_body(model_ref(LoginRequest)),
                "responses": responses(
                    "200", {"type": "object"}, "400", "401", "415", "422", "429"
                ),
            }
        },
        "/api/auth/logout": {
            "post": {
                "summary": "退出登录",
                "responses": responses("200", {"type": "object"}, "401"),
            }
        },
        "/api/me": {
            "get": {
                "summary": "当前用户与 CSRF 令牌",
                "responses": responses("200", {"type": "object"}, "401"),
            }
        },
    }


def _refs(node: Any) -> Iterator[str]:
    """The component schema names referenced anywhere under `node`."""
    prefix = REF_TEMPLATE.format(model="")
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(prefix):
                yield value.removeprefix(prefix)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)
