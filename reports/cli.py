"""`hotline report weekly|kpis|sweep`: the briefs, the KPIs and the supervision sweep by hand."""

import datetime as dt
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from dispatch.wiring import DispatchServices
    from reports.brief.weekly import Sources


def _container(ctx: click.Context) -> "DispatchServices":
    # imported here: `hotline --help` should not load the whole application
    from infra.assembly import build

    services: DispatchServices = build(ctx.obj)
    return services


def _sources(container: "DispatchServices") -> "Sources":
    from reports.brief.weekly import Sources

    return Sources(uow=container.uow, ctx=container.dispatch, settings=container.settings)


def _monday(text: str | None, container: "DispatchServices") -> dt.date:
    from reports.services import parse_week

    if not text:
        today = container.dispatch.today()
        return today - dt.timedelta(days=today.weekday() + 7)  # last full week
    try:
        return parse_week(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None


@click.group("report")
def report_group() -> None:
    """Reports (报表): the weekly brief, KPIs, the supervision sweep."""


@report_group.command("weekly")
@click.option("--week", help="ISO 周次，如 2026-W47（默认上一个完整周）")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "pdf", "docx"]), default="pdf", show_default=True
)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="输出文件")
@click.option("--store", is_flag=True, help="同时以全部格式保存到系统中（周报页面可下载）")
@click.pass_context
def weekly_brief(
    ctx: click.Context, week: str | None, fmt: str, out: Path | None, store: bool
) -> None:
    """Build one week's brief (周报) as HTML, PDF or DOCX."""
    from reports.brief import weekly
    from reports.services import week_text

    container = _container(ctx)
    try:
        monday = _monday(week, container)
        target = out or Path(f"weekly-brief-{week_text(monday)}.{fmt}")
        started = time.perf_counter()
        body = weekly.build(_sources(container), monday, fmt)
        try:
            target.write_bytes(body)
        except OSError as exc:
            raise click.ClickException(f"无法写入 {target}：{exc.strerror}") from exc
        seconds = time.perf_counter() - started
        click.echo(
            f"{week_text(monday)} 周报已生成：{target}（{len(body)} 字节，{seconds:.1f} 秒）"
        )
        if store:
            kept = weekly.store(_sources(container), monday, trigger="cli")
            click.echo(f"已保存 {len(kept)} 个格式：{', '.join(k['format'] for k in kept)}")
    finally:
        container.close()


@report_group.command("kpis")
@click.option("--from", "first", required=True, help="开始日期 YYYY-MM-DD")
@click.option("--to", "last", required=True, help="结束日期 YYYY-MM-DD（含）")
@click.option("--unit", type=int, help="单位编号（含下级单位）")
@click.pass_context
def kpis_command(ctx: click.Context, first: str, last: str, unit: int | None) -> None:
    """Print the KPIs of a period as JSON (the same as GET /api/reports/kpis)."""
    from reports import kpis as k
    from reports.services import local_midnight

    try:
        start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except ValueError:
        raise click.BadParameter("日期格式应为 YYYY-MM-DD", param_hint="--from/--to") from None
    if end < start:
        raise click.BadParameter("结束日期不能早于开始日期", param_hint="--to")
    container = _container(ctx)
    try:
        c = container.dispatch
        period = k.Period(
            local_midnight(c, start), local_midnight(c, end + dt.timedelta(days=1)), c.utcnow()
        )
        report = k.compute(container.uow(), period, unit_id=unit)
        click.echo(json.dumps(report.overall.view(), ensure_ascii=False, indent=2))
    finally:
        container.close()


@report_group.command("sweep")
@click.pass_context
def sweep_command(ctx: click.Context) -> None:
    """Run the supervision sweep once (催办, 督办, 通报, 提级督办) and print what it did."""
    from dispatch.supervision.sweep import sweep
    from kernel.worktime import Duration

    container = _container(ctx)
    try:
        result = sweep(
            container.uow(),
            container.dispatch,
            notice_after=Duration.parse(container.settings.supervision.notice_after),
        )
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    finally:
        container.close()
