"""The OpenAPI paths of the reports' JSON API (reports.web): KPIs, ranking, topics, briefs."""

from typing import Any

from infra.openapi import ROW_ID
from infra.openapi import file_responses
from infra.openapi import operation
from infra.openapi import path_param
from infra.openapi import query

DAY: dict[str, Any] = {"type": "string", "format": "date"}
WEEK: dict[str, Any] = {"type": "string", "pattern": r"^\d{4}-W\d{2}$"}
JSON_OR_XLSX: dict[str, Any] = {"type": "string", "enum": ["json", "xlsx"]}


def schemas() -> dict[str, Any]:
    """The reports describe no component schemas of their own."""
    return {}


def paths() -> dict[str, Any]:
    """KPIs, ranking, hot topics, weekly briefs and exports."""
    return {
        "/api/reports/kpis": {"get": _kpis()},
        "/api/reports/ranking": {"get": _ranking()},
        "/api/reports/topics": {
            "get": operation(
                "热点问题、热点地区与上升问题（某一周）", "200", "401", "403", "422",
                parameters=[query("week", WEEK, "ISO 周次，默认本周")],
            )
        },
        **_briefs(),
        "/api/reports/tickets.xlsx": {
            "get": {
                "summary": "导出工单列表为 Excel（与 GET /api/tickets 相同的筛选条件，"
                "最多 20000 条；号码按查看权限脱敏；记入审计日志）",
                "responses": file_responses("XLSX 文件", "401", "403", "422"),
            }
        },
    }  # fmt: skip


def _kpis() -> dict[str, Any]:
    return operation(
        "考核指标：from–to（含，本地日期）内的接通率、15秒接通率、放弃率、直办率、及时签收率、"
        "回复率、按时办结率、办结率、超期率、回访率、满意率、解决率、响应率、退回率、重办率，"
        "及每项的分子分母（counts）与口径（formulas）；unit 为单位（含下级单位）；"
        "by=unit|category|district 另给分组行；format=xlsx 导出 Excel。联络员只能查看本单位",
        "200", "401", "403", "404", "422",
        parameters=[
            query("from", DAY, "开始日期（必填）"),
            query("to", DAY, "结束日期（必填，含）"),
            query("unit", ROW_ID, "单位编号"),
            query("by", {"type": "string", "enum": ["unit", "category", "district"]}, "分组"),
            query("format", JSON_OR_XLSX, "json（默认）或 xlsx"),
        ],
    )  # fmt: skip


def _ranking() -> dict[str, Any]:
    return operation(
        "承办单位排名：按配置的加权得分（默认响应率、解决率、满意率），满意率低于下限的单位点名",
        "200", "401", "403", "422",
        parameters=[
            query("period", {"type": "string", "enum": ["week", "month"]}, "周或月"),
            query("week", WEEK, "ISO 周次，默认上一个完整周"),
            query("month", {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "月份，默认本月"),
            query("level", {"type": "string", "enum": ["top", "all"]}, "一级单位或全部单位"),
            query("format", JSON_OR_XLSX, "json（默认）或 xlsx"),
        ],
    )  # fmt: skip


def _briefs() -> dict[str, Any]:
    return {
        "/api/reports/briefs": {
            "get": operation(
                "已生成的周报（每周每种格式的最新一份）", "200", "401", "403", "422",
                parameters=[query("week", WEEK, "只看某一周")],
            ),
            "post": operation(
                "立即生成某周周报（HTML、PDF、DOCX）并保存（督办、领导、管理员）",
                "201", "400", "401", "403", "422",
                body={"type": "object", "required": ["week"], "properties": {"week": WEEK}},
            ),
        },
        "/api/reports/briefs/{brief_id}": {
            "get": {
                "summary": "下载已保存的周报",
                "parameters": [path_param("brief_id", ROW_ID)],
                "responses": file_responses("文件（HTML、PDF 或 DOCX）", "401", "403", "404"),
            }
        },
        "/api/reports/brief": {
            "get": {
                "summary": "即时生成某周周报（不保存）",
                "parameters": [
                    query("week", WEEK, "ISO 周次（必填）"),
                    query("format", {"type": "string", "enum": ["html", "pdf", "docx"]}, "格式"),
                ],
                "responses": file_responses("文件", "401", "403", "422"),
            }
        },
    }  # fmt: skip
