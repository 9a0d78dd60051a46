"""JSON API of the reports: KPIs, unit ranking, hot topics, weekly briefs, Excel exports.

Parse, call `reports.*`, serialise; no formulas here. Liaisons may read their own unit's
KPIs; everything else is for the hotline's leads, supervisors, leaders and admins.
"""

import calendar
import dataclasses
import datetime as dt
import re
from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from dispatch.wiring import container
from infra.audit import audit_act
from infra.http import current_actor
from infra.http import login_required
from infra.models import Unit
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.roles import Role
from reports import export
from reports import kpis as k
from reports.brief import weekly
from reports.ranking import Level
from reports.ranking import ranked_view
from reports.services import local_midnight
from reports.services import parse_week
from reports.services import rank_period
from reports.services import week_text

bp = Blueprint("reports", __name__, url_prefix="/api/reports")

READ_ROLES = (Role.TEAM_LEAD, Role.SUPERVISOR, Role.LEADER, Role.ADMIN)
# A brief is built on demand by those who circulate it.
BRIEF_ROLES = (Role.SUPERVISOR, Role.LEADER, Role.ADMIN)
MAX_DAYS = 3 * 366
EXPORT_LIMIT = 20_000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# ---------------------------------------------------------------- parsing


def _date(name: str, errors: dict[str, str]) -> dt.date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        errors[name] = "必填，格式为 YYYY-MM-DD"
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"日期格式不正确：“{raw[:20]}”，应为 YYYY-MM-DD"
        return None


def _choice(name: str, enum_cls: Any, default: Any) -> Any:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        return enum_cls(raw)
    except ValueError:
        raise ValidationError(
            {name: f"取值无效，可选：{', '.join(m.value for m in enum_cls)}"}, "查询参数有误"
        ) from None


def _unit_id(errors: dict[str, str]) -> int | None:
    raw = (request.args.get("unit") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        errors["unit"] = "应为单位编号（正整数）"
        return None
    return int(raw)


def days_period(first: dt.date, last: dt.date) -> k.Period:
    """The local days first..last (inclusive) as a KPI period judged now."""
    ctx = container().dispatch
    return k.Period(
        local_midnight(ctx, first), local_midnight(ctx, last + dt.timedelta(days=1)), ctx.utcnow()
    )


def parse_kpi_query() -> tuple[k.Period, int | None, k.GroupBy | None, dict[str, Any]]:
    """from, to (inclusive local dates), unit, by; checked against the actor's rights."""
    errors: dict[str, str] = {}
    first, last = _date("from", errors), _date("to", errors)
    unit_id = _unit_id(errors)
    unknown = sorted(set(request.args) - {"from", "to", "unit", "by", "format"})
    for name in unknown:
        errors[name] = "不支持的查询参数"
    if first and last:
        if last < first:
            errors["to"] = "结束日期不能早于开始日期"
        elif (last - first).days >= MAX_DAYS:
            errors["to"] = f"时间跨度不能超过{MAX_DAYS}天"
    if errors:
        raise ValidationError(errors, "查询参数有误")
    assert first is not None and last is not None
    group = _choice("by", k.GroupBy, None)
    actor = current_actor()
    if actor.role is Role.LIAISON:
        if unit_id is not None and unit_id != actor.unit_id:
            raise PermissionDenied("联络员只能查看本单位的指标", {"unit": unit_id})
        unit_id = actor.unit_id
    c = container()
    if unit_id is not None:
        with c.uow() as uow:
            if uow.session.get(Unit, unit_id) is None:
                raise NotFound("单位不存在", {"unit": unit_id})
    scope = {"from": first.isoformat(), "to": last.isoformat(), "unit": unit_id}
    return days_period(first, last), unit_id, group, scope


def report_view(report: k.KpiReport, scope: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "from": scope["from"],
        "to": scope["to"],
        "unit": {"id": report.unit.id, "name": report.unit.name} if report.unit else None,
        # Outcomes are read from every event up to this moment (docs/reports.md).
        "judged_at": report.period.now.isoformat(),
        **report.overall.view(),
        "formulas": {
            name: {
                "label": f.label,
                "formula": f.text,
                "part": f.part,
                "whole": f.whole,
                "lower_is_better": f.lower_is_better,
            }
            for name, f in k.FORMULAS.items()
        },
    }
    if report.group is not None:
        view["by"] = report.group.value
        view["rows"] = [
            {"key": row["key"], "name": row["name"], **row["figures"].view()} for row in report.rows
        ]
    return view


# ---------------------------------------------------------------- KPIs


@bp.get("/kpis")
@login_required(*READ_ROLES, Role.LIAISON)
def get_kpis() -> Response:
    """Every KPI of DOMAIN.md for the days from..to, overall or for one unit, with counts."""
    period, unit_id, group, scope = parse_kpi_query()
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "xlsx"):
        raise ValidationError({"format": "取值无效，可选：json, xlsx"}, "查询参数有误")
    report = k.compute(container().uow(), period, unit_id=unit_id, group=group)
    if fmt == "xlsx":
        title = f"考核指标 {scope['from']} 至 {scope['to']}"
        body = export.kpis_xlsx(report, title)
        name = f"kpis-{scope['from']}-{scope['to']}.xlsx"
        return _download(body, export.MEDIA_TYPE, name)
    return jsonify(report_view(report, scope))


def _download(body: bytes, media_type: str, filename: str) -> Response:
    response = Response(body, mimetype=media_type.split(";")[0])
    if ";" in media_type:
        response.headers["Content-Type"] = media_type
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------- ranking


def ranking_period() -> tuple[k.Period, str, str]:
    """period=week (week=YYYY-Www, default last full week) or month (month=YYYY-MM)."""
    ctx = container().dispatch
    kind = request.args.get("period") or "week"
    today = ctx.today()
    if kind == "week":
        raw = (request.args.get("week") or "").strip()
        try:
            monday = parse_week(raw) if raw else today - dt.timedelta(days=today.weekday() + 7)
        except ValueError as exc:
            raise ValidationError({"week": str(exc)}, "查询参数有误") from None
        label = week_text(monday)
        return days_period(monday, monday + dt.timedelta(days=6)), "week", label
    if kind == "month":
        raw = (request.args.get("month") or "").strip()
        if raw:
            match = _MONTH.match(raw)
            if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1970:
                raise ValidationError(
                    {"month": f"月份格式不正确：“{raw[:20]}”，应为 2026-11"}, "查询参数有误"
                )
            year, month = int(match[1]), int(match[2])
        else:
            year, month = today.year, today.month
        first = dt.date(year, month, 1)
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        return days_period(first, last), "month", f"{year}-{month:02d}"
    raise ValidationError({"period": "取值无效，可选：week, month"}, "查询参数有误")


@bp.get("/ranking")
@login_required(*READ_ROLES)
def get_ranking() -> Response:
    """Units ranked by the configured weighted score; those below the satisfaction floor named."""
    period, kind, label = ranking_period()
    level = _choice("level", Level, Level.TOP)
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "xlsx"):
        raise ValidationError({"format": "取值无效，可选：json, xlsx"}, "查询参数有误")
    c = container()
    settings = c.settings.reports
    ranked = rank_period(c.uow(), period, settings, level)
    if fmt == "xlsx":
        body = export.ranking_xlsx(
            ranked,
            f"承办单位排名（{label}）",
            settings.ranking_weights,
            settings.ranking_min_sample,
        )
        return _download(body, export.MEDIA_TYPE, f"ranking-{label}.xlsx")
    return jsonify(
        {
            "period": kind,
            "label": label,
            "level": level.value,
            "judged_at": period.now.isoformat(),
            "weights": settings.ranking_weights,
            "lower_is_better": sorted(set(settings.ranking_weights) & k.LOWER_IS_BETTER),
            "min_sample": settings.ranking_min_sample,
            "satisfaction_floor": settings.satisfaction_floor,
            "items": [ranked_view(r) for r in ranked],
            "ranked": [r.unit for r in ranked if r.rank is not None],
            "insufficient": [r.unit for r in ranked if r.rank is None],
            "below_floor": [r.unit for r in ranked if r.below_floor],
        }
    )


# ---------------------------------------------------------------- topics


def _week_arg() -> dt.date:
    ctx = container().dispatch
    raw = (request.args.get("week") or "").strip()
    if not raw:
        today = ctx.today()
        return today - dt.timedelta(days=today.weekday())
    try:
        return parse_week(raw)
    except ValueError as exc:
        raise ValidationError({"week": str(exc)}, "查询参数有误") from None


@bp.get("/topics")
@login_required(*READ_ROLES)
def get_topics() -> Response:
    """Hot topics, hot spots and rising topics of one ISO week (default this week)."""
    from reports.topics.queries import hot_topics

    monday = _week_arg()
    period = days_period(monday, monday + dt.timedelta(days=6))
    c = container()
    with c.uow() as uow:
        found = hot_topics(uow.session, period.start, period.end)
    return jsonify(
        {
            "week": week_text(monday),
            "tickets": found.tickets,
            "topics": [
                {
                    "label": t.label,
                    "keywords": list(t.keywords),
                    "count": t.count,
                    "category": t.category,
                    "examples": _numbers(t.ticket_ids),
                }
                for t in found.topics
            ],
            "hot_spots": [
                {
                    "place": s.place,
                    "topic": s.topic,
                    "count": s.count,
                    "examples": _numbers(s.ticket_ids),
                }
                for s in found.hot_spots
            ],
            "rising": [
                {"keyword": r.keyword, "count": r.count, "baseline": r.baseline, "ratio": r.ratio}
                for r in found.rising
            ],
        }
    )


def _numbers(ticket_ids: tuple[int, ...]) -> list[dict[str, Any]]:
    from reports.services import example_tickets

    c = container()
    found = example_tickets(c.uow(), c.dispatch, ticket_ids)
    return [found[tid] for tid in ticket_ids if tid in found]


# ---------------------------------------------------------------- weekly briefs


def sources() -> weekly.Sources:
    c = container()
    return weekly.Sources(uow=c.uow, ctx=c.dispatch, settings=c.settings)


@bp.get("/briefs")
@login_required(*READ_ROLES)
def list_briefs() -> Response:
    """The kept briefs: the newest of each week and format."""
    week = request.args.get("week") or None
    if week is not None:
        try:
            week = week_text(parse_week(week))
        except ValueError as exc:
            raise ValidationError({"week": str(exc)}, "查询参数有误") from None
    return jsonify({"items": weekly.latest(container().uow(), week)})


@bp.post("/briefs")
@login_required(*BRIEF_ROLES)
def create_brief() -> tuple[Response, int]:
    """Build one week's brief now (all formats) and keep it."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError({"body": "请求体应为 JSON 对象"}, "请求格式有误")
    raw = body.get("week")
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError({"week": "必填，格式为 2026-W47"}, "参数有误")
    try:
        monday = parse_week(raw)
    except ValueError as exc:
        raise ValidationError({"week": str(exc)}, "参数有误") from None
    actor = current_actor()
    kept = weekly.store(sources(), monday, trigger="manual", user_id=actor.user_id)
    c = container()
    with c.uow() as uow:
        audit_act(uow.session, actor, "reports.brief", None, {"week": week_text(monday)})
        uow.commit()
    return jsonify({"week": week_text(monday), "items": kept}), 201


@bp.get("/briefs/<int:brief_id>")
@login_required(*READ_ROLES)
def download_brief(brief_id: int) -> Response:
    from reports.brief.render import MEDIA_TYPES

    found = weekly.content(container().uow(), brief_id)
    if found is None:
        raise NotFound("周报不存在", {"id": brief_id})
    row, body = found
    return _download(body, MEDIA_TYPES[row.format], f"weekly-brief-{row.week}.{row.format}")


@bp.get("/brief")
@login_required(*READ_ROLES)
def render_brief() -> Response:
    """Build one week's brief on the fly, in one format (html, pdf, docx); nothing is kept."""
    from reports.brief.render import MEDIA_TYPES

    raw = (request.args.get("week") or "").strip()
    if not raw:
        raise ValidationError({"week": "必填，格式为 2026-W47"}, "查询参数有误")
    try:
        monday = parse_week(raw)
    except ValueError as exc:
        raise ValidationError({"week": str(exc)}, "查询参数有误") from None
    fmt = request.args.get("format") or "html"
    if fmt not in weekly.FORMATS:
        raise ValidationError({"format": "取值无效，可选：html, pdf, docx"}, "查询参数有误")
    body = weekly.build(sources(), monday, fmt)
    if fmt == "html":
        return Response(body, mimetype="text/html")
    return _download(body, MEDIA_TYPES[fmt], f"weekly-brief-{week_text(monday)}.{fmt}")


# ---------------------------------------------------------------- ticket list export


@bp.get("/tickets.xlsx")
@login_required()
def export_tickets() -> Response:
    """The ticket list with the list's filters, as Excel (up to EXPORT_LIMIT tickets)."""
    from dispatch.tickets import reads
    from dispatch.web import parse_filter

    c = container()
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    args.pop("per_page", None)
    page_size = c.settings.tickets.page_size_max
    flt = parse_filter(args, page_size, c.dispatch.policy.calendar.tz)
    actor = current_actor()
    items: list[dict[str, Any]] = []
    total = 0
    page = 1
    while len(items) < EXPORT_LIMIT:
        flt = _page(flt, page, page_size)
        result = reads.list_tickets(c.uow(), c.dispatch, actor, flt)
        total = result["total"]
        items.extend(result["items"])
        if len(result["items"]) < page_size:
            break
        page += 1
    items = items[:EXPORT_LIMIT]
    with c.uow() as uow:
        audit_act(
            uow.session,
            actor,
            "tickets.export",
            None,
            {"filter": {k: v for k, v in args.items()}, "rows": len(items), "total": total},
        )
        uow.commit()
    body = export.tickets_xlsx(items, c.dispatch.policy.calendar.tz, truncated=total > len(items))
    stamp = c.dispatch.now().astimezone(c.dispatch.policy.calendar.tz)
    return _download(body, export.MEDIA_TYPE, f"tickets-{stamp:%Y%m%d-%H%M}.xlsx")


def _page(flt: Any, page: int, per_page: int) -> Any:
    return dataclasses.replace(flt, page=page, per_page=per_page)
