"""Everything a person sees: pages, templates, and the live updates (Socket.IO `/live`)."""

from collections.abc import Callable
from typing import Any

from flask import Flask


def init_app(
    app: Flask, message_queue: str | None = None
) -> Callable[[str, dict[str, Any], list[str]], None]:
    """Register the pages and the live namespace; return the live pushes' publish function."""
    from agents_ui import admin
    from agents_ui import apikeys
    from agents_ui import callbacks
    from agents_ui import dashboard
    from agents_ui import followups
    from agents_ui import intake
    from agents_ui import kb
    from agents_ui import lines
    from agents_ui import reports
    from agents_ui import sipaccounts
    from agents_ui import supervise
    from agents_ui.realtime import init_realtime
    from agents_ui.web import bp

    app.register_blueprint(bp)
    app.register_blueprint(supervise.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(apikeys.bp)
    app.register_blueprint(sipaccounts.bp)
    app.register_blueprint(lines.bp)
    app.register_blueprint(kb.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(callbacks.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(followups.bp)
    publish = init_realtime(app, message_queue)

    def error_page(message: str) -> str:
        from flask import render_template
        from sqlalchemy.exc import SQLAlchemyError

        from infra.http import current_actor
        from kernel.errors import DomainError
        from kernel.roles import ROLE_LABELS

        try:
            actor = current_actor()
        except DomainError:  # not signed in, or the request itself was refused (CSRF)
            actor = None
        except SQLAlchemyError:  # the database is down: the page says so, without a menu
            actor = None
        role_label = ROLE_LABELS[actor.role] if actor else ""
        return render_template("error.html", message=message, actor=actor, role_label=role_label)

    app.extensions["hotline_error_page"] = error_page
    return publish
