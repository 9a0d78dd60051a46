"""`hotline kb import|reindex|search|export`, in-process on both database backends."""

import json
from pathlib import Path

import sqlalchemy as sa

from hotline.bootstrap import Container
from kb.models import KbArticle
from kb.transfer import read_articles
from tests.integration.hotline.test_cli import run
from tests.integration.kb.test_kb import MARKDOWN


def _count(container: Container) -> int:
    with container.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(KbArticle)) or 0


def test_import_search_reindex_and_export(
    db_url: str, container: Container, world: object, tmp_path: Path
) -> None:
    source = tmp_path / "知识.md"
    source.write_text(MARKDOWN, encoding="utf-8")
    imported = run(db_url, "kb", "import", str(source))
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == {"created": 2, "indexed": 2}

    found = run(db_url, "kb", "search", "社保卡丢了怎么办", "-k", "1")
    assert found.exit_code == 0, found.output
    assert "社保卡补办" in found.stdout and found.stdout.startswith("1. [")
    nothing = run(db_url, "kb", "search", "量子纠缠实验室")
    assert "没有找到匹配的知识" in nothing.stdout

    again = run(db_url, "kb", "reindex", "--all")
    assert again.exit_code == 0 and json.loads(again.stdout)["indexed"] == 2

    out = tmp_path / "export.xlsx"
    exported = run(db_url, "kb", "export", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    titles = [r.title for r in read_articles(out.name, out.read_bytes())]
    assert titles == ["社保卡补办", "失业保险金申领"]


def test_a_malformed_import_names_each_problem_and_writes_nothing(
    db_url: str, container: Container, world: object, tmp_path: Path
) -> None:
    bad = tmp_path / "坏.md"
    bad.write_text(
        MARKDOWN.replace("复审日期：2027-06-30", "复审日期：下个月").replace(
            "单位：zjj", "单位：火星局"
        ),
        encoding="utf-8",
    )
    result = run(db_url, "kb", "import", str(bad))
    assert result.exit_code != 0
    assert "复审日期" in result.output and "未导入任何内容" in result.output
    assert _count(container) == 0
    unit = tmp_path / "单位.md"
    unit.write_text(MARKDOWN.replace("单位：zjj", "单位：火星局"), encoding="utf-8")
    result = run(db_url, "kb", "import", str(unit))
    assert result.exit_code != 0 and "火星局" in result.output
    assert _count(container) == 0
    missing = run(db_url, "kb", "import", str(tmp_path / "none.md"))
    assert missing.exit_code != 0
