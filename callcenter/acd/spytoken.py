"""Listen-in tokens: a seat lets a supervisor in only with one the app issued.

`POST /api/cti/spy` (which checks the supervisor's role and audits the listening in) keeps a
random token in Redis for `SPY_TOKEN_SECONDS`, naming the supervisor, their seat, the seat
listened to, the call and the mode, and hands it to the supervisor's softphone, which sends
it in the INVITE's `X-Hotline-Spy-Token` header. The seat listened to takes the token out of
Redis (GETDEL: once) and answers only when every name matches its own call. A phone that
merely knows the header (any authenticated user agent at the edge) gets 403.

Stdlib and a Redis client only: the seat process imports this, not the web app's models.
"""

import json
import re
import secrets
from typing import Any

from callcenter.acd.keys import AcdKeys

SPY_TOKEN_SECONDS = 30
TOKEN_HEADER = "X-Hotline-Spy-Token"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _key(prefix: str, token: str) -> str:
    return AcdKeys(prefix).spy_token(token)


def issue_spy_token(
    r: Any,
    prefix: str,
    *,
    supervisor_id: int,
    from_seat: str,
    seat: str,
    call_id: str,
    mode: str,
) -> str:
    """Keep a single-use token for this supervisor's seat to listen in on this call."""
    token = secrets.token_urlsafe(24)
    grant = {
        "supervisor_id": supervisor_id,
        "from_seat": from_seat,
        "seat": seat,
        "call_id": call_id,
        "mode": mode,
    }
    r.set(_key(prefix, token), json.dumps(grant), ex=SPY_TOKEN_SECONDS)
    return token


def take_spy_token(
    r: Any, prefix: str, token: str, *, seat: str, from_seat: str, call_id: str, mode: str
) -> dict[str, Any] | None:
    """The grant behind `token` if it names exactly this listening in; used up either way."""
    if not _TOKEN.match(token or ""):
        return None
    raw = r.getdel(_key(prefix, token))
    if not raw:
        return None
    try:
        grant: dict[str, Any] = json.loads(raw)
    except ValueError:
        return None
    wanted = {"seat": seat, "from_seat": from_seat, "call_id": call_id, "mode": mode}
    if any(grant.get(k) != v for k, v in wanted.items()):
        return None
    return grant
