"""A Redis pub/sub channel a long-running process keeps listening on through Redis outages.

A seat softphone takes the browser's commands (answer, hold, transfer, listen in) from its
channel. When Redis went away for 30 s, the seat used to die with a ConnectionError and stay
dead while its SIP registration lingered: calls were routed to a seat nobody could answer.
Here a lost connection is only logged; the seat keeps handling its calls, and the channel
is subscribed again with backoff (1, 2, 4 ... 30 s) until Redis answers. Commands published
while it was away are lost (pub/sub keeps nothing), and the web app tells the operator so:
a command that reached no subscriber answers 「坐席话机未连接」.

Stdlib and redis only: the seat process imports this, not the web app.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

import redis

log = logging.getLogger(__name__)
BACKOFF_MAX_SECONDS = 30.0


class CommandChannel:
    """Poll one channel without ever raising for Redis being away."""

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        connect_timeout: float = 2.0,
    ) -> None:
        self._url = url
        self._channel = channel
        self._clock = clock
        self._connect_timeout = connect_timeout
        self._pubsub: Any = None
        self._backoff = 1.0
        self._next_try = 0.0
        self._down_since: float | None = None
        self._subscribe()

    @property
    def connected(self) -> bool:
        return self._pubsub is not None

    def poll(self) -> Any:
        """The next message's data, or None (nothing waiting, or Redis away)."""
        if self._pubsub is None:
            if self._clock() < self._next_try:
                return None
            self._subscribe()
            if self._pubsub is None:
                return None
        try:
            message = self._pubsub.get_message(timeout=0)
        except (redis.RedisError, OSError) as exc:
            self._lost(exc)
            return None
        if message is not None and message.get("type") == "message":
            return message["data"]
        return None

    def close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except (redis.RedisError, OSError):
                pass
            self._pubsub = None

    def _subscribe(self) -> None:
        try:
            conn = redis.Redis.from_url(
                self._url,
                socket_connect_timeout=self._connect_timeout,
                socket_timeout=self._connect_timeout,
            )
            pubsub = conn.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            pubsub.subscribe(self._channel)
        except (redis.RedisError, OSError) as exc:
            self._lost(exc)
            return
        self._pubsub = pubsub
        self._backoff = 1.0
        if self._down_since is not None:
            log.warning(
                "redis channel %s: subscribed again after %.0f s",
                self._channel,
                self._clock() - self._down_since,
            )
            self._down_since = None

    def _lost(self, exc: BaseException) -> None:
        self.close()
        now = self._clock()
        if self._down_since is None:
            self._down_since = now
            log.warning("redis channel %s: connection lost (%s); retrying", self._channel, exc)
        self._next_try = now + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_SECONDS)
