"""Races between people, health checks and the published API document."""

import re
import threading

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dispatch.tickets import actions
from dispatch.tickets.commands import Sign
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import IllegalTransition
from hotline.bootstrap import Container
from kernel.actor import Actor
from kernel.errors import Conflict
from kernel.roles import Role
from tests.conftest import Api


def test_two_liaisons_signing_at_once_exactly_one_wins(api: Api, container: Container) -> None:
    t = api.dispatched("zjj")
    unit = api.world.units["zjj"]
    actors = [Actor(api.world.users[name], Role.LIAISON, unit) for name in ("zjj", "zjj2")]
    barrier = threading.Barrier(2)
    results: list[str] = []

    def sign(actor: Actor) -> None:
        barrier.wait()
        try:
            actions.perform_action(
                container.uow(), container.dispatch, actor, t["id"], Action.SIGN, Sign()
            )
            results.append("signed")
        except (IllegalTransition, Conflict) as exc:
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=sign, args=(a,)) for a in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results)[-1] == "signed"
    assert results.count("signed") == 1
    assert len(results) == 2
    view = api.get(f"/api/tickets/{t['id']}").get_json()
    assert [e["event"] for e in view["events"]].count("sign") == 1


def test_concurrent_api_signs_give_one_200_and_one_409(app: Flask, api: Api) -> None:
    t = api.dispatched("zjj")
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def sign(user: str) -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(
            f"/api/tickets/{t['id']}/actions/sign",
            json={},
            headers={"Authorization": f"Bearer {api.world.tokens[user]}"},
        )
        codes.append(resp.status_code)

    threads = [threading.Thread(target=sign, args=(u,)) for u in ("zjj", "zjj2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(codes) == [200, 409]


def test_healthz_reports_database_and_redis(client: FlaskClient, container: Container) -> None:
    import fakeredis

    container._redis = fakeredis.FakeRedis()
    resp = client.get("/healthz")
    assert resp.status_code == 200  # this web process can serve...
    body = resp.get_json()
    assert body["checks"] == {"database": "ok", "redis": "ok"}
    # ...but no worker and no scheduler has a heartbeat in this Redis: said, not hidden.
    assert body["status"] == "degraded"
    assert body["processes"]["worker"] == {"alive": 0, "status": "down"}
    assert body["processes"]["scheduler"] == {"alive": 0, "status": "down"}
    assert body["processes"]["seats"] == {"alive": 0, "registered": 0, "status": "down"}


def test_healthz_is_503_when_redis_is_down(client: FlaskClient, container: Container) -> None:
    import redis

    # Nothing listens on port 9 of loopback: the connection is refused at once.
    container._redis = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=1)
    resp = client.get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")


@pytest.mark.redis
def test_healthz_against_the_real_redis(client: FlaskClient, container: Container) -> None:
    import os

    import redis

    container._redis = redis.Redis.from_url(
        os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    assert client.get("/healthz").get_json()["checks"]["redis"] == "ok"


def test_openapi_documents_every_api_route(client: FlaskClient, app: Flask) -> None:
    from openapi_spec_validator import validate

    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    documented = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        if "{action}" in path:
            for action in Action:
                assert path.replace("{action}", action.value) in documented
        else:
            assert path in documented, path
    create = doc["paths"]["/api/tickets"]["post"]["requestBody"]["content"]["application/json"]
    schema = doc["components"]["schemas"][create["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {"request_type", "title", "content"}


def test_responses_carry_a_request_id(client: FlaskClient) -> None:
    resp = client.get("/api/openapi.json", headers={"X-Request-ID": "abc123"})
    assert resp.headers["X-Request-ID"] == "abc123"
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 16
