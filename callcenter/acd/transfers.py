"""Transfers to another seat or to the team lead on duty (转接坐席, 转接值班班长).

The operator's seat blind-transfers the caller (REFER) to the hotline's own number with a
`xfer` URI parameter: `sip:12345@edge;xfer=TOKEN`. The caller's phone dials that; the edge
passes the parameter to `/acd/route`, which takes the token out of Redis (GETDEL: once) and
queues the new call for the skill it names: `seat:S` (only seat S has it, see the ACD's
`has_skill`) or `lead` (the team leads signed in at a seat). `POST /api/cti/call` issues the
token for the operator's own call after checking the target, for `TRANSFER_TOKEN_SECONDS`,
bound to the caller's number; a call that brings an unknown, used or someone else's token
waits in the queue like any call.

Stdlib and a Redis client only.
"""

import json
import re
import secrets
from typing import Any

from callcenter.acd.keys import AcdKeys

TRANSFER_TOKEN_SECONDS = 60
LEAD_SKILL = "lead"  # the skill of team leads signed in at a seat (班长)
SEAT_SKILL = "seat:"  # + the seat's name: that seat alone
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def issue_transfer(
    r: Any, prefix: str, *, skill: str, caller: str, from_label: str, line: str = ""
) -> str:
    """Keep a single-use token that queues `caller`'s next call for `skill`."""
    token = secrets.token_urlsafe(18)
    grant = {"skill": skill, "caller": caller, "from": from_label, "line": line}
    r.set(AcdKeys(prefix).transfer_token(token), json.dumps(grant), ex=TRANSFER_TOKEN_SECONDS)
    return token


def take_transfer(r: Any, prefix: str, token: str, *, caller: str) -> dict[str, str] | None:
    """The grant behind `token` if it was issued for this caller; used up either way."""
    if not _TOKEN.match(token or ""):
        return None
    raw = r.getdel(AcdKeys(prefix).transfer_token(token))
    if not raw:
        return None
    try:
        grant: dict[str, str] = json.loads(raw)
    except ValueError:
        return None
    if grant.get("caller") != caller or not str(grant.get("skill", "")):
        return None
    return grant


def valid_token(token: str) -> bool:
    return bool(_TOKEN.match(token))
