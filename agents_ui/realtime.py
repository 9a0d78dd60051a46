"""Live updates over Socket.IO: the `/live` namespace and the publisher behind the services.

Threading mode (no eventlet/gevent monkey-patching next to psycopg and, later, pjsua2).
With a message queue (Redis) every web instance and worker can push to every browser.
Clients join rooms by who they are: `hotline` for hotline staff, `unit:<id>` for a unit's
liaisons, `user:<id>` for each user, `hall` for those who watch the hall (坐席监控). Payloads
name what changed and carry no personal data; the page then fetches what it needs through
the API with the user's own rights.
"""

import logging
from typing import Any

from flask import Flask
from flask import session
from flask_socketio import Namespace
from flask_socketio import SocketIO
from flask_socketio import join_room

from callcenter.hall import HALL_ROOM
from dispatch.domain import HOTLINE_ROLES
from dispatch.domain import SUPERVISE_ROLES
from dispatch.domain import Role
from hotline.models import User

log = logging.getLogger(__name__)
NAMESPACE = "/live"
socketio = SocketIO()


class LiveNamespace(Namespace):  # type: ignore[misc]
    def on_connect(self, auth: Any = None) -> None:
        from hotline.http import container

        user_id = session.get("user_id")
        if user_id is None:
            raise ConnectionRefusedError("请先登录")
        with container().uow() as uow:
            user = uow.session.get(User, user_id)
            if user is None or not user.active:
                raise ConnectionRefusedError("请先登录")
            role, unit_id = user.role, user.unit_id
        join_room(f"user:{user_id}")  # calls offered at the user's seat (screen pop)
        if role in HOTLINE_ROLES or role is Role.LEADER:
            join_room("hotline")
        if role in SUPERVISE_ROLES:
            join_room(HALL_ROOM)  # the hall view (坐席监控) hears `hall.changed`
        if role is Role.LIAISON and unit_id is not None:
            join_room(f"unit:{unit_id}")

    def on_error_default(self, exc: Exception) -> None:  # pragma: no cover - logging only
        log.exception("socket.io error: %s", exc)


def init_realtime(app: Flask, message_queue: str | None) -> None:
    """Attach Socket.IO to the app and route the services' pushes through it."""
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=message_queue,
        channel="hotline",
        logger=False,
        engineio_logger=False,
    )
    socketio.on_namespace(LiveNamespace(NAMESPACE))

    def publish(event: str, payload: dict[str, Any], rooms: list[str]) -> None:
        # One emit for all rooms: one message on the Redis queue, and a browser that is in
        # two of the rooms gets it once.
        socketio.emit(event, payload, to=rooms, namespace=NAMESPACE)

    app.extensions["hotline"].dispatch.publish = publish
