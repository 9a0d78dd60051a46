"""Call records (CDR): one row per call to the hotline number, written as the call goes."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from infra.db import Base


class CallRecord(Base):
    """What happened to one call: offered, routed, answered or abandoned or overflowed, ended."""

    __tablename__ = "call_records"
    __table_args__ = (sa.Index("ix_call_records_offered_at", "offered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    caller: Mapped[str] = mapped_column(sa.String(64), default="")
    # ringing, talking, answered (ended after an answer), abandoned, overflow
    outcome: Mapped[str] = mapped_column(sa.String(16), default="queued")
    seat: Mapped[str | None] = mapped_column(sa.String(64))
    agent: Mapped[str | None] = mapped_column(sa.String(64))
    offered_at: Mapped[dt.datetime]
    rang_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    wait_seconds: Mapped[float | None]  # offered → answered (or → abandoned/overflow)
    talk_seconds: Mapped[float | None]
    missed_seats: Mapped[str] = mapped_column(sa.String(300), default="")
    # after the call: 话后整理 until the agent was ready again (or the configured time ran out)
    wrap_up_seconds: Mapped[float | None]
    # who or what ended it: caller, seat, transfer (blind transfer away), seat_lost (the seat's
    # softphone died mid-call)
    end_reason: Mapped[str | None] = mapped_column(sa.String(16))
    transfer_target: Mapped[str | None] = mapped_column(sa.String(100))
    # the seat's WAV of both directions, relative to telephony.recordings_dir
    recording: Mapped[str | None] = mapped_column(sa.String(300))
    conference_target: Mapped[str | None] = mapped_column(sa.String(100))  # 三方通话 party
    # the line the citizen dialled (合并热线: 原市长热线, ...), None for the hotline number itself
    line: Mapped[str | None] = mapped_column(sa.String(50))
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tickets.id"), index=True)


class CallbackTask(Base):
    """漏接回拨: a caller the hotline did not answer (abandoned in the queue, or turned away
    busy after the longest wait), for an operator to call back.

    One open task per calling number: further missed calls add to it. Status: open →
    claimed (an operator is on it) → done (result: reached, no_answer, wrong_number,
    called_again: the caller got through on a later call) or cancelled.
    """

    __tablename__ = "callback_tasks"
    __table_args__ = (sa.Index("ix_callback_tasks_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(sa.String(64), index=True)
    reason: Mapped[str] = mapped_column(sa.String(16))  # abandoned, overflow
    first_call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("call_records.id"))
    last_call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("call_records.id"))
    missed_calls: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    claimed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    claimed_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    result: Mapped[str | None] = mapped_column(sa.String(16))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    done_at: Mapped[dt.datetime | None]
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tickets.id"))


class SipAccount(Base):
    """A SIP user agent of ours that signs in at the edge: a seat softphone, a survey process,
    a phone registered under a number (a unit's hotline, a transfer target).

    Only the digest HA1 (md5 of name:realm:password) is kept: what Kamailio needs to check a
    REGISTER or an INVITE, and useless for signing in anywhere else. The password itself is
    shown once, when it is issued or rotated.
    """

    __tablename__ = "sip_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)  # the SIP user: s01, survey1
    kind: Mapped[str] = mapped_column(sa.String(16))  # seat, survey, phone
    note: Mapped[str] = mapped_column(sa.String(100), default="")
    realm: Mapped[str] = mapped_column(sa.String(64))
    ha1: Mapped[str] = mapped_column(sa.String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    rotated_at: Mapped[dt.datetime]  # when the current password was issued
    rotated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class PhoneLine(Base):
    """A number merged into the hotline (合并热线): a department's old line that now reaches
    the hotline's seats, dialled directly or forwarded (its number in the Diversion header).

    Its calls carry the line's name (the screen pop, the call record) and its skill: only
    seats whose operator is among `user_ids` take them. Set in 系统管理 → 热线号码.
    """

    __tablename__ = "phone_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    skill: Mapped[str] = mapped_column(sa.String(20), unique=True)
    user_ids: Mapped[list[int]] = mapped_column(sa.JSON(), default=list)  # operators taking it
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]
