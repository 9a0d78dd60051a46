"""The leaders' dashboard (领导看板): one ISO week of key figures, calls, trend, categories, units.

Figures come from `reports.services` and `callcenter.records.kpis`; this module only picks the week
and turns numbers into what people read (percentages, week-on-week arrows, the bar chart's
geometry).
"""

import datetime as dt
import logging
from typing import Any

import redis
from flask import Blueprint
from flask import request
from flask import url_for

from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from callcenter.cti import hall
from callcenter.records import kpis
from infra.settings import ReportsSettings
from kernel.roles import Role
from reports import services as reports
from reports.kpis import FORMULAS
from reports.kpis import LOWER_IS_BETTER
from reports.ranking import Ranked
from reports.ranking import shortfall_text

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__, template_folder="templates")

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

# Geometry of the daily bar chart (SVG user units).
CHART_WIDTH, CHART_HEIGHT = 700, 240
CHART_TOP, CHART_BOTTOM, CHART_SIDE = 28, 44, 10
BAR_SHARE = 0.62  # part of a day's slot the bar fills


def fmt_share(value: float | None) -> str:
    """Show a share as a percentage with one decimal, or a dash when there is none."""
    return "—" if value is None else f"{value * 100:.1f}%"


def fmt_seconds(value: float | None) -> str:
    """Show a duration in whole seconds, with minutes from a minute on, or a dash."""
    if value is None:
        return "—"
    seconds = int(value + 0.5)  # half up: 97.5 s reads 1分38秒
    if seconds < 60:
        return f"{seconds}秒"
    return f"{seconds // 60}分{seconds % 60:02d}秒"


# The call KPIs in the order the pages show them (formulas: callcenter.records.kpis.call_kpis).
CALL_KPIS = (
    ("offered", "呼入量"),
    ("answered", "接通量"),
    ("answer_rate", "接通率"),
    ("service_level", "15秒接通率"),
    ("abandon_rate", "放弃率"),
    ("average_wait", "平均等待"),
    ("average_talk", "平均通话"),
)


def call_values(k: kpis.CallKpis) -> dict[str, dict[str, str]]:
    """Each call KPI as text, with what it was worked out from."""
    c = k.counts
    return {
        "offered": {"value": str(c.offered), "hint": f"放弃 {c.abandoned}，溢出 {c.overflow}"},
        "answered": {"value": str(c.answered), "hint": "话务员接起的来电"},
        "answer_rate": {
            "value": fmt_share(k.answer_rate),
            "hint": f"接通 {c.answered} ÷ 呼入 {c.offered}",
        },
        "service_level": {
            "value": fmt_share(k.service_level),
            "hint": f"15秒内接通 {c.answered_in_time} ÷ 接通 {c.answered}",
        },
        "abandon_rate": {
            "value": fmt_share(k.abandon_rate),
            "hint": f"放弃 {c.abandoned} ÷ 呼入 {c.offered}",
        },
        "average_wait": {"value": fmt_seconds(k.average_wait), "hint": "接通的来电从呼入到接起"},
        "average_talk": {"value": fmt_seconds(k.average_talk), "hint": "已结束的通话"},
    }


def live_hall() -> dict[str, Any] | None:
    """The hall's counts now (queue, seats), or None when the ACD's Redis is unreachable."""
    try:
        counts: dict[str, Any] = hall.hall_snapshot(container().acd, hall.user_names)["counts"]
    except redis.RedisError:
        log.warning("call figures: the ACD's Redis cannot be reached; live counts left out")
        return None
    return counts | {"longest_wait_text": fmt_seconds(counts["longest_wait"])}


def call_board(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Today's call KPIs, those of [start, end) when given, and the hall's live counts."""
    c = container()
    ctx = c.dispatch
    today = ctx.today()
    midnight = reports.local_midnight(ctx, today)
    tomorrow = reports.local_midnight(ctx, today + dt.timedelta(days=1))
    return {
        "kpis": CALL_KPIS,
        "today": call_values(kpis.call_figures(c.uow(), midnight, tomorrow)),
        "today_text": f"今日（{today.month}月{today.day}日）",
        "period": call_values(kpis.call_figures(c.uow(), start, end)),
        "live": live_hall(),
    }


def count_change(now: int, before: int) -> dict[str, str]:
    """Describe the change of a count from last week: arrow, amount and relative change."""
    delta = now - before
    if delta == 0:
        return {"dir": "same", "text": "与上周持平"}
    # More or fewer tickets is neither good nor bad: only shares get "up" / "down" colours.
    arrow, direction = ("↑", "more") if delta > 0 else ("↓", "fewer")
    text = f"较上周 {arrow} {abs(delta)}"
    if before:
        text += f"（{delta / before * 100:+.1f}%）"
    return {"dir": direction, "text": text}


def share_change(now: float | None, before: float | None) -> dict[str, str]:
    """Describe the change of a share from last week in percentage points."""
    if now is None or before is None:
        return {"dir": "none", "text": "无可比数据"}
    points = round((now - before) * 100, 1)
    if points == 0:
        return {"dir": "same", "text": "与上周持平"}
    arrow, direction = ("↑", "up") if points > 0 else ("↓", "down")
    return {"dir": direction, "text": f"较上周 {arrow} {abs(points):.1f} 个百分点"}


def _cards(summary: dict[str, Any]) -> list[dict[str, Any]]:
    week, prev = summary["week"], summary["previous"]

    def count(key: str, label: str, hint: str) -> dict[str, Any]:
        return {
            "key": key,
            "label": label,
            "value": str(week[key]),
            "hint": hint,
            "change": count_change(week[key], prev[key]),
        }

    def share(key: str, label: str, hint: str) -> dict[str, Any]:
        return {
            "key": key,
            "label": label,
            "value": fmt_share(week[key]),
            "hint": hint,
            "change": share_change(week[key], prev[key]),
        }

    return [
        count("accepted", "受理量", "本周新受理工单"),
        count("resolved_directly", "直办量", "热线直接办结"),
        share(
            "direct_resolution_share",
            "直办率",
            f"直办 {week['resolved_directly']} ÷ 受理 {week['accepted']}",
        ),
        count("dispatched", "派单量", "本周派往承办单位"),
        share(
            "on_time_reply_rate",
            "按时办结率",
            f"按时回复 {week['replied_on_time']} ÷ 本周到期 {week['due']}",
        ),
        share(
            "satisfaction_rate",
            "满意率",
            f"满意 {week['satisfied']} ÷ 回访联系上 {week['followed_up_reached']}",
        ),
    ]


def weights_text(weights: dict[str, float]) -> str:
    """The ranking's score as people read it: 响应率×1、解决率×1、满意率×1."""
    return "、".join(f"{FORMULAS[name].label}×{w:g}" for name, w in weights.items())


def ranking_caption(settings: ReportsSettings) -> str:
    """The dashboard ranking's rule in one breath: weights, lower-is-better, the sample."""
    text = f"综合得分为{weights_text(settings.ranking_weights)}的加权平均，满分100"
    lower = [FORMULAS[n].label for n in settings.ranking_weights if n in LOWER_IS_BETTER]
    if lower:
        text += f"，{'、'.join(lower)}按（1 − 比率）计分"
    return (
        text + f"；每项计分指标不少于{settings.ranking_min_sample}件的单位才排名，"
        "其余标为“样本不足”，排在后面、不排名。"
    )


def floor_names(ranked: list[Ranked]) -> list[str]:
    """Units below the satisfaction floor, worst first; an unranked one says on how few."""
    below = sorted(
        (r for r in ranked if r.below_floor), key=lambda r: r.kpis["satisfaction_rate"] or 0.0
    )
    return [
        r.unit
        if r.rank is not None
        else f"{r.unit}（样本不足，有效回访{r.figures.counts['valid_follow_ups']}件）"
        for r in below
    ]


def _breakdown(summary: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Rows of one breakdown (by channel, by request type): this week, last week, change."""
    week, prev = summary["week"][key], summary["previous"][key]
    return [
        {"key": k, "now": week[k], "before": prev[k], "change": count_change(week[k], prev[k])}
        for k in week
    ]


def _chart(monday: dt.date, counts: list[int]) -> dict[str, Any]:
    """Lay out the daily bars: each with its box, value label, day label and tooltip."""
    top = max(counts) or 1
    plot = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = (CHART_WIDTH - 2 * CHART_SIDE) / 7
    width = slot * BAR_SHARE
    bars = []
    for i, n in enumerate(counts):
        day = monday + dt.timedelta(days=i)
        height = plot * n / top
        x = CHART_SIDE + slot * i + (slot - width) / 2
        bars.append(
            {
                "x": round(x, 1),
                "y": round(CHART_TOP + plot - height, 1),
                "width": round(width, 1),
                "height": round(height, 1),
                "center": round(x + width / 2, 1),
                "value": n,
                "weekday": WEEKDAYS[i],
                "date": f"{day.month}月{day.day}日",
                "title": f"{day.month}月{day.day}日（{WEEKDAYS[i]}）受理 {n} 张",
            }
        )
    summary = "，".join(f"{b['weekday']} {b['value']} 张" for b in bars)
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": CHART_TOP + plot,
        "label_y": CHART_TOP + plot + 20,
        "date_y": CHART_TOP + plot + 38,
        "aria": f"每日受理量柱状图：{summary}；合计 {sum(counts)} 张",
    }


def _week_nav(monday: dt.date) -> dict[str, Any]:
    def link(day: dt.date) -> dict[str, str] | None:
        if not reports.MIN_YEAR <= day.isocalendar().year <= reports.MAX_YEAR:
            return None
        text = reports.week_text(day)
        return {"week": text, "url": url_for("dashboard.index", week=text)}

    iso = monday.isocalendar()
    sunday = monday + dt.timedelta(days=6)
    return {
        "week": reports.week_text(monday),
        "title": f"{iso.year}年第{iso.week}周",
        "range": f"{monday:%Y年%m月%d日}—{sunday:%m月%d日}",
        "previous": link(monday - dt.timedelta(days=7)),
        "next": link(monday + dt.timedelta(days=7)),
    }


@bp.get("/dashboard")
@page(Role.LEADER, Role.SUPERVISOR, Role.ADMIN)
def index() -> str | tuple[str, int]:
    c = container()
    ctx = c.dispatch
    this_week = reports.current_monday(ctx)
    current = {"week": reports.week_text(this_week), "url": url_for("dashboard.index")}
    raw = request.args.get("week", "").strip()
    try:
        monday = reports.parse_week(raw) if raw else this_week
    except ValueError as exc:
        page_html = render_page(
            "dashboard.html", error=str(exc), asked=raw, current=current, nav=None
        )
        return page_html, 422
    start = reports.local_midnight(ctx, monday)
    summary = reports.week_summary(c.uow(), ctx, start)
    week = reports.week_period(ctx, start)
    ranking = reports.unit_ranking(c.uow(), ctx, start, c.settings.reports)
    return render_page(
        "dashboard.html",
        error=None,
        asked=raw,
        current=current,
        nav=_week_nav(monday),
        is_current=monday == this_week,
        summary=summary,
        cards=_cards(summary),
        channels=_breakdown(summary, "by_channel"),
        request_types=_breakdown(summary, "by_request_type"),
        chart=_chart(monday, reports.daily_counts(c.uow(), ctx, start)),
        categories=reports.top_categories(c.uow(), ctx, start),
        ranking=ranking,
        below=floor_names(ranking),
        ranking_rule=ranking_caption(c.settings.reports),
        short_text=shortfall_text,
        calls=call_board(week.start, week.end),
        floor_text=f"满意率低于{c.settings.reports.satisfaction_floor * 100:.0f}%",
        fmt_share=fmt_share,
    )
