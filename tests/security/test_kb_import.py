"""A liaison cannot create knowledge-base categories through the import (issue 17, finding 12).

`POST /api/kb/categories` refuses a liaison (403); before the fix `POST /api/kb/import` with
a file naming a new 分类 created it anyway. Now a liaison's file may only use categories
that exist, and is refused whole (nothing created) otherwise; editors still create them.
"""

import io
from typing import Any

import pytest
import sqlalchemy as sa

from hotline.bootstrap import Container
from kb.models import KbArticle
from kb.models import KbCategory
from tests.conftest import Api
from tests.conftest import World

pytestmark = pytest.mark.redis

NEW_CATEGORY = """# 社保卡补办
类型：办事指南
分类：联络员自建/新目录

社保卡丢失后先挂失，再到合作银行网点补办。
"""


def _upload(api: Api, name: str, data: bytes, as_: str) -> Any:
    return api.client.post(
        "/api/kb/import",
        data={"file": (io.BytesIO(data), name)},
        headers=api._headers(as_),
        content_type="multipart/form-data",
    )


def _counts(container: Container) -> tuple[int, int]:
    with container.uow() as uow:
        s = uow.session
        categories = s.scalar(sa.select(sa.func.count()).select_from(KbCategory)) or 0
        articles = s.scalar(sa.select(sa.func.count()).select_from(KbArticle)) or 0
    return categories, articles


def test_a_liaison_cannot_create_categories_through_an_import(
    api: Api, world: World, container: Container, real_redis: Any
) -> None:
    assert api.post("/api/kb/categories", {"name": "联络员自建"}, as_="zjj").status_code == 403
    resp = _upload(api, "知识.md", NEW_CATEGORY.encode(), as_="zjj")
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["error"] == "validation_error" or body["error"]
    assert "联络员自建/新目录" in str(body["details"]) and "不存在" in str(body["details"])
    assert _counts(container) == (0, 0)
    # Half of the path existing is not enough either: the missing level would be created.
    api.post("/api/kb/categories", {"name": "联络员自建"}, as_="admin")
    assert _upload(api, "知识.md", NEW_CATEGORY.encode(), as_="zjj").status_code == 422
    assert _counts(container) == (1, 0)


def test_a_liaison_files_articles_under_existing_categories_and_editors_create_them(
    api: Api, world: World, container: Container, real_redis: Any
) -> None:
    parent = api.post("/api/kb/categories", {"name": "联络员自建"}, as_="admin").get_json()
    api.post("/api/kb/categories", {"name": "新目录", "parent_id": parent["id"]}, as_="admin")
    resp = _upload(api, "知识.md", NEW_CATEGORY.encode(), as_="zjj")
    assert resp.status_code == 201, resp.get_json()
    assert _counts(container) == (2, 1)
    editor = NEW_CATEGORY.replace("新目录", "管理员新目录").replace("社保卡补办", "另一篇")
    assert _upload(api, "知识.md", editor.encode(), as_="lead").status_code == 201
    assert _counts(container) == (3, 2)
