"""Users, passwords and their rules, sign-in throttling and API tokens (no Flask here)."""

import hashlib
import logging
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from infra.db import utcnow
from infra.models import ApiToken
from infra.models import Unit
from infra.models import User
from infra.settings import AuthSettings
from kernel.errors import ValidationError
from kernel.roles import Role

log = logging.getLogger(__name__)
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


# ---------------------------------------------------------------- password rules

# Passwords people pick first; a candidate is compared after lower-casing, and its letters
# after undoing l33t spelling, so "P@ssw0rd2026" and "Admin@12345" are refused too.
COMMON_PASSWORDS = frozenset(
    """
    123456 12345678 123456789 1234567890 111111 000000 888888 666666 123123 654321 112233
    password passw0rd p@ssw0rd qwerty qwertyuiop asdfgh asdfghjkl zxcvbnm 1qaz2wsx qazwsx
    abc123 abcd1234 a1b2c3d4 aa123456 iloveyou woaini woaini1314 5201314 1314520 admin
    administrator root welcome letmein monkey dragon master sunshine princess football
    baseball superman trustno1 hello hotline changeme default guest test user login
    """.split()
)
COMMON_WORDS = frozenset(
    """
    password admin administrator root welcome letmein qwerty qwertyuiop asdf asdfgh
    asdfghjkl zxcv zxcvbnm qaz qazwsx wsx abc abcd abcdef iloveyou woaini hello hotline
    changeme default guest test user login master monkey dragon sunshine princess
    football baseball superman aa aaa qwer
    """.split()
)
DEFAULT_RULES = AuthSettings()
_LEET = str.maketrans(
    {"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s"}
)
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


def password_problem(password: str, username: str, rules: AuthSettings) -> str | None:
    """Say (in Chinese, for the field) why `password` is not good enough, or None.

    Rules fit for a system holding citizens' identities: a minimum length, several kinds of
    characters, not the username, not a common password or a common word with digits.
    """
    if len(password) < rules.password_min_length:
        return f"密码至少{rules.password_min_length}位"
    if len(password) > 128:
        return "密码不能超过128位"
    kinds = sum(any(c in cls for c in password) for cls in _CLASSES)
    kinds += any(not c.isalnum() for c in password)
    if kinds < rules.password_classes:
        return f"密码须包含小写字母、大写字母、数字、符号中的至少{rules.password_classes}种"
    lowered = password.casefold()
    name = username.strip().casefold()
    if len(name) >= 3 and (name in lowered or name[::-1] in lowered):
        return "密码不能包含用户名"
    # The word inside: digits and symbols around it dropped, l33t spelling undone.
    core = re.sub(r"^[\d\W_]+|[\d\W_]+$", "", lowered).translate(_LEET)
    letters = re.sub(r"[^a-z]", "", core)
    if lowered in COMMON_PASSWORDS or letters in COMMON_WORDS or len(set(lowered)) < 4:
        return "密码过于常见，容易被猜到，请换一个"
    return None


def temporary_password() -> str:
    """A random password that meets the rules (an admin's reset; changed at next sign-in)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(14))
        if all(any(c in cls for c in body) for cls in _CLASSES):
            return f"{body[:7]}-{body[7:]}"


def create_user(session: Session, new: NewUser, rules: AuthSettings | None = DEFAULT_RULES) -> User:
    """Create a user; liaisons must belong to a unit, others must not.

    The password must meet `rules`; None skips them (the demo's and benchmarks' accounts,
    whose shared password is printed on screen).

    :raises ValidationError: bad username or password, duplicate user, wrong unit.
    """
    errors: dict[str, str] = {}
    if not new.username or len(new.username) > 64 or not new.username.isprintable():
        errors["username"] = "用户名须为1-64个可打印字符"
    elif session.scalar(sa.select(User.id).where(User.username == new.username)):
        errors["username"] = "用户名已存在"
    problem = password_problem(new.password, new.username, rules) if rules else None
    if problem:
        errors["password"] = problem
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


# ---------------------------------------------------------------- sign-in


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


class LoginGuard:
    """Failed sign-ins counted in Redis, per account and per address, and account locks.

    An account (by the name typed, existing or not, so a lock says nothing about whether
    it exists) is locked after `lock_after_failures` failures within the window, for
    `lock_minutes` (0: until an admin unlocks it). An address is told to wait once it has
    failed `address_failures` times within the window. A success clears the account's count,
    never the address's. With Redis down sign-in still works (logged): the lock protects
    accounts, it is not a permission.
    """

    def __init__(self, conn: Callable[[], "redis.Redis"], rules: AuthSettings) -> None:
        self._conn = conn
        self.rules = rules
        self.prefix = rules.redis_prefix

    def _name(self, username: str) -> str:
        return hashlib.sha256(username.strip().casefold().encode("utf-8")).hexdigest()[:32]

    def wait_seconds(self, username: str, address: str | None) -> int:
        """Seconds before this account or address may try again; 0 when it may now."""
        keys = [f"{self.prefix}lock:{self._name(username)}", f"{self.prefix}addr:{address}"]
        try:
            pipe = self._conn().pipeline(transaction=False)
            pipe.exists(keys[0])
            pipe.ttl(keys[0])
            pipe.get(keys[1])
            pipe.ttl(keys[1])
            locked, lock_ttl, addr_count, addr_ttl = pipe.execute()
        except redis.RedisError:
            log.warning("sign-in throttling skipped: Redis unavailable", exc_info=True)
            return 0
        wait = 0
        if locked:
            # ttl -1: locked until an admin unlocks it; say an hour, then ask again.
            wait = int(lock_ttl) if int(lock_ttl) > 0 else 3600
        if addr_count is not None and int(addr_count) >= self.rules.address_failures:
            wait = max(wait, int(addr_ttl) if int(addr_ttl) > 0 else 1)
        return wait

    def failed(self, username: str, address: str | None) -> bool:
        """Count a wrong password; return True when this failure locked the account."""
        window = self.rules.failure_window_minutes * 60
        name = self._name(username)
        fails, addr = f"{self.prefix}fails:{name}", f"{self.prefix}addr:{address}"
        try:
            pipe = self._conn().pipeline(transaction=True)
            pipe.incr(fails)
            pipe.expire(fails, window, nx=True)
            pipe.incr(addr)
            pipe.expire(addr, window, nx=True)
            count = int(pipe.execute()[0])
            if count < self.rules.lock_after_failures:
                return False
            lock = f"{self.prefix}lock:{name}"
            minutes = self.rules.lock_minutes
            pipe = self._conn().pipeline(transaction=True)
            pipe.set(lock, "1", ex=minutes * 60 if minutes else None)
            pipe.delete(fails)
            pipe.execute()
        except redis.RedisError:
            log.warning("sign-in failure not counted: Redis unavailable", exc_info=True)
            return False
        return True

    def succeeded(self, username: str) -> None:
        try:
            self._conn().delete(f"{self.prefix}fails:{self._name(username)}")
        except redis.RedisError:
            log.warning("sign-in failures not cleared: Redis unavailable", exc_info=True)

    def locked(self, usernames: list[str]) -> set[str]:
        """The names among `usernames` whose account is locked now."""
        if not usernames:
            return set()
        try:
            pipe = self._conn().pipeline(transaction=False)
            for name in usernames:
                pipe.exists(f"{self.prefix}lock:{self._name(name)}")
            found = pipe.execute()
        except redis.RedisError:
            log.warning("account locks unknown: Redis unavailable", exc_info=True)
            return set()
        return {name for name, hit in zip(usernames, found, strict=True) if hit}

    def unlock(self, username: str) -> bool:
        """Lift the account's lock and forget its failures; return whether it was locked."""
        name = self._name(username)
        removed = self._conn().delete(f"{self.prefix}lock:{name}", f"{self.prefix}fails:{name}")
        return bool(removed)


SEAT_ROLES = frozenset({Role.OPERATOR, Role.TEAM_LEAD})
# A session's activity stamp is rewritten at most this often (it travels in the cookie).
TOUCH_SECONDS = 60


def idle_limit(role: Role, rules: AuthSettings) -> int:
    """Seconds a session of this role may go unused before it ends."""
    if role in SEAT_ROLES:
        return rules.idle_minutes_seat * 60
    if role is Role.ADMIN:
        return rules.idle_minutes_admin * 60
    return rules.idle_minutes * 60


def session_problem(
    user: User | None,
    session: Any,
    now: float,
    rules: AuthSettings,
    *,
    check_idle: bool = True,
) -> str | None:
    """Why this signed-in session is no longer valid (for the person), or None.

    `session` is the signed cookie's dict: `user_id`, `gen` (the user's session generation
    when signed in), `iat` (sign-in time) and `seen` (last activity), both epoch seconds.
    """
    if user is None or not user.active:
        return "登录已失效，请重新登录"
    if session.get("gen") != user.session_generation:
        return "您已在别处退出、修改了密码或被管理员重置，请重新登录"
    signed_at = session.get("iat")
    if not isinstance(signed_at, int | float) or now - signed_at > rules.session_hours * 3600:
        return "登录已超过有效期，请重新登录"
    seen = session.get("seen", signed_at)
    if check_idle and (
        not isinstance(seen, int | float) or now - seen > idle_limit(user.role, rules)
    ):
        return "长时间未操作，已自动退出，请重新登录"
    return None


def end_sessions(user: User) -> None:
    """Make every session of the user signed in so far invalid at its next request."""
    user.session_generation = (user.session_generation or 0) + 1


# ---------------------------------------------------------------- API tokens


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
