"""API keys of Open311 clients (开放接口) and their rate limits.

A key is shown once, when it is made; only its SHA-256 and a short prefix are kept, so a
stolen database gives no working key. Verifying looks the hash up (the unique index), so no
comparison leaks how much of a guess was right. Rate limits count requests per key (or per
client address, for GETs without a key) in one-minute windows in Redis.
"""

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import redis
import sqlalchemy as sa

from dispatch.open311.models import ApiKey
from infra.audit import record_audit
from infra.db import UnitOfWork
from infra.ratelimit import FixedWindow
from infra.ratelimit import RateDecision
from kernel.errors import NotFound
from kernel.errors import ValidationError

log = logging.getLogger(__name__)

MAX_RATE = 10_000  # requests per minute: beyond this a client needs talking to, not a key
PREFIX_CHARS = 6
MAX_KEY_CHARS = 200  # longer strings are not keys: refuse them without hashing
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: int
    name: str
    contact: str
    key_prefix: str
    rate_per_minute: int
    active: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Client:
    """A verified key: who calls, and how often they may."""

    id: int
    name: str
    rate_per_minute: int


@dataclass(frozen=True, slots=True)
class NewKey:
    id: int
    name: str
    key: str  # the secret itself: show it once, never store it


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _row(k: ApiKey) -> KeyRow:
    return KeyRow(
        k.id,
        k.name,
        k.contact,
        k.key_prefix,
        k.rate_per_minute,
        k.active,
        k.created_at,
        k.revoked_at,
        k.last_used_at,
    )


def parse_rate(raw: str | int | None, default: int) -> int:
    """A rate from a form: blank means `default`.

    :raises ValidationError: on "rate_per_minute" when it is not a whole number in range.
    """
    text = str(raw if raw is not None else "").strip()
    if not text:
        return default
    if not text.isdecimal() or not 1 <= int(text) <= MAX_RATE:
        raise ValidationError(
            {"rate_per_minute": f"请填写 1 到 {MAX_RATE} 之间的整数"}, "调用频率有误"
        )
    return int(text)


def create_key(
    uow: UnitOfWork,
    actor_id: int | None,
    name: str,
    contact: str,
    rate: str | int | None,
    *,
    default_rate: int,
    ip: str | None = None,
) -> NewKey:
    """Make a key for a client and return it, the only time it is ever readable.

    :raises ValidationError: name missing, too long or already used by a live key, contact
        too long, bad rate.
    """
    errors: dict[str, str] = {}
    name, contact = name.strip(), contact.strip()
    if not name:
        errors["name"] = "请填写调用方名称，例如“市民通 APP”"
    elif len(name) > 100:
        errors["name"] = "名称不能超过100个字符"
    if len(contact) > 200:
        errors["contact"] = "联系方式不能超过200个字符"
    try:
        per_minute = parse_rate(rate, default_rate)
    except ValidationError as exc:
        errors.update(exc.field_errors)
        per_minute = default_rate
    if errors:
        raise ValidationError(errors, "接口密钥信息有误")
    key = secrets.token_urlsafe(32)
    with uow:
        # One live key per client name: a second one is a mistake (a form sent twice, say).
        taken = uow.session.scalar(
            sa.select(ApiKey.id).where(
                sa.func.lower(ApiKey.name) == name.lower(), ApiKey.revoked_at.is_(None)
            )
        )
        if taken is not None:
            raise ValidationError(
                {"name": "已有同名调用方的有效密钥；如需更换，请先吊销旧密钥"}, "接口密钥信息有误"
            )
        row = ApiKey(
            name=name,
            contact=contact,
            key_prefix=key[:PREFIX_CHARS],
            key_hash=hash_key(key),
            rate_per_minute=per_minute,
            created_by_id=actor_id,
        )
        uow.session.add(row)
        uow.session.flush()
        record_audit(
            uow.session,
            actor_id,
            "api_key_create",
            None,
            {"api_key_id": row.id, "name": name, "prefix": row.key_prefix, "rate": per_minute},
            ip=ip,
        )
        uow.commit()
        return NewKey(row.id, name, key)


def list_keys(uow: UnitOfWork) -> list[KeyRow]:
    """Every key, active ones first, newest first."""
    with uow:
        rows = uow.session.scalars(
            sa.select(ApiKey).order_by(ApiKey.active.desc(), ApiKey.id.desc())
        ).all()
        return [_row(k) for k in rows]


def _get(uow: UnitOfWork, key_id: int) -> ApiKey:
    row = uow.session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("接口密钥不存在", {"api_key_id": key_id})
    return row


def revoke_key(
    uow: UnitOfWork, actor_id: int, key_id: int, *, now: dt.datetime, ip: str | None = None
) -> bool:
    """Stop a key working at once; False if it already was revoked.

    :raises NotFound: no such key.
    """
    with uow:
        row = _get(uow, key_id)
        if not row.active:
            return False
        row.active = False
        row.revoked_at = now
        record_audit(
            uow.session,
            actor_id,
            "api_key_revoke",
            None,
            {"api_key_id": row.id, "name": row.name, "prefix": row.key_prefix},
            ip=ip,
        )
        uow.commit()
        return True


def set_rate(
    uow: UnitOfWork, actor_id: int, key_id: int, rate: str | int, *, ip: str | None = None
) -> bool:
    """Change a key's requests per minute; False if unchanged.

    :raises NotFound: no such key.
    :raises ValidationError: on "rate_per_minute".
    """
    per_minute = parse_rate(rate, 0)
    if per_minute == 0:
        raise ValidationError({"rate_per_minute": "请填写每分钟调用次数"}, "调用频率有误")
    with uow:
        row = _get(uow, key_id)
        if row.rate_per_minute == per_minute:
            return False
        before, row.rate_per_minute = row.rate_per_minute, per_minute
        record_audit(
            uow.session,
            actor_id,
            "api_key_rate",
            None,
            {"api_key_id": row.id, "name": row.name, "from": before, "to": per_minute},
            ip=ip,
        )
        uow.commit()
        return True


def verify(uow: UnitOfWork, key: str, *, now: dt.datetime) -> Client | None:
    """The client holding `key`, or None when it is unknown or revoked.

    Notes the use in last_used_at, at most once a minute per key.
    """
    if not key or len(key) > MAX_KEY_CHARS:
        return None
    digest = hash_key(key)
    with uow:
        row = uow.session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == digest))
        if row is None or not row.active or not secrets.compare_digest(row.key_hash, digest):
            return None
        client = Client(row.id, row.name, row.rate_per_minute)
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            row.last_used_at = now
            uow.commit()
        return client


# ---------------------------------------------------------------- rate limits


class RateLimiter(FixedWindow):
    """Open311's limits: one-minute windows, `open311:rate:<key_id>:<window>` per API key
    and `open311:rate:ip:<ip>:<window>` per client address."""

    WINDOW = 60

    def __init__(self, conn: Callable[[], "redis.Redis"], now: Callable[[], dt.datetime]) -> None:
        super().__init__(conn, now, prefix="open311:rate", window=self.WINDOW)

    def for_key(self, client: Client) -> RateDecision:
        return self.hit(str(client.id), client.rate_per_minute)

    def for_ip(self, ip: str, limit: int) -> RateDecision:
        return self.hit(f"ip:{ip}", limit)
