"""Pages of the reports (报表): KPIs, unit ranking, hot topics and the weekly brief (周报).

Server-rendered with plain GET forms from the same code as the JSON API (reports.web): the
figures come from `reports.kpis`, `reports.ranking`, `reports.topics` and `reports.brief`;
this module reads the form, picks the defaults, and turns numbers into what people read.
Each page links to the API's Excel (or PDF / DOCX) of exactly what it shows. Only the brief's
立即生成并保存 needs script: it posts to the API with the session's CSRF token.

Bad input is shown on the page, in Chinese, with 422; nothing here writes.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask import render_template
from flask import request
from flask import url_for
from markupsafe import Markup

from agents_ui.dashboard import floor_names
from agents_ui.dashboard import fmt_seconds
from agents_ui.dashboard import fmt_share
from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from infra.http import current_actor
from kernel.actor import Actor
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.roles import Role
from reports import kpis as k
from reports.brief import weekly
from reports.brief.render import render_html
from reports.ranking import Level
from reports.ranking import Ranked
from reports.ranking import shortfall_text
from reports.services import MAX_YEAR
from reports.services import MIN_YEAR
from reports.services import example_tickets
from reports.services import local_midnight
from reports.services import parse_week
from reports.services import rank_period
from reports.services import week_text
from reports.topics.queries import hot_topics
from reports.web import BRIEF_ROLES
from reports.web import MAX_DAYS
from reports.web import READ_ROLES
from reports.web import ranking_period

bp = Blueprint("reports_pages", __name__, template_folder="templates", url_prefix="/reports")

Page = str | tuple[str, int]

KPI_FIELDS = {"from": "开始日期", "to": "结束日期", "unit": "单位", "by": "分组"}
GROUP_LABELS = {
    k.GroupBy.UNIT: "按承办单位",
    k.GroupBy.CATEGORY: "按事项分类（一级）",
    k.GroupBy.DISTRICT: "按区",
}
# The grouped table's columns: every KPI that exists per group (calls are not per group).
GROUP_KPIS = tuple(name for name in k.KPI_NAMES if name not in k.CALL_KPIS)
# The ranking's columns, after 派单.
RANKING_KPIS = (
    "on_time_sign_rate",
    "on_time_reply_rate",
    "overdue_rate",
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
)
LEVEL_LABELS = {Level.TOP: "一级单位（含下属单位）", Level.ALL: "全部单位"}
TRIGGER_LABELS = {"manual": "手动生成", "schedule": "定时生成", "cli": "命令行生成"}
FORMAT_LABELS = {"html": "HTML", "pdf": "PDF", "docx": "DOCX"}


# ---------------------------------------------------------------- shared


def _week_title(monday: dt.date) -> str:
    iso = monday.isocalendar()
    sunday = monday + dt.timedelta(days=6)
    return f"{iso.year}年第{iso.week}周（{monday:%Y年%m月%d日}—{sunday:%m月%d日}）"


def _last_full_week(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=today.weekday() + 7)


def _week_nav(endpoint: str, monday: dt.date, **extra: Any) -> dict[str, Any]:
    """Links to the week before and after (None outside the years weeks are parsed in)."""

    def link(day: dt.date) -> dict[str, str] | None:
        if not MIN_YEAR <= day.isocalendar().year <= MAX_YEAR:
            return None
        text = week_text(day)
        return {"week": text, "url": url_for(endpoint, week=text, **extra)}

    return {
        "week": week_text(monday),
        "title": _week_title(monday),
        "previous": link(monday - dt.timedelta(days=7)),
        "next": link(monday + dt.timedelta(days=7)),
    }


def _local_text(moment: dt.datetime) -> str:
    """A moment as people read it, in the hotline's time zone: 2026年11月24日 10:00."""
    local = moment.astimezone(container().dispatch.policy.calendar.tz)
    return f"{local:%Y年%m月%d日 %H:%M}"


def _period(first: dt.date, last: dt.date) -> k.Period:
    """The local days first..last (inclusive) as a KPI period judged now."""
    ctx = container().dispatch
    end = local_midnight(ctx, last + dt.timedelta(days=1))
    return k.Period(local_midnight(ctx, first), end, ctx.utcnow())


def _share_cell(figures: k.Figures, name: str) -> dict[str, Any]:
    """One KPI of some figures as people read it: value, the counts behind it, the formula."""
    f = k.FORMULAS[name]
    value = figures.kpis()[name]
    applies = figures.applies(name)
    part, whole = figures.counts[f.part], figures.counts[f.whole]
    note = None
    if not applies:
        note = "话务指标只统计热线整体" if name in k.CALL_KPIS else "直办率是热线自身的指标"
    better = "，越低越好" if f.lower_is_better else ""
    return {
        "name": name,
        "label": f.label,
        "value": fmt_share(value),
        "applies": applies,
        "part": part if applies else None,
        "whole": whole if applies else None,
        "formula": f.text,
        "note": note,
        "lower_is_better": f.lower_is_better,
        "title": f"{f.label} = {f.text}" + (f"：{part} ÷ {whole}" if applies else "") + better,
    }


# ---------------------------------------------------------------- 考核指标


@dataclass(frozen=True, slots=True)
class KpiQuery:
    first: dt.date
    last: dt.date
    unit_id: int | None
    group: k.GroupBy | None

    def args(self) -> dict[str, Any]:
        """The query string of this report, as the form and the API both read it."""
        out: dict[str, Any] = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        if self.unit_id is not None:
            out["unit"] = str(self.unit_id)
        if self.group is not None:
            out["by"] = self.group.value
        return out


def _date(raw: str, name: str, errors: dict[str, str]) -> dt.date | None:
    if not raw:
        errors[name] = f"请填写{KPI_FIELDS[name]}"
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"{KPI_FIELDS[name]}格式不正确：“{raw[:20]}”，应为 YYYY-MM-DD"
        return None


def _kpi_query(
    args: Mapping[str, str], actor: Actor, tree: Mapping[int, k.UnitNode], today: dt.date
) -> tuple[KpiQuery | None, dict[str, str], dict[str, str]]:
    """Read the form: the query (None when refused), the form's values, the field errors.

    Without dates, the current month so far. A liaison's unit is always their own.
    """
    if "from" not in args and "to" not in args:
        form = {"from": today.replace(day=1).isoformat(), "to": today.isoformat()}
    else:
        form = {"from": args.get("from", "").strip(), "to": args.get("to", "").strip()}
    form["unit"] = args.get("unit", "").strip()
    form["by"] = args.get("by", "").strip()
    errors: dict[str, str] = {}
    first = _date(form["from"], "from", errors)
    last = _date(form["to"], "to", errors)
    if first and last:
        if last < first:
            errors["to"] = "结束日期不能早于开始日期"
        elif (last - first).days >= MAX_DAYS:
            errors["to"] = f"时间跨度不能超过{MAX_DAYS}天"
    unit_id: int | None = None
    if actor.role is Role.LIAISON:
        if actor.unit_id is None:
            raise PermissionDenied("您的账号未关联承办单位，无法查看单位指标")
        if form["unit"] not in ("", str(actor.unit_id)):
            raise PermissionDenied("联络员只能查看本单位的指标", {"unit": form["unit"]})
        unit_id = actor.unit_id
        form["unit"] = str(unit_id)
    elif form["unit"]:
        raw = form["unit"]
        if not raw.isdecimal() or len(raw) > 9 or int(raw) not in tree:
            errors["unit"] = "所选单位不存在"
        else:
            unit_id = int(raw)
    group: k.GroupBy | None = None
    if form["by"]:
        try:
            group = k.GroupBy(form["by"])
        except ValueError:
            errors["by"] = "分组方式无效，可选：不分组、按承办单位、按事项分类、按区"
    if errors or first is None or last is None:
        return None, form, errors
    return KpiQuery(first, last, unit_id, group), form, errors


def unit_options(tree: Mapping[int, k.UnitNode], only: int | None = None) -> list[dict[str, Any]]:
    """Units for a select, each under its parent and indented by its level."""
    children: dict[int | None, list[k.UnitNode]] = {}
    for node in tree.values():
        parent = node.parent_id if node.parent_id in tree else None
        children.setdefault(parent, []).append(node)
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    todo: list[tuple[k.UnitNode, int]] = [
        (n, 0) for n in sorted(children.get(None, []), key=lambda n: n.id, reverse=True)
    ]
    while todo:
        node, depth = todo.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        if only is None or node.id == only:
            name = node.name + ("（已停用）" if not node.active else "")
            out.append({"id": node.id, "label": "\u3000" * depth + name, "depth": depth})
        below = sorted(children.get(node.id, []), key=lambda n: n.id, reverse=True)
        todo.extend((child, depth + 1) for child in below)
    return out


def _group_rows(report: k.KpiReport, tree: Mapping[int, k.UnitNode]) -> list[dict[str, Any]]:
    rows = []
    for row in report.rows:
        figures: k.Figures = row["figures"]
        parent = tree.get(row["parent_id"]) if row.get("parent_id") is not None else None
        rows.append(
            {
                "key": row["key"],
                "name": row["name"],
                "parent": parent.name if parent is not None else None,
                # 受理 is the hotline's: a unit's row shows a dash.
                "accepted": "—" if figures.for_unit else figures.counts["accepted"],
                "dispatched": figures.counts["dispatched"],
                "cells": [_share_cell(figures, name) for name in GROUP_KPIS],
            }
        )
    return rows


@bp.get("")
@page(*READ_ROLES, Role.LIAISON)
def kpis() -> Page:
    """考核指标: every KPI of a period, with its counts and formula; optionally grouped."""
    c = container()
    actor = current_actor()
    with c.uow() as uow:
        tree = k.unit_tree(uow.session)
    query, form, errors = _kpi_query(request.args, actor, tree, c.dispatch.today())
    liaison = actor.role is Role.LIAISON
    context: dict[str, Any] = {
        "form": form,
        "errors": errors,
        "fields": KPI_FIELDS,
        "units": unit_options(tree, actor.unit_id if liaison else None),
        "liaison": liaison,
        "groups": GROUP_LABELS,
        "report": None,
    }
    if query is None:
        return render_page("reports_kpis.html", **context), 422
    period = _period(query.first, query.last)
    report = k.compute(c.uow(), period, unit_id=query.unit_id, group=query.group)
    overall = report.overall
    context["report"] = {
        "title": f"{query.first:%Y年%m月%d日}—{query.last:%Y年%m月%d日}",
        "unit": report.unit.name if report.unit else None,
        "cells": [_share_cell(overall, name) for name in k.KPI_NAMES],
        "average_wait": fmt_seconds(overall.average_wait_seconds),
        "average_talk": fmt_seconds(overall.average_talk_seconds),
        "calls": overall.with_calls,
        "totals": overall.counts,
        "for_unit": overall.for_unit,
        "judged_at": _local_text(period.now),
        "group": GROUP_LABELS[query.group] if query.group else None,
        "group_kind": query.group.value if query.group else None,
        "rows": _group_rows(report, tree) if query.group else [],
        "group_headers": [k.FORMULAS[name].label for name in GROUP_KPIS],
        "export": url_for("reports.get_kpis", **query.args(), format="xlsx"),
    }
    return render_page("reports_kpis.html", **context)


# ---------------------------------------------------------------- 单位排名


def _ranked_row(r: Ranked) -> dict[str, Any]:
    return {
        "rank": r.rank,
        "unit": r.unit,
        "unit_id": r.unit_id,
        "dispatched": r.figures.counts["dispatched"],
        "cells": [_share_cell(r.figures, name) for name in RANKING_KPIS],
        "score": "—" if r.score is None else f"{r.score * 100:.1f}",
        "below_floor": r.below_floor,
        "short": "、".join(shortfall_text(r)),
        "follow_ups": r.figures.counts["valid_follow_ups"],
    }


def ranking_rule(weights: Mapping[str, float], min_sample: int) -> str:
    """How the ranking's score is made, as people read it."""
    parts = "、".join(f"{k.FORMULAS[name].label} {w:g}" for name, w in weights.items())
    text = f"综合得分 = Σ（权重 × 指标得分）÷ Σ 权重，满分 100。当前权重：{parts}。"
    lower = [k.FORMULAS[name].label for name in weights if name in k.LOWER_IS_BETTER]
    if lower:
        text += f"{'、'.join(lower)}越低越好，按（1 − 比率）计分。"
    return text + (
        f"每项计分指标都要有数据、且分母不少于{min_sample}件才参与排名；"
        "缺少数据或件数不足的单位列在“样本不足”，不排名，也不会排在有完整数据的单位前面。"
    )


@bp.get("/ranking")
@page(*READ_ROLES)
def ranking() -> Page:
    """单位排名: units by the configured weighted score, week or month; low satisfaction named."""
    c = container()
    settings = c.settings.reports
    today = c.dispatch.today()
    kind = request.args.get("period") or "week"
    form = {
        "period": kind,
        "week": (request.args.get("week") or "").strip() or week_text(_last_full_week(today)),
        "month": (request.args.get("month") or "").strip() or f"{today:%Y-%m}",
        "level": request.args.get("level") or Level.TOP.value,
    }
    floor_text = f"满意率低于{settings.satisfaction_floor * 100:.0f}%"
    context: dict[str, Any] = {
        "form": form,
        "levels": LEVEL_LABELS,
        "floor_text": floor_text,
        "headers": [k.FORMULAS[name].label for name in RANKING_KPIS],
        "rule": ranking_rule(settings.ranking_weights, settings.ranking_min_sample),
        "error": None,
    }
    try:
        level = Level(form["level"])
    except ValueError:
        level = None
        context["error"] = "单位范围无效，可选：一级单位、全部单位"
    try:
        period, kind, label = ranking_period()
    except ValidationError as exc:
        context["error"] = "；".join(exc.field_errors.values())
    if context["error"] is not None or level is None:
        return render_page("reports_ranking.html", **context), 422
    form[kind] = label
    ranked = rank_period(c.uow(), period, settings, level)
    below = floor_names(ranked)
    if kind == "week":
        monday = parse_week(label)
        title = _week_title(monday)
        nav = _week_nav("reports_pages.ranking", monday, period="week", level=level.value)
    else:
        title = f"{label[:4]}年{int(label[5:])}月"
        nav = None
    query: dict[str, Any] = {"period": kind, kind: label, "level": level.value}
    context.update(
        title=title,
        nav=nav,
        rows=[_ranked_row(r) for r in ranked if r.rank is not None],
        short_rows=[_ranked_row(r) for r in ranked if r.rank is None],
        below=below,
        judged_at=_local_text(period.now),
        export=url_for("reports.get_ranking", **query, format="xlsx"),
    )
    return render_page("reports_ranking.html", **context)


# ---------------------------------------------------------------- 热点分析


def _week_arg(default: dt.date) -> tuple[dt.date | None, str, str | None]:
    """The week of ?week= (else `default`): its Monday, the text asked, the error."""
    raw = (request.args.get("week") or "").strip()
    if not raw:
        return default, week_text(default), None
    try:
        return parse_week(raw), raw, None
    except ValueError as exc:
        return None, raw, str(exc)


def _ticket_links(ids: set[int]) -> dict[int, dict[str, Any]]:
    """Number and title of each ticket, for the example links."""
    c = container()
    return example_tickets(c.uow(), c.dispatch, ids)


@bp.get("/topics")
@page(*READ_ROLES)
def topics() -> Page:
    """热点分析: the week's hot topics, hot spots and rising keywords (default this week)."""
    c = container()
    today = c.dispatch.today()
    monday, asked, error = _week_arg(today - dt.timedelta(days=today.weekday()))
    if monday is None:
        return render_page("reports_topics.html", asked=asked, error=error, nav=None), 422
    period = _period(monday, monday + dt.timedelta(days=6))
    with c.uow() as uow:
        found = hot_topics(uow.session, period.start, period.end)
    ids = {i for t in found.topics for i in t.ticket_ids}
    ids |= {i for s in found.hot_spots for i in s.ticket_ids}
    links = _ticket_links(ids)
    return render_page(
        "reports_topics.html",
        asked=asked,
        error=None,
        nav=_week_nav("reports_pages.topics", monday),
        tickets=found.tickets,
        topics=[
            {
                "label": t.label,
                "keywords": t.keywords,
                "count": t.count,
                "category": t.category,
                "examples": [links[i] for i in t.ticket_ids if i in links],
            }
            for t in found.topics
        ],
        hot_spots=[
            {
                "place": s.place,
                "topic": s.topic,
                "count": s.count,
                "examples": [links[i] for i in s.ticket_ids if i in links],
            }
            for s in found.hot_spots
        ],
        rising=[
            {
                "keyword": r.keyword,
                "count": r.count,
                "baseline": f"{r.baseline:.1f}",
                "ratio": "新出现" if r.ratio is None else f"×{r.ratio:.1f}",
            }
            for r in found.rising
        ],
    )


# ---------------------------------------------------------------- 周报


def _kept_weeks() -> list[dict[str, Any]]:
    """The kept briefs (newest of each week and format), one row per week, newest first."""
    weeks: dict[str, dict[str, Any]] = {}
    for item in weekly.latest(container().uow()):
        row = weeks.setdefault(item["week"], {"week": item["week"], "formats": {}})
        row["formats"][item["format"]] = {
            **item,
            "url": url_for("reports.download_brief", brief_id=item["id"]),
            "trigger_label": TRIGGER_LABELS.get(item["trigger"], item["trigger"]),
            "size_text": f"{item['size'] / 1024:.0f} KB",
        }
    rows = sorted(weeks.values(), key=lambda r: r["week"], reverse=True)
    for row in rows:
        newest = max(row["formats"].values(), key=lambda f: f["created_at"])
        row["created_at"] = newest["created_at"]
        row["trigger_label"] = newest["trigger_label"]
    return rows


def _kept_context(week: str | None) -> dict[str, Any]:
    return {"kept": _kept_weeks(), "shown_week": week, "format_labels": FORMAT_LABELS}


@bp.get("/briefs")
@page(*READ_ROLES)
def briefs() -> Page:
    """周报: one week's brief built now and shown in the page, its downloads, the kept ones."""
    c = container()
    actor = current_actor()
    monday, asked, error = _week_arg(_last_full_week(c.dispatch.today()))
    can_keep = actor.role in BRIEF_ROLES
    if monday is None:
        html = render_page(
            "reports_briefs.html",
            asked=asked,
            error=error,
            nav=None,
            can_keep=can_keep,
            **_kept_context(None),
        )
        return html, 422
    week = week_text(monday)
    src = weekly.Sources(uow=c.uow, ctx=c.dispatch, settings=c.settings)
    # render_html escapes every text it is given (autoescape, StrictUndefined).
    article = Markup(render_html(weekly.gather(src, monday), standalone=False))
    return render_page(
        "reports_briefs.html",
        asked=asked,
        error=None,
        nav=_week_nav("reports_pages.briefs", monday),
        article=article,
        downloads=[
            (label, url_for("reports.render_brief", week=week, format=fmt))
            for fmt, label in (("pdf", "下载 PDF"), ("docx", "下载 DOCX"))
        ],
        can_keep=can_keep,
        **_kept_context(week),
    )


@bp.get("/briefs/kept")
@page(*READ_ROLES)
def kept_briefs() -> str:
    """The kept briefs' table alone: the brief page swaps it in after 立即生成并保存."""
    week = (request.args.get("week") or "").strip() or None
    return render_template("reports_briefs_kept.html", **_kept_context(week))
