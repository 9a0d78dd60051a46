"""Live updates over Socket.IO: the `/live` namespace and the publisher behind the services.

Threading mode (no eventlet/gevent monkey-patching next to psycopg and, later, pjsua2).
With a message queue (Redis) every web instance and worker can push to every browser.
Clients join rooms by who they are: `hotline` for hotline staff, `unit:<id>` for a unit's
liaisons, `user:<id>` for each user, `hall` for those who watch the hall (坐席监控). Payloads
name what changed and carry no personal data; the page then fetches what it needs through
the API with the user's own rights.
"""

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask import session
from flask_socketio import Namespace
from flask_socketio import SocketIO
from flask_socketio import disconnect
from flask_socketio import join_room

from callcenter.cti.hall import HALL_ROOM
from infra.auth import session_problem
from infra.models import User
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES
from kernel.roles import Role

log = logging.getLogger(__name__)
NAMESPACE = "/live"
socketio = SocketIO()


class LiveNamespace(Namespace):  # type: ignore[misc]
    def on_connect(self, auth: Any = None) -> None:
        from agents_ui.wiring import container

        user_id = session.get("user_id")
        if user_id is None:
            raise ConnectionRefusedError("请先登录")
        c = container()
        now = c.dispatch.utcnow().timestamp()
        with c.uow() as uow:
            user = uow.session.get(User, user_id)
            # The same checks as every HTTP request: a signed-out, reset, deactivated, expired
            # or idle session gets no live connection; nor one that must change its password.
            problem = session_problem(user, session, now, c.settings.auth)
            if problem is not None or user is None:
                raise ConnectionRefusedError(problem or "请先登录")
            if user.must_change_password:
                raise ConnectionRefusedError("请先修改密码")
            role, unit_id = user.role, user.unit_id
        join_room(f"user:{user_id}")  # calls offered at the user's seat (screen pop)
        if role in HOTLINE_ROLES or role is Role.LEADER:
            join_room("hotline")
        if role in SUPERVISE_ROLES:
            join_room(HALL_ROOM)  # the hall view (坐席监控) hears `hall.changed`
        if role is Role.LIAISON and unit_id is not None:
            join_room(f"unit:{unit_id}")

    def on_seat_alive(self, data: Any = None) -> dict[str, Any]:
        """The operator's console is open: keep their seat taking calls (see Acd.alive).

        Answers with the seat's state, so a console whose seat went offline while it was
        away says so at once.
        """
        from agents_ui.wiring import container
        from callcenter.cti.console import seat_alive

        user_id = session.get("user_id")
        if user_id is None:
            return {"seat": None, "state": "offline"}
        # The live connection keeps the session it was opened with: a user deactivated (or
        # removed) since then, or a session ended since (sign-out elsewhere, a password
        # change or reset), must not keep a seat taking calls. Idle time is not checked
        # here: the console's own pings are not someone at the keyboard.
        c = container()
        now = c.dispatch.utcnow().timestamp()
        with c.uow() as uow:
            user = uow.session.get(User, int(user_id))
            if session_problem(user, session, now, c.settings.auth, check_idle=False):
                disconnect()
                return {"seat": None, "state": "offline"}
        return seat_alive(int(user_id))

    def on_disconnect(self, reason: Any = None) -> None:
        """A page went away: if it was a console, its seat goes offline after the grace."""
        from agents_ui.wiring import container

        user_id = session.get("user_id")
        if user_id is None:
            return
        c = container()
        try:
            if not c.redis.exists(c.acd.keys.user(user_id)):
                return
        except Exception:  # noqa: BLE001 - Redis down: nothing to watch
            return
        timer = threading.Timer(
            c.settings.telephony.console_grace_seconds + 1, _sweep_absent, args=(c,)
        )
        timer.daemon = True
        timer.start()

    def on_error_default(self, exc: Exception) -> None:  # pragma: no cover - logging only
        log.exception("socket.io error: %s", exc)


def _sweep_absent(c: Any) -> None:
    """Set offline the seats whose console is gone, and tell the hall pages."""
    from callcenter.cti.hall import HALL_EVENT

    try:
        gone = c.acd.sweep_absent()
        if gone:
            log.info("seats %s offline: their console is gone", ", ".join(gone))
            c.dispatch.publish(HALL_EVENT, {"v": 1}, [HALL_ROOM])
    except Exception:  # noqa: BLE001 - the hall's reads and the cron sweep try again
        log.exception("could not sweep seats whose console is gone")


Push = tuple[str, dict[str, Any], list[str]]


class BackgroundPusher:
    """Sends live pushes from one thread per process, so no request waits on Redis.

    A push is sent after its change committed; with Redis slow or frozen, python-socketio's
    publish retries for seconds, and a request that already committed must not be held for
    it. Pushes queue here (in order) and a daemon thread sends them; when the queue is full
    (Redis gone for long) the newest are dropped and counted, and a page catches up at its
    next push or reload. The thread starts on first use in each process (after gunicorn forks).
    """

    def __init__(
        self, send: Callable[[str, dict[str, Any], list[str]], None], capacity: int = 1000
    ):
        self._send = send
        self._queue: queue.Queue[Push] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.dropped = 0
        self._last_warning = 0.0

    def __call__(self, event: str, payload: dict[str, Any], rooms: list[str]) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait((event, payload, rooms))
        except queue.Full:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_warning > 10:
                self._last_warning = now
                log.warning(
                    "live pushes dropped (%d so far): the message queue is not keeping up",
                    self.dropped,
                )

    def join(self, timeout: float = 5.0) -> bool:
        """Wait until every queued push was handed on (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="live-pusher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            event, payload, rooms = self._queue.get()
            try:
                self._send(event, payload, rooms)
            except Exception:  # noqa: BLE001 - a lost push must not stop the ones after it
                log.warning("live push %s not sent", event, exc_info=True)
            finally:
                self._queue.task_done()


def init_realtime(
    app: Flask, message_queue: str | None
) -> Callable[[str, dict[str, Any], list[str]], None]:
    """Attach Socket.IO to the app; return the publish function the services push through
    (the composition root hands it to them)."""
    # flask-socketio keeps the previous init_app's Redis client manager in server_options:
    # an app built after one with a message queue would still publish through that Redis.
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=message_queue,
        channel="hotline",
        logger=False,
        engineio_logger=False,
    )
    socketio.on_namespace(LiveNamespace(NAMESPACE))

    def emit(event: str, payload: dict[str, Any], rooms: list[str]) -> None:
        # One emit for all rooms: one message on the Redis queue, and a browser that is in
        # two of the rooms gets it once.
        socketio.emit(event, payload, to=rooms, namespace=NAMESPACE)

    # Through Redis, pushes leave from a background thread (a frozen Redis must not hold a
    # committed request); in-process pushes cannot block and stay synchronous.
    return BackgroundPusher(emit) if message_queue else emit
