"""Commands to a seat's softphone, wherever it runs, and a desk seat's mailbox.

A seat on the server subscribes to its Redis channel (`callcenter.acd.channel`). A desk seat
on an operator's PC (`hotline seat NAME --server URL`) has no Redis: it signs in to the web
app with its own SIP credentials and long-polls its commands (`callcenter.edge.seatlink`).
While it polls, its link key lives; a command for it goes to its mailbox, a list kept in
order, so that nothing sent between two polls is lost. A command that reached neither is
refused by the sender (「坐席话机未连接」).

Recordings a desk seat may upload are granted here too: a name the seat noted on one of its
own calls, once.
"""

import json
import secrets
import time
from typing import Any

from callcenter.acd.keys import AcdKeys

POLL_MAX_SECONDS = 25  # a poll waits at most this long for a command
LINK_GRACE_SECONDS = 10  # the link outlives a poll by this much (the seat's next request)
BOX_KEEP = 50  # commands kept for a seat, the newest
BOX_SECONDS = 60  # and for this long after the last one
UPLOAD_GRANT_SECONDS = 2 * 86_400


def send_to_seat(r: Any, keys: AcdKeys, seat: str, message: dict[str, Any] | str) -> bool:
    """Hand a command to the seat's softphone; False when no softphone is there to take it."""
    raw = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    if int(r.publish(keys.command_channel(seat), raw)):
        return True
    if not r.exists(keys.seat_link(seat)):
        return False
    box = keys.seat_box(seat)
    with r.pipeline() as pipe:
        pipe.rpush(box, raw)
        pipe.ltrim(box, -BOX_KEEP, -1)
        pipe.expire(box, BOX_SECONDS)
        pipe.execute()
    return True


def take_commands(r: Any, keys: AcdKeys, seat: str, wait: int) -> list[str]:
    """The seat's commands in order, waiting up to `wait` seconds for the first; marks the
    seat linked for the poll and the grace after it.

    One poll per seat waits at a time: a newer poll makes an older one answer (empty) within
    a second, so a seat's credentials cannot hold more than one of the app's threads.
    """
    wait = max(0, min(int(wait), POLL_MAX_SECONDS))
    me = secrets.token_hex(8)
    poller = keys.seat_poll(seat)
    with r.pipeline() as pipe:
        pipe.set(keys.seat_link(seat), "1", ex=wait + LINK_GRACE_SECONDS)
        pipe.set(poller, me, ex=wait + LINK_GRACE_SECONDS)
        pipe.execute()
    box = keys.seat_box(seat)
    first = r.lpop(box)
    deadline = time.monotonic() + wait
    while first is None and time.monotonic() < deadline:
        found = r.blpop([box], timeout=1)  # a second at a time: within a client's timeout
        if found:
            first = found[1]
        elif _text(r.get(poller)) != me:
            return []  # a newer poll of this seat took over
    if first is None:
        return []
    with r.pipeline() as pipe:
        pipe.lrange(box, 0, BOX_KEEP - 1)
        pipe.delete(box)
        rest = pipe.execute()[0]
    return [_text(m) for m in [first, *rest]]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def unlink(r: Any, keys: AcdKeys, seat: str) -> None:
    """The seat said goodbye: commands for it are refused from now on."""
    r.delete(keys.seat_link(seat), keys.seat_box(seat), keys.seat_poll(seat))


def grant_upload(r: Any, keys: AcdKeys, seat: str, name: str) -> None:
    key = keys.seat_uploads(seat)
    with r.pipeline() as pipe:
        pipe.sadd(key, name)
        pipe.expire(key, UPLOAD_GRANT_SECONDS)
        pipe.execute()


def take_upload(r: Any, keys: AcdKeys, seat: str, name: str) -> bool:
    """Whether the seat may upload `name` (granted, not uploaded yet); used up."""
    return bool(r.srem(keys.seat_uploads(seat), name))
