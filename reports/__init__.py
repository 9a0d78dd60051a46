"""Reports: the KPIs, the unit ranking, hot topics and the weekly brief, and their exports.

Read-only over the tickets, their events and the call records, except the weekly briefs kept
in `weekly_briefs`. Its parts:

- `kpis/`: every KPI formula stated once, counted from the ticket events (`compute`).
- `ranking`: units ranked by a configurable weighted score over the KPIs.
- `topics/`: hot topics, hot spots and rising keywords of a period (`hot_topics`).
- `brief/`: the weekly brief (周报): gathered, laid out, rendered (HTML, PDF, DOCX) and kept.
- `services`: ISO weeks, and the leaders' dashboard's figures of one week.
- `export`: Excel exports of ticket lists, KPI tables and the ranking.
- `models`: the `weekly_briefs` table.
- `jobs`: the weekly brief on schedule, and its catch-up.
- `web`: the JSON API under /api/reports; `openapi`: its paths in the OpenAPI document.
- `cli`: `hotline report weekly|kpis|sweep`.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: "Flask") -> None:
    """Register the reports package's JSON API on the app (the composition root calls this)."""
    from reports.web import bp

    app.register_blueprint(bp)
