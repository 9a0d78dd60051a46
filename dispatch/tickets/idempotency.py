"""Idempotency keys for ticket actions: a retried action answers what the first one did.

A client sends `Idempotency-Key: <key>` with `POST /api/tickets/<id>/actions/<action>`.
The action's transaction also writes an `ActionRequest` row: (user, key) → the request's
fingerprint (ticket, action, a hash of the body) and the answer (status and JSON). A retry of
the same request with the same key gets that answer back instead of running again (a lost
response no longer turns into 409 illegal_transition); the same key with another request is
refused (422). Only successes are kept: a refused action wrote nothing, so its retry is
judged afresh. Keys belong to one user and live `KEY_TTL`.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.tickets.domain import Action
from dispatch.tickets.models import ActionRequest
from kernel.errors import ValidationError

KEY_TTL = dt.timedelta(hours=24)
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")


class IdempotencyKeyReused(ValidationError):
    """The key was already used by this user for a different request."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            {HEADER: "该键已用于另一个不同的请求"},
            "幂等键（Idempotency-Key）已用于另一个不同的操作，新的操作请使用新的键",
        )


@dataclass
class Once:
    """An action sent with an idempotency key; `replayed` is set when the answer is a replay."""

    key: str
    body_digest: str
    replayed: bool = False
    status: int = 200

    def fingerprint(self, ticket_id: int, action: Action) -> str:
        raw = json.dumps([ticket_id, action.value, self.body_digest])
        return hashlib.sha256(raw.encode()).hexdigest()


def parse_key(raw: str | None) -> str | None:
    """The header's key (quotes of an sf-string stripped), or None when absent.

    :raises ValidationError: 8 to 64 letters, digits and `_ . : -` are accepted.
    """
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 8 <= len(key) <= 64 or not set(key) <= _KEY_CHARS:
        raise ValidationError(
            {HEADER: "应为 8 到 64 位字母、数字或 _ . : -（建议使用 UUID）"}, "幂等键格式不正确"
        )
    return key


def digest_json(body: Any) -> str:
    """The hash of a JSON body, blind to key order and spacing."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def digest_form(fields: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> str:
    """The hash of a multipart form: its fields and each file's name and content.

    The multipart boundary changes from one send to the next, so the raw bytes cannot be used.
    """
    files_part = [(name, hashlib.sha256(data).hexdigest()) for name, data in files]
    return digest_json({"fields": sorted(fields), "files": files_part})


def find(session: Session, user_id: int, once: Once, fingerprint: str, now: dt.datetime) -> Any:
    """The stored answer for this user's key, or None; an expired row is removed.

    :raises IdempotencyKeyReused: the key was used for another request.
    """
    row = session.scalar(
        sa.select(ActionRequest).where(
            ActionRequest.user_id == user_id, ActionRequest.key == once.key
        )
    )
    if row is None:
        return None
    if row.created_at < now - KEY_TTL:
        session.delete(row)
        session.flush()
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    once.replayed = True
    once.status = row.status_code
    return row.response


def remember(
    session: Session,
    user_id: int,
    once: Once,
    fingerprint: str,
    ticket_id: int,
    action: Action,
    response: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Keep the answer of a successful action, in the action's transaction.

    The user's expired keys go at the same time (the supervision sweep purges everyone's).
    """
    session.execute(
        sa.delete(ActionRequest).where(
            ActionRequest.user_id == user_id, ActionRequest.created_at < now - KEY_TTL
        )
    )
    session.add(
        ActionRequest(
            user_id=user_id,
            key=once.key,
            fingerprint=fingerprint,
            ticket_id=ticket_id,
            action=action.value,
            status_code=200,
            # Through JSON once, so the stored answer is exactly what the replay will send.
            response=json.loads(json.dumps(response, default=str)),
            created_at=now,
        )
    )


def purge_expired(session: Session, now: dt.datetime) -> int:
    """Delete the keys older than `KEY_TTL`; return how many."""
    result = session.execute(
        sa.delete(ActionRequest).where(ActionRequest.created_at < now - KEY_TTL)
    )
    return int(getattr(result, "rowcount", 0) or 0)
