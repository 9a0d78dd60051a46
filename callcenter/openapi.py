"""The OpenAPI paths and schemas of the call center's JSON API: /api/cti and /api/callbacks.

The routes are callcenter.cti's: the operator's console (`console`), the supervisors' hall
and leader duty (`hall`), and the call-back list (`callbacks`).
"""

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
from infra.openapi import ROW_ID
from infra.openapi import model_ref
from infra.openapi import model_schemas
from infra.openapi import operation
from infra.openapi import path_param
from infra.openapi import query

# POST /api/cti/<name>: summary, success status, body, and the refusal besides 401/403/422.
CONSOLE_COMMANDS: dict[str, tuple[str, str, type[BaseModel], str]] = {
    "seat": ("签入坐席（话务员、班长、督办、管理员，值班领导）", "200", SeatLogin, "409"),
    "state": ("坐席状态：就绪、示忙（原因）、签出", "200", AgentStateChange, "409"),
    "call": (
        "软电话：接听、挂断、保持、恢复、静音、取消静音、按键、转接、三方通话、结束三方"
        "（发给坐席话机进程；转接、三方通话的号码须在 GET /api/cti/targets 的列表中）",
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


def schemas() -> dict[str, Any]:
    """The request bodies, from the commands the console, hall and call-back list parse."""
    commands = [cls for _, _, cls, _ in CONSOLE_COMMANDS.values()]
    return model_schemas(*commands, AddDuty, FinishCallback, CancelCallback)


def paths() -> dict[str, Any]:
    """The console, the hall and leader duty, and the call-back tasks."""
    return _console() | _hall() | _callbacks()


def _console() -> dict[str, Any]:
    out: dict[str, Any] = {
        f"/api/cti/{name}": {
            "post": operation(summary, ok, "401", "403", refusal, "422", body=model_ref(cls))
        }
        for name, (summary, ok, cls, refusal) in CONSOLE_COMMANDS.items()
    }
    out["/api/cti/me"] = {"get": operation("我签入的坐席及其状态", "200", "401", "403")}
    out["/api/cti/alive"] = {
        "post": operation(
            "工作台仍在：坐席在 telephony.console_grace_seconds 内继续接来电（工作台页面通过实时"
            "连接的 seat_alive 事件做同样的事；超时未续的坐席转为离线）",
            "200", "401", "403",
        )
    }  # fmt: skip
    out["/api/cti/targets"] = {
        "get": operation(
            "转接与三方通话可选的号码：telephony.transfer_targets 所列号码（紧急求助与专线），"
            "再是各在用成员单位在系统管理中登记的电话（只取数字，如 0710-88881201 拨 "
            "071088881201）：targets 列表，每项 number、name、group",
            "200", "401", "403",
        )
    }  # fmt: skip
    out["/api/cti/headset"] = {
        "post": operation(
            "网页耳机的账号：本人签入坐席的耳机名（hs-坐席号）、本次签入的新密码（只返回这一次，"
            "上一个浏览器的密码随之作废；签出或他人签入后失效）和浏览器连接电话系统的 WebSocket "
            "地址；本中心未启用网页耳机（telephony.ws_port、wss_port 均为 0）时为 409",
            "200", "401", "403", "409",
        )
    }  # fmt: skip
    out["/api/cti/headset/ring"] = {
        "post": operation(
            "网页耳机已注册：请本人签入的坐席话机呼叫它，并在整个班次保持这一路通话",
            "202", "401", "403", "409",
        )
    }  # fmt: skip
    out["/api/cti/headset/lost"] = {
        "post": operation(
            "网页耳机断开：坐席置为示忙（耳机断开），通话中则在通话结束后生效；未签入坐席时"
            "不做任何改变",
            "200", "401", "403",
        )
    }  # fmt: skip
    out["/api/cti/calls/{call_id}/recording"] = {
        "get": operation(
            "通话录音（WAV）：接听该来电的话务员及班长、督办、管理员；记入审计日志",
            "200", "401", "403", "404",
            parameters=[path_param("call_id", {"type": "string", "maxLength": 200})],
        )
    }  # fmt: skip
    return out


def _hall() -> dict[str, Any]:
    """The supervisors' routes (callcenter.cti.hall): the hall view, not-ready, leader duty."""
    seat = [path_param("seat", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"})]
    return {
        "/api/cti/hall": {
            "get": operation(
                "坐席监控：每个坐席的话务员、状态、时长、当前来电（号码只显示后四位），排队来电"
                "（班长、督办、管理员）",
                "200", "401", "403", "503",
            )
        },
        "/api/cti/seats/{seat}/not_ready": {
            "post": operation(
                "强制示忙：outcome 为 ok（立即生效）或 pending（通话结束后生效）；记入审计日志",
                "200", "401", "403", "404", "409", parameters=seat,
            )
        },
        "/api/cti/seats/{seat}/reset": {
            "post": operation(
                "复位：坐席卡在振铃或通话中（通话结束未上报）时结束其当前通话（end_reason 为 "
                "supervisor_reset，通话记录随之结束）并置为示忙（话务员已退出则离线）；"
                "不在通话中为 409；记入审计日志",
                "200", "401", "403", "404", "409", parameters=seat,
            )
        },
        "/api/cti/duties": {
            "get": operation("尚未结束的领导接听值班，按开始时间排列", "200", "401", "403"),
            "post": operation(
                "安排领导接听值班（督办、管理员）：须为领导；结束晚于开始；同一领导不得重叠",
                "201", "401", "403", "409", "422", body=model_ref(AddDuty),
            ),
        },
        "/api/cti/duties/{duty_id}": {
            "delete": operation(
                "删除值班安排（督办、管理员）", "200", "401", "403", "404",
                parameters=[path_param("duty_id", ROW_ID)],
            )
        },
    }  # fmt: skip


def _callbacks() -> dict[str, Any]:
    """漏接回拨 (callcenter.cti.callbacks): call-back tasks for missed and abandoned calls."""
    task_id = [path_param("task_id", ROW_ID)]
    return {
        "/api/callbacks": {
            "get": operation(
                "漏接回拨任务（话务员、班长、督办、管理员），按创建时间从新到旧：status 可逗号"
                "分隔（open 待回拨、claimed 已认领、done 已完成、cancelled 已取消；默认 "
                "open,claimed），page、per_page（≤ 100）；open_count 为待回拨与已认领的总数",
                "200", "401", "403", "422",
                parameters=[
                    query("status", {"type": "string"}, "状态，可逗号分隔多个"),
                    query("page", {"type": "integer", "minimum": 1}, "页码"),
                    query(
                        "per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "每页条数"
                    ),
                ],
            )
        },
        "/api/callbacks/{task_id}/claim": {
            "post": operation(
                "认领：待回拨的任务归本人（本人再次认领不变）；已被他人认领或已结束为 409",
                "200", "401", "403", "404", "409", parameters=task_id,
            )
        },
        "/api/callbacks/{task_id}/dial": {
            "post": operation(
                "回拨：本人签入的坐席话机呼叫该号码（202），未认领的任务同时归本人；就绪或话后整理"
                "的坐席先转为示忙（话后处理），回拨后请手动就绪。未签入坐席、正在通话、话机未连接、"
                "任务已被他人认领或已结束为 409",
                "202", "401", "403", "404", "409", parameters=task_id,
            )
        },
        "/api/callbacks/{task_id}/done": {
            "post": operation(
                "记录结果：reached 已联系上、wrong_number 号码错误（任务完成），no_answer 未接通"
                "（任务回到待回拨，计一次尝试）；可附备注与由此受理的工单 ticket_id",
                "200", "400", "401", "403", "404", "409", "422",
                body=model_ref(FinishCallback), parameters=task_id,
            )
        },
        "/api/callbacks/{task_id}/cancel": {
            "post": operation(
                "取消回拨任务（班长、督办、管理员），可附备注", "200", "400", "401", "403", "404",
                "409", "422", body=model_ref(CancelCallback), parameters=task_id,
            )
        },
    }  # fmt: skip
