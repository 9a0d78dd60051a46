"""The operator's browser headset: its SIP name and the password of the current sign-in.

A seat signed in from a console may have one headset, the WebRTC phone in that console
(JsSIP over the edge's WebSocket). It registers at the edge as ``hs-SEAT``; the seat's
softphone calls it once and keeps that call, the agent leg, for the whole shift, mixing the
operator's microphone and earpiece into every call of the seat.

The headset's password is issued to the operator signed in at the seat, anew for each
browser that asks (the last one wins), and kept only as its digest HA1 in the seat's hash of
the ACD. It is good while that operator stays signed in at the seat: a sign-out, or another
operator signing in, voids it. The edge refuses the name over anything but its WebSocket.
"""

import hashlib
import logging
import secrets

import redis

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdError
from callcenter.acd.engine import NotReadyReason
from callcenter.acd.keys import AcdKeys

log = logging.getLogger(__name__)

PREFIX = "hs-"


def headset_name(seat: str) -> str:
    return f"{PREFIX}{seat}"


def seat_of(name: str) -> str | None:
    """The seat a headset name belongs to, None for any other name."""
    if not name.startswith(PREFIX) or len(name) == len(PREFIX):
        return None
    return name[len(PREFIX) :]


def digest_ha1(name: str, realm: str, password: str) -> str:
    """Digest HA1 (RFC 2617): what the edge checks a response against."""
    return hashlib.md5(f"{name}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def issue(conn: "redis.Redis", keys: AcdKeys, seat: str, user_id: int, realm: str) -> str:
    """A fresh headset password for the operator signed in at `seat` (the previous one is
    void); returned once, only its HA1 is kept."""
    password = secrets.token_urlsafe(18)
    conn.hset(
        keys.seat(seat),
        mapping={
            "headset_ha1": digest_ha1(headset_name(seat), realm, password),
            "headset_user": str(user_id),
        },
    )
    return password


def ha1(conn: "redis.Redis", keys: AcdKeys, name: str) -> str | None:
    """The HA1 the edge checks headset `name` against: only while the operator it was issued
    to is still signed in at its seat."""
    seat = seat_of(name)
    if seat is None:
        return None
    names = ("headset_ha1", "headset_user", "user_id", "state")
    values = conn.hmget(keys.seat(seat), list(names))
    fields = {n: _text(v) for n, v in zip(names, values, strict=True)}
    signed_in = fields["state"] not in ("", "offline")
    if not (fields["headset_ha1"] and signed_in and fields["headset_user"] == fields["user_id"]):
        return None
    return fields["headset_ha1"]


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def lost(acd: Acd, seat: str) -> bool:
    """The seat's headset is gone (its call ended, or the browser lost the edge): without
    the operator's ears the seat takes no calls. Not ready (耳机断开) now, or when the call it
    is in ends. Returns whether the seat's state changed or will."""
    if acd.seat(seat).get("state") in (None, "", "offline"):
        return False
    try:
        acd.not_ready(seat, NotReadyReason.HEADSET)
    except AcdError:
        log.warning("seat %s lost its headset but could not be set not ready", seat)
        return False
    log.warning("seat %s lost its headset: not ready", seat)
    return True
