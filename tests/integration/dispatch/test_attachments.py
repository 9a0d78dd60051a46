"""Files on tickets: what is accepted, who may add and read them, replies that cite them."""

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from hotline.app import create_app
from hotline.bootstrap import Container
from hotline.bootstrap import bootstrap
from infra.models import AuditEntry
from infra.settings import Settings
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _upload(api: Api, ticket_id: int, name: str, data: bytes, as_: str = "zjj") -> Any:
    # Encoded here: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(
        {
            "file": FileStorage(
                io.BytesIO(data), filename=name, content_type="application/octet-stream"
            )
        }
    )
    return api.client.post(
        f"/api/tickets/{ticket_id}/attachments",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=api._headers(as_),
    )


def test_unit_attaches_a_photo_and_cites_it_in_the_reply(api: Api) -> None:
    t = api.signed("zjj")
    resp = _upload(api, t["id"], "现场照片.png", _png())
    assert resp.status_code == 201
    photo = resp.get_json()
    assert (photo["filename"], photo["content_type"]) == ("现场照片.png", "image/png")
    t = api.act(
        t["id"], "reply", {"text": "已处理，见照片", "attachment_ids": [photo["id"]]}, as_="zjj"
    )
    assert t["events"][-1]["data"]["attachment_ids"] == [photo["id"]]
    assert [a["filename"] for a in t["attachments"]] == ["现场照片.png"]
    with api.get(photo["url"], as_="operator") as download:
        assert download.status_code == 200
        assert download.data == _png()
        assert download.headers["Content-Type"] == "image/png"
        assert "attachment" in download.headers["Content-Disposition"]


def test_downloads_work_when_the_instance_path_is_relative(
    settings: Settings,
    engine: sa.Engine,
    clock: Clock,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo's config says `instance_path: instance`: a file stored there must come back,
    not be looked for beside the package (which answered every download with a 500)."""
    monkeypatch.chdir(tmp_path)
    relative = bootstrap(dataclasses.replace(settings, instance_path="instance"), engine=engine)
    relative.dispatch.now = clock
    api = Api(create_app(container=relative).test_client(), world)
    t = api.signed("zjj")
    photo = _upload(api, t["id"], "现场.png", _png()).get_json()
    with api.get(photo["url"], as_="lead") as download:
        assert download.status_code == 200
        assert download.data == _png()
    assert (tmp_path / "instance" / "attachments").is_dir()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.png", _png()[:40], "图片已损坏或不完整"),
        ("evil.pdf", b"MZ\x90\x00 not a pdf", "只接受 JPG、PNG 图片和 PDF、DOCX、XLSX 文件"),
        (
            "script.html",
            b"<script>alert(1)</script>",
            "只接受 JPG、PNG 图片和 PDF、DOCX、XLSX 文件",
        ),
        ("empty.pdf", b"", "文件为空"),
    ],
)
def test_bad_files_are_refused_by_their_content(
    api: Api, container: Container, name: str, data: bytes, message: str
) -> None:
    t = api.signed("zjj")
    resp = _upload(api, t["id"], name, data)
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"]["file"] == message
    assert api.get(f"/api/tickets/{t['id']}").get_json()["attachments"] == []


def test_a_file_over_the_limit_is_refused(api: Api, container: Container) -> None:
    t = api.signed("zjj")
    big = b"%PDF-1.4\n" + b"0" * (container.attachments.max_bytes + 10)
    resp = _upload(api, t["id"], "big.pdf", big)
    assert resp.status_code in (413, 422)
    assert resp.get_json()["error"] in ("request_entity_too_large", "validation_error")
    assert api.get(f"/api/tickets/{t['id']}").get_json()["attachments"] == []


def test_json_requests_keep_the_small_body_limit(api: Api) -> None:
    resp = api.post(
        "/api/tickets", {"request_type": "help", "title": "x", "content": "长" * 600_000}
    )
    assert resp.status_code == 413


def test_other_units_can_neither_add_nor_read(api: Api) -> None:
    t = api.signed("zjj")
    assert _upload(api, t["id"], "x.pdf", b"%PDF-1.4 x", as_="cgj").status_code == 403
    photo = _upload(api, t["id"], "p.png", _png()).get_json()
    assert api.get(photo["url"], as_="cgj").status_code == 403
    with api.get(photo["url"], as_="zjj") as resp:
        assert resp.status_code == 200
    assert api.get(f"/api/tickets/{t['id']}/attachments/99999", as_="zjj").status_code == 404


def test_reply_cannot_cite_another_tickets_file(api: Api) -> None:
    first = api.signed("zjj")
    other = api.signed("zjj")
    photo = _upload(api, first["id"], "p.png", _png()).get_json()
    body = api.act(
        other["id"],
        "reply",
        {"text": "见附件", "attachment_ids": [photo["id"]]},
        as_="zjj",
        expect=422,
    )
    assert "attachment_ids" in body["details"]["fields"]


def test_downloads_are_audited(api: Api, container: Container) -> None:
    t = api.signed("zjj")
    photo = _upload(api, t["id"], "p.png", _png()).get_json()
    api.get(photo["url"], as_="supervisor").close()
    with container.uow() as uow:
        rows = uow.session.execute(
            sa.select(AuditEntry.user_id, AuditEntry.details).where(
                AuditEntry.action == "download_attachment"
            )
        ).all()
    assert [(r[0], r[1]) for r in rows] == [
        (api.world.users["supervisor"], {"attachment_id": photo["id"]})
    ]


def test_upload_without_a_file_field_is_named(api: Api) -> None:
    t = api.signed("zjj")
    resp = api.client.post(
        f"/api/tickets/{t['id']}/attachments", data={}, headers=api._headers("zjj")
    )
    assert resp.status_code == 422
    assert "file" in resp.get_json()["details"]["fields"]


def _reply_form(
    api: Api, ticket_id: int, fields: dict[str, str], files: list[tuple[str, bytes]], as_: str
) -> Any:
    body: dict[str, Any] = dict(fields)
    body["files"] = [
        FileStorage(io.BytesIO(data), filename=name, content_type="application/octet-stream")
        for name, data in files
    ]
    boundary, data = encode_multipart(body)
    return api.client.post(
        f"/api/tickets/{ticket_id}/actions/reply",
        data=data,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=api._headers(as_),
    )


def _stored(container: Container) -> list[Path]:
    root = Path(container.settings.instance_path) / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_refused_reply_keeps_none_of_its_files_and_a_retry_adds_them_once(
    api: Api, container: Container
) -> None:
    t = api.signed("zjj")
    files = [("现场.png", _png()), ("整改报告.pdf", PDF)]

    refused = _reply_form(api, t["id"], {"text": "   "}, files, "zjj")  # no text: refused

    assert refused.status_code == 422
    assert api.get(f"/api/tickets/{t['id']}").get_json()["attachments"] == []
    assert _stored(container) == []  # no orphan file either
    done = _reply_form(api, t["id"], {"text": "已修复，见照片和报告"}, files, "zjj")
    assert done.status_code == 200, done.get_json()
    view = done.get_json()
    assert sorted(a["filename"] for a in view["attachments"]) == ["整改报告.pdf", "现场.png"]
    assert view["status"] == "replied"
    assert view["events"][-1]["data"]["attachment_ids"] == [a["id"] for a in view["attachments"]]
    assert len(_stored(container)) == 2
    for a in view["attachments"]:
        with api.get(a["url"], as_="lead") as download:
            assert download.data == dict(files)[a["filename"]]


def test_one_bad_file_refuses_the_whole_reply(api: Api, container: Container) -> None:
    t = api.signed("zjj")

    resp = _reply_form(
        api, t["id"], {"text": "已处理"}, [("好.png", _png()), ("病毒.exe", b"MZ\x90")], "zjj"
    )

    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"]["file"].startswith("病毒.exe：只接受")
    view = api.get(f"/api/tickets/{t['id']}").get_json()
    assert (view["status"], view["attachments"]) == ("signed", [])
    assert _stored(container) == []


def test_another_units_reply_with_files_is_refused_and_stores_nothing(
    api: Api, container: Container
) -> None:
    t = api.signed("zjj")

    resp = _reply_form(api, t["id"], {"text": "我们来回复"}, [("a.png", _png())], "cgj")

    assert resp.status_code == 403
    assert _stored(container) == []


def test_a_reply_with_files_in_the_wrong_status_stores_nothing(
    api: Api, container: Container
) -> None:
    t = api.dispatched("zjj")  # not signed yet: 回复 is not possible

    resp = _reply_form(api, t["id"], {"text": "已处理"}, [("a.png", _png())], "zjj")

    assert resp.status_code == 409
    assert _stored(container) == []


def test_a_file_kept_by_an_earlier_reply_is_not_removed_by_a_refused_one(
    api: Api, container: Container
) -> None:
    first = api.signed("zjj")
    _reply_form(api, first["id"], {"text": "已处理"}, [("a.png", _png())], "zjj")
    second = api.signed("zjj")

    _reply_form(api, second["id"], {"text": ""}, [("a.png", _png())], "zjj")  # refused

    assert len(_stored(container)) == 1
    url = api.get(f"/api/tickets/{first['id']}").get_json()["attachments"][0]["url"]
    with api.get(url, as_="lead") as download:
        assert download.data == _png()


def test_uploads_are_held_to_the_file_limit_and_other_bodies_to_the_body_limit(
    settings: Settings, engine: sa.Engine, clock: Clock, world: World
) -> None:
    """Views marked `takes_files` take a file larger than web.max_body_bytes; a JSON body of
    that size anywhere else is refused with 413."""
    import os

    small = dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, max_body_bytes=64 * 1024)
    )
    c = bootstrap(small, engine=engine)
    c.dispatch.now = clock
    api = Api(create_app(container=c).test_client(), world)
    t = api.signed("zjj")
    noise = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert 64 * 1024 < len(out.getvalue()) < small.attachments.max_bytes
    assert _upload(api, t["id"], "大照片.png", out.getvalue()).status_code == 201
    big = api.client.post(
        "/api/tickets",
        json={"title": "噪音", "content": "很吵" * 40_000},
        headers=api._headers("operator"),
    )
    assert big.status_code == 413
    # a reply with its files may be larger than the body limit; a JSON reply may not
    reply = api.client.post(
        f"/api/tickets/{t['id']}/actions/reply",
        json={"text": "已处理" * 20_000},
        headers=api._headers("zjj"),
    )
    assert reply.status_code == 413
