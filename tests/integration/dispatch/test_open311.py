"""Open311 GeoReport v2 (/open311/v2): conformance with the spec, both formats, every error."""

import datetime as dt
import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from dispatch.open311 import apikeys
from dispatch.open311.models import ApiKey
from dispatch.routing.models import Matter
from dispatch.tickets.domain import Channel
from dispatch.tickets.models import Ticket
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World

pytestmark = pytest.mark.redis

BASE = "/open311/v2"
FORMATS = ["json", "xml"]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
ATTRIBUTES: dict[str, Any] = {"attribute[WHISPAWN]": "123", "attribute[COLOR][]": "red"}
ELEVATOR = "三号楼电梯故障停运一个月，物业不管不问，老人上下楼很困难"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


class Open311:
    """A client of the API: keys, requests and the answers parsed in either format."""

    def __init__(self, client: FlaskClient, container: Container, world: World) -> None:
        self.client = client
        self.container = container
        self.world = world
        with container.uow() as uow:
            self.codes = {m.path: str(m.id) for m in uow.session.scalars(sa.select(Matter))}
        self.key = self.new_key("市民通APP")

    def new_key(self, name: str, rate: int = 60) -> str:
        return apikeys.create_key(
            self.container.uow(),
            self.world.users["admin"],
            name,
            "",
            rate,
            default_rate=60,
        ).key

    def code(self, path: str = "城乡建设/物业管理/电梯") -> str:
        return self.codes[path]

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{BASE}/{path}", query_string=params)

    def post(self, fmt: str = "json", files: dict[str, Any] | None = None, **fields: Any) -> Any:
        body: dict[str, Any] = {
            "api_key": self.key,
            "service_code": self.code(),
            "description": ELEVATOR,
            "lat": "30.2741",
            "long": "120.1551",
            # The citizen agreed to publication: these tests read the published requests
            # (tests/security/test_open311_publication.py covers the ones not published).
            "publish": "true",
        }
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        if files:
            # Encoded in memory: the test client would spool a large body to a file it
            # never closes when the server refuses the body unread (413).
            for name, (stream, filename) in files.items():
                body[name] = FileStorage(stream, filename=filename)
            boundary, data = encode_multipart(body)
            return self.client.post(
                f"{BASE}/requests.{fmt}",
                data=data,
                content_type=f"multipart/form-data; boundary={boundary}",
            )
        return self.client.post(f"{BASE}/requests.{fmt}", data=body)

    def file(self, fmt: str = "json", **fields: Any) -> str:
        resp = self.post(fmt, **fields)
        assert resp.status_code == 201, resp.data.decode()
        return str(parse(resp, fmt)[0]["service_request_id"])


def xml_items(root: ET.Element) -> list[dict[str, Any]]:
    return [{child.tag: child.text for child in item} for item in root]


def parse(resp: Any, fmt: str) -> Any:
    """The answer as JSON values; XML is read with ElementTree and checked on the way."""
    if fmt == "json":
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        return json.loads(resp.data)
    assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert resp.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(resp.data)


def errors(resp: Any, fmt: str) -> list[tuple[int, str]]:
    """The spec's error list: [{"code", "description"}] or <errors><error>..."""
    body = parse(resp, fmt)
    if fmt == "json":
        assert all(set(e) == {"code", "description"} for e in body)
        return [(e["code"], e["description"]) for e in body]
    assert body.tag == "errors" and all(e.tag == "error" for e in body)
    assert all([c.tag for c in e] == ["code", "description"] for e in body)
    return [(int(e.findtext("code") or 0), e.findtext("description") or "") for e in body]


def ticket_id(number: str) -> int:
    return int(number[-7:])


def ticket(container: Container, number: str) -> Ticket:
    with container.uow() as uow:
        t = uow.session.get(Ticket, ticket_id(number))
        assert t is not None
        uow.session.expunge(t)
        return t


@pytest.fixture
def o311(client: FlaskClient, container: Container, catalogue: World, real_redis: Any) -> Open311:
    return Open311(client, container, catalogue)


def close_through_the_api(api: Api, number: str, reply: str) -> None:
    """Take the ticket through the whole lifecycle: sign, reply, review, follow-up, close."""
    tid = ticket_id(number)
    t = api.get(f"/api/tickets/{tid}").get_json()
    if t["status"] == "accepted":
        t = api.act(tid, "dispatch", {"lead_unit_id": api.world.units["zjj"]})
    unit = {v: k for k, v in api.world.units.items()}[t["lead_unit"]["id"]]
    api.act(tid, "sign", as_=unit)
    api.act(tid, "reply", {"text": reply}, as_=unit)
    api.act(tid, "review", {"approve": True}, as_="lead")
    api.act(tid, "follow_up", {"solved": True, "satisfaction": "satisfied", "note": "满意"})
    api.act(tid, "close", {}, as_="lead")


# ---------------------------------------------------------------- services


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_active_matter_categories(o311: Open311, fmt: str) -> None:
    with o311.container.uow() as uow:
        m = uow.session.scalar(sa.select(Matter).where(Matter.path == "城市管理/市政设施/路灯"))
        assert m is not None
        m.active = False
        uow.commit()
    resp = o311.get(f"services.{fmt}")
    assert resp.status_code == 200
    body = parse(resp, fmt)
    if fmt == "xml":
        assert body.tag == "services" and {s.tag for s in body} == {"service"}
        assert [c.tag for c in body[0]] == SERVICE_FIELDS
        items = xml_items(body)
    else:
        items = body
        assert list(items[0]) == SERVICE_FIELDS
    by_name = {s["service_name"]: s for s in items}
    assert set(by_name) == {"电梯", "物业服务", "故障停电", "占道经营"}
    elevator = by_name["电梯"]
    metadata = "false" if fmt == "xml" else False
    assert elevator == {
        "service_code": o311.code(),
        "service_name": "电梯",
        "description": "城乡建设/物业管理/电梯",
        "metadata": metadata,
        "type": "realtime",
        "keywords": "电梯故障,电梯停运",
        "group": "城乡建设",
    }
    assert "Set-Cookie" not in resp.headers


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_service_definition_has_its_code_and_no_attributes(o311: Open311, fmt: str) -> None:
    resp = o311.get(f"services/{o311.code()}.{fmt}", jurisdiction_id="")
    assert resp.status_code == 200
    body = parse(resp, fmt)
    if fmt == "json":
        assert body == {"service_code": o311.code(), "attributes": []}
    else:
        assert body.tag == "service_definition"
        assert [c.tag for c in body] == ["service_code", "attributes"]
        assert body.findtext("service_code") == o311.code() and len(body[1]) == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_lists_the_endpoint_and_both_formats(o311: Open311, fmt: str) -> None:
    body = parse(o311.get(f"discovery.{fmt}"), fmt)
    if fmt == "json":
        endpoint = body["endpoints"][0]
        assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
        assert endpoint["formats"] == ["text/xml", "application/json"]
        assert endpoint["url"].endswith("/open311/v2")
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    else:
        assert body.tag == "discovery"
        formats = body.findall("endpoints/endpoint/formats/format")
        assert [f.text for f in formats] == ["text/xml", "application/json"]


# ---------------------------------------------------------------- POST requests


def test_a_post_with_a_pin_becomes_a_routed_open311_ticket(o311: Open311) -> None:
    resp = o311.post(
        first_name="三",
        last_name="张",
        phone="13812345678",
        email="zhang@example.com",
        device_id="dev-1",
        account_id="acc-9",
        media_url="http://example.com/a.jpg",
        **ATTRIBUTES,
    )
    assert resp.status_code == 201, resp.data.decode()
    body = parse(resp, "json")
    assert len(body) == 1 and list(body[0]) == [
        "service_request_id",
        "service_notice",
        "account_id",
    ]
    number = body[0]["service_request_id"]
    assert number.startswith("JC") and body[0]["account_id"] is None
    assert "住房和城乡建设局" in body[0]["service_notice"]
    t = ticket(o311.container, number)
    with o311.container.uow() as uow:
        key_id = uow.session.scalar(sa.select(ApiKey.id).where(ApiKey.name == "市民通APP"))
    assert (t.channel, t.api_key_id, t.latitude, t.longitude) == (
        Channel.OPEN311,
        key_id,
        30.2741,
        120.1551,
    )
    assert t.category == "城乡建设/物业管理/电梯"
    assert t.lead_unit_id == o311.world.units["zjj"] and t.status.value == "dispatched"
    assert (t.citizen_name, t.caller_phone) == ("张三", "13812345678")
    assert "Set-Cookie" not in resp.headers


def test_a_post_with_an_address_answers_in_xml(o311: Open311) -> None:
    resp = o311.post("xml", lat=None, long=None, address_string="滨江路88号阳光花园3号楼")
    assert resp.status_code == 201, resp.data.decode()
    root = parse(resp, "xml")
    assert root.tag == "service_requests" and [r.tag for r in root] == ["request"]
    assert [c.tag for c in root[0]] == ["service_request_id", "service_notice", "account_id"]
    assert root[0][2].text is None  # <account_id/>
    t = ticket(o311.container, root[0].findtext("service_request_id") or "")
    assert t.address == "滨江路88号阳光花园3号楼" and t.latitude is None
    assert t.channel is Channel.OPEN311


def test_a_session_cookie_neither_authorises_nor_blocks_a_post(
    o311: Open311, api: Api, world: World
) -> None:
    # Signed in as an admin through the browser session, without an api_key: refused.
    resp = o311.client.post(
        "/api/auth/login", json={"username": "admin", "password": world.password}
    )
    assert resp.status_code == 200
    refused = o311.post(api_key=None)
    assert refused.status_code == 403
    # With the key, no CSRF token is needed: the key is the credential.
    assert o311.post().status_code == 201


def test_a_photo_is_kept_and_published_as_media_url(o311: Open311) -> None:
    resp = o311.post(files={"media": (io.BytesIO(png()), "电梯.png")})
    assert resp.status_code == 201, resp.data.decode()
    number = parse(resp, "json")[0]["service_request_id"]
    item = parse(o311.get(f"requests/{number}.json"), "json")[0]
    assert item["media_url"].startswith("http://localhost/open311/v2/media/")
    with o311.client.get(item["media_url"]) as photo:
        assert photo.status_code == 200 and photo.mimetype == "image/png"
        assert photo.data == png()


# ---------------------------------------------------------------- GET requests


def test_get_requests_filters_by_id_service_status_and_dates(
    o311: Open311, api: Api, clock: Clock
) -> None:
    first = o311.file()
    power = o311.file(
        service_code=o311.code("供电服务/停电/故障停电"), description="整栋楼停电了，没有任何通知"
    )
    clock.advance(days=3)
    later = o311.file(address_string="滨江路88号", lat=None, long=None)
    close_through_the_api(api, first, "已督促物业更换电梯主板，电梯恢复运行。")

    def numbers(**params: Any) -> list[str]:
        resp = o311.get("requests.json", **params)
        assert resp.status_code == 200, resp.data.decode()
        return [r["service_request_id"] for r in parse(resp, "json")]

    assert numbers() == [later, power, first]  # newest first
    assert numbers(service_request_id=f"{first},{later},JC000") == [later, first]
    # The id list overrides the other filters (the spec).
    assert numbers(service_request_id=first, status="open") == [first]
    assert numbers(service_code=o311.code("供电服务/停电/故障停电")) == [power]
    assert numbers(service_code=f"{o311.code()},999999") == [later, first]
    assert numbers(status="closed") == [first]
    assert numbers(status="open") == [later, power]
    assert numbers(status="open,closed") == [later, power, first]
    split = (clock.current - dt.timedelta(days=1)).isoformat()
    assert numbers(start_date=split) == [later]
    assert numbers(end_date=split) == [power, first]
    utc = (clock.current - dt.timedelta(days=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert numbers(start_date=utc, end_date=clock.current.isoformat()) == [later]
    clock.advance(days=91)
    assert numbers() == []  # the default window is the last 90 days


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_request_open_then_closed_with_notes_agency_and_expected_time(
    o311: Open311, api: Api, fmt: str
) -> None:
    number = o311.file(address_string="东湖区滨江路88号阳光花园3号楼")
    resp = o311.get(f"requests/{number}.{fmt}")
    assert resp.status_code == 200
    body = parse(resp, fmt)
    if fmt == "xml":
        assert body.tag == "service_requests" and [r.tag for r in body] == ["request"]
        assert [c.tag for c in body[0]] == REQUEST_FIELDS
        item = xml_items(body)[0]
    else:
        assert list(body[0]) == REQUEST_FIELDS
        item = body[0]
    assert item["service_request_id"] == number and item["status"] == "open"
    assert item["service_name"] == "电梯" and item["service_code"] == o311.code()
    assert item["agency_responsible"] == "住房和城乡建设局"
    assert item["status_notes"] == "承办单位正在办理"
    # published down to the street only
    assert item["description"] == ELEVATOR and item["address"] == "东湖区滨江路"
    assert item["requested_datetime"] == "2026-11-16T10:00:00+08:00"
    expected = dt.datetime.fromisoformat(item["expected_datetime"])
    assert expected.utcoffset() == dt.timedelta(hours=8) and expected > dt.datetime.fromisoformat(
        item["requested_datetime"]
    )
    close_through_the_api(api, number, "已督促物业更换电梯主板，电梯恢复运行。")
    item = parse(o311.get(f"requests/{number}.json"), "json")[0]
    assert item["status"] == "closed"
    assert item["status_notes"] == "已督促物业更换电梯主板，电梯恢复运行。"
    assert item["expected_datetime"] is None


def test_phone_tickets_and_personal_data_are_never_published(o311: Open311, api: Api) -> None:
    phone = api.create(title="电梯故障", content="电梯停运三天", citizen_name="李四")
    number = o311.file(
        first_name="五",
        last_name="王",
        phone="13900001111",
        email="wangwu@example.com",
        device_id="device-xyz",
        account_id="acct-42",
    )
    for fmt in FORMATS:
        listed = o311.get(f"requests.{fmt}")
        one = o311.get(f"requests/{number}.{fmt}")
        for resp in (listed, one):
            text = resp.data.decode()
            for secret in ("王五", "13900001111", "wangwu@example.com", "李四", "13812345678"):
                assert secret not in text
            assert "联系邮箱" not in text and "device-xyz" not in text
        assert phone["number"] not in listed.data.decode()
    missing = o311.get(f"requests/{phone['number']}.json")
    assert missing.status_code == 404


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_without_a_key_or_with_a_wrong_or_revoked_one_is_403(
    o311: Open311, container: Container, world: World, fmt: str
) -> None:
    with container.uow() as uow:
        before = uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket))
    resp = o311.post(fmt, api_key=None)
    assert resp.status_code == 403
    assert errors(resp, fmt)[0][0] == 403 and "api_key" in errors(resp, fmt)[0][1]
    assert o311.post(fmt, api_key="not-a-key").status_code == 403
    revoked = o311.new_key("旧系统")
    with container.uow() as uow:
        key_id = uow.session.scalar(sa.select(ApiKey.id).where(ApiKey.name == "旧系统"))
    assert key_id is not None
    apikeys.revoke_key(
        container.uow(), world.users["admin"], key_id, now=container.dispatch.utcnow()
    )
    resp = o311.post(fmt, api_key=revoked)
    assert resp.status_code == 403 and "吊销" in errors(resp, fmt)[0][1]
    # A wrong key on a GET is refused too; no key on a GET is fine.
    assert o311.get(f"services.{fmt}", api_key="nope").status_code == 403
    assert o311.get(f"services.{fmt}").status_code == 200
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_fields_are_400_with_one_error_each(o311: Open311, fmt: str) -> None:
    resp = o311.post(fmt, service_code=None, description=None, lat=None, long=None)
    assert resp.status_code == 400
    found = errors(resp, fmt)
    assert [code for code, _ in found] == [400, 400, 400]
    text = " ".join(d for _, d in found)
    assert "service_code" in text and "description" in text and "address_string" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_lat_or_long_is_400(o311: Open311, fmt: str) -> None:
    resp = o311.post(fmt, lat="北纬30度", long="200")
    assert resp.status_code == 400
    found = [d for _, d in errors(resp, fmt)]
    assert len(found) == 2 and "lat" in found[0] and "long" in found[1]
    resp = o311.post(fmt, long=None)
    assert resp.status_code == 400 and "lat 和 long" in errors(resp, fmt)[0][1]
    resp = o311.post(fmt, phone="打我电话")
    assert resp.status_code == 400 and errors(resp, fmt)[0][1].startswith("phone")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_code_request_or_jurisdiction_is_404(
    o311: Open311, container: Container, fmt: str
) -> None:
    resp = o311.post(fmt, service_code="999999")
    assert resp.status_code == 404 and "service_code" in errors(resp, fmt)[0][1]
    resp = o311.get(f"services/999999.{fmt}")
    assert resp.status_code == 404 and errors(resp, fmt)[0][0] == 404
    for bad in ("JC202611160009999", "123", "JC20261116000000x"):
        resp = o311.get(f"requests/{bad}.{fmt}")
        assert resp.status_code == 404 and "service_request_id" in errors(resp, fmt)[0][1]
    # Any jurisdiction passes while none is configured; once it is, another one is 404.
    assert o311.get(f"services.{fmt}", jurisdiction_id="elsewhere.gov").status_code == 200
    import dataclasses

    container.settings = dataclasses.replace(
        container.settings,
        open311=dataclasses.replace(container.settings.open311, jurisdiction_id="hz12345.gov.cn"),
    )
    resp = o311.get(f"services.{fmt}", jurisdiction_id="elsewhere.gov")
    assert resp.status_code == 404 and "jurisdiction_id" in errors(resp, fmt)[0][1]
    assert o311.post(fmt, jurisdiction_id="elsewhere.gov").status_code == 404
    assert o311.get(f"services.{fmt}", jurisdiction_id="hz12345.gov.cn").status_code == 200
    assert o311.get(f"services.{fmt}").status_code == 200


def test_unsupported_formats_paths_and_methods_answer_in_the_spec_format(o311: Open311) -> None:
    for path in ("services.csv", "requests.html", "services/1.yaml", "nothing-here"):
        resp = o311.client.get(f"{BASE}/{path}")
        assert resp.status_code == 404, path
        assert errors(resp, "json")[0][0] == 404
    resp = o311.client.delete(f"{BASE}/requests.json")
    assert resp.status_code == 405 and errors(resp, "json")[0][0] == 405
    resp = o311.client.post(
        f"{BASE}/requests.xml",
        json={"api_key": o311.key, "service_code": o311.code(), "description": ELEVATOR},
    )
    assert resp.status_code == 415 and errors(resp, "xml")[0][0] == 415


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_query_filters_are_400_each(o311: Open311, fmt: str) -> None:
    resp = o311.get(
        f"requests.{fmt}", status="pending", start_date="2026-11-01", end_date="yesterday"
    )
    assert resp.status_code == 400
    found = [d for _, d in errors(resp, fmt)]
    assert len(found) == 3
    assert "status" in found[0] and "start_date" in found[1] and "end_date" in found[2]
    resp = o311.get(
        f"requests.{fmt}",
        start_date="2026-01-01T00:00:00Z",
        end_date="2026-11-01T00:00:00Z",
    )
    assert resp.status_code == 400 and "90" in errors(resp, fmt)[0][1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_rate_limit_is_per_key_with_retry_after(
    o311: Open311, container: Container, fmt: str
) -> None:
    slow = o311.new_key("限频测试", rate=2)
    other = o311.new_key("另一个系统", rate=2)
    for _ in range(2):
        assert o311.get(f"services.{fmt}", api_key=slow).status_code == 200
    resp = o311.get(f"services.{fmt}", api_key=slow)
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert errors(resp, fmt)[0][0] == 429
    assert o311.post(fmt, api_key=slow).status_code == 429  # POSTs count too
    ok = o311.get(f"services.{fmt}", api_key=other)
    assert ok.status_code == 200 and ok.headers["X-RateLimit-Remaining"] == "1"


def test_gets_without_a_key_are_limited_per_address(
    o311: Open311, container: Container, real_redis: Any
) -> None:
    import dataclasses

    container.settings = dataclasses.replace(
        container.settings,
        open311=dataclasses.replace(container.settings.open311, rate_per_minute=3),
    )
    for _ in range(3):
        assert o311.get("services.json").status_code == 200
    resp = o311.get("services.json")
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    assert any(k.startswith(b"open311:rate:ip:") for k in real_redis.keys("open311:rate:*"))
    other = o311.client.get(f"{BASE}/services.json", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_20_mb_photo_is_413_and_a_broken_one_400(
    o311: Open311, container: Container, fmt: str
) -> None:
    with container.uow() as uow:
        before = uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket))
    big = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * (20 * 1024 * 1024))
    resp = o311.post(fmt, files={"media": (big, "big.png")})
    assert resp.status_code == 413
    assert errors(resp, fmt)[0][0] == 413
    resp = o311.post(fmt, files={"media": (io.BytesIO(png()[:40]), "broken.png")})
    assert resp.status_code == 400
    assert "media" in errors(resp, fmt)[0][1]
    resp = o311.post(fmt, files={"media": (io.BytesIO(b"%PDF-1.4 x"), "a.pdf")})
    assert resp.status_code == 400
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == before


def test_media_serves_only_photos_of_published_requests(o311: Open311, api: Api) -> None:
    number = o311.file()
    assert o311.client.get(f"{BASE}/media/{number}/1").status_code == 404
    phone = api.create()
    assert o311.client.get(f"{BASE}/media/{phone['number']}/1").status_code == 404
