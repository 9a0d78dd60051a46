"""The OpenAPI paths and schemas of dispatch's JSON API: tickets, units, routing, follow-ups.

The routes are dispatch.web's (tickets, their actions and attachments, units, routing, the
dispatch queue) and dispatch.followup.web's (回访). Open311 has its own discovery document.
"""

from typing import Any

from dispatch.followup.web import SmsReply
from dispatch.tickets.commands import ACTION_COMMANDS
from dispatch.tickets.commands import CreateTicket
from dispatch.tickets.commands import Reply
from dispatch.tickets.commands import SuggestRequest
from dispatch.tickets.domain import ACTION_LABELS
from dispatch.tickets.domain import ACTION_ROLES
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import TicketStatus
from dispatch.web import UnitPreviewRequest
from infra.openapi import FILE
from infra.openapi import ROW_ID
from infra.openapi import file_responses
from infra.openapi import form_body
from infra.openapi import json_body
from infra.openapi import model_ref
from infra.openapi import model_schemas
from infra.openapi import operation
from infra.openapi import path_param
from infra.openapi import query
from infra.openapi import ref
from infra.openapi import responses
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Light

TICKET_ID = path_param("ticket_id", ROW_ID)
IDEMPOTENCY_KEY: dict[str, Any] = {
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
REPLAYED_HEADER: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "true：这是同一幂等键首次请求的结果，本次未再执行",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def schemas() -> dict[str, Any]:
    """The ticket views the API answers with, and the request bodies from the commands."""
    return model_schemas(
        CreateTicket, SuggestRequest, UnitPreviewRequest, SmsReply, *ACTION_COMMANDS.values()
    ) | {
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
            "allOf": [ref("TicketSummary")],
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
                "items": {"type": "array", "items": ref("TicketSummary")},
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
            },
        },
    }


def paths() -> dict[str, Any]:
    """Tickets, their actions and files, units, routing, the dispatch queue, follow-ups."""
    return _tickets() | _attachments() | _actions() | _routing() | _followups()


def _tickets() -> dict[str, Any]:
    return {
        "/api/units": {
            "get": {
                "summary": "承办单位与派单目录",
                "responses": responses("200", {"type": "object"}, "401"),
            }
        },
        "/api/tickets": {
            "post": {
                "summary": "受理工单（同一用户重复提交同一 client_token 返回其原工单，状态码 200）",
                "requestBody": json_body(model_ref(CreateTicket)),
                "responses": {
                    **responses("201", ref("TicketDetail"), "400", "401", "403", "422"),
                    "200": {
                        "description": "重复提交，返回已有工单",
                        "content": {"application/json": {"schema": ref("TicketDetail")}},
                    },
                },
            },
            "get": {
                "summary": "工单列表（联络员只能看到本单位工单）",
                "parameters": _ticket_filter(),
                "responses": responses("200", ref("TicketPage"), "401", "403", "422"),
            },
        },
        "/api/tickets/{ticket_id}": {
            "get": {
                "summary": "工单详情（查看未脱敏个人信息会记入审计日志）",
                "parameters": [TICKET_ID],
                "responses": responses("200", ref("TicketDetail"), "401", "403", "404"),
            }
        },
        "/api/tickets/unit-preview": {
            "post": operation(
                "单位看到的内容：草稿在承办单位眼中的样子（诉求人、电话与正文中的个人信息按同一规则遮蔽）",
                "200", "400", "401", "403", "422", body=model_ref(UnitPreviewRequest),
            )
        },
    }  # fmt: skip


def _ticket_filter() -> list[dict[str, Any]]:
    """GET /api/tickets's query (dispatch.web.parse_filter)."""
    return [
        query("status", {"type": "string"}, "状态，可逗号分隔多个"),
        query("unit_id", {"type": "integer"}, "主办或协办单位"),
        query("request_type", {"enum": [t.value for t in RequestType]}, "诉求类型"),
        query("urgency", {"enum": [u.value for u in Urgency]}, "紧急程度"),
        query("light", {"enum": [lt.value for lt in Light]}, "红黄绿灯"),
        query(
            "q",
            {"type": "string"},
            "标题、内容或工单号（联络员只能填工单号，否则 403 并记入审计日志）",
        ),
        query("from", {"type": "string", "format": "date"}, "受理日期起（含）"),
        query("to", {"type": "string", "format": "date"}, "受理日期止（含）"),
        query(
            "caller_phone",
            {"type": "string"},
            "来电号码（仅热线人员，记入审计日志；联络员使用时 403 并记入审计日志）",
        ),
        query("problem", {"type": "boolean"}, "是否问题工单"),
        query("page", {"type": "integer", "minimum": 1}, "页码"),
        query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "每页条数"),
    ]


def _attachments() -> dict[str, Any]:
    return {
        "/api/tickets/{ticket_id}/attachments": {
            "post": {
                "summary": "上传附件（热线人员，或主办单位联络员）：JPG/PNG/PDF/DOCX/XLSX",
                "parameters": [TICKET_ID],
                "requestBody": form_body(
                    {"type": "object", "required": ["file"], "properties": {"file": FILE}}
                ),
                "responses": responses("201", {"type": "object"}, "401", "403", "404", "422"),
            }
        },
        "/api/tickets/{ticket_id}/attachments/{attachment_id}": {
            "get": {
                "summary": "下载附件（可查看该工单者；记入审计日志）",
                "parameters": [TICKET_ID, path_param("attachment_id", ROW_ID)],
                "responses": file_responses("文件", "401", "403", "404"),
            }
        },
    }


def _reply_form() -> dict[str, Any]:
    """回复 as a multipart form: its fields as text, and up to ten files.

    The reply and its files are written together or not at all. The text is checked by the
    same model as the JSON reply (dispatch.web), so it is described from that model.
    """
    return {
        "type": "object",
        "required": ["text"],
        "properties": {
            "text": Reply.model_json_schema()["properties"]["text"],
            "contacted_at": {"type": "string", "format": "date-time"},
            "files": {"type": "array", "items": FILE, "maxItems": 10},
        },
    }


def _actions() -> dict[str, Any]:
    """POST /api/tickets/{ticket_id}/actions/<action>: one operation per lifecycle action."""
    out: dict[str, Any] = {}
    for action, model in ACTION_COMMANDS.items():
        roles = ", ".join(sorted(r.value for r in ACTION_ROLES[action]))
        body = json_body(model_ref(model), required=False)
        if action is Action.REPLY:
            # 回复 with its files in one request: both are written, or neither
            body["content"]["multipart/form-data"] = {"schema": _reply_form()}
        answers = responses("200", ref("TicketDetail"), "400", "401", "403", "404", "409", "422")
        answers["200"]["headers"] = REPLAYED_HEADER
        out[f"/api/tickets/{{ticket_id}}/actions/{action.value}"] = {
            "post": {
                "summary": f"{ACTION_LABELS[action]}（{roles}）",
                "description": model.__doc__ or "",
                "parameters": [TICKET_ID, IDEMPOTENCY_KEY],
                "requestBody": body,
                "responses": answers,
            }
        }
    return out


def _routing() -> dict[str, Any]:
    return {
        "/api/routing/suggest": {
            "post": operation(
                "派单建议：承办单位前三名、事项分类、诉求类型、属地、疑似重复工单",
                "200", "400", "401", "403", "422", body=model_ref(SuggestRequest),
            )
        },
        "/api/routing/models": {
            "get": operation("派单模型版本与留出集评分（管理员）", "200", "401", "403"),
            "post": operation(
                "重新训练派单模型（管理员；后台任务，新版本不优于现版本时不启用）",
                "202", "401", "403",
            ),
        },
        "/api/dispatch-queue": {
            "get": operation(
                "待派单：已受理、尚未交给任何单位的工单（各渠道），受理早的在前，附智能派单建议的单位；"
                "不含诉求人信息（热线工作人员）",
                "200", "401", "403",
            )
        },
        "/api/dispatch-queue/count": {
            "get": operation("待派单工单数（热线工作人员）", "200", "401", "403")
        },
    }  # fmt: skip


def _followups() -> dict[str, Any]:
    """回访 (dispatch.followup.web): the follow-up queues, a ticket's tries, retry, SMS replies."""
    inbound = operation(
        "短信网关回调：市民对回访短信的回复（JSON 或表单 phone、text），以请求头 X-SMS-Token"
        "（followup.sms_inbound_token）授权，不用会话与 CSRF；未配置令牌时接口关闭（404）。"
        "返回 matched（该号码有等待回复的短信回访）、accepted（回复为有效的两位评价）、"
        "attempt_id、ticket_id",
        "200", "400", "401", "404", "422", body=model_ref(SmsReply),
        parameters=[
            {"name": "X-SMS-Token", "in": "header", "required": True, "schema": {"type": "string"}}
        ],
    )  # fmt: skip
    inbound["security"] = []
    return {
        "/api/followups": {
            "get": operation(
                "待回访工单（话务员、班长、督办、管理员）：queue=manual 人工回访（自动回访无结果"
                "或无联系电话，按转人工时间从早到晚）、auto 自动回访进行中（按下次尝试时间）、"
                "all 全部；每行含联系电话（记入审计日志）、尝试次数、最近结果与下次尝试时间；"
                "counts 为各队列数量",
                "200", "401", "403", "422",
                parameters=[
                    query(
                        "queue",
                        {"type": "string", "enum": ["manual", "auto", "all"]},
                        "队列，默认 manual",
                    ),
                    query("page", {"type": "integer", "minimum": 1}, "页码"),
                    query(
                        "page_size",
                        {"type": "integer", "minimum": 1},
                        "每页条数（≤ page_size_max）",
                    ),
                ],
            )
        },
        "/api/tickets/{ticket_id}/followups": {
            "get": operation(
                "工单的自动回访尝试（可查看该工单者）：第几次、语音/短信、状态、按键及含义；"
                "热线人员另见所拨号码（记入审计日志），承办单位与领导不见号码",
                "200", "401", "403", "404", parameters=[TICKET_ID],
            )
        },
        "/api/followups/{ticket_id}/retry": {
            "post": operation(
                "重新自动回访（班长、督办、管理员）：已转人工回访的工单重新开始一轮自动回访（第1次"
                "尝试立即排定，下次扫描时在回访时段内拨出或发送）；工单不在待回访、正在自动回访或"
                "没有联系电话为 409",
                "200", "401", "403", "404", "409", parameters=[TICKET_ID],
            )
        },
        "/api/followups/sms-inbound": {"post": inbound},
    }  # fmt: skip
