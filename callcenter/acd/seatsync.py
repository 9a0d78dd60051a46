"""What a seat's softphone tells the ACD of its calls, until the web app has heard it.

The SIP edge reports each answer and end to the web app once (`/acd/answered`, `/acd/ended`);
while the web app is down (killed, restarting) those reports are lost. The seat's softphone
knows the same facts about its own calls, by the same SIP Call-ID: when it answered
(CONFIRMED) and when and how the call ended (DISCONNECTED: "seat" when this side hung up,
"caller" otherwise). It keeps them in a `CallJournal` (the calls it holds, and those that
ended in the last `keep_seconds`) and a `SeatSync` thread posts the journal to
`/acd/seat_sync` at once on each change and every `interval` seconds, retrying until the app
accepts. The ACD applies a report once (`Acd.seat_sync`), so sending it again is harmless.

The journal is touched only from the pjsua2 loop (pjsua2's objects live there); what crosses
to the sending thread is a finished snapshot, handed over under a lock.
"""

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SYNC_SECONDS = 5.0  # the ACD's `seat_sync_seconds` says the same
KEEP_SECONDS = 600.0  # an ended call is reported this long, through any outage shorter


@dataclass(slots=True)
class _Entry:
    call_id: str
    rang_at: float
    answered_at: float | None = None
    ended_at: float | None = None
    by: str = ""


class CallJournal:
    """The seat's inbound calls as its softphone saw them (times in epoch seconds)."""

    def __init__(self, seat: str, keep_seconds: float = KEEP_SECONDS) -> None:
        self.seat = seat
        self.keep_seconds = keep_seconds
        self.registered = False
        self._calls: dict[str, _Entry] = {}

    def ringing(self, call_id: str, at: float) -> None:
        """A call the ACD gave this seat arrived (the seat holds it from now on)."""
        if call_id and call_id not in self._calls:
            self._calls[call_id] = _Entry(call_id, at)

    def answered(self, call_id: str, at: float) -> None:
        """The call was answered (the first time only: a re-INVITE is no new answer)."""
        entry = self._calls.get(call_id)
        if entry is not None and entry.answered_at is None and entry.ended_at is None:
            entry.answered_at = at

    def ended(self, call_id: str, at: float, *, by_seat: bool) -> None:
        """The call is over: hung up here (`by_seat`), or by the other side."""
        entry = self._calls.get(call_id)
        if entry is not None and entry.ended_at is None:
            entry.ended_at = at
            entry.by = "seat" if by_seat else "caller"

    def snapshot(self, now: float) -> dict[str, Any]:
        """The body of `/acd/seat_sync`: every call held, and those ended in the last
        `keep_seconds` (older ones are forgotten here)."""
        for call_id, entry in list(self._calls.items()):
            if entry.ended_at is not None and now - entry.ended_at > self.keep_seconds:
                del self._calls[call_id]
        return {
            "seat": self.seat,
            "as_of": now,
            "registered": self.registered,
            "calls": [
                {
                    "call_id": e.call_id,
                    "answered_at": e.answered_at,
                    "ended_at": e.ended_at,
                    "by": e.by,
                }
                for e in self._calls.values()
            ],
        }


def post_json(
    url: str, headers: dict[str, str], context: Any = None
) -> Callable[[dict[str, Any]], bool]:
    """A function that POSTs a body to `url` with `headers` (the ACD secret, or a desk seat's
    own credentials; `context`: its TLS context); whether the app took it."""

    def post(body: dict[str, Any]) -> bool:
        data = json.dumps(body).encode()
        sent = headers | {"Content-Type": "application/json"}
        req = urllib.request.Request(url, data=data, headers=sent, method="POST")
        try:
            # noqa: S310 - the app's own URL (loopback, or the desk seat's --server)
            with urllib.request.urlopen(req, timeout=3, context=context) as resp:  # noqa: S310
                resp.read()
                return bool(resp.status == 200)
        except urllib.error.HTTPError as exc:  # the app answered, and refused
            log.warning("seat sync refused: %s %s", exc.code, exc.read()[:200])
            exc.close()
        except OSError as exc:  # the app is away: try again soon
            log.info("seat sync not delivered: %s", exc)
        return False

    return post


class SeatSync:
    """Send the latest journal snapshot from a thread of its own, never blocking the loop.

    `offer` hands over a snapshot (the latest wins); `urgent` sends it now rather than at the
    next tick. A snapshot not accepted is sent again after 1 s, then 2, 4 … up to `interval`,
    and every `interval` seconds anyway.
    """

    def __init__(
        self, post: Callable[[dict[str, Any]], bool], interval: float = SYNC_SECONDS
    ) -> None:
        self.post = post
        self.interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._latest: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None

    def offer(self, snapshot: dict[str, Any], *, urgent: bool = False) -> None:
        with self._lock:
            self._latest = snapshot
        if urgent:
            self._wake.set()

    def send_once(self) -> bool:
        """Post the latest snapshot; whether the app accepted it (True with none to send)."""
        with self._lock:
            body = self._latest
        return True if body is None else self.post(body)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="seat-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        delay, backoff = 0.0, 1.0
        while not self._stop:
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop:
                return
            try:
                ok = self.send_once()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("seat sync failed")
                ok = False
            if ok:
                delay, backoff = self.interval, 1.0
            else:
                delay, backoff = min(self.interval, backoff), backoff * 2
