"""Dispatch (派单): tickets from every channel to the right unit, on time, and followed up.

- `tickets/`: the ticket core: lifecycle, clocks, assignments, attachments, use cases.
- `routing/`: which unit and category a request is, learned from the hotline's decisions.
- `webform/`: 网上诉求, the public web form (and the common door Open311 shares).
- `open311/`: Open311 GeoReport v2 for other systems and apps, with their API keys.
- `followup/`: 回访, automated survey calls and SMS, and the people's follow-up queues.
- `supervision/`: 督办, the sweep acting on every open clock, and the desk's figures.
- `admin/`: 系统管理 use cases: users, the unit catalogue, SLA rules, the calendar.
- `web`: the JSON API of tickets, units and routing models; `openapi`: its paths in the
  OpenAPI document; `cli`: `hotline dispatch|followup`; `jobs`: the rq jobs and their
  schedule; `wiring`: the container as dispatch's blueprints see it.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: "Flask") -> None:
    """Register dispatch's HTTP faces on the app (the composition root calls this)."""
    from dispatch.followup.web import bp as followup_bp
    from dispatch.open311.web import bp as open311_bp
    from dispatch.web import bp as tickets_bp

    app.register_blueprint(tickets_bp)
    app.register_blueprint(open311_bp)
    app.register_blueprint(followup_bp)
