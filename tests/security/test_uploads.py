"""Any zip named .docx passed for Word (issue 17, "Low"): now only a real package is taken.

The attack: upload a zip (or a zip bomb) named 现场.docx as a ticket attachment, or into the
knowledge-base import. A real Word file is a zip holding `[Content_Types].xml` and
`word/document.xml`, unpacking to at most 50 MB; anything else gets a Chinese message.
"""

import io
import zipfile
from typing import Any

import docx
import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from infra.ooxml import MAX_UNPACKED_BYTES
from tests.conftest import Api
from tests.conftest import World

pytestmark = pytest.mark.redis


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _word() -> bytes:
    document = docx.Document()
    document.add_paragraph("现场情况说明")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


PLAIN_ZIP = _zip({"payload.exe": b"MZ" + bytes(100), "readme.txt": b"hello"})
HALF_WORD = _zip({"[Content_Types].xml": b"<Types/>"})  # no word/document.xml
BOMB = _zip(
    {"[Content_Types].xml": b"<Types/>", "word/document.xml": bytes(MAX_UNPACKED_BYTES + 1)}
)


def _attach(api: Api, ticket_id: int, name: str, data: bytes) -> Any:
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(data), filename=name, content_type="application/msword")}
    )
    return api.client.post(
        f"/api/tickets/{ticket_id}/attachments",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=api._headers("zjj"),
    )


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (PLAIN_ZIP, "不是有效的 Word（.docx）文件"),
        (HALF_WORD, "不是有效的 Word（.docx）文件"),
        (BOMB, "文件解压后超过 50 MB"),
    ],
    ids=["zip", "half", "bomb"],
)
def test_a_zip_named_docx_is_no_ticket_attachment(
    api: Api, world: World, real_redis: Any, data: bytes, said: str
) -> None:
    assert len(BOMB) < 200_000
    ticket = api.signed("zjj")
    resp = _attach(api, ticket["id"], "现场.docx", data)
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"error", "message", "details"}
    assert said in str(body["details"]), body
    assert api.get(f"/api/tickets/{ticket['id']}", as_="zjj").get_json()["attachments"] == []


def test_a_real_word_file_is_still_a_ticket_attachment(
    api: Api, world: World, real_redis: Any
) -> None:
    ticket = api.signed("zjj")
    resp = _attach(api, ticket["id"], "说明.docx", _word())
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["content_type"].endswith("wordprocessingml.document")
    # the same file named .xlsx is not an Excel file
    resp = _attach(api, ticket["id"], "说明.xlsx", _word())
    assert resp.status_code == 422
    assert "不是有效的 Excel（.xlsx）文件" in str(resp.get_json()["details"]), resp.get_json()


@pytest.mark.parametrize("data", [PLAIN_ZIP, HALF_WORD, BOMB], ids=["zip", "half", "bomb"])
def test_a_zip_named_docx_is_refused_by_the_kb_import(
    api: Api, world: World, real_redis: Any, data: bytes
) -> None:
    resp = api.client.post(
        "/api/kb/import",
        data={"file": (io.BytesIO(data), "知识.docx")},
        headers=api._headers("admin"),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    (problem,) = resp.get_json()["details"]["problems"]
    assert problem["message"].startswith(("不是有效的 Word", "文件解压后超过"))
