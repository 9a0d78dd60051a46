"""网上诉求: the public web form and the citizen's status page (no sign-in).

A citizen writes a request, maybe with one photo and a pin, and gets the ticket number and a
private link `/status/<number>?t=<token>`. The ticket is made by
`dispatch.webform.intake.submit`, the same service Open311 uses. Everything here is for people
on phones: pages are rendered on the server and work without JavaScript; the script only adds
a counter, the pin, a photo preview and a size check.

Guards, in the order a POST meets them: the form's CSRF token (anonymous session), the body
size (the attachment limit: the view `takes_files`), a one-time form token so that pressing
submit twice makes one ticket, and a per-address hourly limit in Redis. Redis being down
lets requests through (logged): the limit protects the service, and a citizen's request
should not be lost because of it.
"""

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from dataclasses import field

import pydantic
import redis
from flask import Blueprint
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import session
from flask import url_for
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from agents_ui.wiring import UiServices
from agents_ui.wiring import container
from dispatch.open311.spec import public_description
from dispatch.tickets.domain import Channel
from dispatch.tickets.domain import TicketStatus
from dispatch.webform import intake
from infra.errors import validation_details
from infra.http import csrf_token
from infra.http import takes_files
from infra.ratelimit import FixedWindow
from kernel.errors import NotFound
from kernel.errors import ValidationError

log = logging.getLogger(__name__)

bp = Blueprint("intake", __name__, template_folder="templates")

ACTOR_NAME = "网上诉求"
NOT_FOUND = "未找到该工单，请核对查询链接"
LOCATION_HALF = "位置信息不完整（经纬度须同时填写），请重新获取或清除位置"
# The form's fields, as the template names them.
TEXT_FIELDS = ("description", "title", "address", "latitude", "longitude", "name", "phone")
# How long a second press of "submit" waits for the first one to finish.
CLAIM_WAIT_SECONDS = 10.0
CLAIM_TTL_SECONDS = 3600
# Session entries kept for the done page (a few tabs at most).
KEEP_DONE = 5

S = TicketStatus
# The citizen's timeline: 受理 → 办理中 → 已答复 → 已办结; the index of the current step.
STEPS = ("受理", "办理中", "已答复", "已办结")
STEP_OF: dict[TicketStatus, int] = {
    S.ACCEPTED: 0,
    S.DISPATCHED: 1,
    S.SIGNED: 1,
    S.RETURNED: 1,
    S.REPLIED: 1,
    # Merged: this number is handled under another ticket, which is still being worked on.
    S.MERGED: 1,
    S.REVIEWED: 2,
    S.FOLLOWED_UP: 2,
    S.CLOSED: 3,
    S.RESOLVED: 3,
}


@dataclass
class Form:
    """What the citizen typed, and the message for each field that is wrong."""

    values: dict[str, str] = field(default_factory=dict)
    confidential: bool = False
    publish: bool = False  # 同意公开: unchecked unless the citizen ticks it
    errors: dict[str, str] = field(default_factory=dict)
    had_photo: bool = False
    form_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))


def _settings_enabled() -> UiServices:
    c = container()
    if not c.settings.intake.enabled:
        abort(404)
    return c


def _render_form(form: Form, status: int = 200, alert: str | None = None) -> tuple[str, int]:
    c = container()
    return (
        render_template(
            "intake.html",
            form=form,
            alert=alert,
            csrf=csrf_token(),
            max_bytes=c.attachments.max_bytes,
            max_mb=c.attachments.max_bytes // (1024 * 1024),
        ),
        status,
    )


def _message(text: str, status: int, title: str) -> tuple[str, int]:
    return render_template("intake_message.html", title=title, message=text), status


# ---------------------------------------------------------------- the form


@bp.get("/intake")
def form() -> tuple[str, int]:
    """The empty form."""
    _settings_enabled()
    return _render_form(Form())


@bp.errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
    """A body over the upload limit: the form again, in words, not Flask's English 413."""
    mb = container().attachments.max_bytes // (1024 * 1024)
    form = Form(errors={"photo": f"照片不能超过 {mb} MB，请压缩或换一张后重新上传"})
    alert = "照片太大，未能提交。很抱歉，已填写的内容需要重新输入。"
    return _render_form(form, 413, alert)


@bp.post("/intake")
@takes_files()
def submit_form() -> tuple[str, int] | Response:
    """Validate, make the ticket, and redirect to the done page (POST/redirect/GET)."""
    c = _settings_enabled()
    form = _read_form()  # reads the body: too large raises RequestEntityTooLarge (above)
    sent = request.form.get("csrf", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        form.form_token = secrets.token_urlsafe(16)
        return _render_form(form, 400, "页面已过期，请核对内容后重新提交。")
    done = _done_in_session(form.form_token)
    if done is not None:
        return redirect(url_for("intake.done", key=form.form_token))
    claim = _Claim(c, str(expected), form.form_token)
    earlier = claim.acquire()
    if isinstance(earlier, tuple):  # the same form was sent twice: show the first's result
        _remember(form.form_token, *earlier)
    if earlier is not None:  # made, or still being made: the done page shows it when there
        return redirect(url_for("intake.done", key=form.form_token))
    try:
        if not _within_rate(c):
            claim.release()
            return _message(
                "同一网络提交过于频繁，请一小时后再试；紧急情况请直接拨打 12345。",
                429,
                "提交过于频繁",
            )
        result = _create(c, form)
    except BaseException:
        claim.release()
        raise
    if result is None:
        claim.release()
        return _render_form(form, 422, "提交的内容有误，请按提示修改。")
    claim.finish(result.number, result.token)
    _remember(form.form_token, result.number, result.token)
    return redirect(url_for("intake.done", key=form.form_token))


def _read_form() -> Form:
    f = request.form
    values = {name: f.get(name, "").strip() for name in TEXT_FIELDS}
    token = f.get("form_token", "")
    form = Form(
        values=values, confidential=bool(f.get("confidential")), publish=bool(f.get("publish"))
    )
    if 8 <= len(token) <= 64:
        form.form_token = token
    upload = request.files.get("photo")
    form.had_photo = upload is not None and bool(upload.filename)
    return form


def _create(c: UiServices, form: Form) -> intake.Submitted | None:
    """Make the ticket, or fill `form.errors` and return None."""
    req = _public_request(form)
    photo = _photo(c, form)
    if req is None or form.errors:
        return None
    try:
        return intake.submit(
            c.uow(),
            c.dispatch,
            c.assistant,
            c.attachments,
            req,
            channel=Channel.WEB,
            actor_name=ACTOR_NAME,
            photo=photo,
        )
    except ValidationError as exc:
        for name, text in exc.field_errors.items():
            form.errors.setdefault("photo" if name == "file" else name, text)
        return None


def _optional(value: str) -> str | None:
    return value or None


def _public_request(form: Form) -> intake.PublicRequest | None:
    v = form.values
    if bool(v["latitude"]) != bool(v["longitude"]):
        # The model checks the pair only once every field is valid; say it in any case.
        form.errors["location"] = LOCATION_HALF
    try:
        return intake.PublicRequest(
            description=v["description"],
            title=v["title"],
            address=_optional(v["address"]),
            latitude=_optional(v["latitude"]),  # pydantic parses the text
            longitude=_optional(v["longitude"]),
            name=_optional(v["name"]),
            phone=_optional(v["phone"]),
            confidential=form.confidential,
            publish=form.publish,
        )
    except pydantic.ValidationError as exc:
        for name, text in _field_errors(exc).items():
            form.errors.setdefault(name, text)
        return None


def _field_errors(exc: pydantic.ValidationError) -> dict[str, str]:
    """Each pydantic error as a sentence next to the form's own field."""
    messages = validation_details(exc)
    kinds = {".".join(str(p) for p in e["loc"]) or "_body": e["type"] for e in exc.errors()}
    errors: dict[str, str] = {}
    for name, text in messages.items():
        kind = kinds.get(name, "")
        if name == "_body":  # the model's own check: latitude and longitude go together
            errors["location"] = LOCATION_HALF
        elif name in ("latitude", "longitude"):
            errors["location"] = "位置信息无效，请重新获取或清除位置"
        elif name == "description" and kind == "string_too_short":
            errors[name] = "请至少写 5 个字，说明发生了什么、在哪里"
        elif name == "phone":
            # the number's own problem (10 digits, no area code ...) when there is one
            errors[name] = text if kind == "value_error" else "请填写手机号或带区号的固定电话"
        else:
            errors[name] = text
    return errors


def _photo(c: UiServices, form: Form) -> intake.Photo | None:
    upload: FileStorage | None = request.files.get("photo")
    if upload is None or not upload.filename:
        return None
    try:
        data = upload.read(c.attachments.max_bytes + 1)
    finally:
        upload.close()
    photo = intake.Photo(upload.filename, data)
    try:
        intake.check_photo(c.attachments, photo)
    except ValidationError as exc:
        form.errors["photo"] = exc.field_errors.get("file", exc.message)
        return None
    return photo


# ---------------------------------------------------------------- guards


def _within_rate(c: UiServices) -> bool:
    """Count this submission against the address's hour; False once over the limit."""
    hourly = FixedWindow(lambda: c.redis, c.dispatch.utcnow, prefix="intake", window=3600)
    ip = request.remote_addr or "-"
    return hourly.hit(f"ip:{ip}", c.settings.intake.per_ip_per_hour).allowed


PENDING = "pending"


class _Claim:
    """One form token makes one ticket, even when two presses of submit arrive together.

    The key is bound to the session's CSRF token, so a form token alone reveals nothing.
    A second request waits a little for the first one's result; if the first is slow it
    is sent to the done page, which shows the result once there (never a second ticket).
    """

    def __init__(self, c: UiServices, csrf: str, form_token: str) -> None:
        self._c = c
        digest = hashlib.sha256(f"{csrf}\0{form_token}".encode()).hexdigest()
        self._key = f"intake:form:{digest}"
        self._owned = False

    def acquire(self) -> tuple[str, str] | str | None:
        """Own the token (None), or the (number, token) already made, or PENDING."""
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        try:
            r = self._c.redis
            while True:
                if r.set(self._key, PENDING, nx=True, ex=CLAIM_TTL_SECONDS):
                    self._owned = True
                    return None
                state = self.peek()
                if state != PENDING and state is not None:
                    return state
                if time.monotonic() > deadline:
                    return PENDING
                time.sleep(0.2)
        except redis.RedisError:
            log.warning("intake double-submit guard skipped: Redis unavailable", exc_info=True)
            return None

    def peek(self) -> tuple[str, str] | str | None:
        """The (number, token) made for this form, PENDING while it is being made, or None."""
        value = self._c.redis.get(self._key)
        text = value.decode() if isinstance(value, bytes) else value
        if not text:
            return None
        if text == PENDING:
            return PENDING
        number, _, token = str(text).partition(" ")
        return number, token

    def finish(self, number: str, token: str) -> None:
        try:
            self._c.redis.set(self._key, f"{number} {token}", ex=CLAIM_TTL_SECONDS)
        except redis.RedisError:
            log.warning("intake claim not recorded: Redis unavailable", exc_info=True)

    def release(self) -> None:
        if not self._owned:
            return
        try:
            self._c.redis.delete(self._key)
        except redis.RedisError:
            log.warning("intake claim not released: Redis unavailable", exc_info=True)


def _remember(form_token: str, number: str, token: str) -> None:
    done: dict[str, list[str]] = dict(session.get("intake_done") or {})
    done[form_token] = [number, token]
    session["intake_done"] = dict(list(done.items())[-KEEP_DONE:])


def _done_in_session(form_token: str) -> tuple[str, str] | None:
    entry = (session.get("intake_done") or {}).get(form_token)
    if not entry or len(entry) != 2:
        return None
    return str(entry[0]), str(entry[1])


# ---------------------------------------------------------------- after submitting


@bp.get("/intake/done/<key>")
def done(key: str) -> tuple[str, int] | Response:
    """The number, the private status link and what happens next."""
    c = _settings_enabled()
    entry = _done_in_session(key)
    if entry is None:
        state = _peek(c, key)
        if state == PENDING:
            return render_template("intake_wait.html"), 202
        if not isinstance(state, tuple):
            return redirect(url_for("intake.form"))
        entry = state
        _remember(key, *entry)
    number, token = entry
    link = url_for("intake.status", number=number, t=token, _external=True)
    return render_template("intake_done.html", number=number, link=link), 200


def _peek(c: UiServices, form_token: str) -> tuple[str, str] | str | None:
    """What became of this session's form, when the session itself was not told."""
    csrf = session.get("csrf")
    if not csrf:
        return None
    try:
        return _Claim(c, str(csrf), form_token).peek()
    except redis.RedisError:
        log.warning("intake claim not read: Redis unavailable", exc_info=True)
        return None


def _private(response: Response) -> Response:
    # The token is in the address: keep it out of Referer headers, caches and search engines.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/status/<number>")
def status(number: str) -> Response:
    """The citizen's view of their ticket; a wrong number or token reads the same."""
    c = container()
    token = request.args.get("t", "")
    with c.uow() as uow:
        try:
            ticket = intake.find_by_token(uow.session, c.dispatch, number[:64], token[:128])
        except NotFound:
            body, code = _message(NOT_FOUND, 404, "未找到工单")
            return _private(Response(body, code, mimetype="text/html"))
        view = intake.public_view(uow.session, c.dispatch, ticket)
        step = STEP_OF.get(ticket.status, 0)
    body = render_template(
        "intake_status.html",
        t=view,
        token=token,
        steps=STEPS,
        step=step,
        category=_category(view["category"]),
        description=public_description(view["description"] or ""),
    )
    return _private(Response(body, 200, mimetype="text/html"))


def _category(path: str | None) -> str | None:
    return " › ".join(p for p in path.split("/") if p) if path else None


@bp.get("/status/<number>/photos/<int:photo_id>")
def photo(number: str, photo_id: int) -> Response:
    """One of this ticket's images, for the holder of its status link."""
    c = container()
    token = request.args.get("t", "")
    with c.uow() as uow:
        try:
            ticket = intake.find_by_token(uow.session, c.dispatch, number[:64], token[:128])
            row = intake.public_photo(uow.session, ticket, photo_id)
        except NotFound:
            row = None
        if row is None:
            body, code = _message(NOT_FOUND, 404, "未找到工单")
            return _private(Response(body, code, mimetype="text/html"))
        path, mimetype = c.attachments.store.path(row.sha256), row.content_type
    return _private(send_file(path, mimetype=mimetype, max_age=0))
