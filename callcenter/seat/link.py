"""How a seat's softphone reaches the hotline: on the server, or from an operator's PC.

- `LocalLink`: a seat started by the server itself (`make demo`, a seat host in the machine
  room). Commands on its Redis channel, notes written onto the ACD's call hash, listening-in
  tokens taken from Redis, reports to `/acd/*` with the instance's ACD secret, recordings
  written straight into the recordings folder.
- `RemoteLink`: a desk seat (`hotline seat NAME --server URL`). No Redis and no ACD secret:
  every request goes to the web app's `/seat-link/*` signed with the seat's own name and SIP
  password (`callcenter.edge.seatlink`); commands are long-polled on a thread of their own;
  a recording is written to a local spool and uploaded once its call is over, again until
  the app has it.

Both never raise into the softphone's loop: the call goes on whatever the network does.
Stdlib (and redis for `LocalLink`) only: this runs in the seat's lean process.
"""

import base64
import json
import logging
import queue
import shutil
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.acd.keys import ACD_SECRET_HEADER
from callcenter.acd.keys import AcdKeys
from callcenter.acd.seatsync import post_json
from callcenter.acd.spytoken import take_spy_token
from callcenter.seat.config import SeatConfig

log = logging.getLogger("callcenter.seat")

POLL_SECONDS = 25  # how long one long poll waits for a command (the app allows 25)
BACKOFF_MAX_SECONDS = 10.0  # the link lapses 35 s after the last poll
UPLOAD_RETRY_SECONDS = (1.0, 5.0, 15.0, 60.0, 300.0)


class LocalLink:
    """The seat beside the web app: Redis and `/acd/*` with the ACD secret."""

    def __init__(self, cfg: SeatConfig) -> None:
        self.cfg = cfg
        self.keys = AcdKeys(cfg.acd_prefix)
        self.conn: Any = None
        self.commands: Any = None
        if cfg.redis_url:
            import redis

            from callcenter.acd.channel import CommandChannel

            self.conn = redis.Redis.from_url(cfg.redis_url)
            # Survives Redis outages: the seat keeps its calls and subscribes again.
            self.commands = CommandChannel(cfg.redis_url, self.keys.command_channel(cfg.name))

    def poll(self) -> Any:
        return self.commands.poll() if self.commands is not None else None

    def note(self, call_id: str, name: str, value: str) -> None:
        if self.conn is None or not call_id:
            return
        try:
            if value:
                self.conn.hset(self.keys.call(call_id), name, value)
            else:
                self.conn.hdel(self.keys.call(call_id), name)
        except Exception:  # noqa: BLE001 - the call goes on without the note
            log.warning("seat %s: could not note %s on %s", self.cfg.name, name, call_id)

    def agent(self) -> str | None:
        if self.conn is None:
            return None
        try:
            found = self.conn.hget(self.keys.seat(self.cfg.name), "agent")
        except Exception:  # noqa: BLE001 - Redis away
            return None
        return found.decode() if isinstance(found, bytes) else str(found or "")

    def spy_ok(self, token: str, from_seat: str, call_id: str, mode: str) -> bool:
        if self.conn is None:
            return False
        try:
            grant = take_spy_token(
                self.conn,
                self.cfg.acd_prefix,
                token,
                seat=self.cfg.name,
                from_seat=from_seat,
                call_id=call_id,
                mode=mode,
            )
        except Exception:  # noqa: BLE001 - no Redis, no listening in
            log.exception("seat %s: could not check a listening-in token", self.cfg.name)
            return False
        return grant is not None

    def report(self, event: str, call_id: str, detail: str) -> None:
        cfg = self.cfg
        if not cfg.acd_url:
            return
        query = urllib.parse.urlencode(
            {"seat": cfg.name, "event": event, "call_id": call_id, "detail": detail}
        )
        req = urllib.request.Request(
            f"{cfg.acd_url.rstrip('/')}/seat_event?{query}",
            headers={ACD_SECRET_HEADER: cfg.acd_secret},
        )
        _in_background(req, None, f"report {event}", cfg.name)

    def sync_poster(self) -> Callable[[dict[str, Any]], bool] | None:
        cfg = self.cfg
        if not cfg.acd_url:
            return None
        url = f"{cfg.acd_url.rstrip('/')}/seat_sync"
        return post_json(url, {ACD_SECRET_HEADER: cfg.acd_secret})

    def recording_path(self, name: str, noted: bool) -> Path | None:
        if not self.cfg.recordings_dir:
            return None
        return Path(self.cfg.recordings_dir) / name

    def recording_done(self, name: str) -> None:
        """Written in place already."""

    def close(self) -> None:
        if self.commands is not None:
            self.commands.close()


class RemoteLink:
    """A desk seat: the web app's `/seat-link/*`, signed with the seat's own credentials."""

    def __init__(self, cfg: SeatConfig) -> None:
        assert cfg.server_url and cfg.password
        self.cfg = cfg
        self.base = cfg.server_url.rstrip("/") + "/seat-link"
        token = base64.b64encode(f"{cfg.name}:{cfg.password}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}"}
        self.context = client_context(cfg.server_ca_file)
        self.inbox: queue.Queue[str] = queue.Queue()
        self.stopping = threading.Event()
        self.uploads: queue.Queue[str] = queue.Queue()
        self.poller = threading.Thread(target=self._poll_loop, name="seat-link", daemon=True)
        self.uploader = threading.Thread(target=self._upload_loop, name="uploads", daemon=True)
        self.poller.start()
        self.uploader.start()
        for pending in sorted(self._spool().glob("*/*.wav")) if cfg.recordings_dir else []:
            if not pending.name.endswith(".refused.wav"):  # left from last time
                self.uploads.put(pending.relative_to(self._spool()).as_posix())

    # --- requests ---------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 5, **headers: str
    ) -> Any:
        """One request to the app; the decoded JSON answer. Raises OSError (HTTPError too)."""
        data = body
        sent = self.auth | headers
        if body is not None and not isinstance(body, bytes):
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        req = urllib.request.Request(f"{self.base}/{path}", data=data, headers=sent, method=method)
        # noqa: S310 - the URL is the hotline's own, given with --server
        with urllib.request.urlopen(req, timeout=timeout, context=self.context) as resp:  # noqa: S310
            return json.loads(resp.read() or b"null")

    def _quiet(self, what: str, method: str, path: str, body: Any = None) -> Any:
        try:
            return self.request(method, path, body)
        except urllib.error.HTTPError as exc:
            log.warning("seat %s: %s refused: %s", self.cfg.name, what, _reason(exc))
        except (OSError, ValueError) as exc:
            log.warning("seat %s: could not %s: %s", self.cfg.name, what, exc)
        return None

    # --- commands ---------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            try:
                found = self.request(
                    "GET", f"commands?wait={POLL_SECONDS}", timeout=POLL_SECONDS + 10
                )
            except urllib.error.HTTPError as exc:
                log.warning("seat %s: the app refused the link: %s", self.cfg.name, _reason(exc))
            except (OSError, ValueError) as exc:
                log.info("seat %s: the app is away (%s); trying again", self.cfg.name, exc)
            else:
                backoff = 1.0
                for command in found.get("commands", []) if isinstance(found, dict) else []:
                    self.inbox.put(str(command))
                continue
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    def poll(self) -> str | None:
        try:
            return self.inbox.get_nowait()
        except queue.Empty:
            return None

    # --- what the loop asks -----------------------------------------------------------------

    def note(self, call_id: str, name: str, value: str) -> None:
        if call_id:
            body = {"call_id": call_id, "name": name, "value": value}
            self._quiet(f"note {name}", "POST", "note", body)

    def agent(self) -> str | None:
        found = self._quiet("ask for the operator", "GET", "agent")
        return str(found.get("agent") or "") if isinstance(found, dict) else None

    def spy_ok(self, token: str, from_seat: str, call_id: str, mode: str) -> bool:
        body = {"token": token, "from_seat": from_seat, "call_id": call_id, "mode": mode}
        found = self._quiet("check a listening-in token", "POST", "spy", body)
        return isinstance(found, dict) and found.get("ok") is True

    def report(self, event: str, call_id: str, detail: str) -> None:
        body = json.dumps({"event": event, "call_id": call_id, "detail": detail[:200]})
        req = urllib.request.Request(
            f"{self.base}/event",
            data=body.encode(),
            headers=self.auth | {"Content-Type": "application/json"},
            method="POST",
        )
        _in_background(req, self.context, f"report {event}", self.cfg.name)

    def sync_poster(self) -> Callable[[dict[str, Any]], bool]:
        return post_json(f"{self.base}/sync", self.auth, self.context)

    # --- recordings -------------------------------------------------------------------------

    def _spool(self) -> Path:
        return Path(self.cfg.recordings_dir or ".")

    def recording_path(self, name: str, noted: bool) -> Path | None:
        """Only a citizen's call is recorded at a desk seat: the app takes a recording it
        was told of on one of the seat's calls, nothing else."""
        return self._spool() / name if self.cfg.recordings_dir and noted else None

    def recording_done(self, name: str) -> None:
        """The call is over and its WAV closed: upload it (from the uploads thread)."""
        self.uploads.put(name)

    def _upload_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                name = self.uploads.get(timeout=1)
            except queue.Empty:
                continue
            for delay in (*UPLOAD_RETRY_SECONDS, None):
                if self._upload(name) or delay is None or self.stopping.wait(delay):
                    break

    def _upload(self, name: str) -> bool:
        """Upload one spooled recording; True when it is done with (kept by the app, or
        refused for good: kept here then, for an administrator)."""
        path = self._spool() / name
        try:
            data = path.read_bytes()
        except OSError:
            return True  # gone already
        if not wav_complete(data):  # pjsua2 closes the file on the bridge's next tick
            return False
        try:
            self.request(
                "PUT", f"recordings/{name}", data, timeout=60, **{"Content-Type": "audio/wav"}
            )
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 429) or exc.code >= 500:
                log.warning("seat %s: upload of %s failed: %s", self.cfg.name, name, _reason(exc))
                return False
            if exc.code != 409:  # 409: the app has it already
                log.error(
                    "seat %s: the app refused recording %s: %s (kept at %s)",
                    self.cfg.name,
                    name,
                    _reason(exc),
                    path,
                )
                _set_aside(path)
                return True
        except (OSError, ValueError) as exc:
            log.info("seat %s: upload of %s failed: %s", self.cfg.name, name, exc)
            return False
        path.unlink(missing_ok=True)
        log.info("seat %s: recording %s uploaded", self.cfg.name, name)
        return True

    def close(self) -> None:
        self.stopping.set()
        self._quiet("say goodbye", "POST", "bye", {})

    def flush_uploads(self, seconds: float) -> None:
        """Give the uploads still queued up to `seconds` (on shutdown)."""
        deadline = time.monotonic() + seconds
        while not self.uploads.empty() and time.monotonic() < deadline:
            name = self.uploads.get_nowait()
            self._upload(name)


def wav_complete(data: bytes) -> bool:
    """Whether a WAV file's header has been finalised (its RIFF size is the file's)."""
    return (
        len(data) >= 44
        and data[:4] == b"RIFF"
        and data[8:12] == b"WAVE"
        and int.from_bytes(data[4:8], "little") == len(data) - 8
    )


def client_context(ca_file: str) -> ssl.SSLContext:
    """TLS for the app's HTTPS: its certificate checked against `ca_file`, else against the
    system's authorities (unused for plain HTTP, which the app takes from loopback only)."""
    if not ca_file:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=ca_file)


def _set_aside(path: Path) -> None:
    kept = path.with_suffix(".refused.wav")
    try:
        shutil.move(path, kept)
    except OSError:
        log.exception("could not set %s aside", path)


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read()[:300].decode("utf-8", "replace")
    except OSError:
        body = ""
    finally:
        exc.close()
    try:
        return f"{exc.code} {json.loads(body).get('message', '')}"
    except (ValueError, AttributeError):
        return f"{exc.code} {body}"


def _in_background(req: urllib.request.Request, context: Any, what: str, seat: str) -> None:
    """Send a report from a thread of its own: the softphone never waits for it."""

    def send() -> None:
        try:
            # noqa: S310 - the app's own URL
            with urllib.request.urlopen(req, timeout=3, context=context) as resp:  # noqa: S310
                resp.read()
        except urllib.error.HTTPError as exc:
            log.warning("seat %s: could not %s: %s", seat, what, _reason(exc))
        except OSError as exc:
            log.warning("seat %s: could not %s: %s", seat, what, exc)

    threading.Thread(target=send, daemon=True).start()


def hello(server: str, name: str, password: str, ca_file: str) -> dict[str, Any]:
    """What the app tells a desk seat before it starts: the edge's address and ports.

    :raises PermissionError: the app refused (the message says why, in its words).
    :raises OSError: the app unreachable.
    """
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    req = urllib.request.Request(
        f"{server.rstrip('/')}/seat-link/hello", headers={"Authorization": f"Basic {token}"}
    )
    try:
        # noqa: S310 - the URL is the hotline's own, given with --server
        with urllib.request.urlopen(req, timeout=10, context=client_context(ca_file)) as resp:  # noqa: S310
            found: dict[str, Any] = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise PermissionError(_reason(exc)) from None
    except ValueError as exc:
        raise PermissionError(f"not the hotline's answer: {exc}") from None
    return found


def make_link(cfg: SeatConfig) -> "LocalLink | RemoteLink":
    return RemoteLink(cfg) if cfg.server_url else LocalLink(cfg)
