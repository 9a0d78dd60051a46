"""Secrets shown once, after a redirect (post/redirect/get).

A page that makes a secret (an API key, a temporary password) must not answer its POST with
it: reloading would send the form again and make a second secret. The POST leaves the
secret in Redis for a few minutes under a random name and redirects; the page it leads to
takes it out (GETDEL) for the person who made it, and shows it once. The plaintext never
goes into the session cookie or a log. Without Redis the caller shows it in the POST's own
answer, as before.
"""

import json
import logging
import secrets
from typing import Any

from agents_ui.wiring import container

log = logging.getLogger(__name__)
REVEAL_SECONDS = 300


def _key(kind: str, name: str) -> str:
    return f"reveal:{kind}:{name[:64]}"


def keep(kind: str, payload: dict[str, Any], owner: int) -> str | None:
    """Keep `payload` for its one showing to `owner`; its name, or None when Redis cannot."""
    name = secrets.token_urlsafe(16)
    try:
        container().redis.set(
            _key(kind, name), json.dumps({"owner": owner, "payload": payload}), ex=REVEAL_SECONDS
        )
    except Exception:  # noqa: BLE001 - the caller shows it in the POST's answer instead
        log.exception("could not keep a %s for its one showing", kind)
        return None
    return name


def take(kind: str, name: str, owner: int) -> dict[str, Any] | None:
    """The payload kept under `name`, once, and only for its owner."""
    try:
        raw = container().redis.getdel(_key(kind, name))
    except Exception:  # noqa: BLE001
        log.exception("could not read a %s for its one showing", kind)
        return None
    if not raw:
        return None
    data = json.loads(raw)
    if data.get("owner") != owner:
        return None
    payload: dict[str, Any] = data["payload"]
    return payload
