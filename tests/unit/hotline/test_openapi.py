"""The OpenAPI document: each package's part, the shared building blocks, and their assembly."""

from types import SimpleNamespace
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

from dispatch.tickets.commands import Reply
from dispatch.tickets.commands import Review as TicketReview
from hotline import openapi as assembly
from hotline.openapi import build_openapi
from infra.commands import LoginRequest
from infra.openapi import add_database_outages
from infra.openapi import merge_schemas
from infra.openapi import model_schemas
from infra.openapi import operation
from kb.commands import Review as KbReview
from kernel.vocabulary import Urgency


class _Inner(BaseModel):
    urgency: Urgency


class _Outer(BaseModel):
    """An outer model."""

    inner: _Inner


def _body_schema(doc: dict[str, Any], path: str, media: str = "application/json") -> Any:
    content = doc["paths"][path]["post"]["requestBody"]["content"][media]
    schema = content["schema"]
    if "$ref" in schema:
        return doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_a_model_brings_the_models_and_enums_it_uses_as_components() -> None:
    schemas = model_schemas(_Outer)
    assert set(schemas) == {"_Outer", "_Inner", "Urgency"}
    assert "$defs" not in schemas["_Outer"]
    assert schemas["_Outer"]["properties"]["inner"] == {"$ref": "#/components/schemas/_Inner"}
    assert schemas["_Inner"]["properties"]["urgency"] == {"$ref": "#/components/schemas/Urgency"}


def test_a_model_can_be_filed_under_another_name() -> None:
    schemas = model_schemas(Other=_Inner)
    assert set(schemas) == {"Other", "Urgency"}


def test_one_name_for_two_different_schemas_is_refused() -> None:
    same = {"A": {"type": "string"}}
    assert merge_schemas(same, dict(same)) == same
    with pytest.raises(ValueError, match="'Review'"):
        merge_schemas(model_schemas(TicketReview), model_schemas(KbReview))


def test_database_outages_add_a_503_with_retry_after_to_api_operations_only() -> None:
    paths = {
        "/api/x": {"get": operation("x", "200", "401"), "post": operation("y", "200", "503")},
        "/api/openapi.json": {"get": {"responses": {"200": {"description": "doc"}}}},
        "/healthz": {"get": {"responses": {"503": {"description": "down"}}}},
    }
    add_database_outages(paths)
    for method in ("get", "post"):
        answer = paths["/api/x"][method]["responses"]["503"]
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
        assert answer["headers"]["Retry-After"]["schema"]["minimum"] == 1
    assert "503" not in paths["/api/openapi.json"]["get"]["responses"]
    assert "headers" not in paths["/healthz"]["get"]["responses"]["503"]


def test_the_knowledge_base_review_and_the_ticket_review_keep_their_own_schemas() -> None:
    doc = build_openapi()
    kb = _body_schema(doc, "/api/kb/versions/{version_id}/review")
    ticket = _body_schema(doc, "/api/tickets/{ticket_id}/actions/review")
    assert kb["description"] == KbReview.__doc__
    assert ticket["description"] == TicketReview.__doc__


def test_the_reply_form_checks_its_text_as_the_json_reply_does() -> None:
    doc = build_openapi()
    path = "/api/tickets/{ticket_id}/actions/reply"
    form = _body_schema(doc, path, "multipart/form-data")
    as_json = _body_schema(doc, path)
    assert form["properties"]["text"] == as_json["properties"]["text"]
    limit = form["properties"]["text"]["maxLength"]
    Reply.model_validate({"text": "x" * limit})
    with pytest.raises(pydantic.ValidationError):
        Reply.model_validate({"text": "x" * (limit + 1)})


def test_every_package_contributes_and_every_reference_resolves() -> None:
    doc = build_openapi()
    for prefix in ("/api/tickets", "/api/followups", "/api/cti/", "/api/callbacks", "/api/kb/"):
        assert any(path.startswith(prefix) for path in doc["paths"]), prefix
    assert any(path.startswith("/api/reports/") for path in doc["paths"])
    login = _body_schema(doc, "/api/auth/login")
    assert login == model_schemas(LoginRequest)["LoginRequest"]
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "message", "details"]


def _package(paths: dict[str, Any], schemas: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(__name__="fake", paths=lambda: paths, schemas=lambda: schemas)


def test_two_packages_documenting_one_path_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = _package({"/api/me": {"get": operation("again", "200")}}, {})
    monkeypatch.setattr(assembly, "PACKAGES", (*assembly.PACKAGES, twice))
    with pytest.raises(ValueError, match="/api/me"):
        build_openapi()


def test_a_reference_no_package_provides_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    dangling = _package(
        {
            "/api/nowhere": {
                "post": operation("x", "200", body={"$ref": "#/components/schemas/Gone"})
            }
        },
        {},
    )
    monkeypatch.setattr(assembly, "PACKAGES", (*assembly.PACKAGES, dangling))
    with pytest.raises(ValueError, match="Gone"):
        build_openapi()
