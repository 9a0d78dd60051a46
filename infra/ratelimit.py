"""Fixed-window rate limits in Redis, for anything the public can call without signing in.

A window is the number of whole `window` seconds since the epoch; each hit is an INCR and
EXPIRE in one MULTI, so counts are exact across processes. When Redis is down requests pass
(logged): a limit protects the service, it is not a permission.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: int  # seconds until the window turns (0 when allowed)
    remaining: int


class FixedWindow:
    """Counts hits per bucket under `<prefix>:<bucket>:<window>`."""

    def __init__(
        self,
        conn: Callable[[], "redis.Redis"],
        now: Callable[[], dt.datetime],
        *,
        prefix: str,
        window: int,
    ) -> None:
        self._conn = conn
        self._now = now
        self.prefix = prefix
        self.window = window

    def hit(self, bucket: str, limit: int) -> RateDecision:
        moment = self._now().timestamp()
        window = int(moment // self.window)
        key = f"{self.prefix}:{bucket}:{window}"
        try:
            pipe = self._conn().pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, self.window * 2)
            count = int(pipe.execute()[0])
        except redis.RedisError:
            log.warning("%s rate limit skipped: Redis unavailable", self.prefix, exc_info=True)
            return RateDecision(True, 0, limit)
        if count <= limit:
            return RateDecision(True, 0, limit - count)
        retry = max(1, int((window + 1) * self.window - moment + 0.999))
        return RateDecision(False, retry, 0)
