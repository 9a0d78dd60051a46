"""The call center (话务): seats, the queue, calls and their records, over a real SIP edge.

- `acd/`: the ACD in Redis (seats, agent states, the queue) and the one list of its keys.
- `edge/`: Kamailio's configuration, SIP credentials, and the ACD's HTTP face for Kamailio.
- `seat/`: `hotline seat`, one pjsua2 softphone per operator seat (mixing rules pure).
- `survey/`: `hotline survey`, the automated follow-up calls (the call script pure).
- `cti/`: the operator's console, the hall's live view and the call-back list, over JSON.
- `records/`: call records kept in step with the ACD, and the call KPIs.
- `callbacks/`: 漏接回拨, call-back tasks for the callers the hotline missed.
- `duty`: 领导接听, the windows in which a leader takes calls at a seat.
- `models`: the tables of call records, call-back tasks and SIP accounts.
- `jobs`: the periodic job (forgotten calls, deferred records, quiet seats); `cli`:
  `hotline sip|seat|survey|call`; `openapi`: the CTI's paths in the OpenAPI document;
  `wiring`: the container as the call center's blueprints see it.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: "Flask") -> None:
    """Register the call center's HTTP faces on the app (the composition root calls this)."""
    from callcenter.cti.callbacks import bp as callbacks_bp
    from callcenter.cti.console import bp as cti_bp
    from callcenter.cti.hall import bp as hall_bp
    from callcenter.edge.http import bp as acd_bp
    from callcenter.edge.seatlink import bp as seatlink_bp

    app.register_blueprint(acd_bp)
    app.register_blueprint(seatlink_bp)
    app.register_blueprint(cti_bp)
    app.register_blueprint(hall_bp)
    app.register_blueprint(callbacks_bp)
