"""Keep a long-running loop alive through outages of what it depends on (Redis).

`hotline worker` and `hotline cron` used to exit with a ConnectionError when Redis went away
for a moment and stay dead: jobs and schedules stopped until someone noticed. Their main
loop now runs inside `keep_running`, which starts it again after a connection error, waiting
1, 2, 4 ... 30 s between tries (back to 1 s once a run lasted a minute). A normal return (a
burst worker that is done, a warm shutdown on SIGTERM) ends it; any other exception is a bug
and still ends the process, so its supervisor (`hotline demo`, systemd) restarts it.
"""

import logging
import time
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

OUTAGES: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)
MAX_BACKOFF_SECONDS = 30.0
STEADY_SECONDS = 60.0  # a run this long resets the backoff


def keep_running(
    name: str,
    run: Callable[[], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    outages: tuple[type[BaseException], ...] = OUTAGES,
) -> None:
    """Run `run` until it returns, starting it again after each outage (with backoff)."""
    backoff = 1.0
    while True:
        started = clock()
        try:
            run()
            return
        except outages as exc:
            if clock() - started >= STEADY_SECONDS:
                backoff = 1.0
            log.warning(
                "%s: %s; starting again in %.0f s", name, exc or type(exc).__name__, backoff
            )
        sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
