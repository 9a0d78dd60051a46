"""The Flask app factory."""

import datetime as dt
import logging
import secrets
import tempfile
import uuid
from pathlib import Path

from flask import Flask
from flask import Response
from flask import g
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

import agents_ui
import callcenter
import dispatch
import kb
import reports
from hotline.bootstrap import Container
from hotline.bootstrap import bootstrap
from hotline.config import load_app_settings
from infra.errors import register_error_handlers
from infra.http import ONE_FILE
from infra.http import SEVERAL_FILES
from infra.http import refuse_nul_characters
from infra.ids import register_converters
from infra.logs import configure_logging
from infra.logs import request_id_var
from infra.logs import ticket_id_var
from infra.settings import Settings

log = logging.getLogger(__name__)
# Views marked `infra.http.takes_files` are held to the largest upload instead of
# web.max_body_bytes. A reply (回复) may carry several files in one request: up to this many
# files' worth.
REPLY_FILES_BYTES = 4


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Create the web app; tests pass settings or a ready container."""
    if container is None:
        settings = settings or load_app_settings()
        container = bootstrap(settings)
    settings = container.settings
    configure_logging(settings.log_level)
    app = Flask(__name__, static_folder=None)
    register_converters(app)  # bounded <int:...> ids: infra.ids
    app.config.from_mapping(
        SECRET_KEY=_secret_key(settings),
        # A reply with its files may be as large as a few attachments, an upload as one;
        # every other request is held to web.max_body_bytes in _request_context below.
        MAX_CONTENT_LENGTH=max(
            settings.web.max_body_bytes,
            REPLY_FILES_BYTES * settings.attachments.max_bytes + 65536,
        ),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web.cookie_secure,
        # API sign-ins (permanent sessions) last no longer than any session may.
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.auth.session_hours),
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["hotline"] = container

    @app.before_request
    def _request_context() -> None:
        rid = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex[:16]
        g.request_id = rid
        g.csp_nonce = secrets.token_urlsafe(16)
        request_id_var.set(rid)
        view = app.view_functions.get(request.endpoint or "")
        files = getattr(view, "takes_files", None)
        if getattr(view, "max_body_bytes", None):  # a view that takes one large body
            request.max_content_length = view.max_body_bytes  # type: ignore[union-attr]
        elif files == ONE_FILE:
            request.max_content_length = settings.attachments.max_bytes + 65536
        elif files == SEVERAL_FILES and request.mimetype == "multipart/form-data":
            pass  # 回复 with its files: the app-wide limit
        else:
            request.max_content_length = settings.web.max_body_bytes
        if "chunked" in request.environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            _spool_chunked_body(request.max_content_length)
        refuse_nul_characters()  # PostgreSQL cannot store them: 422 before any view runs
        ticket = (request.view_args or {}).get("ticket_id")
        ticket_id_var.set(str(ticket) if ticket is not None else "-")

    @app.teardown_request
    def _close_spooled_body(_exc: BaseException | None) -> None:
        spooled = g.pop("spooled_body", None)
        if spooled is not None:
            spooled.close()

    # The console's headset talks to the SIP edge's WebSocket: the one address besides ours.
    tel = settings.telephony
    headset_url = tel.headset_ws_url() if tel.headsets else ""

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Content-Security-Policy"] = content_security_policy(
            g.get("csp_nonce", ""), request.endpoint, headset_url
        )
        response.headers["X-Frame-Options"] = "DENY"
        # A view may ask for less (the status page's token must not leave at all).
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def _nonce() -> dict[str, str]:
        # Inline <script> and <style> blocks carry this per-response nonce (see the CSP).
        return {"csp_nonce": g.get("csp_nonce", "")}

    register_error_handlers(app)
    from hotline.web import bp as hotline_bp

    app.register_blueprint(hotline_bp)
    # Each package registers its own HTTP faces; the pages (agents_ui) come last.
    for package in (dispatch, kb, reports, callcenter):
        package.init_app(app)
    # Socket.IO fans out through Redis so that every web instance and worker reaches every
    # browser; tests run without it.
    queue = settings.redis.url if settings.web.live_updates_via_redis else None
    container.dispatch.publish = agents_ui.init_app(app, queue)
    return app


def _spool_chunked_body(limit: int | None) -> None:
    """Read a chunked body (no Content-Length) whole, refusing it (413) past `limit`.

    Werkzeug stops reading such a body at max_content_length and hands on what it read
    without a word: a JSON body cut at 1 MiB then answered 400 "not JSON" instead of 413.
    Once read, the request goes on as if it had come with its Content-Length. Bodies are
    spooled to a temporary file beyond 1 MiB (uploads may be several attachments large).
    """
    environ = request.environ
    stream = environ["wsgi.input"]
    spooled = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # closed at teardown
    g.spooled_body = spooled
    size = 0
    while chunk := stream.read(65536):
        size += len(chunk)
        if limit is not None and size > limit:
            raise RequestEntityTooLarge()
        spooled.write(chunk)
    spooled.seek(0)
    environ["wsgi.input"] = spooled
    environ["CONTENT_LENGTH"] = str(size)
    del environ["HTTP_TRANSFER_ENCODING"]


# Standalone documents with their own inline stylesheet and no script (the weekly brief's
# HTML, rendered outside Flask's templates): styles inline, scripts none at all.
DOCUMENT_ENDPOINTS = frozenset({"reports.render_brief"})


def content_security_policy(nonce: str, endpoint: str | None, headset_url: str = "") -> str:
    """The Content-Security-Policy of every response.

    Scripts and stylesheets only from this site or inline blocks carrying the response's
    nonce; no plugins, no <base>, forms post only here, and no page may be framed
    (clickjacking). Style attributes stay allowed: they carry layout figures (a bar's
    width), never script. Connections go to this site and, with browser headsets, to the
    SIP edge's WebSocket (`headset_url`).
    """
    if endpoint in DOCUMENT_ENDPOINTS:
        scripts, styles = "'none'", "'self' 'unsafe-inline'"
    else:
        scripts, styles = f"'self' 'nonce-{nonce}'", f"'self' 'nonce-{nonce}'"
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            f"style-src {styles}",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            f"connect-src 'self'{' ' + headset_url if headset_url else ''}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _secret_key(settings: Settings) -> str:
    """Use the configured key; in development keep a generated one in the instance folder."""
    if settings.web.secret_key:
        return settings.web.secret_key
    path = Path(settings.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    log.warning(
        "no web.secret_key set; generated one in %s (set HOTLINE_WEB__SECRET_KEY in production)",
        path,
    )
    return key
