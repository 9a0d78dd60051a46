"""Keep each call's record (CDR) in step with the ACD: called after every ACD step."""

import datetime as dt
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdError
from callcenter.callbacks import service as callbacks
from callcenter.models import CallRecord
from dispatch.tickets.context import Publish
from infra.db import UnitOfWork
from infra.settings import Settings

log = logging.getLogger(__name__)

_FINAL = {"ended": "answered", "abandoned": "abandoned", "overflow": "overflow"}
# Reports can arrive out of order (two web processes): an outcome only moves forward.
_RANK = {"queued": 0, "ringing": 1, "talking": 2, "answered": 3, "abandoned": 3, "overflow": 3}


def _at(epoch: str | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(float(epoch), dt.UTC) if epoch else None


def recordings_root(settings: Settings) -> Path:
    """Where the seats write recordings (telephony.recordings_dir, under the instance path)."""
    path = Path(settings.telephony.recordings_dir)
    return path if path.is_absolute() else Path(settings.instance_path) / path


def sync_record(
    uow: UnitOfWork, call_id: str, call: dict[str, str], publish: Publish | None = None
) -> None:
    """Write the ACD's view of one call (its Redis hash) into its call record.

    In the same transaction, a call that ends abandoned or overflow opens (or adds to) its
    caller's call-back task, and one answered closes it (`callcenter.callbacks.service.note_call`);
    `publish` hears of that change once committed.
    """
    if not call:
        return
    offered = _at(call.get("arrived"))
    if offered is None:
        return
    state = call.get("state", "queued")
    answered = _at(call.get("answered_at"))
    ended = _at(call.get("ended_at"))
    values = {
        "caller": call.get("caller", "")[:64],
        "outcome": _FINAL.get(state, state),
        "seat": call.get("seat") or None,
        "agent": call.get("agent") or None,
        "offered_at": offered,
        "rang_at": _at(call.get("rang_at")),
        "answered_at": answered,
        "ended_at": ended,
        "missed_seats": _missed(call)[:300],
        "wait_seconds": _seconds(offered, answered or ended),
        "talk_seconds": _seconds(answered, ended) if answered else None,
        "wrap_up_seconds": _wrap_up(call, ended),
        "end_reason": call.get("end_reason") or None,
        "transfer_target": call.get("transfer_target") or None,
        "conference_target": call.get("conference_target") or None,
        "recording": call.get("recording") or None,
        "line": (call.get("line") or "")[:50] or None,
    }
    for attempt in (1, 2):
        with uow:
            session = uow.session
            try:
                # Locked: two processes reporting the same end must not both see it as new
                # (the call-back task would count the call twice).
                row = session.scalar(
                    sa.select(CallRecord).where(CallRecord.call_id == call_id).with_for_update()
                )
                before: str | None = None
                if row is None:
                    row = CallRecord(call_id=call_id, **values)
                    session.add(row)
                else:
                    revived = _revived(call, row.outcome)
                    if _RANK.get(str(values["outcome"]), 0) < _RANK.get(row.outcome, 0):
                        if not revived:
                            return  # an older view of the call than the record has
                    before = row.outcome
                    # A record never loses what it had, but for the end of a call that
                    # turned out to be going on.
                    if revived and values["ended_at"] is None:
                        row.ended_at = row.end_reason = row.wrap_up_seconds = None
                    for key, value in values.items():
                        if value is not None:
                            setattr(row, key, value)
                change = callbacks.note_call(session, row, before)
                if change is not None and publish is not None:
                    uow.after_commit(functools.partial(callbacks.announce, publish, change))
                uow.commit()
                return
            except IntegrityError:  # two processes wrote the first version at once
                if attempt == 2:
                    raise


def close_record(
    uow: UnitOfWork, call_id: str, end_reason: str, at: dt.datetime, publish: Publish | None = None
) -> None:
    """Give a call's record its final state when the ACD no longer has the call (its hash
    expires a day after the offer): answered if it was, otherwise abandoned; ended `at`."""
    with uow:
        session = uow.session
        row = session.scalar(
            sa.select(CallRecord).where(CallRecord.call_id == call_id).with_for_update()
        )
        if row is None or _RANK.get(row.outcome, 0) >= _RANK["answered"]:
            return
        before = row.outcome
        row.outcome = "answered" if row.answered_at is not None else "abandoned"
        row.ended_at = at
        row.end_reason = end_reason
        row.talk_seconds = _seconds(row.answered_at, at)
        change = callbacks.note_call(session, row, before)
        if change is not None and publish is not None:
            uow.after_commit(functools.partial(callbacks.announce, publish, change))
        uow.commit()


def _revived(call: dict[str, str], outcome: str) -> bool:
    """Whether the ACD has taken back an end it had guessed: a call closed as abandoned for
    want of reports (stale, or forgotten by the edge) that the seat says it answered."""
    return call.get("revived") == "1" and outcome == "abandoned"


def record_or_defer(
    uow_factory: Callable[[], UnitOfWork], acd: Acd, call_id: str, publish: Publish | None = None
) -> bool:
    """`sync_record` from the ACD's hash of the call; when the database cannot take it (down,
    restarting), the call is remembered in `<prefix>unsynced` and `sync_deferred` writes it
    later, from the ACD's hash as it is then. The call itself goes on either way."""
    try:
        sync_record(uow_factory(), call_id, acd.call(call_id), publish)
        return True
    except Exception:  # noqa: BLE001 - kept for later; the ACD's hash still has it all
        log.exception("could not write the record of call %s; kept for later", call_id)
        try:
            acd.r.sadd(acd.keys.unsynced, call_id)
        except Exception:  # noqa: BLE001 - Redis away too: its next report tries again
            log.exception("could not keep call %s for later", call_id)
        return False


def sync_deferred(
    uow_factory: Callable[[], UnitOfWork], acd: Acd, publish: Publish | None = None
) -> list[str]:
    """Write the records `record_or_defer` could not (every 30 s, `hotline cron`); stops at
    the first failure (the database is still away) and returns the calls written."""
    written = []
    for raw in acd.r.smembers(acd.keys.unsynced):
        call_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            sync_record(uow_factory(), call_id, acd.call(call_id), publish)
        except Exception:  # noqa: BLE001 - still away: the next round tries again
            log.warning("the record of call %s still cannot be written", call_id)
            break
        acd.r.srem(acd.keys.unsynced, call_id)
        written.append(call_id)
    return written


def close_forgotten(
    uow_factory: Callable[[], UnitOfWork], acd: Acd, publish: Publish | None = None
) -> list[str]:
    """Close the calls the SIP edge stopped speaking of (`Acd.forgotten`) and finish their
    records: abandoned, end_reason "edge". Runs after each routed call and every 30 s
    (`hotline cron`), so a record is final within a minute even when no more calls come."""
    closed = []
    for call_id in acd.forgotten():
        try:
            acd.ended(call_id, by="edge")
        except AcdError:
            pass  # already closed (a reservation released as stale): only the record lags
        record_or_defer(uow_factory, acd, call_id, publish)
        closed.append(call_id)
    return closed


def _wrap_up(call: dict[str, str], ended: dt.datetime | None) -> float | None:
    """话后整理: from the end of the call until the agent was ready again or its time ran out."""
    until = _at(call.get("wrapped_at")) or _at(call.get("wrap_until"))
    if ended is None or until is None:
        return None
    if call.get("wrapped_at") and call.get("wrap_until"):
        until = min(until, _at(call["wrap_until"]) or until)
    return max(0.0, _seconds(ended, until) or 0.0)


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def ticket_calls(uow: UnitOfWork, ticket_id: int) -> list[dict[str, Any]]:
    """The calls a ticket was accepted during (earliest first), without the caller's number.

    Each says when, at which seat, who answered (`agent` "u<user id>"), how long the caller
    waited and talked, and whether there is a recording; the ticket page lists them.
    """
    with uow:
        rows = uow.session.scalars(
            sa.select(CallRecord)
            .where(CallRecord.ticket_id == ticket_id)
            .order_by(CallRecord.offered_at, CallRecord.id)
        ).all()
        return [
            {
                "call_id": r.call_id,
                "offered_at": r.offered_at.astimezone(dt.UTC).isoformat(),
                "outcome": r.outcome,
                "seat": r.seat,
                "agent": r.agent,
                "wait_seconds": r.wait_seconds,
                "talk_seconds": r.talk_seconds,
                "has_recording": bool(r.recording),
            }
            for r in rows
        ]


def _missed(call: dict[str, str]) -> str:
    """The seats that rang out this call: every seat tried but those the edge could not reach
    (their softphone gone or unregistered; no operator's miss)."""
    unreached = set(call.get("unreached", "").split(","))
    return ",".join(s for s in call.get("tried", "").split(",") if s and s not in unreached)
