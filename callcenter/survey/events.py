"""How a survey process's events leave it: on a worker thread, to the database or a file."""

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

# One logger for the whole survey package: its processes' logs read as they always did.
log = logging.getLogger("callcenter.survey")


class Reporter:
    """Hands events to `report` on a worker thread: a slow database never stalls the loop."""

    def __init__(self, report: Callable[[dict[str, Any]], None]) -> None:
        self._report = report
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="survey-report", daemon=True)
        self._thread.start()

    def put(self, event: dict[str, Any]) -> None:
        log.info("survey event %s", event)
        self._queue.put(event)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self._report(event)
            except Exception:  # noqa: BLE001 - one lost event must not end the survey
                log.exception("could not report survey event %s", event)

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)


def jsonl_report(path: str) -> Callable[[dict[str, Any]], None]:
    """A report that appends each event as a JSON line (tests, and running without a DB)."""
    lock = threading.Lock()

    def report(event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False)
        with lock, open(path, "a", encoding="utf-8") as out:  # noqa: PTH123
            out.write(line + "\n")

    return report
