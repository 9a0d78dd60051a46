"""Flask plumbing shared by every blueprint: the container, the current actor, CSRF, input.

Authentication: a session cookie (the UI) or `Authorization: Bearer <token>` (other
systems). Unsafe requests that ride on the session cookie must carry the session's CSRF
token in `X-CSRF-Token`; bearer requests carry no ambient credentials and need none.
"""

import dataclasses
import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import pydantic
from flask import current_app
from flask import g
from flask import request
from flask import session

from dispatch.domain import DomainError
from dispatch.domain import PermissionDenied
from dispatch.domain import Role
from dispatch.services import Actor
from hotline.audit import record_audit
from hotline.auth import authenticate
from hotline.auth import user_for_token
from hotline.bootstrap import Container
from hotline.models import User

M = TypeVar("M", bound=pydantic.BaseModel)
F = TypeVar("F", bound=Callable[..., Any])
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Unauthorized(DomainError):
    code = "unauthorized"


class BadRequest(DomainError):
    code = "bad_request"


def container() -> Container:
    c: Container = current_app.extensions["hotline"]
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
            if user is None or not user.active:
                session.clear()
                raise Unauthorized("登录已失效，请重新登录")
            if request.method in UNSAFE_METHODS:
                _check_csrf()
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


def sign_in(username: str, password: str, *, via: str, permanent: bool = False) -> SignedIn | None:
    """Check the password, audit the login and start a fresh session; None if refused.

    The session is cleared first so that a session id planted before login is never reused.
    """
    with container().uow() as uow:
        user = authenticate(uow.session, username, password)
        if user is None:
            return None
        who = SignedIn(user.id, user.username, user.display_name, user.role, user.unit_id)
        record_audit(uow.session, user.id, "login", None, {"via": via}, ip=request.remote_addr)
        uow.commit()
    session.clear()
    session["user_id"] = who.user_id
    session.permanent = permanent
    return who


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

    Raises pydantic.ValidationError, which the error handlers turn into 400/422.
    """
    raw = request.get_data(cache=True) or b"{}"
    return model.model_validate_json(raw, strict=True)
