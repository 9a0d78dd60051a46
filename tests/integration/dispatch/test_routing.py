"""Routing end to end on a hand-made catalogue: suggestions, auto-dispatch, duplicates, learning."""

import random
from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.routing.learning import history_examples
from dispatch.routing.learning import is_held_back
from dispatch.routing.learning import retrain
from dispatch.routing.models import Matter
from dispatch.routing.models import RoutingModel
from dispatch.routing.router import LOCAL
from dispatch.routing.router import Draft
from dispatch.routing.router import Example
from dispatch.routing.router import load_catalogue
from dispatch.tickets.models import Ticket
from hotline.bootstrap import Container
from tests.conftest import HOUSING
from tests.conftest import MATTERS
from tests.conftest import VENDOR
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World
from tests.conftest import history


def suggest(api: Api, as_: str = "operator", **body: Any) -> Any:
    return api.post("/api/routing/suggest", body, as_=as_)


# ---------------------------------------------------------------- cold start


def test_a_housing_complaint_goes_to_housing_from_the_catalogue_alone(
    api: Api, catalogue: World
) -> None:
    resp = suggest(api, **HOUSING)
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert data["model_version"] is None  # no history yet: the catalogue alone
    top = data["units"][0]
    assert top["unit_id"] == catalogue.units["zjj"] and top["name"] == "住房和城乡建设局"
    assert "电梯" in top["words"]
    assert len(data["units"]) == 3
    confidences = [u["confidence"] for u in data["units"]]
    assert confidences == sorted(confidences, reverse=True)
    assert data["categories"][0]["path"] == "城乡建设/物业管理/电梯"
    assert data["request_types"][0]["value"] == "complaint"


def test_a_street_vendor_with_an_address_goes_to_that_street(api: Api, catalogue: World) -> None:
    data = suggest(api, address="东湖区滨江路88号", **VENDOR).get_json()
    top = data["units"][0]
    assert top["unit_id"] == catalogue.units["dh-hb"] and top["local"]
    assert top["reason"] == "事项目录规定属地办理"
    assert data["locality"]["district"]["id"] == catalogue.units["dh"]
    assert data["locality"]["street"]["name"] == "湖滨街道"
    assert "滨江路" in data["locality"]["evidence"]
    assert data["categories"][0] == {
        "path": "城市管理/市容秩序/占道经营",
        "confidence": data["categories"][0]["confidence"],
        "local": True,
    }
    # The same matter in the other district goes to that district's street.
    other = suggest(api, address="松林路12号", **VENDOR).get_json()
    assert other["units"][0]["unit_id"] == catalogue.units["xs-cp"]


def test_a_local_matter_is_at_least_as_sure_as_its_category(api: Api, catalogue: World) -> None:
    # The catalogue says 占道经营 is the street's: the street's confidence is at least the
    # category's, and the other units share what is left (it used to be diluted below it).
    data = suggest(api, address="东湖区滨江路88号", **VENDOR).get_json()
    top, category = data["units"][0], data["categories"][0]
    assert category["local"] and top["local"]
    assert top["confidence"] >= category["confidence"]
    assert sum(u["confidence"] for u in data["units"]) <= 1.0001


def test_a_local_matter_without_a_place_asks_for_one(api: Api, catalogue: World) -> None:
    data = suggest(api, **VENDOR).get_json()
    top = data["units"][0]
    assert top["local"] and top["unit_id"] is None
    assert not data["auto_dispatch"]["dispatch"]


def test_the_locality_the_operator_chose_wins(api: Api, catalogue: World) -> None:
    data = suggest(
        api, address="滨江路88号", street_id=catalogue.units["xs-cp"], **VENDOR
    ).get_json()
    assert data["locality"]["street"]["id"] == catalogue.units["xs-cp"]
    assert data["locality"]["district"]["id"] == catalogue.units["xs"]
    assert data["units"][0]["unit_id"] == catalogue.units["xs-cp"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": "", "content": ""},
        {"title": "！！！", "content": "？？……，。"},
        {"title": "  "},
    ],
)
def test_a_draft_without_words_gets_a_clear_error(api: Api, catalogue: World, body: Any) -> None:
    resp = suggest(api, **body)
    assert resp.status_code == 422
    data = resp.get_json()
    assert data["error"] == "validation_error"
    assert "诉求内容" in data["message"] and "content" in data["details"]["fields"]


def test_a_very_long_or_mixed_script_draft_still_gets_suggestions(
    api: Api, catalogue: World
) -> None:
    long = suggest(api, title="电梯故障", content="电梯停运物业不管。" * 5_600)
    assert long.status_code == 200 and long.get_json()["truncated"] is True
    assert long.get_json()["units"][0]["unit_id"] == catalogue.units["zjj"]
    mixed = suggest(api, title="ＷｉＦｉ 停电了!! ١٢٣", content="Power cut 整栋楼停电 😡")
    assert mixed.status_code == 200
    assert mixed.get_json()["units"][0]["unit_id"] == catalogue.units["gdgs"]


def test_suggestions_are_for_the_front_desk_only(api: Api, catalogue: World) -> None:
    assert suggest(api, as_="zjj", **HOUSING).status_code == 403
    assert suggest(api, as_="leader", **HOUSING).status_code == 403
    assert suggest(api, as_=None, **HOUSING).status_code == 401
    assert suggest(api, as_="lead", **HOUSING).status_code == 200


def test_unknown_fields_are_refused(api: Api, catalogue: World) -> None:
    resp = suggest(api, body="电梯", **HOUSING)
    assert resp.status_code == 422 and "body" in resp.get_json()["details"]["fields"]


# ---------------------------------------------------------------- auto-dispatch


def _count(container: Container) -> int:
    with container.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) or 0)


def test_a_sure_suggestion_is_dispatched_at_once_and_says_why(
    api: Api, catalogue: World, container: Container
) -> None:
    container.assistant.router.threshold = 0.5
    ticket = api.create(auto_dispatch=True, **HOUSING)
    assert ticket["status"] == "dispatched"
    assert ticket["lead_unit"]["id"] == catalogue.units["zjj"]
    assert ticket["routing"]["dispatch"] is True
    assert "自动派单至住房和城乡建设局" in ticket["routing"]["reason"]
    event = ticket["events"][-1]
    assert event["event"] == "dispatch" and "依据" in event["reason"]
    with container.uow() as uow:
        row = uow.session.scalar(sa.select(Ticket).where(Ticket.id == ticket["id"]))
        assert row is not None
        data = row.events[-1].data
        assert data["auto"] is True and data["confidence"] >= 0.5 and "电梯" in data["words"]


def test_below_the_threshold_the_ticket_waits_for_the_operator(
    api: Api, catalogue: World, container: Container
) -> None:
    container.assistant.router.threshold = 0.999
    ticket = api.create(auto_dispatch=True, **HOUSING)
    assert ticket["status"] == "accepted" and ticket["lead_unit"] is None
    assert ticket["routing"]["dispatch"] is False
    assert "低于自动派单阈值 1.00" in ticket["routing"]["reason"]


def test_auto_dispatch_of_a_local_matter_fills_in_the_locality(
    api: Api, catalogue: World, container: Container
) -> None:
    container.assistant.router.threshold = 0.3
    ticket = api.create(auto_dispatch=True, address="阳光花园南门", **VENDOR)
    assert ticket["status"] == "dispatched"
    assert ticket["lead_unit"]["id"] == catalogue.units["dh-hb"]
    with container.uow() as uow:
        row = uow.session.get(Ticket, ticket["id"])
        assert row is not None
        assert (row.district_id, row.street_id) == (catalogue.units["dh"], catalogue.units["dh-hb"])


def test_auto_dispatch_can_be_switched_off(
    api: Api, catalogue: World, container: Container
) -> None:
    container.assistant.router.enabled = False
    ticket = api.create(auto_dispatch=True, **HOUSING)
    assert ticket["status"] == "accepted" and ticket["routing"]["reason"] == "自动派单未启用"


def test_choosing_two_next_steps_is_refused_and_writes_nothing(
    api: Api, catalogue: World, container: Container
) -> None:
    before = _count(container)
    body = {"request_type": "complaint", "auto_dispatch": True, "merge_into": 1, **HOUSING}
    resp = api.post("/api/tickets", body)
    assert resp.status_code == 422 and "只能选一项" in str(resp.get_json()["details"])
    assert _count(container) == before


# ---------------------------------------------------------------- duplicates and merge


def test_a_similar_open_ticket_from_the_same_caller_is_a_likely_duplicate(
    api: Api, catalogue: World, container: Container, clock: Clock
) -> None:
    first = api.create(caller_phone="13900001111", **HOUSING)
    clock.advance(hours=2)
    data = suggest(
        api,
        caller_phone="13900001111",
        title="电梯还是坏的",
        content="三号楼电梯故障停运，物业一直不修",
    ).get_json()
    assert [d["id"] for d in data["duplicates"]] == [first["id"]]
    dup = data["duplicates"][0]
    assert dup["same_caller"] and dup["number"] == first["number"]
    assert not data["auto_dispatch"]["dispatch"]
    # Another matter from the same caller is not a duplicate.
    other = suggest(api, caller_phone="13900001111", title="电费异常", content="这个月电费很高")
    assert other.get_json()["duplicates"] == []


def test_a_similar_ticket_at_the_same_street_is_a_duplicate_only_while_open_and_recent(
    api: Api, catalogue: World, container: Container, clock: Clock
) -> None:
    first = api.create(caller_phone="13900002222", street_id=catalogue.units["dh-hb"], **VENDOR)
    draft = {"caller_phone": "13700003333", "address": "滨江路90号", **VENDOR}
    found = suggest(api, **draft).get_json()["duplicates"]
    assert [d["id"] for d in found] == [first["id"]] and found[0]["same_place"] == "street"
    assert suggest(api, **{**draft, "address": "松林路1号"}).get_json()["duplicates"] == []
    clock.advance(days=8)  # outside the 7-day window
    assert suggest(api, **draft).get_json()["duplicates"] == []
    clock.advance(days=-8)
    api.act(first["id"], "resolve_directly", {"answer": "已告知城管"})
    assert suggest(api, **draft).get_json()["duplicates"] == []


def test_a_duplicate_is_accepted_and_merged_in_one_step(
    api: Api, catalogue: World, container: Container
) -> None:
    master = api.create(**HOUSING)
    dup = api.create(merge_into=master["id"], caller_phone="13600004444", **HOUSING)
    assert dup["status"] == "merged"
    master_now = api.get(f"/api/tickets/{master['id']}").get_json()
    assert master_now["events"][-1]["event"] == "merge"


def test_merging_into_a_missing_ticket_writes_nothing(
    api: Api, catalogue: World, container: Container
) -> None:
    before = _count(container)
    body = {"request_type": "complaint", "merge_into": 999_999, **HOUSING}
    resp = api.post("/api/tickets", body)
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"] == {"merge_into": "工单不存在"}
    assert _count(container) == before


# ---------------------------------------------------------------- learning


def test_confirmed_dispatches_and_corrections_become_examples(
    api: Api, catalogue: World, container: Container
) -> None:
    kept = api.signed("zjj", title="电梯故障", content="电梯停运")
    waiting = api.dispatched("zjj", title="物业费", content="物业费太高")
    wrong = api.dispatched("cgj", title="小区停电", content="整栋楼停电")
    api.act(wrong["id"], "return", {"reason_code": "not_ours", "reason": "供电公司负责"}, as_="cgj")
    api.act(wrong["id"], "reassign", {"lead_unit_id": catalogue.units["gdgs"]}, as_="lead")
    with container.uow() as uow:
        cat = load_catalogue(uow.session)
        examples = {e.ticket_id: e for e in history_examples(uow.session, cat)}
    assert examples[kept["id"]].target == "zjj" and examples[kept["id"]].weight == 1.0
    assert examples[waiting["id"]].target is None  # not yet confirmed by the unit
    corrected = examples[wrong["id"]]
    assert corrected.target == "gdgs" and corrected.weight == 2.0
    assert examples[kept["id"]].request_type == "complaint"


def test_retraining_keeps_a_model_only_if_it_is_not_worse(
    api: Api, catalogue: World, container: Container
) -> None:
    history(api, catalogue, 60)
    first = retrain(container.uow(), trigger="manual", user_id=catalogue.users["admin"])
    assert first.status == "active" and first.n_holdout == 6
    assert first.scores["candidate"]["target"]["n"] == 6
    container.assistant.router.invalidate()
    assert (
        suggest(api, title="停电", content="小区停电").get_json()["model_version"] == first.version
    )

    # A model trained on scrambled decisions scores worse on the held-back slice: refused.
    with container.uow() as uow:
        cat = load_catalogue(uow.session)
        real = history_examples(uow.session, cat)
    rng = random.Random(7)
    targets = [e.target for e in real if not is_held_back(e.ticket_id)]
    rng.shuffle(targets)
    it = iter(targets)
    scrambled = [
        e if is_held_back(e.ticket_id) else Example(e.ticket_id, e.doc, next(it), None, None)
        for e in real
    ]
    worse = retrain(container.uow(), trigger="manual", examples=scrambled)
    assert worse.status == "rejected" and "拒绝启用" in worse.note
    assert worse.scores["previous_version"] == first.version
    with container.uow() as uow:
        statuses = dict(uow.session.execute(sa.select(RoutingModel.id, RoutingModel.status)).all())
    assert statuses == {first.version: "active", worse.version: "rejected"}

    # Retraining on the real decisions again is at least as good: it replaces the live one.
    again = retrain(container.uow(), trigger="schedule")
    assert again.status == "active"
    with container.uow() as uow:
        assert uow.session.get(RoutingModel, first.version).status == "retired"  # type: ignore[union-attr]


def test_admins_see_the_versions_and_their_scores(
    api: Api, catalogue: World, container: Container
) -> None:
    history(api, catalogue, 30)
    retrain(container.uow(), trigger="cli")
    resp = api.get("/api/routing/models", as_="admin")
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["active"]["version"] == data["items"][0]["version"]
    candidate = data["active"]["scores"]["candidate"]
    assert {"target", "request_type"} <= set(candidate)
    assert 0 <= candidate["target"]["macro_f1"] <= 1
    assert api.get("/api/routing/models", as_="operator").status_code == 403
    assert api.get("/api/routing/models", as_="zjj").status_code == 403


def test_a_corrupt_saved_model_is_not_loaded(catalogue: World, container: Container) -> None:
    result = retrain(container.uow(), trigger="cli")
    with container.engine.begin() as conn:
        conn.execute(
            sa.update(RoutingModel).where(RoutingModel.id == result.version).values(sha256="0" * 64)
        )
    from dispatch.routing.learning import load_bundle

    with container.uow() as uow, pytest.raises(ValueError, match="corrupt"):
        load_bundle(uow.session, result.version)


def test_catalogue_examples_mark_local_matters(container: Container, catalogue: World) -> None:
    from dispatch.routing.router import catalogue_examples

    with container.uow() as uow:
        cat = load_catalogue(uow.session)
    examples = catalogue_examples(cat)
    vendor = [e for e in examples if e.category == "城市管理/市容秩序/占道经营"]
    assert vendor and all(e.target == LOCAL for e in vendor)
    assert {e.request_type for e in examples if e.request_type} >= {"enquiry", "complaint"}


def test_router_draft_locality_from_the_text(container: Container, catalogue: World) -> None:
    loc = container.assistant.router.locality(Draft(title="翠屏花园门口摆摊", content=""))
    assert loc.street_id == catalogue.units["xs-cp"]


# ---------------------------------------------------------------- jobs


@pytest.mark.redis
def test_retraining_is_queued_once_and_run_by_a_worker(
    api: Api,
    catalogue: World,
    container: Container,
    real_redis: Any,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rq import Queue
    from rq import SimpleWorker

    history(api, catalogue, 30)
    first = api.post("/api/routing/models", as_="admin")
    assert first.status_code == 202 and first.get_json()["queued"] is True
    second = api.post("/api/routing/models", as_="admin")
    assert second.get_json()["queued"] is False
    assert second.get_json()["job"]["id"] == first.get_json()["job"]["id"]
    assert api.post("/api/routing/models", as_="operator").status_code == 403

    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)
    queue = Queue("dispatch", connection=real_redis)
    SimpleWorker([queue], connection=real_redis).work(burst=True)
    versions = api.get("/api/routing/models", as_="admin").get_json()["items"]
    assert [(v["status"], v["trigger"]) for v in versions] == [("active", "manual")]
    with container.uow() as uow:
        audit = uow.session.execute(
            sa.text("SELECT action FROM audit_log WHERE action = 'routing.retrain'")
        ).all()
    assert len(audit) == 2


def test_the_schedule_retrains_on_the_configured_cron(container: Container) -> None:
    import fakeredis

    from dispatch.jobs import retrain_routing
    from hotline.jobs import schedule

    cron = schedule(container.settings, fakeredis.FakeRedis())
    [job] = [j for j in cron.get_jobs() if j.func is retrain_routing]
    assert job.cron == "30 18 * * *"  # 02:30 in Shanghai, in UTC for rq
    assert job.queue_name == "dispatch"


# ---------------------------------------------------------------- catalogue upkeep


def _admin_form(client: Any, world: World) -> str:
    resp = client.post("/api/auth/login", json={"username": "admin", "password": world.password})
    assert resp.status_code == 200
    with client.session_transaction() as s:
        return str(s["csrf"])


def test_admin_adds_a_local_matter_and_routing_follows_at_once(
    client: Any, api: Api, catalogue: World, container: Container
) -> None:
    noise = {
        "title": "广场舞音响太吵",
        "content": "每晚广场舞噪音扰民到十点",
        "address": "滨江路1号",
    }
    before = suggest(api, **noise).get_json()["categories"]
    assert all(c["path"] != "环境保护/噪声污染/广场舞噪声" for c in before)
    csrf = _admin_form(client, catalogue)
    resp = client.post(
        "/admin/routing/matters",
        data={
            "csrf": csrf,
            "path": "环境保护／噪声污染/广场舞噪声",
            "local": "1",
            "keywords": "广场舞 音响，噪音扰民",
        },
    )
    assert resp.status_code == 302
    after = suggest(api, **noise).get_json()
    assert after["categories"][0] == {
        "path": "环境保护/噪声污染/广场舞噪声",
        "confidence": after["categories"][0]["confidence"],
        "local": True,
    }
    assert after["units"][0]["unit_id"] == catalogue.units["dh-hb"]
    page = client.get("/admin/routing").get_data(as_text=True)
    assert "环境保护/噪声污染/广场舞噪声" in page and "广场舞、音响、噪音扰民" in page
    with container.uow() as uow:
        actions = uow.session.execute(
            sa.text("SELECT details FROM audit_log WHERE action = 'admin_save_matter'")
        ).all()
    assert len(actions) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"path": "", "unit_id": "zjj"}, "path", "请填写事项分类"),
        ({"path": "城市管理//占道", "unit_id": "zjj"}, "path", "至少两级"),
        ({"path": "单级事项", "unit_id": "zjj"}, "path", "至少两级"),
        ({"path": "城市管理/摆摊", "unit_id": ""}, "unit_id", "请选择主管部门"),
        ({"path": "城市管理/摆摊", "unit_id": "dh-hb"}, "unit_id", "委办局或公共事业单位"),
        ({"path": "城市管理/摆摊", "unit_id": "zjj", "local": "1"}, "unit_id", "不指定主管部门"),
    ],
)
def test_a_bad_matter_is_refused_with_the_reason_and_nothing_saved(
    client: Any,
    catalogue: World,
    container: Container,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    csrf = _admin_form(client, catalogue)
    form = dict(data)
    if form.get("unit_id"):
        form["unit_id"] = str(catalogue.units[form["unit_id"]])
    resp = client.post("/admin/routing/matters", data={"csrf": csrf, **form})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f'id="matter-{field}-error"' in html and message in html
    with container.uow() as uow:
        count = uow.session.scalar(sa.select(sa.func.count()).select_from(Matter))
    assert count == len(MATTERS)


def test_places_an_admin_adds_to_a_street_are_found_in_addresses(
    client: Any, api: Api, catalogue: World
) -> None:
    assert suggest(api, address="青年路8号", **VENDOR).get_json()["locality"]["street"] is None
    csrf = _admin_form(client, catalogue)
    street = catalogue.units["xs-cp"]
    resp = client.post(
        f"/admin/units/{street}",
        data={
            "csrf": csrf,
            "name": "翠屏街道",
            "responsibility": "属地事务",
            "keywords": "占道经营",
            "phone": "",
            "places": "松林路 青年路，翠屏花园",
            "active": "1",
        },
    )
    assert resp.status_code == 302
    found = suggest(api, address="青年路8号", **VENDOR).get_json()
    assert found["locality"]["street"]["id"] == street
    assert found["units"][0]["unit_id"] == street


# ---------------------------------------------------------------- failures


def test_a_corrupt_live_model_falls_back_to_the_catalogue(
    api: Api, catalogue: World, container: Container
) -> None:
    result = retrain(container.uow(), trigger="cli")
    with container.engine.begin() as conn:
        conn.execute(
            sa.update(RoutingModel).where(RoutingModel.id == result.version).values(sha256="0" * 64)
        )
    container.assistant.router.invalidate()
    data = suggest(api, **HOUSING).get_json()
    assert data["model_version"] is None  # routing from the catalogue alone
    assert data["units"][0]["unit_id"] == catalogue.units["zjj"]


def test_a_routing_failure_never_loses_the_ticket(
    api: Api, catalogue: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("model exploded")

    monkeypatch.setattr(container.assistant.router, "suggest", broken)
    ticket = api.create(auto_dispatch=True, **HOUSING)
    assert ticket["status"] == "accepted"
    assert ticket["routing"]["dispatch"] is False and "暂不可用" in ticket["routing"]["reason"]
    resp = suggest(api, **HOUSING)
    assert resp.status_code == 500 and resp.get_json()["error"] == "internal_error"
