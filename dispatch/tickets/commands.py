"""Commands: the validated input of each ticket use case.

Pydantic models serve three purposes at once: they parse API input (strictly: a number sent
as a string is an error), they are the typed commands the services take, and their JSON
schemas are the OpenAPI request bodies. domain.py stays free of any library.
"""

import datetime as dt
from typing import Annotated
from typing import Any

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import Field
from pydantic import StringConstraints
from pydantic import model_validator

from dispatch.tickets.domain import Action
from dispatch.tickets.domain import Channel
from dispatch.tickets.domain import ReturnReason
from dispatch.tickets.domain import Satisfaction
from infra.commands import Command
from infra.ids import RowId
from kernel.phones import normalize_phone
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency

MAX_TITLE = 200
MAX_CONTENT = 20_000
MAX_NOTE = 5_000

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
Content = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CONTENT)
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE)]
OptionalNote = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE)]
# Telephone numbers in one spelling (kernel.phones): 139-1234-5679 is kept as 13912345679.
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(normalize_phone)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]
UnitId = RowId


class DispatchTo(Command):
    """Where to send a ticket: the lead unit (主办) and assisting units (协办)."""

    lead_unit_id: UnitId
    assist_unit_ids: Annotated[list[UnitId], Field(max_length=10)] = []
    note: OptionalNote = ""


class CreateTicket(Command):
    """Accept a citizen request (受理), and optionally dispatch it at once (受理并派单)."""

    channel: Channel = Channel.PHONE
    caller_phone: Phone | None = None
    citizen_name: Name | None = None
    anonymous: bool = False
    confidential: bool = False
    disclosure_allowed: bool = False
    contact_phone: Phone | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    district_id: UnitId | None = None
    street_id: UnitId | None = None
    community_id: UnitId | None = None
    request_type: RequestType
    urgency: Urgency = Urgency.NORMAL
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    title: Title
    content: Content
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    client_token: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{8,64}$")] | None = (
        None
    )
    dispatch: DispatchTo | None = None
    # 智能派单: dispatch at once to the suggested unit when the router is sure enough.
    auto_dispatch: bool = False
    # Accept as a duplicate and merge it into this open ticket (合并) in one step.
    merge_into: RowId | None = None

    @model_validator(mode="after")
    def _anonymous_has_no_name(self) -> "CreateTicket":
        if self.anonymous and self.citizen_name:
            raise ValueError("匿名诉求不能填写诉求人姓名")
        return self

    @model_validator(mode="after")
    def _one_next_step(self) -> "CreateTicket":
        chosen = [self.dispatch is not None, self.auto_dispatch, self.merge_into is not None]
        if sum(chosen) > 1:
            raise ValueError(
                "派单（dispatch）、智能派单（auto_dispatch）与合并（merge_into）只能选一项"
            )
        return self


class SuggestRequest(Command):
    """A draft ticket to suggest a unit, category and request type for (派单建议)."""

    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100_000)] = ""
    content: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100_000)] = ""
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    # As typed so far: only compared with other tickets' numbers, never stored.
    caller_phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = (
        None
    )
    district_id: UnitId | None = None
    street_id: UnitId | None = None
    community_id: UnitId | None = None
    exclude_ticket_id: RowId | None = None


class ResolveDirectly(Command):
    """Resolve at the hotline with an answer (直接办结)."""

    answer: Content


class Dispatch(DispatchTo):
    """Send to a lead unit and optional assisting units (派单)."""


class Sign(Command):
    """The lead unit signs for the ticket (签收)."""

    note: OptionalNote = ""


class Return(Command):
    """The lead unit returns the ticket with a reason (退回)."""

    reason_code: ReturnReason
    reason: Note


class Reassign(Command):
    """The hotline sends the ticket to another lead unit (改派)."""

    lead_unit_id: UnitId
    assist_unit_ids: Annotated[list[UnitId], Field(max_length=10)] = []
    note: OptionalNote = ""


class Uphold(Command):
    """The hotline rejects the return; the unit must handle it (审定)."""

    note: Note


class Extend(Command):
    """The lead unit asks for more working days (延期申请)."""

    days: Annotated[int, Field(ge=1, le=60)]
    reason: Note


class DecideExtension(Command):
    """The hotline approves or denies the pending extension request."""

    approve: bool
    note: OptionalNote = ""


class Reply(Command):
    """The lead unit replies with the result (回复)."""

    text: Content
    contacted_at: dt.datetime | None = None
    attachment_ids: Annotated[list[RowId], Field(max_length=20)] = []


class Review(Command):
    """The hotline accepts the reply or sends it back to the unit (审核)."""

    approve: bool
    note: OptionalNote = ""

    @model_validator(mode="after")
    def _rejection_needs_note(self) -> "Review":
        if not self.approve and not self.note:
            raise ValueError("退回重新办理时必须填写审核意见")
        return self


class FollowUp(Command):
    """Record the call back to the citizen (回访)."""

    reached: bool = True
    solved: bool | None = None
    satisfaction: Satisfaction | None = None
    note: OptionalNote = ""

    @model_validator(mode="after")
    def _reached_needs_answers(self) -> "FollowUp":
        if self.reached and (self.solved is None or self.satisfaction is None):
            raise ValueError("联系上诉求人时必须填写是否解决和满意度")
        return self


class Close(Command):
    """Close the ticket (办结)."""

    note: OptionalNote = ""


class Reopen(Command):
    """Send the ticket back for another round (重办)."""

    reason: Note
    lead_unit_id: UnitId | None = None


class Remind(Command):
    """Remind the unit of the deadline (催办)."""

    note: OptionalNote = ""


class Supervise(Command):
    """Issue a supervision order to the unit (督办)."""

    note: OptionalNote = ""


class Merge(Command):
    """Merge this duplicate into a master ticket (合并), named by id or by its 工单号."""

    master_id: RowId | None = None
    master_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None
    ) = None
    note: OptionalNote = ""

    @model_validator(mode="after")
    def _one_master(self) -> "Merge":
        if (self.master_id is None) == (self.master_number is None):
            raise ValueError("请填写主工单的工单号")
        return self


ACTION_COMMANDS: dict[Action, type[Command]] = {
    Action.RESOLVE_DIRECTLY: ResolveDirectly,
    Action.DISPATCH: Dispatch,
    Action.SIGN: Sign,
    Action.RETURN: Return,
    Action.REASSIGN: Reassign,
    Action.UPHOLD: Uphold,
    Action.EXTEND: Extend,
    Action.DECIDE_EXTENSION: DecideExtension,
    Action.REPLY: Reply,
    Action.REVIEW: Review,
    Action.FOLLOW_UP: FollowUp,
    Action.CLOSE: Close,
    Action.REOPEN: Reopen,
    Action.REMIND: Remind,
    Action.SUPERVISE: Supervise,
    Action.MERGE: Merge,
}


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return the model's JSON schema with definitions inlined for OpenAPI components."""
    return model.model_json_schema(ref_template="#/components/schemas/{model}")
