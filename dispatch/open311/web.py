"""Open311 GeoReport v2 at /open311/v2: other systems and apps file and track requests.

Authorisation is the `api_key` argument alone (an admin makes keys in 系统管理 → 开放接口):
no session cookie, no CSRF token, no Set-Cookie. POST requests needs a key; the GETs take
one optionally (the spec) and are rate-limited per key, or per client address without one.
Every answer is JSON or XML by the resource's extension, errors included, in the spec's
error format. Published: requests filed by outside clients (channels open311 and web),
never their names, phones or e-mail; phone-channel tickets never.
"""

import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import Any

import pydantic
import sqlalchemy as sa
from flask import Blueprint
from flask import Response
from flask import g
from flask import request
from flask import send_file
from flask import url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from dispatch.open311 import apikeys
from dispatch.open311 import spec as open311
from dispatch.open311.spec import Open311Error
from dispatch.routing.models import Matter
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import Channel
from dispatch.tickets.models import Ticket
from dispatch.webform import intake
from dispatch.wiring import container
from infra.errors import validation_details
from infra.http import takes_files
from kernel.errors import ValidationError

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
bp = Blueprint("open311", __name__, url_prefix=PREFIX)

PUBLISHED_CHANNELS = (Channel.OPEN311, Channel.WEB)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
STARTED = dt.datetime.now(dt.UTC)  # the discovery changeset: services may change on restart
# The resources, for telling a wrong method (405) from a wrong path (404).
_RESOURCES = re.compile(
    r"^(services|requests|discovery)\.[^/]+$|^(services|requests)/[^/]+\.[^/]+$"
)
# What a field of intake.PublicRequest is called in the spec.
_SPEC_FIELDS = {
    "description": "description",
    "category": "service_code",
    "address": "address_string",
    "latitude": "lat",
    "longitude": "long",
    "name": "first_name/last_name",
    "phone": "phone",
    "email": "email",
}


# ---------------------------------------------------------------- plumbing


def _fmt() -> str:
    fmt: str = g.get("open311_fmt", "json")
    return fmt


def _answer(root: str, value: Any, status: int = 200) -> Response:
    fmt = _fmt()
    return Response(
        open311.render(fmt, root, value), status=status, content_type=open311.CONTENT_TYPES[fmt]
    )


def _error(exc: Open311Error) -> Response:
    fmt = _fmt()
    return Response(
        open311.render_errors(fmt, exc),
        status=exc.status,
        content_type=open311.CONTENT_TYPES[fmt],
        headers=exc.headers,
    )


@bp.errorhandler(Open311Error)
def _spec_error(exc: Open311Error) -> Response:
    return _error(exc)


_HTTP_DESCRIPTIONS = {
    400: "请求格式有误",
    405: "该资源不支持此请求方法",
    413: "上传内容过大：照片不能超过 {mb} MB",
    415: "请以 application/x-www-form-urlencoded 或 multipart/form-data 提交",
}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    mb = container().attachments.max_bytes // (1024 * 1024)
    text = _HTTP_DESCRIPTIONS.get(status, exc.description or "请求失败").format(mb=mb)
    return _error(Open311Error(status, text))


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("open311: unhandled error")
    return _error(Open311Error(500, "服务器内部错误，请稍后重试或联系热线管理员"))


@bp.url_value_preprocessor
def _take_format(endpoint: str | None, values: dict[str, Any] | None) -> None:
    ext = (values or {}).pop("fmt", None)
    g.open311_fmt = open311.response_format(ext) or "json"
    g.open311_bad_fmt = ext is not None and open311.response_format(ext) is None


@bp.before_request
def _guard() -> None:
    """Format, jurisdiction, key and rate limit, for every resource."""
    if g.get("open311_bad_fmt"):
        raise open311.not_found("不支持的格式：只提供 .json 和 .xml")
    c = container()
    settings = c.settings.open311
    wanted = (request.values.get("jurisdiction_id") or "").strip()
    if settings.jurisdiction_id and wanted and wanted != settings.jurisdiction_id:
        raise open311.not_found(f"jurisdiction_id 不存在：{wanted[:64]}")
    posting = request.endpoint == "open311.post_request"
    if posting and request.mimetype not in FORM_TYPES:
        raise Open311Error(415, _HTTP_DESCRIPTIONS[415])
    key = (request.values.get("api_key") or "").strip()
    client = apikeys.verify(c.uow(), key, now=c.dispatch.utcnow()) if key else None
    limiter = apikeys.RateLimiter(lambda: c.redis, c.dispatch.utcnow)
    if client is not None:
        decision = limiter.for_key(client)
        limit = client.rate_per_minute
    else:  # no key, or a wrong one: count by address, so guessing keys is limited too
        decision = limiter.for_ip(request.remote_addr or "-", settings.rate_per_minute)
        limit = settings.rate_per_minute
    g.open311_rate = (limit, decision.remaining)
    if not decision.allowed:
        raise open311.too_many(decision.retry_after)
    if key and client is None:
        raise open311.forbidden("api_key 无效或已被吊销，请联系热线管理员")
    if posting and client is None:
        raise open311.forbidden("缺少 api_key：提交诉求须使用热线发放的接口密钥")
    g.open311_client = client


@bp.after_request
def _rate_headers(response: Response) -> Response:
    if "open311_rate" in g:
        limit, remaining = g.open311_rate
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
    return response


# ---------------------------------------------------------------- catalogue


def _service(m: Matter) -> open311.Service:
    return open311.Service(str(m.id), m.path, tuple(m.keywords or ()))


def _active_services(session: Session) -> list[open311.Service]:
    rows = session.scalars(sa.select(Matter).where(Matter.active).order_by(Matter.path))
    return [_service(m) for m in rows]


def _find_service(session: Session, code: str) -> open311.Service | None:
    if not code.isdecimal() or len(code) > 9:
        return None
    m = session.get(Matter, int(code))
    return _service(m) if m is not None and m.active else None


# ---------------------------------------------------------------- published requests


def _published() -> sa.ColumnElement[bool]:
    """Requests outside clients filed (with a status link) whose citizen agreed to publish
    them, never confidential ones. Anything else is the same 404 as an unknown number:
    ticket numbers are sequential, so enumerating them must reveal nothing."""
    return sa.and_(
        Ticket.channel.in_(PUBLISHED_CHANNELS),
        Ticket.public_token.is_not(None),
        Ticket.publish.is_(True),
        Ticket.confidential.is_(False),
    )


def _by_number(session: Session, ctx: DispatchContext, number: str) -> Ticket | None:
    ticket_id = open311.ticket_id_of(number)
    if ticket_id is None:
        return None
    ticket = session.scalar(sa.select(Ticket).where(Ticket.id == ticket_id, _published()))
    if ticket is None or ctx.ticket_number(ticket) != number.strip():
        return None
    return ticket


def _items(
    session: Session,
    ctx: DispatchContext,
    tickets: Sequence[Ticket],
    by_path: dict[str, open311.Service],
) -> list[dict[str, Any]]:
    views = intake.public_views(session, ctx, tickets)
    return [_item(ctx, t, v, by_path) for t, v in zip(tickets, views, strict=True)]


def _item(
    ctx: DispatchContext,
    ticket: Ticket,
    view: dict[str, Any],
    by_path: dict[str, open311.Service],
) -> dict[str, Any]:
    photos = view["photo_ids"]
    media = (
        url_for("open311.media", number=view["number"], attachment_id=photos[0], _external=True)
        if photos
        else None
    )
    service = by_path.get(ticket.category or "")
    published = open311.published_view(view, [ticket.citizen_name])
    return open311.request_item(published, service, media, ctx.policy.calendar.tz)


def _all_services(session: Session) -> dict[str, open311.Service]:
    """Every matter by path, inactive ones too: old requests keep their service."""
    return {m.path: _service(m) for m in session.scalars(sa.select(Matter))}


# ---------------------------------------------------------------- routes


@bp.get("/discovery.<fmt>")
def discovery() -> Response:
    doc = open311.discovery(
        url=request.url_root.rstrip("/") + PREFIX,
        changeset=STARTED,
        contact="12345 政务服务便民热线 系统管理员",
        key_service="api_key 由热线管理员在「系统管理 → 开放接口」发放，请联系热线申请",
    )
    return _answer("discovery", doc)


@bp.get("/services.<fmt>")
def services() -> Response:
    with container().uow() as uow:
        items = [open311.service_item(s) for s in _active_services(uow.session)]
    return _answer("services", items)


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str) -> Response:
    with container().uow() as uow:
        service = _find_service(uow.session, code)
    if service is None:
        raise open311.not_found(f"service_code 不存在：{code[:32]}")
    return _answer("service_definition", open311.service_definition(service))


@bp.get("/requests.<fmt>")
def list_requests() -> Response:
    c = container()
    ctx, settings = c.dispatch, c.settings.open311
    query = open311.parse_request_query(request.args, ctx.utcnow(), settings.default_days)
    with c.uow() as uow:
        s = uow.session
        by_path = _all_services(s)
        stmt = sa.select(Ticket).where(_published())
        if query.numbers:
            ids = {open311.ticket_id_of(n) for n in query.numbers} - {None}
            stmt = stmt.where(Ticket.id.in_(ids))
        else:
            stmt = stmt.where(Ticket.created_at >= query.start, Ticket.created_at <= query.end)
            if query.statuses:
                stmt = stmt.where(Ticket.status.in_(query.statuses))
            if query.service_codes:
                codes = set(query.service_codes)
                paths = [path for path, sv in by_path.items() if sv.code in codes]
                stmt = stmt.where(Ticket.category.in_(paths))
        stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc())
        tickets = s.scalars(stmt.limit(settings.max_requests)).all()
        wanted = set(query.numbers)
        chosen = [t for t in tickets if not wanted or ctx.ticket_number(t) in wanted]
        items = _items(s, ctx, chosen, by_path)
    return _answer("service_requests", items)


@bp.get("/requests/<number>.<fmt>")
def get_request(number: str) -> Response:
    c = container()
    with c.uow() as uow:
        ticket = _by_number(uow.session, c.dispatch, number)
        if ticket is None:
            raise open311.not_found(f"service_request_id 不存在：{number[:32]}")
        items = _items(uow.session, c.dispatch, [ticket], _all_services(uow.session))
    return _answer("service_requests", items)


def _photo() -> intake.Photo | None:
    upload = request.files.get("media")
    if upload is None or not upload.filename:
        return None
    limit = container().attachments.max_bytes
    try:
        data = upload.read(limit + 1)
    finally:
        upload.close()
    if len(data) > limit:
        raise Open311Error(413, f"media 照片不能超过 {limit // (1024 * 1024)} MB")
    return intake.Photo(upload.filename, data)


def _spec_messages(fields: dict[str, str]) -> list[str]:
    return [
        f"{_SPEC_FIELDS.get(name.split('.')[0], 'media' if name == 'file' else name)}：{text}"
        for name, text in fields.items()
    ]


@bp.post("/requests.<fmt>")
@takes_files()
def post_request() -> Response:
    client: apikeys.Client = g.open311_client
    new = open311.parse_new_request(request.form)
    c = container()
    with c.uow() as uow:
        service = _find_service(uow.session, new.service_code)
    if service is None:
        raise open311.not_found(f"service_code 不存在：{new.service_code[:32]}")
    photo = _photo()
    try:
        req = intake.PublicRequest(
            description=new.description,
            category=service.path,
            address=new.address,
            latitude=new.latitude,
            longitude=new.longitude,
            name=new.name,
            phone=new.phone,
            email=new.email,
            publish=new.publish,
        )
    except pydantic.ValidationError as exc:
        raise open311.bad_request(_spec_messages(validation_details(exc))) from None
    try:
        done = intake.submit(
            c.uow(),
            c.dispatch,
            c.assistant,
            c.attachments,
            req,
            channel=Channel.OPEN311,
            actor_name=f"Open311：{client.name}",
            photo=photo,
            api_key_id=client.id,
        )
    except ValidationError as exc:
        raise open311.bad_request(_spec_messages(exc.field_errors)) from None
    with c.uow() as uow:
        ticket = uow.session.get(Ticket, done.ticket_id)
        assert ticket is not None
        view = intake.public_view(uow.session, c.dispatch, ticket)
    item = open311.request_item(view, service, None, c.dispatch.policy.calendar.tz)
    created = open311.created_item(done.number, item["service_notice"] or "")
    return _answer("service_requests", [created], 201)


@bp.get("/media/<number>/<int:attachment_id>")
def media(number: str, attachment_id: int) -> Response:
    """A published request's photo (only images: documents a unit attached stay inside)."""
    c = container()
    with c.uow() as uow:
        ticket = _by_number(uow.session, c.dispatch, number)
        row = intake.public_photo(uow.session, ticket, attachment_id) if ticket else None
        if row is None:
            raise open311.not_found("照片不存在")
        path, mimetype = c.attachments.store.path(row.sha256), row.content_type
    return send_file(path, mimetype=mimetype, max_age=0)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    if _RESOURCES.match(rest):
        raise Open311Error(405, _HTTP_DESCRIPTIONS[405])
    raise open311.not_found(f"没有这个资源：/open311/v2/{rest[:64]}")
