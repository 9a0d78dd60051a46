"""Ids beyond the database's integers are 404/422, not server errors (issue 17, fuzzing).

Schemathesis found `/api/tickets/99999999999999999999` (also `/tickets/…`, `/kb/articles/…`)
and a body's `community_id` of the same size answered with a 500: SQLite cannot bind such a
number, and PostgreSQL's `integer` ends at 2**31 - 1. Sent here as the fuzzer sent them.
"""

from typing import Any

import pytest

from infra.ids import MAX_ID
from tests.conftest import Api
from tests.conftest import World

pytestmark = pytest.mark.redis

HUGE = ("99999999999999999999", str(2**63), str(MAX_ID + 1))
PATHS = (
    "/api/tickets/{}",
    "/api/tickets/{}/attachments/1",
    "/api/kb/articles/{}",
    "/tickets/{}",
    "/status/JC1/photos/{}",
)


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize("path", PATHS)
def test_an_id_beyond_the_database_is_an_unknown_id(
    api: Api, world: World, real_redis: Any, path: str, number: str
) -> None:
    resp = api.get(path.format(number), as_="admin")
    assert resp.status_code == 404, (path, resp.status_code)
    if path.startswith("/api/"):
        assert set(resp.get_json()) == {"error", "message", "details"}


def test_the_largest_id_is_still_routed(api: Api, world: World, real_redis: Any) -> None:
    resp = api.get(f"/api/tickets/{MAX_ID}", as_="admin")
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"


@pytest.mark.parametrize("field", ["community_id", "district_id", "street_id"])
def test_a_body_id_beyond_the_database_is_a_422(
    api: Api, world: World, real_redis: Any, field: str
) -> None:
    body = {
        "request_type": "complaint",
        "title": "小区电梯故障",
        "content": "电梯停运三天",
        "caller_phone": "13812345678",
        field: 99999999999999999999,
    }
    resp = api.post("/api/tickets", body)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["details"]["fields"]


def test_a_dispatch_to_a_unit_beyond_the_database_is_a_422(
    api: Api, world: World, real_redis: Any
) -> None:
    ticket = api.create()
    resp = api.post(
        f"/api/tickets/{ticket['id']}/actions/dispatch", {"lead_unit_id": 2**63}, as_="operator"
    )
    assert resp.status_code == 422, resp.get_json()
