"""The admin area: users, units and settings through plain HTML forms (session + CSRF)."""

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from hotline.bootstrap import Container
from infra.models import AuditEntry
from infra.models import Unit
from infra.models import User
from kernel.units import UnitKind
from tests.conftest import World

ADMIN_GETS = ["/admin/", "/admin/units", "/admin/settings", "/admin/routing"]
ADMIN_POSTS = [
    "/admin/users",
    "/admin/users/{user}/active",
    "/admin/users/{user}/password",
    "/admin/units",
    "/admin/units/{unit}",
    "/admin/routing/matters",
    "/admin/routing/train",
]


def sign_in(client: FlaskClient, world: World, username: str = "admin") -> str:
    """Sign in through the session and return the session's CSRF token."""
    resp = client.post("/api/auth/login", json={"username": username, "password": world.password})
    assert resp.status_code == 200, resp.get_json()
    with client.session_transaction() as s:
        return str(s["csrf"])


def can_log_in(app: Flask, username: str, password: str) -> bool:
    resp = app.test_client().post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    return resp.status_code == 200


def audit(container: Container, action: str) -> list[tuple[int | None, dict[str, Any]]]:
    with container.uow() as uow:
        rows = uow.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        return [(r.user_id, r.details) for r in rows]


def user(container: Container, username: str) -> Any:
    """The user's row as plain values (id, role, unit_id, active), or None."""
    with container.uow() as uow:
        return uow.session.execute(
            sa.select(User.id, User.role, User.unit_id, User.active).where(
                User.username == username
            )
        ).one_or_none()


def unit(container: Container, unit_id: int) -> Any:
    """The unit's row as plain values."""
    with container.uow() as uow:
        return uow.session.execute(
            sa.select(
                Unit.code,
                Unit.name,
                Unit.kind,
                Unit.parent_id,
                Unit.responsibility,
                Unit.keywords,
                Unit.phone,
                Unit.active,
            ).where(Unit.id == unit_id)
        ).one()


def count(container: Container, model: type[Any]) -> int:
    with container.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    assert match, f"no error shown for {field_id}"
    return match.group(1)


def new_user_form(csrf: str, **fields: str) -> dict[str, str]:
    form = {
        "username": "wang",
        "display_name": "王五",
        "role": "operator",
        "unit": "",
        "password": "initial-pass-1",
        "csrf": csrf,
    }
    form.update(fields)
    return form


def unit_form(csrf: str, **fields: str) -> dict[str, str]:
    form = {
        "name": "城市管理局",
        "responsibility": "市容环境卫生、城市管理综合执法",
        "keywords": "占道经营 噪音",
        "phone": "0710-12345",
        "active": "1",
        "csrf": csrf,
    }
    form.update(fields)
    return form


# ---------------------------------------------------------------- access


@pytest.mark.parametrize("username", ["operator", "lead", "supervisor", "leader", "zjj"])
def test_every_admin_route_is_forbidden_to_other_roles(
    client: FlaskClient, world: World, container: Container, username: str
) -> None:
    csrf = sign_in(client, world, username)
    for path in ADMIN_GETS:
        assert client.get(path).status_code == 403, path
    for template in ADMIN_POSTS:
        path = template.format(user=world.users["cgj"], unit=world.units["cgj"])
        data = {"csrf": csrf, "active": "0", "name": "改名", "code": "x", "kind": "department"}
        assert client.post(path, data=data).status_code == 403, path
    assert user(container, "cgj").active is True
    assert unit(container, world.units["cgj"]).name == "城市管理局"


def test_signed_out_visitors_are_sent_to_the_sign_in_page(
    client: FlaskClient, world: World
) -> None:
    resp = client.get("/admin/units")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=/admin/units")


def test_admin_pages_render_for_the_admin(client: FlaskClient, world: World) -> None:
    sign_in(client, world)
    users = client.get("/admin/").get_data(as_text=True)
    assert "新建用户" in users and "zjj用户" in users and "住房和城乡建设局" in users
    assert "当前账号（不能停用）" in users
    units = client.get("/admin/units").get_data(as_text=True)
    assert "湖滨街道" in units and "东湖区" in units
    edit = client.get(f"/admin/units?edit={world.units['cgj']}").get_data(as_text=True)
    assert "编辑单位：城市管理局" in edit and "城市管理局职责" in edit


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    client: FlaskClient, world: World, container: Container
) -> None:
    sign_in(client, world)
    users_before = count(container, User)
    form = new_user_form("")
    del form["csrf"]
    create = client.post("/admin/users", data=form)
    deactivate = client.post(f"/admin/users/{world.users['cgj']}/active", data={"active": "0"})
    edit = client.post(f"/admin/units/{world.units['cgj']}", data=unit_form("forged"))
    assert [create.status_code, deactivate.status_code, edit.status_code] == [403, 403, 403]
    assert count(container, User) == users_before
    assert user(container, "cgj").active is True
    assert unit(container, world.units["cgj"]).responsibility == "城市管理局职责"
    assert audit(container, "admin_create_user") == []
    assert audit(container, "admin_deactivate_user") == []
    assert audit(container, "admin_update_unit") == []


# ---------------------------------------------------------------- users


def test_admin_creates_a_user_who_can_then_sign_in(
    app: Flask, client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    resp = client.post("/admin/users", data=new_user_form(csrf))
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/admin/"
    page = client.get("/admin/").get_data(as_text=True)
    assert "已创建用户 wang" in page and "王五" in page
    created = user(container, "wang")
    assert created is not None and created.role.value == "operator" and created.unit_id is None
    assert can_log_in(app, "wang", "initial-pass-1")
    assert audit(container, "admin_create_user") == [
        (
            world.users["admin"],
            {"user_id": created.id, "username": "wang", "role": "operator", "unit_id": None},
        )
    ]


def test_a_liaison_is_created_in_the_chosen_unit(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    form = new_user_form(csrf, username="cgj2", role="liaison", unit="cgj")
    assert client.post("/admin/users", data=form).status_code == 302
    assert user(container, "cgj2").unit_id == world.units["cgj"]


def test_a_duplicate_username_is_refused_next_to_the_field_and_nothing_is_written(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    users_before = count(container, User)
    resp = client.post("/admin/users", data=new_user_form(csrf, username="zjj"))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert field_error(html, "username") == "用户名已存在"
    assert 'id="username" name="username" type="text" value="zjj"' in html
    assert count(container, User) == users_before
    assert audit(container, "admin_create_user") == []


def test_a_liaison_without_unit_and_a_short_password_get_one_message_each(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    form = new_user_form(csrf, role="liaison", unit="", password="short")
    html = client.post("/admin/users", data=form).get_data(as_text=True)
    assert field_error(html, "unit") == "联络员必须属于一个已存在的单位"
    assert field_error(html, "password") == "密码至少10位"
    assert user(container, "wang") is None


def test_a_deactivated_user_loses_the_session_and_cannot_sign_in_again(
    app: Flask, client: FlaskClient, world: World, container: Container
) -> None:
    victim = app.test_client()
    sign_in(victim, world, "cgj")
    assert victim.get("/api/me").status_code == 200
    csrf = sign_in(client, world)
    resp = client.post(
        f"/admin/users/{world.users['cgj']}/active", data={"active": "0", "csrf": csrf}
    )
    assert resp.status_code == 302
    assert "已停用用户 cgj" in client.get("/admin/").get_data(as_text=True)
    assert victim.get("/api/me").status_code == 401
    assert not can_log_in(app, "cgj", world.password)
    assert audit(container, "admin_deactivate_user") == [
        (world.users["admin"], {"user_id": world.users["cgj"], "username": "cgj"})
    ]
    client.post(f"/admin/users/{world.users['cgj']}/active", data={"active": "1", "csrf": csrf})
    assert can_log_in(app, "cgj", world.password)
    assert len(audit(container, "admin_activate_user")) == 1


def test_a_deactivated_users_api_token_is_refused_by_this_process_at_once(
    client: FlaskClient, world: World
) -> None:
    bearer = {"Authorization": f"Bearer {world.tokens['cgj']}"}
    assert client.get("/api/me", headers=bearer).status_code == 200  # now cached
    csrf = sign_in(client, world)
    client.post(f"/admin/users/{world.users['cgj']}/active", data={"active": "0", "csrf": csrf})
    assert client.get("/api/me", headers=bearer).status_code == 401


def test_an_admin_cannot_deactivate_themself(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    resp = client.post(
        f"/admin/users/{world.users['admin']}/active", data={"active": "0", "csrf": csrf}
    )
    assert resp.status_code == 422
    assert "不能停用自己的账号，请由其他管理员操作" in resp.get_data(as_text=True)
    assert user(container, "admin").active is True
    assert audit(container, "admin_deactivate_user") == []


@pytest.mark.redis
def test_reset_password_shows_a_temporary_password_that_replaces_the_old_one(
    app: Flask, client: FlaskClient, world: World, container: Container, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    made = client.post(f"/admin/users/{world.users['zjj']}/password", data={"csrf": csrf})
    assert made.status_code == 302  # post/redirect/get: a reload resets nothing again
    resp = client.get(made.headers["Location"])
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    match = re.search(r'<code class="secret" id="temporary-password">([^<]+)</code>', resp.text)
    assert match is not None
    temporary = match.group(1)
    assert len(temporary) == 15
    assert can_log_in(app, "zjj", temporary)
    assert not can_log_in(app, "zjj", world.password)
    assert temporary not in client.get("/admin/").get_data(as_text=True)
    again = client.get(made.headers["Location"], follow_redirects=True)  # F5
    assert temporary not in again.text and "临时密码已显示过" in again.text
    assert can_log_in(app, "zjj", temporary)  # still the one shown
    assert audit(container, "admin_reset_password") == [
        (world.users["admin"], {"user_id": world.users["zjj"], "username": "zjj"})
    ]


def test_an_unknown_user_is_not_found(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, world)
    assert client.post("/admin/users/999999/password", data={"csrf": csrf}).status_code == 404
    resp = client.post("/admin/users/999999/active", data={"active": "0", "csrf": csrf})
    assert resp.status_code == 404


# ---------------------------------------------------------------- units


def test_unit_edit_saves_responsibility_and_keywords(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    form = unit_form(csrf, keywords="占道经营 噪音，油烟,占道经营、 渣土")
    resp = client.post(f"/admin/units/{world.units['cgj']}", data=form)
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/admin/units#unit-{world.units['cgj']}"
    saved = unit(container, world.units["cgj"])
    assert saved.responsibility == "市容环境卫生、城市管理综合执法"
    assert saved.keywords == ["占道经营", "噪音", "油烟", "渣土"]
    assert saved.phone == "0710-12345"
    assert "已保存单位 城市管理局" in client.get("/admin/units").get_data(as_text=True)
    [(actor, details)] = audit(container, "admin_update_unit")
    assert actor == world.users["admin"]
    assert details == {
        "unit_id": world.units["cgj"],
        "code": "cgj",
        "changed": {
            "responsibility": "市容环境卫生、城市管理综合执法",
            "keywords": ["占道经营", "噪音", "油烟", "渣土"],
            "phone": "0710-12345",
        },
    }


def test_unit_can_be_deactivated_from_the_edit_form(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    form = unit_form(csrf)
    del form["active"]  # an unticked checkbox is not sent
    client.post(f"/admin/units/{world.units['gdgs']}", data=form)
    assert unit(container, world.units["gdgs"]).active is False


def test_unit_edit_with_an_empty_name_is_refused_and_changes_nothing(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    resp = client.post(
        f"/admin/units/{world.units['cgj']}", data=unit_form(csrf, name="  ", phone="call me")
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert field_error(html, "edit-name") == "请填写单位名称"
    assert field_error(html, "edit-phone") == "电话只能包含数字、空格、+、-和括号，最多32位"
    assert "占道经营 噪音" in html  # what was typed is kept
    assert unit(container, world.units["cgj"]).responsibility == "城市管理局职责"
    assert audit(container, "admin_update_unit") == []


def test_a_new_street_under_a_district_is_added(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    form = {
        "code": "dh-xh",
        "name": "西湖街道",
        "kind": "street",
        "parent_id": str(world.units["dh"]),
        "csrf": csrf,
    }
    resp = client.post("/admin/units", data=form)
    assert resp.status_code == 302
    with container.uow() as uow:
        added_id = uow.session.scalar(sa.select(Unit.id).where(Unit.code == "dh-xh"))
    assert added_id is not None
    added = unit(container, added_id)
    assert (added.name, added.kind, added.parent_id) == (
        "西湖街道",
        UnitKind.STREET,
        world.units["dh"],
    )
    assert audit(container, "admin_create_unit") == [
        (
            world.users["admin"],
            {
                "unit_id": added_id,
                "code": "dh-xh",
                "name": "西湖街道",
                "kind": "street",
                "parent_id": world.units["dh"],
            },
        )
    ]


@pytest.mark.parametrize(
    ("kind", "parent", "message"),
    [
        ("street", "cgj", "街道的上级单位必须是区"),
        ("street", None, "街道的上级单位必须是区"),
        ("community", "dh", "社区的上级单位必须是街道"),
        ("department", "dh", "委办局、公共事业单位和区不设上级单位"),
        ("district", "dh", "委办局、公共事业单位和区不设上级单位"),
    ],
)
def test_a_parent_of_the_wrong_level_is_refused(
    client: FlaskClient,
    world: World,
    container: Container,
    kind: str,
    parent: str | None,
    message: str,
) -> None:
    csrf = sign_in(client, world)
    units_before = count(container, Unit)
    form = {
        "code": "new-unit",
        "name": "新单位",
        "kind": kind,
        "parent_id": str(world.units[parent]) if parent else "",
        "csrf": csrf,
    }
    resp = client.post("/admin/units", data=form)
    assert resp.status_code == 422
    assert field_error(resp.get_data(as_text=True), "new-parent") == message
    assert count(container, Unit) == units_before
    assert audit(container, "admin_create_unit") == []


def test_a_duplicate_code_and_an_empty_name_are_refused_next_to_their_fields(
    client: FlaskClient, world: World, container: Container
) -> None:
    csrf = sign_in(client, world)
    form = {"code": "cgj", "name": "", "kind": "department", "parent_id": "", "csrf": csrf}
    resp = client.post("/admin/units", data=form)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert field_error(html, "new-code") == "单位代码已存在"
    assert field_error(html, "new-name") == "请填写单位名称"
    assert count(container, Unit) == len(world.units)


def test_an_unknown_unit_is_not_found(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, world)
    assert client.post("/admin/units/999999", data=unit_form(csrf)).status_code == 404
    assert client.get("/admin/units?edit=999999").status_code == 404


# ---------------------------------------------------------------- settings


def test_settings_show_the_effective_clocks_from_the_config(
    client: FlaskClient, world: World
) -> None:
    sign_in(client, world)
    html = client.get("/admin/settings").get_data(as_text=True)
    assert "生效：签收 15分钟，回复 2小时" in html
    assert "生效：签收 1个工作日，回复 5个工作日" in html
    assert "默认" in html and "3个工作日" in html  # the enquiry override from config.yaml
    # the page speaks the hotline's words, not the configuration's
    for word in ("config.yaml", "HOTLINE_", "3wd", "wd/", "配置文件"):
        assert word not in html


def test_an_edited_clock_applies_to_new_tickets_only(
    client: FlaskClient, world: World, container: Container, api: Any
) -> None:
    before = api.dispatched("zjj", request_type="help", urgency="urgent")
    csrf = sign_in(client, world)
    resp = client.post(
        "/admin/settings/sla",
        data={"csrf": csrf, "request_type": "*", "urgency": "urgent", "sign": "45m", "reply": ""},
    )
    assert resp.status_code == 302
    after = api.dispatched("zjj", request_type="help", urgency="urgent")

    def sign_minutes(t: dict[str, Any]) -> float:
        clock = t["clocks"]["sign"]
        start = dt.datetime.fromisoformat(clock["start"])
        return (dt.datetime.fromisoformat(clock["due"]) - start).total_seconds() / 60

    assert sign_minutes(before) == 30
    assert sign_minutes(after) == 45
    html = client.get("/admin/settings").get_data(as_text=True)
    assert "生效：签收 45分钟，回复 24小时（已在此修改）" in html
    assert [d["outcome"] for _, d in audit(container, "admin_set_sla_rule")] == ["set"]

    client.post(
        "/admin/settings/sla",
        data={"csrf": csrf, "request_type": "*", "urgency": "urgent", "sign": "", "reply": ""},
    )
    assert sign_minutes(api.dispatched("zjj", request_type="help", urgency="urgent")) == 30


def test_a_type_rule_beats_the_urgency_rule(client: FlaskClient, world: World, api: Any) -> None:
    csrf = sign_in(client, world)
    for request_type, reply in (("*", "4wd"), ("complaint", "2wd")):
        client.post(
            "/admin/settings/sla",
            data={
                "csrf": csrf,
                "request_type": request_type,
                "urgency": "normal",
                "sign": "",
                "reply": reply,
            },
        )
    complaint = api.dispatched("zjj", request_type="complaint")
    help_ = api.dispatched("zjj", request_type="help")
    # Monday 10:00 + 2 working days -> Wednesday; + 4 working days -> Friday.
    assert complaint["clocks"]["reply"]["due"].startswith("2026-11-18T02:00")
    assert help_["clocks"]["reply"]["due"].startswith("2026-11-20T02:00")


def test_a_bad_duration_is_refused_next_to_the_field(
    client: FlaskClient, world: World, container: Container
) -> None:
    from dispatch.tickets.models import SlaRule

    csrf = sign_in(client, world)
    resp = client.post(
        "/admin/settings/sla",
        data={
            "csrf": csrf,
            "request_type": "complaint",
            "urgency": "normal",
            "sign": "two days",
            "reply": "",
        },
    )
    assert resp.status_code == 422
    assert field_error(resp.get_data(as_text=True), "sign") == (
        "请写数字加单位，如 30分钟、2小时、1个工作日、4个工作小时"
    )
    assert count(container, SlaRule) == 0


def test_a_clock_is_written_in_words(
    client: FlaskClient, world: World, container: Container
) -> None:
    from dispatch.tickets.models import SlaRule

    csrf = sign_in(client, world)
    resp = client.post(
        "/admin/settings/sla",
        data={
            "csrf": csrf,
            "request_type": "complaint",
            "urgency": "normal",
            "sign": "4个工作小时",
            "reply": "3 个工作日",
        },
    )
    assert resp.status_code == 302
    with container.uow() as uow:
        rule = uow.session.query(SlaRule).one()
        assert (rule.sign, rule.reply) == ("4wh", "3wd")
    assert "4个工作小时" in client.get("/admin/settings").get_data(as_text=True)


def test_a_declared_holiday_moves_working_day_clocks(
    client: FlaskClient, world: World, api: Any, container: Container
) -> None:
    csrf = sign_in(client, world)
    resp = client.post(
        "/admin/settings/calendar",
        data={"csrf": csrf, "day": "2026-11-17", "workday": "false", "note": "临时停工"},
    )
    assert resp.status_code == 302
    t = api.dispatched("zjj")  # Monday 10:00, sign within 1 working day; Tuesday is off now
    assert t["clocks"]["sign"]["due"].startswith("2026-11-18T02:00")
    assert "临时停工" in client.get("/admin/settings").get_data(as_text=True)
    client.post("/admin/settings/calendar/2026-11-17/delete", data={"csrf": csrf})
    assert api.dispatched("zjj")["clocks"]["sign"]["due"].startswith("2026-11-17T02:00")
    assert [d for _, d in audit(container, "admin_set_calendar_day")] == [
        {"day": "2026-11-17", "workday": False}
    ]


def test_a_bad_calendar_date_is_refused(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, world)
    resp = client.post(
        "/admin/settings/calendar",
        data={"csrf": csrf, "day": "2026-02-30", "workday": "false", "note": ""},
    )
    assert resp.status_code == 422
    assert field_error(resp.get_data(as_text=True), "day") == "日期格式应为 YYYY-MM-DD"


def test_the_tab_icon_is_served_to_anyone_and_cached(client: FlaskClient) -> None:
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/vnd.microsoft.icon"
    assert resp.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert resp.cache_control.max_age == 86400
