"""Jobs for the fault tests' real `hotline worker` (importable by its work horses)."""

import os
import time
from pathlib import Path


def slow_then_done(folder: str) -> int:
    """The first run marks itself started and hangs (to be killed); a later run finishes."""
    runs = Path(folder) / "runs"
    count = int(runs.read_text()) + 1 if runs.exists() else 1
    runs.write_text(str(count))
    (Path(folder) / "pid").write_text(str(os.getpid()))  # the work horse, to be killed
    if count == 1:
        time.sleep(600)
    (Path(folder) / "done").write_text(str(count))
    return count
