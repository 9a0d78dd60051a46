"""`hotline kb import|reindex|search|export`: the knowledge base from the command line.

Commands act as the system (an admin without a user): imported articles go live at once.
"""

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kernel.errors import DomainError
from kernel.roles import Role

if TYPE_CHECKING:
    from kb.wiring import KbServices
    from kernel.actor import Actor


def _system() -> "Actor":
    from kernel.actor import Actor

    return Actor(user_id=None, role=Role.ADMIN, name="命令行")


def _container(ctx: click.Context) -> "KbServices":
    # imported here: `hotline --help` should not load the whole application
    from infra.assembly import build

    services: KbServices = build(ctx.obj)
    return services


def _fail(exc: DomainError) -> click.ClickException:
    lines = [exc.message]
    problems = exc.details.get("problems")
    for p in problems if isinstance(problems, list) else []:
        lines.append(f"  {p['where']}: {p['message']}")
    return click.ClickException("\n".join(lines))


@click.group("kb")
def kb_group() -> None:
    """Knowledge base (知识库): import, index, search, export."""


@kb_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-index", is_flag=True, help="只导入，由后台任务建立索引")
@click.pass_context
def kb_import(ctx: click.Context, path: Path, no_index: bool) -> None:
    """Import articles from a Markdown, DOCX or XLSX file (all or nothing) and index them."""
    from kb.bulk import import_articles
    from kb.index import index_pending
    from kb.transfer import read_articles

    container = _container(ctx)
    try:
        try:
            records = read_articles(path.name, path.read_bytes())
            result = import_articles(container.uow(), _system(), records)
        except DomainError as exc:
            raise _fail(exc) from exc
        indexed = 0
        if not no_index:
            with container.uow() as uow:
                indexed = index_pending(uow.session)
        click.echo(json.dumps({"created": result["created"], "indexed": indexed}))
    finally:
        container.close()


@kb_group.command("reindex")
@click.option("--all", "everything", is_flag=True, help="重建全部文章的索引（词典变化后）")
@click.option("--queue", is_flag=True, help="交给后台任务（hotline worker）执行")
@click.pass_context
def kb_reindex(ctx: click.Context, everything: bool, queue: bool) -> None:
    """Index the live articles not indexed yet (every one with --all)."""
    from kb.index import index_pending
    from kb.jobs import enqueue_kb_reindex

    container = _container(ctx)
    try:
        if queue:
            job = enqueue_kb_reindex(container.redis, everything)
            if job is None:
                raise click.ClickException("无法连接 Redis，任务未排队")
            click.echo(json.dumps({"queued": job}))
            return
        started = time.perf_counter()
        with container.uow() as uow:
            n = index_pending(uow.session, everything=everything)
        seconds = round(time.perf_counter() - started, 2)
        click.echo(json.dumps({"indexed": n, "seconds": seconds}))
    finally:
        container.close()


@kb_group.command("search")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True)
@click.pass_context
def kb_search(ctx: click.Context, query: str, k: int) -> None:
    """Search the live articles as an operator would; one line per hit."""
    container = _container(ctx)
    try:
        snap = container.kb_index.current()
        hits = snap.index.search(query, k=k, synonyms=snap.synonyms)
        if not hits:
            click.echo("没有找到匹配的知识")
        titles = {a.id: a.title for a in snap.index.articles}
        for rank, h in enumerate(hits, 1):
            click.echo(f"{rank}. [{h.id}] {titles[h.id]}  ({h.score:.2f}; {'、'.join(h.words)})")
    finally:
        container.close()


@kb_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "md"]), default="xlsx")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def kb_export(ctx: click.Context, fmt: str, out: Path) -> None:
    """Write every live article to an XLSX or Markdown file (importable again)."""
    from kb.articles import ArticleFilter
    from kb.bulk import export_records
    from kb.transfer import write_markdown
    from kb.transfer import write_xlsx

    container = _container(ctx)
    try:
        records = export_records(container.uow(), _system(), ArticleFilter())
    finally:
        container.close()
    if fmt == "md":
        out.write_text(write_markdown(records), encoding="utf-8")
    else:
        out.write_bytes(write_xlsx(records))
    click.echo(json.dumps({"articles": len(records), "out": str(out)}, ensure_ascii=False))
