"""Routing use cases for the front desk: suggestions for a draft, and auto-dispatch on create."""

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from dispatch.routing.duplicates import Duplicate
from dispatch.routing.duplicates import DuplicateRules
from dispatch.routing.duplicates import find_duplicates
from dispatch.routing.locality import Locality
from dispatch.routing.router import AutoDecision
from dispatch.routing.router import Draft
from dispatch.routing.router import Router
from dispatch.routing.router import Suggestion
from dispatch.tickets import commands as c
from dispatch.tickets.actions import AutoDispatch
from dispatch.tickets.context import DispatchContext
from infra.db import UnitOfWork
from infra.text import Document
from kernel.actor import Actor
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.text import has_words

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assistant:
    """What routing needs from the composition root."""

    router: Router
    duplicates: DuplicateRules


def _check_role(ctx: DispatchContext, actor: Actor) -> None:
    if not ctx.may_accept(actor):
        raise PermissionDenied("当前角色无权使用派单建议", {"role": actor.role.value})


def _draft(cmd: c.SuggestRequest | c.CreateTicket) -> Draft:
    return Draft(
        title=cmd.title,
        content=cmd.content,
        address=cmd.address,
        caller_phone=cmd.caller_phone,
        district_id=cmd.district_id,
        street_id=cmd.street_id,
        community_id=cmd.community_id,
    )


def _consider(
    uow: UnitOfWork,
    ctx: DispatchContext,
    assistant: Assistant,
    cmd: c.SuggestRequest | c.CreateTicket,
    exclude_id: int | None = None,
) -> tuple[Suggestion, list[Duplicate], AutoDecision]:
    """Ask the router, look for duplicates at the place it found, decide on auto-dispatch."""
    suggestion = assistant.router.suggest(_draft(cmd))
    with uow:
        found = find_duplicates(
            uow.session,
            Document.of(cmd.title, cmd.content),
            suggestion.locality,
            cmd.caller_phone,
            ctx.utcnow(),
            assistant.duplicates,
            exclude_id=exclude_id,
        )
    return suggestion, found, assistant.router.decide(suggestion, duplicates=len(found))


def suggest(
    uow: UnitOfWork,
    ctx: DispatchContext,
    assistant: Assistant,
    actor: Actor,
    cmd: c.SuggestRequest,
) -> dict[str, Any]:
    """Suggestions for what the operator has typed: units, category, type, place, duplicates.

    :raises ValidationError: the title and content hold no word at all (empty, punctuation).
    """
    _check_role(ctx, actor)
    if not (has_words(cmd.title) or has_words(cmd.content)):
        raise ValidationError(
            {"content": "请输入诉求内容（至少一个汉字、字母或数字）"},
            "诉求内容为空，无法给出派单建议",
        )
    suggestion, found, decision = _consider(uow, ctx, assistant, cmd, cmd.exclude_ticket_id)
    return suggestion_view(assistant.router, ctx, suggestion, found, decision) | {
        "truncated": len(cmd.content) > 2_000
    }


def plan_auto_dispatch(
    uow: UnitOfWork,
    ctx: DispatchContext,
    assistant: Assistant,
    cmd: c.CreateTicket,
) -> tuple[c.CreateTicket, AutoDispatch | None, dict[str, Any]]:
    """Decide, for a ticket about to be created with `auto_dispatch`, where it goes.

    Returns the command with the locality filled in when the operator gave none, the
    dispatch to make (or None: the operator picks) and the decision to show.
    """
    try:
        suggestion, _, decision = _consider(uow, ctx, assistant, cmd)
    except Exception:  # noqa: BLE001 - routing is advice: the ticket is accepted regardless
        log.exception("routing failed; the ticket is accepted without auto-dispatch")
        why = "派单建议暂不可用，工单已受理，请人工派单"
        failed = AutoDecision(False, None, 0.0, assistant.router.threshold, why)
        return cmd, None, decision_view(failed) | {"model_version": None}
    loc = suggestion.locality
    if loc.found and not (cmd.district_id or cmd.street_id or cmd.community_id):
        cmd = cmd.model_copy(
            update={
                "district_id": loc.district_id,
                "street_id": loc.street_id,
                "community_id": loc.community_id,
            }
        )
    view = decision_view(decision) | {
        "model_version": suggestion.model_version,
        # the suggested unit, so that the console can dispatch it in one key when not sure
        "unit_name": unit.name
        if decision.unit_id and (unit := assistant.router.catalogue.by_id.get(decision.unit_id))
        else None,
    }
    if not decision.dispatch or decision.unit_id is None:
        return cmd, None, view
    top = suggestion.top
    data = {
        "confidence": decision.confidence,
        "threshold": decision.threshold,
        "words": list(top.words) if top else [],
        "model_version": suggestion.model_version,
    }
    return cmd, AutoDispatch(decision.unit_id, decision.reason, data), view


def advise(
    uow: UnitOfWork, ctx: DispatchContext, assistant: Assistant, cmd: c.CreateTicket
) -> dict[str, Any] | None:
    """The router's advice for a ticket accepted without a unit: which one it would pick.

    The console offers it as one key (派给建议单位); None when routing cannot say.
    """
    try:
        suggestion, _, decision = _consider(uow, ctx, assistant, cmd)
    except Exception:  # noqa: BLE001 - advice only: the ticket is accepted regardless
        log.exception("routing advice failed")
        return None
    unit = assistant.router.catalogue.by_id.get(decision.unit_id) if decision.unit_id else None
    return decision_view(decision) | {
        "dispatch": False,
        "reason": "按您的选择仅受理，未派单",
        "model_version": suggestion.model_version,
        "unit_name": unit.name if unit else None,
    }


def decision_view(decision: AutoDecision) -> dict[str, Any]:
    return {
        "dispatch": decision.dispatch,
        "unit_id": decision.unit_id,
        "confidence": decision.confidence,
        "threshold": decision.threshold,
        "reason": decision.reason,
    }


def suggestion_view(
    router: Router,
    ctx: DispatchContext,
    s: Suggestion,
    duplicates: list[Duplicate],
    decision: AutoDecision,
) -> dict[str, Any]:
    catalogue = router.catalogue
    return {
        "units": [
            {
                "unit_id": u.unit_id,
                "name": u.name,
                "confidence": u.confidence,
                "words": list(u.words),
                "reason": u.reason,
                "local": u.target == "@local",
            }
            for u in s.units
        ],
        "categories": [
            {
                "path": r.value,
                "confidence": r.confidence,
                "local": bool((m := catalogue.matter_by_path.get(r.value)) is not None and m.local),
            }
            for r in s.categories
        ],
        "request_types": [{"value": r.value, "confidence": r.confidence} for r in s.request_types],
        "locality": locality_view(router, s.locality),
        "duplicates": [duplicate_view(ctx, d) for d in duplicates],
        "auto_dispatch": decision_view(decision),
        "model_version": s.model_version,
        "elapsed_ms": s.elapsed_ms,
    }


def locality_view(router: Router, loc: Locality) -> dict[str, Any]:
    units = router.catalogue.by_id

    def one(unit_id: int | None) -> dict[str, Any] | None:
        unit = units.get(unit_id) if unit_id else None
        return {"id": unit.id, "name": unit.name} if unit else None

    return {
        "district": one(loc.district_id),
        "street": one(loc.street_id),
        "community": one(loc.community_id),
        "evidence": list(loc.evidence),
    }


def duplicate_view(ctx: DispatchContext, d: Duplicate) -> dict[str, Any]:
    return {
        "id": d.ticket_id,
        "number": ctx.prefix_number(d.ticket_id, d.created_at),
        "title": d.title,
        "status": d.status,
        "similarity": d.similarity,
        "same_caller": d.same_caller,
        "same_place": d.same_place,
        "created_at": d.created_at.astimezone(dt.UTC).isoformat(),
    }
