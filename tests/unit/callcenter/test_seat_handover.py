"""What `run_seat` hands the fresh interpreter it becomes: the seat and the logging set-up."""

import io
import json
import logging
import sys

import pytest

from callcenter import seat
from callcenter.seat import SeatConfig


class Tagged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.tag = "t"
        return True


@pytest.fixture
def clean_root(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The root logger; `bare` takes every handler off (pytest's and libraries')."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root.level)
    return root


def bare(monkeypatch: pytest.MonkeyPatch) -> None:
    """No logger has a handler (pytest adds its own to the root when a test's call starts)."""
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger):
            monkeypatch.setattr(logger, "handlers", [])


def test_the_seat_and_stream_logging_are_handed_over_as_json(
    clean_root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare(monkeypatch)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)s %(tag)s %(message)s", "%H:%M"))
    handler.addFilter(Tagged())
    clean_root.addHandler(handler)
    clean_root.setLevel(logging.INFO)
    cfg = SeatConfig("s07", 5077, password="secret", auto_answer_seconds=0.2)

    handover = seat._handover(cfg)

    assert handover is not None
    data = json.loads(json.dumps(handover))
    assert SeatConfig(**data["seat"]) == cfg
    assert data["loggers"][""]["level"] == logging.INFO
    [described] = data["loggers"][""]["handlers"]
    assert described["stream"] == "stdout"
    assert described["format"] == "%(levelname)s %(tag)s %(message)s"
    assert described["datefmt"] == "%H:%M"
    assert described["filters"] == [f"{__name__}:Tagged"]


def test_a_librarys_own_stream_handler_and_levels_go_along(
    clean_root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare(monkeypatch)
    lib = logging.getLogger("some.library")
    lib.addHandler(logging.StreamHandler(sys.stderr))
    lib.propagate = False
    logging.getLogger("callcenter.seat").setLevel(logging.DEBUG)
    try:
        handover = seat._handover(SeatConfig("s07", 5077))
    finally:
        lib.handlers = []
        lib.propagate = True
        logging.getLogger("callcenter.seat").setLevel(logging.NOTSET)
    assert handover is not None
    assert handover["loggers"]["some.library"]["propagate"] is False
    assert handover["loggers"]["some.library"]["handlers"][0]["stream"] == "stderr"
    assert handover["loggers"]["callcenter.seat"]["level"] == logging.DEBUG


@pytest.mark.parametrize(
    "handler",
    [logging.StreamHandler(io.StringIO()), logging.FileHandler("/dev/null", delay=True)],
    ids=["another stream", "a file"],
)
def test_logging_that_cannot_be_handed_over_keeps_the_seat_in_process(
    clean_root: logging.Logger, handler: logging.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare(monkeypatch)
    clean_root.addHandler(handler)
    assert seat._handover(SeatConfig("s07", 5077)) is None


def test_the_interpreters_own_options_go_along(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["python", "-u", "-X", "importtime", "-Wd", "-c", "code", "-u"]
    monkeypatch.setattr(sys, "orig_argv", argv)
    assert seat._interpreter_flags() == ["-u", "-X", "importtime", "-Wd"]
    monkeypatch.setattr(sys, "orig_argv", ["python", "/venv/bin/hotline", "seat", "s01"])
    assert seat._interpreter_flags() == []
