"""Users, password hashing and API tokens (no Flask here)."""

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from dispatch.domain import Role
from dispatch.domain import ValidationError
from dispatch.models import Unit
from hotline.db import utcnow
from hotline.models import ApiToken
from hotline.models import User

MIN_PASSWORD = 8
TOKEN_PREFIX = "hl_"
# Checked against when the user does not exist, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash("not a real password")


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    password: str
    role: Role
    display_name: str = ""
    unit_code: str | None = None


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def create_user(session: Session, new: NewUser) -> User:
    """Create a user; liaisons must belong to a unit, others must not.

    :raises ValidationError: bad username or password, duplicate user, wrong unit.
    """
    errors: dict[str, str] = {}
    if not new.username or len(new.username) > 64 or not new.username.isprintable():
        errors["username"] = "用户名须为1-64个可打印字符"
    elif session.scalar(sa.select(User.id).where(User.username == new.username)):
        errors["username"] = "用户名已存在"
    if len(new.password) < MIN_PASSWORD:
        errors["password"] = f"密码至少{MIN_PASSWORD}位"
    unit_id = None
    if new.role is Role.LIAISON:
        unit = (
            session.scalar(sa.select(Unit).where(Unit.code == new.unit_code))
            if new.unit_code
            else None
        )
        if unit is None:
            errors["unit"] = "联络员必须属于一个已存在的单位"
        else:
            unit_id = unit.id
    elif new.unit_code:
        errors["unit"] = "只有联络员可以属于承办单位"
    if errors:
        raise ValidationError(errors, "用户信息有误")
    user = User(
        username=new.username,
        display_name=new.display_name or new.username,
        password_hash=hash_password(new.password),
        role=new.role,
        unit_id=unit_id,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the active user with this password, or None."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.active or not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, name: str = "cli") -> str:
    """Create an API token for the user and return it; only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_digest(token), prefix=token[:10]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """Return the active user owning this unrevoked token, or None.

    A fast SHA-256 lookup is enough here: tokens are 256-bit random, not passwords.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = session.execute(
        sa.select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None), User.active)
    ).scalar_one_or_none()
    return row


class TokenCache:
    """Recently verified bearer tokens, so that a busy client does not cost a query a request.

    Entries live `ttl` seconds: a revoked token or a deactivated user is refused by every
    process at most that long after the change. Keys are token digests, never tokens.
    """

    def __init__(self, ttl: float = 10.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[object, float]] = {}

    def get(self, token: str) -> Any:
        hit = self._entries.get(_digest(token))
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, token: str, value: object) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[_digest(token)] = (value, time.monotonic() + self.ttl)

    def clear(self) -> None:
        self._entries.clear()
