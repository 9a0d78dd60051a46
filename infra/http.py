"""Flask plumbing shared by every blueprint: the container, the current actor, CSRF, input.

Authentication: a session cookie (the UI) or `Authorization: Bearer <token>` (other
systems). Unsafe requests that ride on the session cookie must carry the session's CSRF
token in `X-CSRF-Token`; bearer requests carry no ambient credentials and need none.

A session is checked on every request against the user's row: it must carry the user's
current session generation (raised by sign-out, a password change or reset, deactivation),
be younger than `auth.session_hours` and have been used within the role's idle limit.
"""

import dataclasses
import datetime as dt
import functools
import hmac
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from typing import Any
from typing import Protocol
from typing import TypeVar
from urllib.parse import unquote
from urllib.parse import urlsplit

import pydantic
import redis
import sqlalchemy as sa
from flask import current_app
from flask import g
from flask import request
from flask import session

from infra.audit import record_audit
from infra.auth import TOUCH_SECONDS
from infra.auth import LoginGuard
from infra.auth import TokenCache
from infra.auth import authenticate
from infra.auth import session_problem
from infra.auth import user_for_token
from infra.db import UnitOfWork
from infra.models import User
from infra.settings import Settings
from kernel.actor import Actor
from kernel.errors import DomainError
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.roles import Role

log = logging.getLogger(__name__)
M = TypeVar("M", bound=pydantic.BaseModel)
F = TypeVar("F", bound=Callable[..., Any])
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Unauthorized(DomainError):
    code = "unauthorized"


class BadRequest(DomainError):
    code = "bad_request"


class PasswordChangeRequired(PermissionDenied):
    """An admin reset the password: nothing but 修改密码 until the user picks a new one."""

    code = "password_change_required"

    def __init__(self) -> None:
        super().__init__(
            "管理员已重置您的密码，请先修改密码后再继续使用", {"change_password": "/password"}
        )


class TooManyAttempts(DomainError):
    """Sign-in refused for now: the account is locked or the address tried too often."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(
            f"密码错误次数过多，请{minutes}分钟后再试；如需立即登录，请联系系统管理员解锁账号",
            {"retry_after": retry_after},
        )
        self.retry_after = retry_after


# Pages and calls open to a user who must change their password first.
PASSWORD_CHANGE_ENDPOINTS = frozenset(
    {
        "agents_ui.password",
        "agents_ui.logout",
        "agents_ui.login",
        "agents_ui.login_post",
        "agents_ui.static",
        "agents_ui.favicon",
        "hotline.logout",
        "hotline.me",
    }
)


class Core(Protocol):
    """What every blueprint may ask of the app's container (the composition root builds it).

    Each package narrows this to what it uses (`dispatch.wiring`, `callcenter.wiring`, ...);
    the container the composition root builds is checked against all of them by mypy.
    """

    settings: Settings
    tokens: TokenCache

    @property
    def redis(self) -> "redis.Redis": ...

    def uow(self) -> UnitOfWork: ...

    def close(self) -> None:
        """Release pooled connections (commands and jobs that end)."""
        ...

    def utcnow(self) -> dt.datetime:
        """Now, by the services' clock (tests move it)."""
        ...


def container() -> Core:
    c: Core = current_app.extensions["hotline"]
    return c


def csrf_token() -> str:
    """Return the session's CSRF token, creating it on first use."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def _actor_from(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        role=user.role,
        unit_id=user.unit_id,
        name=user.display_name,
        ip=request.remote_addr,
        request_id=g.get("request_id"),
    )


def _with_request(actor: Actor) -> Actor:
    return dataclasses.replace(actor, ip=request.remote_addr, request_id=g.get("request_id"))


def current_actor() -> Actor:
    """Return the authenticated actor or raise Unauthorized (401)."""
    if "actor" in g:
        actor: Actor = g.actor
        return actor
    header = request.headers.get("Authorization", "")
    user: User | None = None
    with container().uow() as uow:
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized("Authorization 头格式应为 Bearer <token>")
            cached = container().tokens.get(token.strip())
            if cached is not None:
                g.actor = _with_request(cached)
                return g.actor  # type: ignore[no-any-return]
            user = user_for_token(uow.session, token.strip())
            if user is None:
                raise Unauthorized("API 令牌无效或已吊销")
            container().tokens.put(token.strip(), _actor_from(user))
        elif "user_id" in session:
            user = uow.session.get(User, session["user_id"])
            now = _now()
            problem = session_problem(user, session, now, container().settings.auth)
            if problem is not None or user is None:
                session.clear()
                raise Unauthorized(problem or "登录已失效，请重新登录")
            if now - float(session.get("seen", 0)) >= TOUCH_SECONDS:
                session["seen"] = int(now)
            if request.method in UNSAFE_METHODS:
                _check_csrf()
            if user.must_change_password:
                if request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
                    raise PasswordChangeRequired()
                g.password_first = True  # the page shows no navigation nor live parts
        else:
            raise Unauthorized("请先登录")
        g.actor = _actor_from(user)
    return g.actor  # type: ignore[no-any-return]


def _check_csrf() -> None:
    # Scripts send the token in a header; plain HTML forms send it as a field.
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise PermissionDenied("缺少或错误的 CSRF 令牌，请刷新页面后重试", {"csrf": "invalid"})


@dataclasses.dataclass(frozen=True, slots=True)
class SignedIn:
    user_id: int
    username: str
    display_name: str
    role: Role
    unit_id: int | None


def _now() -> float:
    """Epoch seconds by the services' clock (tests move it)."""
    return container().utcnow().timestamp()


def login_guard() -> LoginGuard:
    c = container()
    return LoginGuard(lambda: c.redis, c.settings.auth)


def sign_in(username: str, password: str, *, via: str, permanent: bool = False) -> SignedIn | None:
    """Check the password, audit the attempt and start a fresh session; None if refused.

    Failures are counted per account and per address (`LoginGuard`) and audited
    (`login_failed`, and `login_locked` when one locks the account). The session is cleared
    first so that a session id planted before login is never reused.

    :raises TooManyAttempts: the account is locked or the address must wait.
    """
    guard = login_guard()
    address = request.remote_addr
    wait = guard.wait_seconds(username, address)
    if wait:
        log.warning("sign-in refused for %ss: too many failures (address %s)", wait, address)
        raise TooManyAttempts(wait)
    with container().uow() as uow:
        user = authenticate(uow.session, username, password)
        if user is None:
            _refused(uow, guard, username, address, via)
            return None
        who = SignedIn(user.id, user.username, user.display_name, user.role, user.unit_id)
        generation = user.session_generation
        record_audit(
            uow.session,
            user.id,
            "login",
            None,
            {"via": via},
            ip=address,
            request_id=g.get("request_id"),
        )
        uow.commit()
    guard.succeeded(username)
    now = int(_now())
    session.clear()
    session.update({"user_id": who.user_id, "gen": generation, "iat": now, "seen": now})
    session.permanent = permanent
    return who


def _refused(uow: Any, guard: LoginGuard, username: str, address: str | None, via: str) -> None:
    """Count and audit a failed sign-in; raise TooManyAttempts if it locked the account."""
    known = uow.session.scalar(sa.select(User.id).where(User.username == username))
    locked = guard.failed(username, address)
    details = {"username": username[:64], "via": via}
    rid = g.get("request_id")
    record_audit(uow.session, known, "login_failed", None, details, ip=address, request_id=rid)
    if locked:
        rules = guard.rules
        record_audit(
            uow.session,
            known,
            "login_locked",
            None,
            {**details, "failures": rules.lock_after_failures, "minutes": rules.lock_minutes},
            ip=address,
            request_id=rid,
        )
    uow.commit()
    if locked:
        log.warning(
            "account %r locked after %s failed sign-ins", username[:64], rules.lock_after_failures
        )
        raise TooManyAttempts(rules.lock_minutes * 60 or 3600)


def safe_next(target: str) -> str | None:
    """Return `target` if it is a path on this site to go to after sign-in, else None.

    One leading slash, no `//`, no backslash, no whitespace or control character, also
    after percent-decoding: browsers drop tabs and newlines and read `\\` as `/`, which
    turns `/%09/evil.example` into `//evil.example`, another site.
    """
    if not target or len(target) > 2000:
        return None
    for text in (target, unquote(target)):
        if not text.startswith("/") or "//" in text or "\\" in text:
            return None
        if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in text):
            return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def end_this_and_other_sessions(user_id: int) -> None:
    """Sign-out: every session of the user ends (this browser's, others', API sessions)."""
    from infra.auth import end_sessions

    with container().uow() as uow:
        user = uow.session.get(User, user_id)
        if user is not None:
            end_sessions(user)
            record_audit(
                uow.session,
                user.id,
                "logout",
                None,
                {},
                ip=request.remote_addr,
                request_id=g.get("request_id"),
            )
            uow.commit()
    session.clear()


ONE_FILE = "one"  # an upload of one file: held to attachments.max_bytes
SEVERAL_FILES = "several"  # a multipart request with several files: the app-wide limit


def takes_files(*, several: bool = False) -> Callable[[F], F]:
    """Mark a view that receives uploads (put it right under the route decorator): the app
    holds its body to the upload limit instead of web.max_body_bytes. `several`: a multipart
    request of this view may carry several files (a reply with its attachments)."""

    def mark(view: F) -> F:
        setattr(view, "takes_files", SEVERAL_FILES if several else ONE_FILE)  # noqa: B010
        return view

    return mark


def login_required(*roles: Role) -> Callable[[F], F]:
    """Require an authenticated actor, and one of `roles` when given."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if roles and actor.role not in roles:
                raise PermissionDenied("当前角色无权访问", {"role": actor.role.value})
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def parse_body(model: type[M]) -> M:
    """Parse the JSON body strictly into `model`; an empty body counts as `{}`.

    Raises pydantic.ValidationError, which the error handlers turn into 400/422, or
    ValidationError for a NUL character in its text.
    """
    raw = request.get_data(cache=True) or b"{}"
    refuse_nul_in_json(raw)  # whatever the Content-Type said
    return model.model_validate_json(raw, strict=True)


NUL = "\x00"
NUL_MESSAGE = "不能包含空字符"
# A NUL in a JSON body is either a raw byte (not JSON at all: 400 later) or this escape.
_NUL_ESCAPE = re.compile(rb"\\u0000", re.IGNORECASE)
_FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_TEXT_BODIES = frozenset({"", "application/json", "text/plain"})


def refuse_nul_characters() -> None:
    """Refuse a NUL character in the query, a form field or a JSON body's text (422).

    PostgreSQL cannot store NUL in text (it raised, a 500) and SQLite stores it: neither is
    input anyone means to send. Checked once for every request, before any view reads it.

    :raises ValidationError: naming the first field holding one (`tags.1` for a list item).
    """
    for key, value in request.args.items(multi=True):
        if _has_nul(key, value):
            _refuse(key)
    if request.mimetype in _FORMS:
        for key, value in request.form.items(multi=True):
            if _has_nul(key, value):
                _refuse(key)
        for key, upload in request.files.items(multi=True):
            if _has_nul(key, upload.filename):
                _refuse(key)
        return
    # Other bodies (files sent raw) are left to their views; parse_body checks JSON itself.
    if request.mimetype in _TEXT_BODIES or request.mimetype.endswith("+json"):
        refuse_nul_in_json(request.get_data(cache=True))


def _has_nul(*texts: object) -> bool:
    # A malformed multipart part may come without a name (None): nothing to refuse there.
    return any(isinstance(text, str) and NUL in text for text in texts)


def refuse_nul_in_json(raw: bytes) -> None:
    """Refuse a JSON body whose text (a value or a key) holds an escaped NUL (422)."""
    if not raw or not _NUL_ESCAPE.search(raw):
        return
    try:
        body = json.loads(raw)
    except ValueError:
        return  # not JSON: the view answers 400
    field = _nul_field(body, ())
    if field is not None:
        _refuse(field or "_body")


def _nul_field(value: object, path: tuple[str, ...]) -> str | None:
    """The dotted path of the first text (or object key) in `value` holding a NUL."""
    if isinstance(value, str):
        return ".".join(path) if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return ".".join((*path, key))
            found = _nul_field(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_field(item, (*path, str(index)))
            if found is not None:
                return found
    return None


def _refuse(field: object) -> None:
    name = str(field).replace(NUL, "\\0")[:64]
    raise ValidationError({name: NUL_MESSAGE}, f"输入内容{NUL_MESSAGE}（字段：{name}）")
