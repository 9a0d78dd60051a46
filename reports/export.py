"""Excel exports (openpyxl): any ticket list, the KPI tables and the unit ranking.

Write-only workbooks, so a long list streams row by row. Shares are written as numbers with
a percentage format (Excel can sort and sum them), never as text. Every row goes through
`_append`, which quotes text a spreadsheet would run as a formula (kernel.cells): titles
and names come from citizens and admins.
"""

import datetime as dt
import io
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from kernel.cells import safe_cell
from reports.kpis import FORMULAS
from reports.kpis import LOWER_IS_BETTER
from reports.kpis import Figures
from reports.kpis import KpiReport
from reports.ranking import Ranked
from reports.ranking import shortfall_text

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERCENT = "0.0%"

TICKET_COLUMNS = (
    ("number", "工单号"),
    ("created_at", "受理时间"),
    ("channel", "渠道"),
    ("request_type", "诉求类型"),
    ("urgency", "紧急程度"),
    ("category", "事项分类"),
    ("title", "标题"),
    ("citizen_name", "诉求人"),
    ("caller_phone", "来电号码"),
    ("lead_unit", "主办单位"),
    ("status_label", "状态"),
    ("reply_due_at", "回复时限"),
    ("light", "预警"),
    ("problem", "问题工单"),
)
LIGHTS = {"green": "正常", "yellow": "黄灯", "red": "红灯"}


def _append(ws: WriteOnlyWorksheet, row: Iterable[Any]) -> None:
    """Write one row, no cell of it a formula (formula injection, kernel.cells)."""
    cells = []
    for value in row:
        if isinstance(value, Cell):
            value.value = safe_cell(value.value)
            cells.append(value)
        else:
            cells.append(safe_cell(value))
    ws.append(cells)


def _header(ws: WriteOnlyWorksheet, titles: Iterable[str]) -> None:
    cells = []
    for title in titles:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = Font(bold=True)
        cells.append(cell)
    _append(ws, cells)


def _share(ws: WriteOnlyWorksheet, value: float | None) -> Any:
    if value is None:
        return None
    cell = WriteOnlyCell(ws, value=round(value, 6))
    cell.number_format = PERCENT
    return cell


def _when(text: str | None, tz: dt.tzinfo) -> str | None:
    """An ISO timestamp as local time people read (Excel has no time zones)."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def tickets_xlsx(items: Iterable[Mapping[str, Any]], tz: dt.tzinfo, *, truncated: bool) -> bytes:
    """One sheet of tickets as the list shows them (identity masked where the list masks it)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("工单")
    _header(ws, (title for _, title in TICKET_COLUMNS))
    for t in items:
        unit = t.get("lead_unit") or {}
        _append(
            ws,
            [
                t["number"],
                _when(t.get("created_at"), tz),
                t.get("channel"),
                t.get("request_type"),
                t.get("urgency"),
                t.get("category"),
                t.get("title"),
                t.get("citizen_name"),
                t.get("caller_phone"),
                unit.get("name"),
                t.get("status_label"),
                _when(t.get("reply_due_at"), tz),
                LIGHTS.get(t.get("light") or "", None),
                "是" if t.get("problem") else "",
            ],
        )
    if truncated:
        _append(ws, [])
        _append(ws, ["（超出导出上限，仅导出前面的工单；请缩小筛选范围后分批导出）"])
    return _bytes(wb)


def _kpi_row(ws: WriteOnlyWorksheet, name: str, f: Figures) -> list[Any]:
    values = f.kpis()
    row: list[Any] = [name]
    for key, formula in FORMULAS.items():
        row.append(_share(ws, values[key]))
        row.append(f.counts[formula.part])
        row.append(f.counts[formula.whole])
    return row


def _kpi_header() -> list[str]:
    titles = ["范围"]
    for formula in FORMULAS.values():
        titles += [formula.label, f"{formula.label}·分子", f"{formula.label}·分母"]
    return titles


def kpis_xlsx(report: KpiReport, title: str) -> bytes:
    """The KPI table (overall and one row per group), with the formulas on a second sheet."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("指标")
    _append(ws, [title])
    _header(ws, _kpi_header())
    scope = report.unit.name if report.unit else "全部"
    _append(ws, _kpi_row(ws, f"合计（{scope}）", report.overall))
    for row in report.rows:
        _append(ws, _kpi_row(ws, str(row["name"]), row["figures"]))
    notes = wb.create_sheet("计算口径")
    _header(notes, ["指标", "计算公式"])
    for formula in FORMULAS.values():
        _append(notes, [formula.label, formula.text])
    return _bytes(wb)


def ranking_xlsx(
    ranked: Iterable[Ranked], title: str, weights: Mapping[str, float], min_sample: int
) -> bytes:
    """The ranking: ranked units first, then those not ranked (样本不足) with the reason."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("单位排名")
    _append(ws, [title])
    weight_text = "，".join(f"{FORMULAS[k].label}×{w:g}" for k, w in weights.items())
    lower = [FORMULAS[k].label for k in weights if k in LOWER_IS_BETTER]
    note = f"综合得分 = 加权平均（{weight_text}）"
    if lower:
        note += f"，{'、'.join(lower)}按（1 − 比率）计分"
    _append(
        ws, [f"{note}；每项计分指标不少于{min_sample}件才参与排名，不足的单位不排名（样本不足）"]
    )
    names = ("on_time_sign_rate", "on_time_reply_rate", "overdue_rate", *weights)
    names = tuple(dict.fromkeys(names))
    _header(
        ws,
        [
            "排名",
            "单位",
            "派单",
            *(FORMULAS[n].label for n in names),
            "有效回访",
            "综合得分",
            "样本不足",
            "满意率低于下限",
        ],
    )
    for r in ranked:
        _append(
            ws,
            [
                r.rank,
                r.unit,
                r.figures.counts["dispatched"],
                *(_share(ws, r.kpis[n]) for n in names),
                r.figures.counts["valid_follow_ups"],
                _share(ws, r.score),
                "、".join(shortfall_text(r)),
                "是" if r.below_floor else "",
            ],
        )
    return _bytes(wb)


def _bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
