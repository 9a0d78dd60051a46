"""The knowledge base through its JSON API: writing, review, search, use, gaps, import.

Runs on SQLite and PostgreSQL (the `db_url` fixture), with the real index rebuilds.
"""

import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa

from hotline.bootstrap import Container
from kb.bulk import remind_owners
from kb.index import LiveIndex
from kb.index import index_pending
from kb.models import KbArticle
from kb.models import KbVersion
from tests.conftest import Api
from tests.conftest import World

SCHOOL = {
    "title": "义务教育阶段新生入学报名材料",
    "body": "适龄儿童入学报名需提供户口簿、房产证明或租赁合同、预防接种证。",
    "kind": "guide",
    "materials": "户口簿；房产证或租赁备案证明；预防接种证",
    "tags": ["入学", "小学"],
}
FUND = {
    "title": "住房公积金提取办事指南",
    "body": "职工购买自住住房、退休、离职可以申请提取住房公积金，需携带身份证和银行卡。",
    "kind": "guide",
}
LAMP = {"title": "路灯不亮怎么报修", "body": "城市道路路灯由城市管理局负责维修，可拨打热线报修。"}


def write(api: Api, body: dict[str, Any], as_: str = "admin", expect: int = 201) -> Any:
    resp = api.post("/api/kb/articles", body, as_=as_)
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def search(api: Api, q: str, as_: str = "operator", **params: Any) -> list[dict[str, Any]]:
    resp = api.get("/api/kb/search", as_=as_, query_string={"q": q, **params})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]  # type: ignore[no-any-return]


def put(api: Api, path: str, body: Any, as_: str) -> Any:
    return api.client.put(path, json=body, headers=api._headers(as_))


# ---------------------------------------------------------------- writing and review


def test_an_editors_article_is_live_at_once_and_found_with_its_words(
    api: Api, world: World
) -> None:
    made = write(api, SCHOOL)
    assert made == {"id": made["id"], "version": 1, "status": "published"}
    write(api, FUND)
    hits = search(api, "孩子上学要什么材料")
    assert hits[0]["id"] == made["id"]
    assert "材料" in hits[0]["words"] and hits[0]["kind_label"] == "办事指南"
    assert search(api, "公积金怎么提取")[0]["title"] == FUND["title"]
    # the exact title, and a one-character slip in it
    assert search(api, "住房公积金提取办事指南")[0]["title"] == FUND["title"]
    assert search(api, "住房公基金提取")[0]["title"] == FUND["title"]
    assert search(api, "火星探测器") == []


def test_a_units_article_waits_for_review_and_a_change_keeps_the_live_text(
    api: Api, world: World
) -> None:
    made = write(api, {**LAMP, "title": "物业维修资金使用"}, as_="zjj")
    assert made["status"] == "pending"
    article = api.get(f"/api/kb/articles/{made['id']}", as_="zjj").get_json()
    assert article["unit_id"] == world.units["zjj"]  # a liaison writes for their unit
    assert api.get(f"/api/kb/articles/{made['id']}").status_code == 404  # not live yet
    assert search(api, "物业维修资金") == []
    pending = api.get("/api/kb/reviews", as_="supervisor").get_json()["items"]
    assert [p["article_id"] for p in pending] == [made["id"]] and pending[0]["live"] is None
    version_id = pending[0]["id"]
    assert (
        api.post(f"/api/kb/versions/{version_id}/review", {"approve": True}, as_="zjj").status_code
        == 403
    )
    ok = api.post(f"/api/kb/versions/{version_id}/review", {"approve": True}, as_="supervisor")
    assert ok.status_code == 200 and ok.get_json()["status"] == "published"
    again = api.post(f"/api/kb/versions/{version_id}/review", {"approve": True}, as_="admin")
    assert again.status_code == 409
    assert search(api, "物业维修资金")[0]["id"] == made["id"]

    change = {**LAMP, "title": "物业维修资金使用（新）", "note": "更新流程"}
    assert put(api, f"/api/kb/articles/{made['id']}", change, "zjj2").status_code == 200
    live = api.get(f"/api/kb/articles/{made['id']}").get_json()
    assert live["title"] == "物业维修资金使用"  # the change is not live before review
    pending = api.get("/api/kb/reviews", as_="admin").get_json()["items"]
    assert pending[0]["live"]["title"] == "物业维修资金使用"
    refused = api.post(
        f"/api/kb/versions/{pending[0]['id']}/review", {"approve": False}, as_="admin"
    )
    assert refused.status_code == 422  # a refusal says why
    api.post(
        f"/api/kb/versions/{pending[0]['id']}/review",
        {"approve": False, "note": "请附上文件依据"},
        as_="admin",
    )
    history = api.get(f"/api/kb/articles/{made['id']}", as_="zjj").get_json()["versions"]
    assert [(v["number"], v["status"], v["review_note"]) for v in history] == [
        (1, "published", ""),
        (2, "rejected", "请附上文件依据"),
    ]
    # operators see only what was published
    seen = api.get(f"/api/kb/articles/{made['id']}").get_json()["versions"]
    assert [v["status"] for v in seen] == ["published"]


def test_a_unit_edits_only_its_own_articles_and_roles_are_checked(api: Api, world: World) -> None:
    mine = write(api, LAMP, as_="zjj")
    theirs = write(api, {**FUND, "unit_id": world.units["cgj"]})
    assert put(api, f"/api/kb/articles/{theirs['id']}", FUND, "zjj").status_code == 403
    assert put(api, f"/api/kb/articles/{mine['id']}", LAMP, "cgj").status_code in (403, 404)
    # a liaison cannot write for another unit, nor move an article to one
    other = write(api, {**LAMP, "unit_id": world.units["cgj"]}, as_="zjj", expect=403)
    assert other["error"] == "forbidden"
    moved = {**LAMP, "unit_id": world.units["cgj"]}
    assert put(api, f"/api/kb/articles/{mine['id']}", moved, "zjj").status_code == 403
    write(api, LAMP, as_="operator", expect=403)
    write(api, LAMP, as_="leader", expect=403)
    assert (
        api.post("/api/kb/synonyms", {"words": ["娃", "孩子"]}, as_="operator").status_code == 403
    )
    assert api.post("/api/kb/categories", {"name": "教育"}, as_="zjj").status_code == 403
    assert api.get("/api/kb/gaps", as_="operator").status_code == 403
    assert api.get("/api/kb/search?q=路灯", as_=None).status_code == 401


def test_bad_input_gets_field_errors_and_writes_nothing(api: Api, world: World) -> None:
    cases = [
        ({**LAMP, "title": ""}, "title"),
        ({**LAMP, "title": "长" * 201}, "title"),
        ({**LAMP, "body": "  "}, "body"),
        ({**LAMP, "kind": "poem"}, "kind"),
        ({**LAMP, "valid_from": "2026-13-01"}, "valid_from"),
        ({**LAMP, "valid_from": "2026-05-01", "valid_until": "2026-01-01"}, None),
        ({**LAMP, "category_id": 999}, "category_id"),
        ({**LAMP, "unit_id": 999}, "unit_id"),
        ({**LAMP, "tags": "一,二"}, "tags"),
        ({**LAMP, "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        resp = api.post("/api/kb/articles", body, as_="admin")
        assert resp.status_code == 422, (body, resp.get_json())
        data = resp.get_json()
        assert data["error"] == "validation_error" and data["message"]
        if field:
            assert field in data["details"]["fields"], data
        else:
            assert "失效日期不能早于生效日期" in str(data["details"])
    assert (
        api.client.post(
            "/api/kb/articles",
            data="{",
            headers={**api._headers("admin"), "Content-Type": "application/json"},
        ).status_code
        == 400
    )
    assert api.get("/api/kb/articles?kind=poem").status_code == 422
    assert api.get("/api/kb/search?q=x&k=0").status_code == 422
    assert api.get("/api/kb/articles", as_="admin").get_json()["total"] == 0
    assert put(api, "/api/kb/articles/999", LAMP, "admin").status_code == 404


# ---------------------------------------------------------------- synonyms, catalogue


def test_a_synonym_makes_a_colloquial_word_find_the_article(api: Api, world: World) -> None:
    made = write(api, SCHOOL)
    write(api, FUND)
    assert search(api, "娃读书") == []
    group = api.post("/api/kb/synonyms", {"words": ["儿童", "娃", "孩子"]}, as_="lead")
    assert group.status_code == 201
    api.post("/api/kb/synonyms", {"words": ["读书", "入学", "上学"]}, as_="lead")
    found = search(api, "娃读书")
    assert found[0]["id"] == made["id"] and "入学" in found[0]["words"]
    clash = api.post("/api/kb/synonyms", {"words": ["娃", "宝宝"]}, as_="lead")
    assert clash.status_code == 422 and "娃" in clash.get_json()["details"]["fields"]["words"]
    one = api.post("/api/kb/synonyms", {"words": ["娃", "娃"]}, as_="lead")
    assert one.status_code == 422
    gid = group.get_json()["id"]
    assert (
        api.client.delete(f"/api/kb/synonyms/{gid}", headers=api._headers("lead")).status_code
        == 204
    )
    assert all(h["id"] != made["id"] for h in search(api, "娃"))


def test_the_catalogue_is_a_tree_and_only_empty_nodes_go(api: Api, world: World) -> None:
    edu = api.post("/api/kb/categories", {"name": "教育"}, as_="admin").get_json()
    school = api.post(
        "/api/kb/categories", {"name": "义务教育入学", "parent_id": edu["id"]}, as_="admin"
    ).get_json()
    dup = api.post("/api/kb/categories", {"name": "教育"}, as_="admin")
    assert dup.status_code == 422
    write(api, {**SCHOOL, "category_id": school["id"]})
    tree = api.get("/api/kb/categories").get_json()["items"]
    assert [(c["path"], c["depth"], c["articles"]) for c in tree] == [
        ("教育", 0, 1),
        ("教育/义务教育入学", 1, 1),
    ]
    listed = api.get(f"/api/kb/articles?category_id={edu['id']}").get_json()
    assert listed["total"] == 1 and listed["items"][0]["category"] == "教育/义务教育入学"
    headers = api._headers("admin")
    assert api.client.delete(f"/api/kb/categories/{edu['id']}", headers=headers).status_code == 409
    assert (
        api.client.delete(f"/api/kb/categories/{school['id']}", headers=headers).status_code == 409
    )
    renamed = put(api, f"/api/kb/categories/{school['id']}", {"name": "小学入学"}, "admin")
    assert renamed.status_code == 200
    assert api.get("/api/kb/categories").get_json()["items"][1]["path"] == "教育/小学入学"


# ---------------------------------------------------------------- dates and reminders


def test_expired_and_overdue_articles_are_flagged_and_their_owners_reminded(
    api: Api, world: World, container: Container
) -> None:
    today = dt.date(2026, 11, 16)  # the tests' clock (T0) in Beijing
    old = write(api, {**FUND, "review_by": "2026-06-30", "unit_id": world.units["zjj"]})
    gone = write(api, {**LAMP, "valid_from": "2025-01-01", "valid_until": "2026-03-31"})
    fresh = write(api, {**SCHOOL, "review_by": "2027-06-30"})
    view = api.get(f"/api/kb/articles/{old['id']}").get_json()
    assert [f["label"] for f in view["flags"]] == ["逾期未复审"]
    assert [f["code"] for f in api.get(f"/api/kb/articles/{gone['id']}").get_json()["flags"]] == [
        "expired"
    ]
    flagged = api.get("/api/kb/articles?flagged=1").get_json()["items"]
    assert {a["id"] for a in flagged} == {old["id"], gone["id"]}
    now = dt.datetime(2026, 11, 16, 1, tzinfo=dt.UTC)
    reminded = remind_owners(container.uow(), today, now)
    assert reminded == {world.units["zjj"]: [old["id"]], None: [gone["id"]]}
    # the sweep runs daily; an owner is told again only a week later
    assert remind_owners(container.uow(), today, now + dt.timedelta(days=1)) == {}
    assert remind_owners(container.uow(), today, now + dt.timedelta(days=8)) != {}
    # updating the article (a new review date) clears it
    put(api, f"/api/kb/articles/{old['id']}", {**FUND, "review_by": "2027-12-31"}, "admin")
    assert api.get(f"/api/kb/articles/{old['id']}").get_json()["flags"] == []
    assert fresh["status"] == "published"


# ---------------------------------------------------------------- use and gaps


def test_using_an_article_on_a_ticket_counts_and_resolving_counts_again(
    api: Api, world: World
) -> None:
    article = write(api, FUND)
    ticket = api.create(request_type="enquiry", title="公积金怎么提取", content="想提取公积金")
    link = {"ticket_id": ticket["id"], "article_ids": [article["id"]]}
    made = api.post("/api/kb/links", link)
    assert made.status_code == 201 and made.get_json()["items"][0]["title"] == FUND["title"]
    api.post("/api/kb/links", link)  # twice is once
    usage = api.get(f"/api/kb/articles/{article['id']}").get_json()["usage"]
    assert usage == {"uses": 1, "resolved": 0}
    api.act(ticket["id"], "resolve_directly", {"answer": "已按知识库答复提取条件和材料"})
    usage = api.get(f"/api/kb/articles/{article['id']}").get_json()["usage"]
    assert usage == {"uses": 1, "resolved": 1}
    listed = api.get(f"/api/kb/links?ticket_id={ticket['id']}").get_json()["items"]
    assert [x["article_id"] for x in listed] == [article["id"]]
    assert api.post("/api/kb/links", link, as_="zjj").status_code == 403
    draft = write(api, LAMP, as_="zjj")
    bad = api.post("/api/kb/links", {"ticket_id": ticket["id"], "article_ids": [draft["id"]]})
    assert bad.status_code == 422
    assert (
        api.post("/api/kb/links", {"ticket_id": 999, "article_ids": [article["id"]]}).status_code
        == 404
    )


def test_articles_shown_but_not_used_on_a_dispatched_ticket_are_gaps(
    api: Api, world: World
) -> None:
    fund = write(api, {**FUND, "unit_id": world.units["zjj"]})
    lamp = write(api, LAMP)
    token = "form-gap-0001"
    search(api, "公积金", draft=token)
    search(api, "公积金提取不了", draft=token)  # one row per draft
    api.create(
        request_type="complaint",
        title="公积金提取不了",
        content="单位不给办理",
        client_token=token,
        dispatch={"lead_unit_id": world.units["zjj"]},
    )
    # a ticket answered with the article it was shown is no gap
    used = "form-used-0001"
    search(api, "路灯不亮", draft=used)
    t2 = api.create(request_type="help", title="路灯不亮", content="路灯坏了", client_token=used)
    api.post("/api/kb/links", {"ticket_id": t2["id"], "article_ids": [lamp["id"]]})
    api.act(t2["id"], "dispatch", {"lead_unit_id": world.units["cgj"]})
    search(api, "量子纠缠实验室")
    gaps = api.get("/api/kb/gaps", as_="supervisor").get_json()
    assert [(g["id"], g["failed"]) for g in gaps["failed"]] == [(fund["id"], 1)]
    assert gaps["failed"][0]["queries"] == ["公积金提取不了"]
    assert [u["query"] for u in gaps["unanswered"]] == ["量子纠缠实验室"]
    mine = api.get("/api/kb/gaps", as_="zjj").get_json()
    assert [g["id"] for g in mine["failed"]] == [fund["id"]] and mine["unanswered"] == []
    assert api.get("/api/kb/gaps", as_="cgj").get_json()["failed"] == []


# ---------------------------------------------------------------- index


def test_every_process_sees_a_change_at_its_next_search(
    api: Api, world: World, container: Container
) -> None:
    other = LiveIndex(container.session_factory)  # another web process
    assert len(other.current().index) == 0
    made = write(api, FUND)
    assert [h.id for h in other.current().index.search("公积金")] == [made["id"]]
    assert (
        api.post(
            f"/api/kb/articles/{made['id']}/archive", {"archived": True}, as_="admin"
        ).status_code
        == 200
    )
    assert other.current().index.search("公积金") == []
    assert search(api, "公积金") == []
    api.post(f"/api/kb/articles/{made['id']}/archive", {"archived": False}, as_="admin")
    assert [h.id for h in other.current().index.search("公积金")] == [made["id"]]
    # a new version replaces the old text; a synonym group reaches the other process too
    new = {"title": "公积金贷款额度", "body": "按缴存余额计算贷款额度。"}
    assert put(api, f"/api/kb/articles/{made['id']}", new, "admin").status_code == 200
    assert [h.id for h in other.current().index.search("贷款额度")] == [made["id"]]
    assert other.current().index.search("离职银行卡") == []
    api.post("/api/kb/synonyms", {"words": ["借款", "贷款"]}, as_="admin")
    assert other.current().synonyms.expand("借款") == ["贷款"]
    assert (
        api.post(
            f"/api/kb/articles/{made['id']}/archive", {"archived": "no"}, as_="admin"
        ).status_code
        == 422
    )


# ---------------------------------------------------------------- import and export


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(api: Api, name: str, data: bytes, as_: str = "admin") -> Any:
    return api.client.post(
        "/api/kb/import",
        data={"file": (io.BytesIO(data), name)},
        headers=api._headers(as_),
        content_type="multipart/form-data",
    )


def _count(container: Container) -> int:
    with container.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(KbArticle)) or 0


MARKDOWN = """# 社保卡补办
类型：办事指南
分类：社会保障/社保卡
单位：zjj
复审日期：2027-06-30
标签：社保卡、补办

社保卡丢失后先挂失，再到合作银行网点补办，工本费按规定收取。

# 失业保险金申领
类型：常见问题
分类：社会保障/失业保险

失业人员可在线申领失业保险金，需提供身份证和银行卡。
"""


def test_a_markdown_import_goes_live_and_is_indexed_by_the_job(
    api: Api, world: World, container: Container
) -> None:
    resp = _upload(api, "知识.md", MARKDOWN.encode())
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["created"] == 2
    tree = [c["path"] for c in api.get("/api/kb/categories").get_json()["items"]]
    assert tree == ["社会保障", "社会保障/社保卡", "社会保障/失业保险"]
    assert search(api, "社保卡丢了") == []  # not indexed until the job runs
    with container.uow() as uow:
        assert index_pending(uow.session) == 2
    hit = search(api, "社保卡丢了怎么办")[0]
    assert hit["title"] == "社保卡补办" and hit["unit_id"] == world.units["zjj"]


def test_a_malformed_file_is_refused_whole_with_every_problem_named(
    api: Api, world: World, container: Container
) -> None:
    bad = _xlsx(
        [
            ["标题", "正文", "生效日期"],
            ["好的一条", "正文", "2026-01-01"],
            ["", "没有标题", ""],
            ["日期错", "正文", "明年"],
        ]
    )
    resp = _upload(api, "坏.xlsx", bad)
    assert resp.status_code == 422
    data = resp.get_json()
    wheres = [p["where"] for p in data["details"]["problems"]]
    assert wheres == ["第3行", "第4行"], data
    assert _count(container) == 0
    unknown_unit = MARKDOWN.replace("单位：zjj", "单位：不存在的局")
    resp = _upload(api, "知识.md", unknown_unit.encode())
    assert resp.status_code == 422 and "不存在的局" in str(resp.get_json()["details"])
    assert _count(container) == 0
    for name, data_ in [("a.pdf", b"%PDF-1.4"), ("a.docx", b"not a zip"), ("a.xlsx", b"")]:
        resp = _upload(api, name, data_)
        assert resp.status_code == 422, (name, resp.get_json())
        assert resp.get_json()["message"]
    no_file = api.client.post("/api/kb/import", headers=api._headers("admin"))
    assert no_file.status_code == 422
    assert _count(container) == 0


def test_a_liaisons_import_waits_for_review_and_stays_in_their_unit(
    api: Api, world: World, container: Container
) -> None:
    # A liaison files under categories an editor made (a liaison cannot create them).
    social = api.post("/api/kb/categories", {"name": "社会保障"}, as_="admin").get_json()
    for name in ("社保卡", "失业保险"):
        api.post("/api/kb/categories", {"name": name, "parent_id": social["id"]}, as_="admin")
    resp = _upload(api, "知识.md", MARKDOWN.replace("单位：zjj\n", "").encode(), as_="zjj")
    assert resp.status_code == 201 and resp.get_json()["published"] is False
    with container.uow() as uow:
        rows = uow.session.execute(sa.select(KbArticle.unit_id, KbArticle.published)).all()
        pending = uow.session.scalar(sa.select(sa.func.count()).select_from(KbVersion))
    assert rows == [(world.units["zjj"], False)] * 2 and pending == 2
    assert (
        _upload(api, "知识.md", MARKDOWN.replace("zjj", "cgj").encode(), as_="zjj").status_code
        == 422
    )
    assert _upload(api, "知识.md", MARKDOWN.encode(), as_="operator").status_code == 403


def test_an_export_imports_again_as_the_same_articles(
    api: Api, world: World, container: Container
) -> None:
    _upload(api, "知识.md", MARKDOWN.encode())
    exported = api.get("/api/kb/export?format=xlsx", as_="admin")
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"].startswith("attachment")
    from kb.transfer import read_articles

    records = read_articles("x.xlsx", exported.data)
    assert [(r.title, r.category, r.unit) for r in records] == [
        ("社保卡补办", "社会保障/社保卡", "zjj"),
        ("失业保险金申领", "社会保障/失业保险", ""),
    ]
    md = api.get("/api/kb/export?format=md", as_="admin")
    assert read_articles("x.md", md.data) == records
    assert api.get("/api/kb/export?format=pdf", as_="admin").status_code == 422


@pytest.mark.redis
def test_the_index_job_runs_on_a_real_worker(
    api: Api, world: World, container: Container, real_redis: Any, db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from rq import Queue
    from rq import SimpleWorker

    resp = _upload(api, "知识.md", MARKDOWN.encode())
    assert resp.get_json()["index_job"] == "kb-reindex"
    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)
    SimpleWorker([Queue("kb", connection=real_redis)], connection=real_redis).work(burst=True)
    assert search(api, "失业保险金怎么领")[0]["title"] == "失业保险金申领"


# ---------------------------------------------------------------- jobs


def test_the_schedule_indexes_every_minute_and_reminds_daily(container: Container) -> None:
    import fakeredis

    from hotline.jobs import schedule
    from kb.jobs import reindex_kb
    from kb.jobs import remind_kb_owners

    jobs = {j.func: j for j in schedule(container.settings, fakeredis.FakeRedis()).get_jobs()}
    assert jobs[reindex_kb].interval == 60 and jobs[reindex_kb].queue_name == "kb"
    assert jobs[remind_kb_owners].cron == "0 0 * * *"  # 08:00 in Shanghai


def test_the_reminder_job_stamps_flagged_articles_once(
    api: Api, world: World, container: Container, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kb.jobs import remind_kb_owners

    old = write(api, {**FUND, "review_by": "2020-06-30", "unit_id": world.units["zjj"]})
    write(api, SCHOOL)
    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)
    monkeypatch.setenv("HOTLINE_WEB__LIVE_UPDATES_VIA_REDIS", "false")
    assert remind_kb_owners() == {str(world.units["zjj"]): [old["id"]]}
    assert remind_kb_owners() == {}  # daily runs: once a week per article
    with container.uow() as uow:
        stamped = uow.session.scalar(
            sa.select(KbArticle.reminded_at).where(KbArticle.id == old["id"])
        )
    assert stamped is not None


def test_an_import_with_redis_down_keeps_its_articles_for_the_cron_run(
    api: Api, world: World, container: Container
) -> None:
    import redis

    container._redis = redis.Redis(port=1, socket_connect_timeout=0.2)
    try:
        resp = _upload(api, "知识.md", MARKDOWN.encode())
    finally:
        container._redis = None
    assert resp.status_code == 201 and resp.get_json()["index_job"] is None
    assert _count(container) == 2
    with container.uow() as uow:  # what the minutely cron job does
        assert index_pending(uow.session) == 2
    assert search(api, "失业保险金")[0]["title"] == "失业保险金申领"
