"""Ticket domain: vocabulary, the lifecycle state machine and who may act on a ticket.

Pure code (stdlib only). The lifecycle is a plain transition table so that it can be read,
tested pair by pair and shown to auditors; services call `next_status` and never set a
status by hand.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from kernel.errors import Conflict
from kernel.errors import PermissionDenied
from kernel.roles import ROLE_LABELS
from kernel.roles import Role
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency


class Channel(StrEnum):
    PHONE = "phone"
    WEB = "web"
    APP = "app"
    SMS = "sms"
    MAIL = "mail"
    OPEN311 = "open311"


class AssignmentRole(StrEnum):
    LEAD = "lead"
    ASSIST = "assist"


class ReturnReason(StrEnum):
    NOT_OURS = "not_ours"
    WRONG_LOCALITY = "wrong_locality"
    UNCLEAR_OWNERSHIP = "unclear_ownership"


class Satisfaction(StrEnum):
    """The five follow-up levels; the first three count as satisfied (满意率, DOMAIN.md)."""

    VERY_SATISFIED = "very_satisfied"  # 非常满意
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"


SATISFACTION_LABELS: Final[Mapping[Satisfaction, str]] = {
    Satisfaction.VERY_SATISFIED: "非常满意",
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
    Satisfaction.VERY_DISSATISFIED: "非常不满意",
}

# 满意率 = (satisfied + basically satisfied) ÷ valid follow-ups.
SATISFIED_LEVELS: Final = frozenset(
    {Satisfaction.VERY_SATISFIED, Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED}
)


class TicketStatus(StrEnum):
    ACCEPTED = "accepted"  # 受理
    RESOLVED = "resolved"  # 直办办结 (terminal)
    DISPATCHED = "dispatched"  # 已派单, waiting for the unit to sign
    SIGNED = "signed"  # 已签收, the unit is handling it
    RETURNED = "returned"  # 已退回, waiting for the hotline to reassign or uphold
    REPLIED = "replied"  # 已回复, waiting for review
    REVIEWED = "reviewed"  # 已审核, waiting for follow-up
    FOLLOWED_UP = "followed_up"  # 已回访, waiting for close or reopen
    CLOSED = "closed"  # 办结
    MERGED = "merged"  # 已合并 into a master ticket (terminal)


TERMINAL_STATUSES: Final = frozenset({TicketStatus.RESOLVED, TicketStatus.MERGED})
OPEN_STATUSES: Final = frozenset(TicketStatus) - TERMINAL_STATUSES - {TicketStatus.CLOSED}


class TicketEvent(StrEnum):
    CREATE = "create"
    RESOLVE_DIRECTLY = "resolve_directly"
    DISPATCH = "dispatch"
    SIGN = "sign"
    RETURN = "return"
    REASSIGN = "reassign"
    UPHOLD = "uphold"
    EXTEND = "extend"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    REPLY = "reply"
    APPROVE_REPLY = "approve_reply"
    REJECT_REPLY = "reject_reply"
    FOLLOW_UP = "follow_up"
    CLOSE = "close"
    REOPEN = "reopen"
    REMIND = "remind"
    SUPERVISE = "supervise"
    NOTICE = "notice"  # 通报: named in the weekly brief (only the supervision sweep does it)
    MERGE = "merge"


class Action(StrEnum):
    """The API's transition routes; some carry a decision that picks the event."""

    RESOLVE_DIRECTLY = "resolve_directly"
    DISPATCH = "dispatch"
    SIGN = "sign"
    RETURN = "return"
    REASSIGN = "reassign"
    UPHOLD = "uphold"
    EXTEND = "extend"
    DECIDE_EXTENSION = "decide_extension"
    REPLY = "reply"
    REVIEW = "review"
    FOLLOW_UP = "follow_up"
    CLOSE = "close"
    REOPEN = "reopen"
    REMIND = "remind"
    SUPERVISE = "supervise"
    MERGE = "merge"


S = TicketStatus
E = TicketEvent

# Supervision (催办/督办) is possible wherever a unit or the hotline still owes work.
_SUPERVISABLE = (S.DISPATCHED, S.SIGNED, S.RETURNED, S.REPLIED, S.REVIEWED, S.FOLLOWED_UP)
# A duplicate can be merged until a unit has replied to it.
_MERGEABLE = (S.ACCEPTED, S.DISPATCHED, S.SIGNED, S.RETURNED)

TRANSITIONS: Final[Mapping[tuple[TicketStatus, TicketEvent], TicketStatus]] = {
    (S.ACCEPTED, E.RESOLVE_DIRECTLY): S.RESOLVED,
    (S.ACCEPTED, E.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, E.SIGN): S.SIGNED,
    (S.DISPATCHED, E.RETURN): S.RETURNED,
    (S.SIGNED, E.RETURN): S.RETURNED,
    (S.DISPATCHED, E.REASSIGN): S.DISPATCHED,
    (S.RETURNED, E.REASSIGN): S.DISPATCHED,
    (S.RETURNED, E.UPHOLD): S.DISPATCHED,
    (S.SIGNED, E.EXTEND): S.SIGNED,
    (S.SIGNED, E.APPROVE_EXTENSION): S.SIGNED,
    (S.SIGNED, E.DENY_EXTENSION): S.SIGNED,
    (S.SIGNED, E.REPLY): S.REPLIED,
    (S.REPLIED, E.APPROVE_REPLY): S.REVIEWED,
    (S.REPLIED, E.REJECT_REPLY): S.SIGNED,
    (S.REVIEWED, E.FOLLOW_UP): S.FOLLOWED_UP,
    (S.REVIEWED, E.CLOSE): S.CLOSED,
    (S.FOLLOWED_UP, E.CLOSE): S.CLOSED,
    (S.FOLLOWED_UP, E.REOPEN): S.DISPATCHED,
    (S.CLOSED, E.REOPEN): S.DISPATCHED,
    **{(s, E.REMIND): s for s in _SUPERVISABLE},
    **{(s, E.SUPERVISE): s for s in _SUPERVISABLE},
    **{(s, E.NOTICE): s for s in _SUPERVISABLE},
    **{(s, E.MERGE): S.MERGED for s in _MERGEABLE},
}

ACTION_EVENTS: Final[Mapping[Action, tuple[TicketEvent, ...]]] = {
    Action.RESOLVE_DIRECTLY: (E.RESOLVE_DIRECTLY,),
    Action.DISPATCH: (E.DISPATCH,),
    Action.SIGN: (E.SIGN,),
    Action.RETURN: (E.RETURN,),
    Action.REASSIGN: (E.REASSIGN,),
    Action.UPHOLD: (E.UPHOLD,),
    Action.EXTEND: (E.EXTEND,),
    Action.DECIDE_EXTENSION: (E.APPROVE_EXTENSION, E.DENY_EXTENSION),
    Action.REPLY: (E.REPLY,),
    Action.REVIEW: (E.APPROVE_REPLY, E.REJECT_REPLY),
    Action.FOLLOW_UP: (E.FOLLOW_UP,),
    Action.CLOSE: (E.CLOSE,),
    Action.REOPEN: (E.REOPEN,),
    Action.REMIND: (E.REMIND,),
    Action.SUPERVISE: (E.SUPERVISE,),
    Action.MERGE: (E.MERGE,),
}

_FRONT_DESK = frozenset({Role.OPERATOR, Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN})
_DESK_LEADS = frozenset({Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN})
_UNITS = frozenset({Role.LIAISON})

ACTION_ROLES: Final[Mapping[Action, frozenset[Role]]] = {
    Action.RESOLVE_DIRECTLY: _FRONT_DESK,
    Action.DISPATCH: _FRONT_DESK,
    Action.FOLLOW_UP: _FRONT_DESK,
    Action.MERGE: _FRONT_DESK,
    Action.SIGN: _UNITS,
    Action.RETURN: _UNITS,
    Action.EXTEND: _UNITS,
    Action.REPLY: _UNITS,
    Action.REASSIGN: _DESK_LEADS,
    Action.UPHOLD: _DESK_LEADS,
    Action.DECIDE_EXTENSION: _DESK_LEADS,
    Action.REVIEW: _DESK_LEADS,
    Action.CLOSE: _DESK_LEADS,
    Action.REOPEN: _DESK_LEADS,
    Action.REMIND: _DESK_LEADS,
    Action.SUPERVISE: _DESK_LEADS,
}

CREATE_ROLES: Final = _FRONT_DESK
READ_ALL_ROLES: Final = frozenset(
    {Role.OPERATOR, Role.TEAM_LEAD, Role.SUPERVISOR, Role.LEADER, Role.ADMIN}
)

# The words people read for each value, written once (pages, exports, the weekly brief).
CHANNEL_LABELS: Final[Mapping[Channel, str]] = {
    Channel.PHONE: "电话",
    Channel.WEB: "网站",
    Channel.APP: "移动应用",
    Channel.SMS: "短信",
    Channel.MAIL: "信件",
    Channel.OPEN311: "开放接口",
}
REQUEST_TYPE_LABELS: Final[Mapping[RequestType, str]] = {
    RequestType.ENQUIRY: "咨询",
    RequestType.HELP: "求助",
    RequestType.COMPLAINT: "投诉",
    RequestType.REPORT: "举报",
    RequestType.SUGGESTION: "建议",
    RequestType.PRAISE: "表扬",
}
URGENCY_LABELS: Final[Mapping[Urgency, str]] = {
    Urgency.NORMAL: "一般",
    Urgency.URGENT: "紧急",
    Urgency.CRITICAL: "特急",
}

STATUS_LABELS: Final[Mapping[TicketStatus, str]] = {
    S.ACCEPTED: "已受理",
    S.RESOLVED: "直办办结",
    S.DISPATCHED: "待签收",
    S.SIGNED: "办理中",
    S.RETURNED: "已退回",
    S.REPLIED: "待审核",
    S.REVIEWED: "待回访",
    S.FOLLOWED_UP: "已回访",
    S.CLOSED: "已办结",
    S.MERGED: "已合并",
}

ACTION_LABELS: Final[Mapping[Action, str]] = {
    Action.RESOLVE_DIRECTLY: "直接办结",
    Action.DISPATCH: "派单",
    Action.SIGN: "签收",
    Action.RETURN: "退回",
    Action.REASSIGN: "改派",
    Action.UPHOLD: "审定",
    Action.EXTEND: "申请延期",
    Action.DECIDE_EXTENSION: "审批延期",
    Action.REPLY: "回复",
    Action.REVIEW: "审核",
    Action.FOLLOW_UP: "回访",
    Action.CLOSE: "办结",
    Action.REOPEN: "重办",
    Action.REMIND: "催办",
    Action.SUPERVISE: "督办",
    Action.MERGE: "合并",
}


EVENT_LABELS: Final[Mapping[TicketEvent, str]] = {
    E.CREATE: "受理",
    E.RESOLVE_DIRECTLY: "直接办结",
    E.DISPATCH: "派单",
    E.SIGN: "签收",
    E.RETURN: "退回",
    E.REASSIGN: "改派",
    E.UPHOLD: "审定",
    E.EXTEND: "申请延期",
    E.APPROVE_EXTENSION: "同意延期",
    E.DENY_EXTENSION: "不同意延期",
    E.REPLY: "回复",
    E.APPROVE_REPLY: "审核通过",
    E.REJECT_REPLY: "审核退回",
    E.FOLLOW_UP: "回访",
    E.CLOSE: "办结",
    E.REOPEN: "重办",
    E.REMIND: "催办",
    E.SUPERVISE: "督办",
    E.NOTICE: "通报",
    E.MERGE: "合并",
}


class IllegalTransition(Conflict):
    """No such step from this status (a conflict with the ticket's state: HTTP 409)."""

    code = "illegal_transition"

    def __init__(self, status: TicketStatus, event: TicketEvent) -> None:
        super().__init__(
            f"工单当前状态为「{STATUS_LABELS[status]}」，不能执行「{event.value}」操作",
            {"status": status.value, "event": event.value},
        )
        self.status = status
        self.event = event


def next_status(current: TicketStatus, event: TicketEvent) -> TicketStatus:
    """Return the status after `event`, or raise IllegalTransition."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise IllegalTransition(current, event) from None


def allowed_actions(status: TicketStatus, role: Role) -> list[Action]:
    """List the actions this role may try on a ticket in this status (guards aside)."""
    return [
        action
        for action, events in ACTION_EVENTS.items()
        if role in ACTION_ROLES[action] and any((status, e) in TRANSITIONS for e in events)
    ]


def check_role(action: Action, role: Role) -> None:
    """Raise PermissionDenied unless the role may perform the action."""
    if role not in ACTION_ROLES[action]:
        raise PermissionDenied(
            f"{ROLE_LABELS[role]}无权执行「{ACTION_LABELS[action]}」",
            {"action": action.value, "role": role.value},
        )


def is_problem_ticket(
    reopen_count: int, lead_units: int, *, reopens: int = 3, units: int = 3
) -> bool:
    """A ticket reopened `reopens` times or passed through `units` lead units is a problem."""
    return reopen_count >= reopens or lead_units >= units
