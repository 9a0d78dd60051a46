"""The OpenAPI 3.1 document of the JSON API, built from the same models that parse input."""

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from callcenter.callbacks.service import CancelCallback
from callcenter.callbacks.service import FinishCallback
from callcenter.cti.console import AgentStateChange
from callcenter.cti.console import CallCommand
from callcenter.cti.console import DialCitizen
from callcenter.cti.console import LinkTicket
from callcenter.cti.console import SeatLogin
from callcenter.cti.console import SpyCommand
from callcenter.duty import AddDuty
from dispatch.tickets.commands import ACTION_COMMANDS
from dispatch.tickets.commands import CreateTicket
from dispatch.tickets.commands import SuggestRequest
from dispatch.tickets.domain import ACTION_LABELS
from dispatch.tickets.domain import ACTION_ROLES
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import TicketStatus
from infra.commands import LoginRequest
from infra.ids import MAX_ID
from kb.commands import ArticleInput
from kb.commands import CategoryInput
from kb.commands import LinkArticles
from kb.commands import Review
from kb.commands import SynonymInput
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Light

ERROR_RESPONSES = {
    "400": "请求格式有误（非 JSON、非对象）",
    "401": "未登录或令牌无效",
    "403": "角色或单位无权操作，缺少 CSRF 令牌，或管理员重置密码后须先修改密码",
    "404": "工单、单位或知识不存在",
    "409": "当前状态不允许该操作、规则不满足或并发修改",
    "422": "字段校验失败（details.fields 给出每个字段的错误）",
    "415": "请求体须为 JSON（Content-Type: application/json）",
    "429": "密码错误次数过多：账号已锁定或本地址须等待（Retry-After 给出秒数）",
    "503": (
        "依赖的服务暂不可用：数据库（database_unavailable，Retry-After 给出建议的等待秒数）"
        "或话务服务的 Redis"
    ),
}
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "建议等待的秒数，之后可重试同一请求",
    "schema": {"type": "integer", "minimum": 1},
}


# 回复 as a form: its fields as text and up to ten files; the reply and its files are
# written together or not at all.
REPLY_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "contacted_at": {"type": "string", "format": "date-time"},
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": 10},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _add_model(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return _ref(model.__name__)


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str, ok: str, *codes: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One operation answering a JSON object; `body` is the request schema if it takes one."""
    out: dict[str, Any] = {"summary": summary}
    if body is not None:
        out["requestBody"] = _json_body(body)
    out["responses"] = _responses(ok, {"type": "object"}, *codes)
    return out


def _responses(ok: str, schema: dict[str, Any], *codes: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        ok: {"description": "成功", "content": {"application/json": {"schema": schema}}}
    }
    for code in codes:
        out[code] = {
            "description": ERROR_RESPONSES[code],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    return out


def _database_outages(paths: dict[str, Any]) -> None:
    """Every API operation may answer 503 when the database cannot be reached (hotline.errors)."""
    for path, item in paths.items():
        if not path.startswith("/api/") or path == "/api/openapi.json":
            continue
        for operation in item.values():
            responses = operation["responses"]
            responses.setdefault(
                "503",
                {
                    "description": ERROR_RESPONSES["503"],
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
            )
            responses["503"].setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


# A row id: the app answers a larger one like an unknown id (404), see hotline.ids.
ROW_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _reports_paths(paths: dict[str, Any]) -> None:
    """KPIs, ranking, hot topics, weekly briefs and exports (reports.web)."""
    day = {"type": "string", "format": "date"}
    week = {"type": "string", "pattern": r"^\d{4}-W\d{2}$"}
    xlsx = {"type": "string", "enum": ["json", "xlsx"]}
    kpis = _operation(
        "考核指标：from–to（含，本地日期）内的接通率、15秒接通率、放弃率、直办率、及时签收率、"
        "回复率、按时办结率、办结率、超期率、回访率、满意率、解决率、响应率、退回率、重办率，"
        "及每项的分子分母（counts）与口径（formulas）；unit 为单位（含下级单位）；"
        "by=unit|category|district 另给分组行；format=xlsx 导出 Excel。联络员只能查看本单位",
        "200", "401", "403", "404", "422",
    )  # fmt: skip
    kpis["parameters"] = [
        _query("from", day, "开始日期（必填）"),
        _query("to", day, "结束日期（必填，含）"),
        _query("unit", ROW_ID, "单位编号"),
        _query("by", {"type": "string", "enum": ["unit", "category", "district"]}, "分组"),
        _query("format", xlsx, "json（默认）或 xlsx"),
    ]
    paths["/api/reports/kpis"] = {"get": kpis}
    ranking = _operation(
        "承办单位排名：按配置的加权得分（默认响应率、解决率、满意率），满意率低于下限的单位点名",
        "200", "401", "403", "422",
    )  # fmt: skip
    ranking["parameters"] = [
        _query("period", {"type": "string", "enum": ["week", "month"]}, "周或月"),
        _query("week", week, "ISO 周次，默认上一个完整周"),
        _query("month", {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "月份，默认本月"),
        _query("level", {"type": "string", "enum": ["top", "all"]}, "一级单位或全部单位"),
        _query("format", xlsx, "json（默认）或 xlsx"),
    ]
    paths["/api/reports/ranking"] = {"get": ranking}
    topics = _operation("热点问题、热点地区与上升问题（某一周）", "200", "401", "403", "422")
    topics["parameters"] = [_query("week", week, "ISO 周次，默认本周")]
    paths["/api/reports/topics"] = {"get": topics}
    paths["/api/reports/briefs"] = {
        "get": _operation("已生成的周报（每周每种格式的最新一份）", "200", "401", "403", "422")
        | {"parameters": [_query("week", week, "只看某一周")]},
        "post": _operation(
            "立即生成某周周报（HTML、PDF、DOCX）并保存（督办、领导、管理员）",
            "201", "400", "401", "403", "422",
            body={"type": "object", "required": ["week"], "properties": {"week": week}},
        ),
    }  # fmt: skip
    download = {
        "200": {"description": "文件（HTML、PDF 或 DOCX）"},
        **{k: v for k, v in _responses("200", {}, "401", "403", "404").items() if k != "200"},
    }
    paths["/api/reports/briefs/{brief_id}"] = {
        "get": {
            "summary": "下载已保存的周报",
            "parameters": [_path_param("brief_id", ROW_ID)],
            "responses": download,
        }
    }
    paths["/api/reports/brief"] = {
        "get": {
            "summary": "即时生成某周周报（不保存）",
            "parameters": [
                _query("week", week, "ISO 周次（必填）"),
                _query("format", {"type": "string", "enum": ["html", "pdf", "docx"]}, "格式"),
            ],
            "responses": {
                "200": {"description": "文件"},
                **{
                    k: v
                    for k, v in _responses("200", {}, "401", "403", "422").items()
                    if k != "200"
                },
            },
        }
    }
    paths["/api/reports/tickets.xlsx"] = {
        "get": {
            "summary": "导出工单列表为 Excel（与 GET /api/tickets 相同的筛选条件，最多 20000 条；"
            "号码按查看权限脱敏；记入审计日志）",
            "responses": {
                "200": {"description": "XLSX 文件"},
                **{
                    k: v
                    for k, v in _responses("200", {}, "401", "403", "422").items()
                    if k != "200"
                },
            },
        }
    }


def _hall_paths(paths: dict[str, Any], schema_of: Callable[[type[BaseModel]], Any]) -> None:
    """The supervisors' CTI routes (callcenter.hall): the hall view, not-ready, leader duty."""
    paths["/api/cti/hall"] = {
        "get": _operation(
            "坐席监控：每个坐席的话务员、状态、时长、当前来电（号码只显示后四位），排队来电"
            "（班长、督办、管理员）",
            "200", "401", "403", "503",
        )
    }  # fmt: skip
    seat = _path_param("seat", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"})
    not_ready = _operation(
        "强制示忙：outcome 为 ok（立即生效）或 pending（通话结束后生效）；记入审计日志",
        "200", "401", "403", "404", "409",
    )  # fmt: skip
    paths["/api/cti/seats/{seat}/not_ready"] = {"post": not_ready | {"parameters": [seat]}}
    reset = _operation(
        "复位：坐席卡在振铃或通话中（通话结束未上报）时结束其当前通话（end_reason 为 "
        "supervisor_reset，通话记录随之结束）并置为示忙（话务员已退出则离线）；"
        "不在通话中为 409；记入审计日志",
        "200", "401", "403", "404", "409",
    )  # fmt: skip
    paths["/api/cti/seats/{seat}/reset"] = {"post": reset | {"parameters": [seat]}}
    paths["/api/cti/duties"] = {
        "get": _operation("尚未结束的领导接听值班，按开始时间排列", "200", "401", "403"),
        "post": _operation(
            "安排领导接听值班（督办、管理员）：须为领导；结束晚于开始；同一领导不得重叠",
            "201", "401", "403", "409", "422", body=schema_of(AddDuty),
        ),
    }  # fmt: skip
    delete = _operation("删除值班安排（督办、管理员）", "200", "401", "403", "404")
    duty_id = _path_param("duty_id", ROW_ID)
    paths["/api/cti/duties/{duty_id}"] = {"delete": delete | {"parameters": [duty_id]}}


def _callback_paths(paths: dict[str, Any], schema_of: Callable[[type[BaseModel]], Any]) -> None:
    """漏接回拨 (callcenter.callbacks_web): call-back tasks for missed and abandoned calls."""
    listing = _operation(
        "漏接回拨任务（话务员、班长、督办、管理员），按创建时间从新到旧：status 可逗号分隔"
        "（open 待回拨、claimed 已认领、done 已完成、cancelled 已取消；默认 open,claimed），"
        "page、per_page（≤ 100）；open_count 为待回拨与已认领的总数",
        "200", "401", "403", "422",
    )  # fmt: skip
    listing["parameters"] = [
        _query("status", {"type": "string"}, "状态，可逗号分隔多个"),
        _query("page", {"type": "integer", "minimum": 1}, "页码"),
        _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "每页条数"),
    ]
    paths["/api/callbacks"] = {"get": listing}
    task_id = _path_param("task_id", ROW_ID)
    paths["/api/callbacks/{task_id}/claim"] = {
        "post": _operation(
            "认领：待回拨的任务归本人（本人再次认领不变）；已被他人认领或已结束为 409",
            "200", "401", "403", "404", "409",
        ) | {"parameters": [task_id]}
    }  # fmt: skip
    paths["/api/callbacks/{task_id}/dial"] = {
        "post": _operation(
            "回拨：本人签入的坐席话机呼叫该号码（202），未认领的任务同时归本人；就绪或话后整理"
            "的坐席先转为示忙（话后处理），回拨后请手动就绪。未签入坐席、正在通话、话机未连接、"
            "任务已被他人认领或已结束为 409",
            "202", "401", "403", "404", "409",
        ) | {"parameters": [task_id]}
    }  # fmt: skip
    paths["/api/callbacks/{task_id}/done"] = {
        "post": _operation(
            "记录结果：reached 已联系上、wrong_number 号码错误（任务完成），no_answer 未接通"
            "（任务回到待回拨，计一次尝试）；可附备注与由此受理的工单 ticket_id",
            "200", "400", "401", "403", "404", "409", "422", body=schema_of(FinishCallback),
        ) | {"parameters": [task_id]}
    }  # fmt: skip
    paths["/api/callbacks/{task_id}/cancel"] = {
        "post": _operation(
            "取消回拨任务（班长、督办、管理员），可附备注", "200", "400", "401", "403", "404",
            "409", "422", body=schema_of(CancelCallback),
        ) | {"parameters": [task_id]}
    }  # fmt: skip


def _followup_paths(paths: dict[str, Any], schema_of: Callable[[type[BaseModel]], Any]) -> None:
    """回访 (dispatch.followup_web): the follow-up queues, a ticket's tries, retry, SMS replies."""
    from dispatch.followup.web import SmsReply

    listing = _operation(
        "待回访工单（话务员、班长、督办、管理员）：queue=manual 人工回访（自动回访无结果或无联系"
        "电话，按转人工时间从早到晚）、auto 自动回访进行中（按下次尝试时间）、all 全部；每行含"
        "联系电话（记入审计日志）、尝试次数、最近结果与下次尝试时间；counts 为各队列数量",
        "200", "401", "403", "422",
    )  # fmt: skip
    listing["parameters"] = [
        _query("queue", {"type": "string", "enum": ["manual", "auto", "all"]}, "队列，默认 manual"),
        _query("page", {"type": "integer", "minimum": 1}, "页码"),
        _query("page_size", {"type": "integer", "minimum": 1}, "每页条数（≤ page_size_max）"),
    ]
    paths["/api/followups"] = {"get": listing}
    ticket_id = _path_param("ticket_id", ROW_ID)
    paths["/api/tickets/{ticket_id}/followups"] = {
        "get": _operation(
            "工单的自动回访尝试（可查看该工单者）：第几次、语音/短信、状态、按键及含义；"
            "热线人员另见所拨号码（记入审计日志），承办单位与领导不见号码",
            "200", "401", "403", "404",
        ) | {"parameters": [ticket_id]}
    }  # fmt: skip
    paths["/api/followups/{ticket_id}/retry"] = {
        "post": _operation(
            "重新自动回访（班长、督办、管理员）：已转人工回访的工单重新开始一轮自动回访（第1次"
            "尝试立即排定，下次扫描时在回访时段内拨出或发送）；工单不在待回访、正在自动回访或"
            "没有联系电话为 409",
            "200", "401", "403", "404", "409",
        ) | {"parameters": [ticket_id]}
    }  # fmt: skip
    inbound = _operation(
        "短信网关回调：市民对回访短信的回复（JSON 或表单 phone、text），以请求头 X-SMS-Token"
        "（followup.sms_inbound_token）授权，不用会话与 CSRF；未配置令牌时接口关闭（404）。"
        "返回 matched（该号码有等待回复的短信回访）、accepted（回复为有效的两位评价）、"
        "attempt_id、ticket_id",
        "200", "400", "401", "404", "422", body=schema_of(SmsReply),
    )  # fmt: skip
    inbound["security"] = []
    inbound["parameters"] = [
        {"name": "X-SMS-Token", "in": "header", "required": True, "schema": {"type": "string"}}
    ]
    paths["/api/followups/sms-inbound"] = {"post": inbound}


def _kb_paths(paths: dict[str, Any], schema_of: Callable[[type[BaseModel]], Any]) -> None:
    """The knowledge base (kb.web)."""
    article_id = _path_param("article_id", ROW_ID)
    search = _operation(
        "搜索知识库：q 为口语问题（同义词表扩展）；k 条结果（1–50，默认 10）带高亮词；"
        "draft 为正在填写的工单的 client_token（用于统计知识缺口）",
        "200", "401", "422",
    )  # fmt: skip
    search["parameters"] = [
        _query("q", {"type": "string", "maxLength": 200}, "问题"),
        _query("k", {"type": "integer", "minimum": 1, "maximum": 50}, "结果条数"),
        _query("draft", {"type": "string", "maxLength": 64}, "工单草稿标识"),
        _query("ticket_id", ROW_ID, "在工单页搜索时的工单"),
    ]
    paths["/api/kb/search"] = {"get": search}
    listing = _operation(
        "知识列表（已发布；drafts=1 时编辑者另见草稿与归档）：category_id（含下级）、kind、"
        "unit_id、flagged=1（已失效或逾期未复审）、page、per_page",
        "200", "401", "422",
    )  # fmt: skip
    paths["/api/kb/articles"] = {
        "get": listing,
        "post": _operation(
            "新建知识：班长、督办、管理员直接发布；联络员只能为本单位编写，审核通过后发布",
            "201", "400", "401", "403", "422", body=schema_of(ArticleInput),
        ),
    }  # fmt: skip
    paths["/api/kb/articles/{article_id}"] = {
        "get": _operation("知识详情：内容、标记、引用次数、版本历史", "200", "401", "404")
        | {"parameters": [article_id]},
        "put": _operation(
            "修改知识：编辑者直接发布新版本；本单位联络员的修改待审核，期间仍显示原发布内容",
            "200", "400", "401", "403", "404", "422", body=schema_of(ArticleInput),
        ) | {"parameters": [article_id]},
    }  # fmt: skip
    paths["/api/kb/articles/{article_id}/archive"] = {
        "post": _operation(
            "归档（archived=true，不再被搜索）或恢复（班长、督办、管理员）",
            "200", "401", "403", "404", "422",
        ) | {"parameters": [article_id]}
    }  # fmt: skip
    paths["/api/kb/reviews"] = {
        "get": _operation(
            "待审核的版本（编辑者看全部，联络员看本单位），附现行内容", "200", "401", "403"
        )
    }
    paths["/api/kb/versions/{version_id}/review"] = {
        "post": _operation(
            "审核通过（发布）或退回（须填写理由）", "200", "400", "401", "403", "404", "409", "422",
            body=schema_of(Review),
        ) | {"parameters": [_path_param("version_id", ROW_ID)]}
    }  # fmt: skip
    category_id = _path_param("category_id", ROW_ID)
    paths["/api/kb/categories"] = {
        "get": _operation("知识目录（树形顺序，带层级与文章数）", "200", "401"),
        "post": _operation(
            "新建目录（编辑者）", "201", "400", "401", "403", "422", body=schema_of(CategoryInput)
        ),
    }
    paths["/api/kb/categories/{category_id}"] = {
        "put": _operation(
            "重命名目录（编辑者）", "200", "400", "401", "403", "404", "422",
            body=schema_of(CategoryInput),
        ) | {"parameters": [category_id]},
        "delete": _operation("删除空目录（编辑者）", "204", "401", "403", "404", "409")
        | {"parameters": [category_id]},
    }  # fmt: skip
    group_id = _path_param("group_id", ROW_ID)
    paths["/api/kb/synonyms"] = {
        "get": _operation("同义词表", "200", "401"),
        "post": _operation(
            "新增一组同义词（编辑者；一个词只属于一组）", "201", "400", "401", "403", "422",
            body=schema_of(SynonymInput),
        ),
    }  # fmt: skip
    paths["/api/kb/synonyms/{group_id}"] = {
        "put": _operation(
            "修改一组同义词", "200", "400", "401", "403", "404", "422", body=schema_of(SynonymInput)
        ) | {"parameters": [group_id]},
        "delete": _operation("删除一组同义词", "204", "401", "403", "404")
        | {"parameters": [group_id]},
    }  # fmt: skip
    paths["/api/kb/links"] = {
        "get": _operation("工单引用的知识（ticket_id）", "200", "401", "403", "404", "422"),
        "post": _operation(
            "为工单引用知识（话务员、班长、督办、管理员、值班领导）：计入知识的使用次数",
            "201", "400", "401", "403", "404", "422", body=schema_of(LinkArticles),
        ),
    }  # fmt: skip
    paths["/api/kb/gaps"] = {
        "get": _operation(
            "知识缺口（days 天内）：展示过却未被引用、工单仍被派出的知识；无结果的搜索",
            "200", "401", "403", "422",
        )
    }  # fmt: skip
    paths["/api/kb/import"] = {
        "post": {
            "summary": "导入 Markdown、DOCX 或 XLSX 文件（multipart 字段 file，≤ 10 MB）："
            "全部成功或全部不导入；错误逐条列出（details.problems）",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                },
            },
            "responses": _responses("201", {"type": "object"}, "401", "403", "422"),
        }
    }
    paths["/api/kb/export"] = {
        "get": {
            "summary": "导出已发布知识：format=xlsx（默认）或 md，可按目录、类型、单位筛选",
            "responses": {
                "200": {"description": "文件"},
                **{k: v for k, v in _responses("200", {}, "401", "422").items() if k != "200"},
            },
        }
    }


def build_openapi() -> dict[str, Any]:
    """Return the whole API description as a dict (served at /api/openapi.json)."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "message", "details"],
            "properties": {
                "error": {"type": "string", "description": "机器可读的错误代码"},
                "message": {"type": "string", "description": "给人看的中文说明"},
                "details": {"type": "object"},
            },
        },
        "TicketSummary": {
            "type": "object",
            "description": "列表中的工单；对承办单位和领导，诉求人姓名和电话已脱敏",
            "properties": {
                "id": {"type": "integer"},
                "number": {"type": "string"},
                "status": {"enum": [s.value for s in TicketStatus]},
                "request_type": {"enum": [t.value for t in RequestType]},
                "urgency": {"enum": [u.value for u in Urgency]},
                "light": {"enum": [lt.value for lt in Light] + [None]},
                "identity_masked": {"type": "boolean"},
            },
            "additionalProperties": True,
        },
        "TicketDetail": {
            "allOf": [_ref("TicketSummary")],
            "description": (
                "单张工单，含事件时间线、主协办单位、时限与红黄绿灯、延期记录、当前用户可执行的操作"
            ),
            "properties": {
                "events": {"type": "array", "items": {"type": "object"}},
                "clocks": {"type": "object"},
                "assignments": {"type": "array", "items": {"type": "object"}},
                "allowed_actions": {"type": "array", "items": {"type": "string"}},
            },
        },
        "TicketPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("TicketSummary")},
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
            },
        },
    }
    ticket_id = {
        "name": "ticket_id",
        "in": "path",
        "required": True,
        "schema": ROW_ID,
    }
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "健康检查（数据库、Redis）",
                "security": [],
                "responses": {
                    "200": {"description": "全部正常"},
                    "503": {"description": "有依赖不可用"},
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "本文档",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 文档"}},
            }
        },
        "/api/auth/login": {
            "post": {
                "summary": "登录（会话 Cookie），返回 CSRF 令牌",
                "security": [],
                "requestBody": _json_body(_add_model(schemas, LoginRequest)),
                "responses": _responses(
                    "200", {"type": "object"}, "400", "401", "415", "422", "429"
                ),
            }
        },
        "/api/auth/logout": {
            "post": {
                "summary": "退出登录",
                "responses": _responses("200", {"type": "object"}, "401"),
            }
        },
        "/api/me": {
            "get": {
                "summary": "当前用户与 CSRF 令牌",
                "responses": _responses("200", {"type": "object"}, "401"),
            }
        },
        "/api/units": {
            "get": {
                "summary": "承办单位与派单目录",
                "responses": _responses("200", {"type": "object"}, "401"),
            }
        },
        "/api/tickets": {
            "post": {
                "summary": "受理工单（同一用户重复提交同一 client_token 返回其原工单，状态码 200）",
                "requestBody": _json_body(_add_model(schemas, CreateTicket)),
                "responses": {
                    **_responses("201", _ref("TicketDetail"), "400", "401", "403", "422"),
                    "200": {
                        "description": "重复提交，返回已有工单",
                        "content": {"application/json": {"schema": _ref("TicketDetail")}},
                    },
                },
            },
            "get": {
                "summary": "工单列表（联络员只能看到本单位工单）",
                "parameters": [
                    _query("status", {"type": "string"}, "状态，可逗号分隔多个"),
                    _query("unit_id", {"type": "integer"}, "主办或协办单位"),
                    _query("request_type", {"enum": [t.value for t in RequestType]}, "诉求类型"),
                    _query("urgency", {"enum": [u.value for u in Urgency]}, "紧急程度"),
                    _query("light", {"enum": [lt.value for lt in Light]}, "红黄绿灯"),
                    _query(
                        "q",
                        {"type": "string"},
                        "标题、内容或工单号（联络员只能填工单号，否则 403 并记入审计日志）",
                    ),
                    _query("from", {"type": "string", "format": "date"}, "受理日期起（含）"),
                    _query("to", {"type": "string", "format": "date"}, "受理日期止（含）"),
                    _query(
                        "caller_phone",
                        {"type": "string"},
                        "来电号码（仅热线人员，记入审计日志；联络员使用时 403 并记入审计日志）",
                    ),
                    _query("problem", {"type": "boolean"}, "是否问题工单"),
                    _query("page", {"type": "integer", "minimum": 1}, "页码"),
                    _query(
                        "per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "每页条数"
                    ),
                ],
                "responses": _responses("200", _ref("TicketPage"), "401", "403", "422"),
            },
        },
        "/api/tickets/{ticket_id}": {
            "get": {
                "summary": "工单详情（查看未脱敏个人信息会记入审计日志）",
                "parameters": [ticket_id],
                "responses": _responses("200", _ref("TicketDetail"), "401", "403", "404"),
            }
        },
    }
    attachment_id = {
        "name": "attachment_id",
        "in": "path",
        "required": True,
        "schema": ROW_ID,
    }
    paths["/api/tickets/{ticket_id}/attachments"] = {
        "post": {
            "summary": "上传附件（热线人员，或主办单位联络员）：JPG/PNG/PDF/DOCX/XLSX",
            "parameters": [ticket_id],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                },
            },
            "responses": _responses("201", {"type": "object"}, "401", "403", "404", "422"),
        }
    }
    paths["/api/tickets/{ticket_id}/attachments/{attachment_id}"] = {
        "get": {
            "summary": "下载附件（可查看该工单者；记入审计日志）",
            "parameters": [ticket_id, attachment_id],
            "responses": {
                "200": {"description": "文件"},
                **{
                    k: v
                    for k, v in _responses("200", {}, "401", "403", "404").items()
                    if k != "200"
                },
            },
        }
    }

    def schema_of(cls: type[BaseModel]) -> dict[str, Any]:
        return _add_model(schemas, cls)

    paths["/api/routing/suggest"] = {
        "post": _operation(
            "派单建议：承办单位前三名、事项分类、诉求类型、属地、疑似重复工单",
            "200", "400", "401", "403", "422", body=schema_of(SuggestRequest),
        )
    }  # fmt: skip
    from dispatch.web import UnitPreviewRequest

    paths["/api/tickets/unit-preview"] = {
        "post": _operation(
            "单位看到的内容：草稿在承办单位眼中的样子（诉求人、电话与正文中的个人信息按同一规则遮蔽）",
            "200", "400", "401", "403", "422", body=schema_of(UnitPreviewRequest),
        )
    }  # fmt: skip
    paths["/api/routing/models"] = {
        "get": _operation("派单模型版本与留出集评分（管理员）", "200", "401", "403"),
        "post": _operation(
            "重新训练派单模型（管理员；后台任务，新版本不优于现版本时不启用）", "202", "401", "403"
        ),
    }
    cti: dict[str, tuple[str, str, type[BaseModel], str]] = {
        "seat": ("签入坐席（话务员、班长、督办、管理员，值班领导）", "200", SeatLogin, "409"),
        "state": ("坐席状态：就绪、示忙（原因）、签出", "200", AgentStateChange, "409"),
        "call": (
            "软电话：接听、挂断、保持、恢复、静音、取消静音、按键、转接、三方通话、结束三方"
            "（发给坐席话机进程；转接号码须在 telephony.transfer_targets 中）",
            "202", CallCommand, "409",
        ),
        "spy": (
            "监听、耳语、强插或退出（班长、督办、管理员，须已签入自己的坐席；记入审计日志）",
            "202", SpyCommand, "409",
        ),
        "link": ("把受理的工单关联到本人接听的来电记录", "200", LinkTicket, "404"),
        "dial": (
            "本人签入的坐席话机呼叫工单的诉求人（人工回访；号码不经浏览器，记入审计日志）；"
            "就绪的坐席先转为示忙",
            "202", DialCitizen, "409",
        ),
    }  # fmt: skip
    for name, (summary, ok, cls, refusal) in cti.items():
        paths[f"/api/cti/{name}"] = {
            "post": _operation(summary, ok, "401", "403", refusal, "422", body=schema_of(cls))
        }
    paths["/api/cti/me"] = {"get": _operation("我签入的坐席及其状态", "200", "401", "403")}
    paths["/api/cti/alive"] = {
        "post": _operation(
            "工作台仍在：坐席在 telephony.console_grace_seconds 内继续接来电（工作台页面通过实时"
            "连接的 seat_alive 事件做同样的事；超时未续的坐席转为离线）",
            "200", "401", "403",
        )
    }  # fmt: skip
    paths["/api/dispatch-queue"] = {
        "get": _operation(
            "待派单：已受理、尚未交给任何单位的工单（各渠道），受理早的在前，附智能派单建议的单位；"
            "不含诉求人信息（热线工作人员）",
            "200", "401", "403",
        )
    }  # fmt: skip
    paths["/api/dispatch-queue/count"] = {
        "get": _operation("待派单工单数（热线工作人员）", "200", "401", "403")
    }
    recording = _operation(
        "通话录音（WAV）：接听该来电的话务员及班长、督办、管理员；记入审计日志",
        "200", "401", "403", "404",
    )  # fmt: skip
    call_id = _path_param("call_id", {"type": "string", "maxLength": 200})
    paths["/api/cti/calls/{call_id}/recording"] = {"get": recording | {"parameters": [call_id]}}
    _hall_paths(paths, schema_of)
    _callback_paths(paths, schema_of)
    _followup_paths(paths, schema_of)
    _kb_paths(paths, schema_of)
    _reports_paths(paths)
    idempotency_key = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            "幂等键（每次用户操作一个新键，网络故障后重发同一请求时沿用）：同一用户以同一键重发"
            "同一请求，返回首次成功的结果（状态码与内容相同，并带 Idempotent-Replayed: true），"
            "不再执行；同一键用于不同请求则 422 idempotency_key_reused。被拒绝的操作不保存，"
            "重发时重新判断。键按用户区分，保存 24 小时"
        ),
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{8,64}$"},
    }
    replayed = {
        "Idempotent-Replayed": {
            "description": "true：这是同一幂等键首次请求的结果，本次未再执行",
            "schema": {"type": "string", "enum": ["true"]},
        }
    }
    for action, model in ACTION_COMMANDS.items():
        roles = ", ".join(sorted(r.value for r in ACTION_ROLES[action]))
        body = _json_body(_add_model(schemas, model), required=False)
        if action is Action.REPLY:
            # 回复 with its files in one request: both are written, or neither
            body["content"]["multipart/form-data"] = {"schema": REPLY_FORM}
        responses = _responses(
            "200", _ref("TicketDetail"), "400", "401", "403", "404", "409", "422"
        )
        responses["200"]["headers"] = replayed
        paths[f"/api/tickets/{{ticket_id}}/actions/{action.value}"] = {
            "post": {
                "summary": f"{ACTION_LABELS[action]}（{roles}）",
                "description": model.__doc__ or "",
                "parameters": [ticket_id, idempotency_key],
                "requestBody": body,
                "responses": responses,
            }
        }
    _database_outages(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 政务服务便民热线 API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "hotline user token 生成的令牌",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "登录后的会话；写操作需带 X-CSRF-Token 头",
                },
            },
        },
    }
