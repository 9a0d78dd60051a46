"""Shared fixtures.

Integration tests run once on SQLite and once on PostgreSQL: the `db_url` fixture is
parametrised over both backends. PostgreSQL is the server at HOTLINE_TEST_POSTGRES_URL
(default: the local `test` database); each run migrates a fresh database of its own with
Alembic and drops it afterwards. Set HOTLINE_TEST_SKIP_POSTGRES=1 to run SQLite only.
"""

import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from callcenter.models import CallRecord
from dispatch.routing.models import Matter
from hotline.app import create_app
from hotline.bootstrap import Container
from hotline.bootstrap import bootstrap
from infra.auth import issue_token
from infra.db import Base
from infra.db import make_engine
from infra.migrate import upgrade
from infra.models import Unit
from infra.models import User
from infra.settings import AuthSettings
from infra.settings import DatabaseSettings
from infra.settings import Settings
from infra.settings import WebSettings
from infra.settings import load_settings
from kernel.roles import Role
from kernel.units import UnitKind
from tests.redis_server import Server

PG_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SKIP_PG = os.environ.get("HOTLINE_TEST_SKIP_POSTGRES") == "1"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# Monday 16 November 2026, 10:00 in Shanghai: a plain working day.
T0 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(SKIP_PG, reason="HOTLINE_TEST_SKIP_POSTGRES=1"),
        ],
    ),
]


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, **kwargs: float) -> dt.datetime:
        self.current += dt.timedelta(**kwargs)
        return self.current

    def set(self, moment: dt.datetime) -> None:
        self.current = moment


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hotline.db'}"
        upgrade(url)
        yield url
        return
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(DatabaseSettings(url=db_url, pool_size=5))
    yield eng
    eng.dispose()


def _wipe(engine: sa.Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for name in tables:
                conn.exec_driver_sql(f"DELETE FROM {name}")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def settings(db_url: str, tmp_path: Any) -> Settings:
    base = load_settings(None, environ={})
    return dataclasses.replace(
        base,
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key="test-secret", live_updates_via_redis=False),
        # Sign-in failure counters of one test never lock another test's accounts.
        auth=AuthSettings(redis_prefix=f"test-login:{uuid.uuid4().hex}:"),
        instance_path=str(tmp_path),
        # Consoles without browser headsets, and waiting callers without announcements, unless
        # a test asks (tests/telephony/test_headset.py, test_queue_announcements.py).
        telephony=dataclasses.replace(base.telephony, ws_port=0, announcer=""),
    )


@pytest.fixture
def container(settings: Settings, engine: sa.Engine, clock: Clock) -> Iterator[Container]:
    c = bootstrap(settings, engine=engine, now=clock)
    yield c
    _wipe(engine)


@pytest.fixture
def app(container: Container) -> Flask:
    application = create_app(container=container)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    from callcenter.edge.credentials import ACD_SECRET_HEADER
    from callcenter.edge.credentials import acd_secret

    test_client = app.test_client()
    # Requests to /acd/* come from Kamailio in production, which carries the ACD secret.
    header = "HTTP_" + ACD_SECRET_HEADER.upper().replace("-", "_")
    test_client.environ_base[header] = acd_secret(app.extensions["hotline"].settings)
    return test_client


# ---------------------------------------------------------------- seeded world

# One real hash computed once: hashing per test would dominate the suite's time.
_PASSWORD = "correct horse battery"
_HASH: list[str] = []


def password_hash() -> str:
    if not _HASH:
        from infra.auth import hash_password

        _HASH.append(hash_password(_PASSWORD))
    return _HASH[0]


@dataclass
class World:
    """Units and one user per role, each with an API token."""

    units: dict[str, int]
    users: dict[str, int]
    tokens: dict[str, str]
    password: str = _PASSWORD


def add_liaison(container: Container, world: World, code: str) -> None:
    """A liaison of the unit with this code, signed in as `code` (world.tokens[code])."""
    with container.uow() as uow:
        user = User(
            username=code,
            display_name=f"{code}联络员",
            password_hash=password_hash(),
            role=Role.LIAISON,
            unit_id=world.units[code],
        )
        uow.session.add(user)
        uow.session.flush()
        world.users[code] = user.id
        world.tokens[code] = issue_token(uow.session, user, "test")
        uow.commit()


UNIT_TREE: tuple[tuple[str, str, UnitKind, str | None], ...] = (
    ("zjj", "住房和城乡建设局", UnitKind.DEPARTMENT, None),
    ("cgj", "城市管理局", UnitKind.DEPARTMENT, None),
    ("gdgs", "供电公司", UnitKind.UTILITY, None),
    ("dh", "东湖区", UnitKind.DISTRICT, None),
    ("dh-hb", "湖滨街道", UnitKind.STREET, "dh"),
    ("dh-hb-01", "滨江社区", UnitKind.COMMUNITY, "dh-hb"),
    ("xs", "西山区", UnitKind.DISTRICT, None),
    ("xs-cp", "翠屏街道", UnitKind.STREET, "xs"),
)

USERS: tuple[tuple[str, Role, str | None], ...] = (
    ("operator", Role.OPERATOR, None),
    ("lead", Role.TEAM_LEAD, None),
    ("supervisor", Role.SUPERVISOR, None),
    ("leader", Role.LEADER, None),
    ("admin", Role.ADMIN, None),
    ("zjj", Role.LIAISON, "zjj"),
    ("zjj2", Role.LIAISON, "zjj"),
    ("cgj", Role.LIAISON, "cgj"),
    ("gdgs", Role.LIAISON, "gdgs"),
)


@pytest.fixture
def world(container: Container) -> World:
    units: dict[str, int] = {}
    users: dict[str, int] = {}
    tokens: dict[str, str] = {}
    with container.uow() as uow:
        s = uow.session
        for code, name, kind, parent in UNIT_TREE:
            unit = Unit(
                code=code,
                name=name,
                kind=kind,
                responsibility=f"{name}职责",
                keywords=[name],
                parent_id=units[parent] if parent else None,
            )
            s.add(unit)
            s.flush()
            units[code] = unit.id
        for username, role, unit_code in USERS:
            user = User(
                username=username,
                display_name=f"{username}用户",
                password_hash=password_hash(),
                role=role,
                unit_id=units[unit_code] if unit_code else None,
            )
            s.add(user)
            s.flush()
            users[username] = user.id
            tokens[username] = issue_token(s, user, "test")
        uow.commit()
    return World(units, users, tokens)


class Api:
    """A thin JSON client acting as one of the world's users."""

    def __init__(self, client: FlaskClient, world: World) -> None:
        self.client = client
        self.world = world

    def _headers(self, as_: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.tokens[as_]}"} if as_ else {}

    def get(self, path: str, as_: str | None = "operator", **kw: Any) -> Any:
        return self.client.get(path, headers=self._headers(as_), **kw)

    def post(self, path: str, json: Any = None, as_: str | None = "operator", **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self._headers(as_), **kw)

    def create(self, as_: str = "operator", **fields: Any) -> dict[str, Any]:
        body = {
            "request_type": "complaint",
            "title": "小区电梯故障",
            "content": "电梯停运三天",
            "caller_phone": "13812345678",
            "citizen_name": "张三",
        }
        body.update(fields)
        resp = self.post("/api/tickets", body, as_=as_)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]

    def act(
        self,
        ticket_id: int,
        action: str,
        body: Any = None,
        as_: str = "operator",
        expect: int = 200,
    ) -> dict[str, Any]:
        resp = self.post(f"/api/tickets/{ticket_id}/actions/{action}", body or {}, as_=as_)
        assert resp.status_code == expect, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]

    def dispatched(self, unit: str = "zjj", **fields: Any) -> dict[str, Any]:
        ticket = self.create(**fields)
        return self.act(ticket["id"], "dispatch", {"lead_unit_id": self.world.units[unit]})

    def signed(self, unit: str = "zjj", **fields: Any) -> dict[str, Any]:
        ticket = self.dispatched(unit, **fields)
        return self.act(ticket["id"], "sign", as_=unit)


@pytest.fixture
def api(client: FlaskClient, world: World) -> Api:
    return Api(client, world)


# ---------------------------------------------------------------- routing catalogue

CATALOGUE: dict[str, dict[str, Any]] = {
    "zjj": {
        "responsibility": "负责全市住房保障、物业服务行业管理。负责城镇燃气和电梯的监督管理。",
        "keywords": ["物业", "物业费", "电梯", "燃气", "房屋维修", "商品房", "开发商", "公积金"],
    },
    "cgj": {
        "responsibility": "负责全市城市管理综合执法、户外广告和市政设施管理。",
        "keywords": ["户外广告", "市政设施", "路灯", "井盖", "城管执法"],
    },
    "gdgs": {
        "responsibility": "负责全市电网运行维护和电力供应，处置停电故障。",
        "keywords": ["停电", "电费", "电线", "电压", "变压器", "跳闸"],
    },
    "dh-hb": {
        "responsibility": "负责湖滨街道辖区内市容秩序、占道经营、噪音扰民等属地事务。",
        "keywords": ["占道经营", "流动摊贩", "噪音扰民", "楼道堆物"],
        "places": ["滨江路", "阳光花园", "湖滨东路"],
    },
    "xs-cp": {
        "responsibility": "负责翠屏街道辖区内市容秩序、占道经营、噪音扰民等属地事务。",
        "keywords": ["占道经营", "流动摊贩", "噪音扰民", "楼道堆物"],
        "places": ["松林路", "翠屏花园"],
    },
}
MATTERS = (
    ("城乡建设/物业管理/电梯", "zjj", False, ["电梯故障", "电梯停运"]),
    ("城乡建设/物业管理/物业服务", "zjj", False, ["物业服务", "物业费"]),
    ("供电服务/停电/故障停电", "gdgs", False, ["停电", "断电"]),
    ("城市管理/市容秩序/占道经营", None, True, ["占道经营", "流动摊贩", "摆摊"]),
    ("城市管理/市政设施/路灯", "cgj", False, ["路灯不亮", "井盖"]),
)
HOUSING = {
    "title": "小区电梯坏了一个月没人修",
    "content": "我家小区三号楼电梯故障停运一个月，物业不管不问",
}
VENDOR = {"title": "门口有流动摊贩占道经营", "content": "每天晚上有人在路边摆摊占道经营，影响通行"}


@pytest.fixture
def catalogue(container: Container, world: World) -> World:
    """The world's units with responsibilities, keywords and places, and a matter catalogue."""
    with container.uow() as uow:
        s = uow.session
        for code, fields in CATALOGUE.items():
            unit = s.get(Unit, world.units[code])
            assert unit is not None
            for key, value in fields.items():
                setattr(unit, key, value)
        for path, code, local, keywords in MATTERS:
            unit_id = world.units[code] if code else None
            s.add(Matter(path=path, unit_id=unit_id, local=local, keywords=keywords))
        uow.commit()
    container.assistant.router.invalidate()
    return world


REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def real_redis(container: Container) -> Iterator[Any]:
    """The test Redis database, empty, as the container's Redis (mark tests `redis`)."""
    import redis

    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    container._redis = conn
    yield conn
    conn.flushdb()
    conn.close()
    container._redis = None


def history(api: Api, world: World, n: int) -> None:
    """Tickets the units kept: housing to 住建, power cuts to 供电, lamps to 城管."""
    texts = {
        "zjj": [("电梯故障", "电梯停运物业不修"), ("物业费纠纷", "物业公司乱收物业费")],
        "gdgs": [("小区停电", "整栋楼停电没有通知"), ("电压不稳", "家里电压忽高忽低")],
        "cgj": [("路灯不亮", "路灯坏了晚上很黑"), ("井盖缺失", "路中间井盖丢了")],
    }
    for i in range(n):
        unit = list(texts)[i % 3]
        title, content = texts[unit][i % 2]
        ticket = api.create(title=f"{title}{i}", content=content, category=None)
        api.act(ticket["id"], "dispatch", {"lead_unit_id": world.units[unit]})
        api.act(ticket["id"], "sign", as_=unit)


# ---------------------------------------------------------------- the browser
# One Playwright (sync API) per session: the browser tests and the telephony tests that drive
# the console share it (two at once is refused).
CHROMIUM = os.environ.get("HOTLINE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def call_record(container: Any, call_id: str) -> CallRecord:
    """The call's record (CDR) as the database has it now."""
    with container.uow() as uow:
        row = uow.session.query(CallRecord).filter_by(call_id=call_id).one()
        uow.session.expunge(row)
        return row


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Server]:
    """A redis-server of the test's own, to stop, freeze and start again (fault tests)."""
    s = Server(tmp_path)
    s.start()
    yield s
    s.stop()
