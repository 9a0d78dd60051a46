"""`hotline seat SEAT`: one pjsua2 softphone process per operator seat.

- `config`: `SeatConfig` and the commands a seat obeys (their Redis channel:
  `callcenter.acd.keys.command_channel`, re-exported here);
- `mixing`: the calls' roles and who hears whom (pure: no pjsua2, no Redis);
- `softphone`: the pjsua2 process that applies them (`run_seat`);
- `link`: its way to the app (Redis and `/acd/*` on the server; `/seat-link/*` with its own
  password from an operator's PC, `hotline seat --server`);
- `soundcard`: the PC's sound card as the operator's microphone and earpiece (PortAudio);
- `endpoint`: pjsua2's set-up, shared with the survey process (`callcenter.survey`);
- `prompts`: the operator-ID prompt (工号播报), tones and recording names.

pjsua2 loads only when `run_seat` runs: the web app imports `command_channel` from here
without it.
"""

import dataclasses
import json
import logging
import os
import sys
from typing import Any

from callcenter.acd.keys import command_channel
from callcenter.seat.config import COMMANDS
from callcenter.seat.config import TRANSPORTS
from callcenter.seat.config import SeatConfig
from callcenter.seat.config import check_transport
from callcenter.seat.endpoint import active_audio
from callcenter.seat.endpoint import digest_credentials
from callcenter.seat.endpoint import local_address
from callcenter.seat.endpoint import reach_edge
from callcenter.seat.endpoint import start_endpoint
from callcenter.seat.mixing import SPY_MODES
from callcenter.seat.prompts import make_prompt
from callcenter.seat.prompts import prompt_text
from callcenter.seat.prompts import recording_name
from callcenter.seat.prompts import speak_wav
from callcenter.seat.prompts import staff_number
from callcenter.seat.prompts import write_tone

__all__ = [
    "COMMANDS",
    "SPY_MODES",
    "TRANSPORTS",
    "SeatConfig",
    "active_audio",
    "check_transport",
    "command_channel",
    "digest_credentials",
    "local_address",
    "make_prompt",
    "prompt_text",
    "reach_edge",
    "recording_name",
    "run_seat",
    "serve_handover",
    "speak_wav",
    "staff_number",
    "start_endpoint",
    "write_tone",
]


def run_seat(cfg: SeatConfig) -> None:
    """Run seat `cfg.name`'s softphone until SIGTERM or SIGINT (`callcenter.seat.softphone`).

    The softphone runs in a fresh interpreter that imports only what a seat needs: this
    process becomes it (exec: the same pid, standard streams, environment and command line
    after the interpreter's own arguments), handing over the configuration through a pipe (the
    password stays off the command line) and its logging set-up. What the caller had loaded is
    left behind: `hotline seat` loads the settings, the database layer and the call records,
    some 35 MB a seat. A logging set-up that cannot be handed over (handlers other than
    streams to stdout or stderr) keeps the seat in this process, as does a failed exec.
    """
    handover = _handover(cfg)
    if handover is not None:
        _become_lean_seat(handover)
    from callcenter.seat.softphone import run_seat as run

    run(cfg)


# What the fresh interpreter runs: read the handover from the pipe, then the seat.
_LEAN = "from callcenter.seat import serve_handover; serve_handover({fd})"
_PIPE_BYTES = 60_000  # a pipe holds 64 KiB, and nothing reads it before the exec


def _handover(cfg: SeatConfig) -> dict[str, Any] | None:
    """The seat's configuration and this process's logging set-up (each logger's level,
    propagation and handlers, the root's as ""), as JSON data; None when a handler is more
    than a stream to stdout or stderr (or a NullHandler)."""
    loggers: dict[str, Any] = {}
    found = [("", logging.getLogger())] + [
        (name, logger)
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    ]
    for name, logger in found:
        handlers = []
        for handler in logger.handlers:
            described = _describe_handler(handler)
            if described is None:
                return None
            handlers.append(described)
        if handlers or logger.level != logging.NOTSET or not logger.propagate:
            loggers[name] = {
                "level": logger.level,
                "propagate": logger.propagate,
                "handlers": handlers,
            }
    return {"seat": dataclasses.asdict(cfg), "loggers": loggers, "path": sys.path}


def _describe_handler(handler: logging.Handler) -> dict[str, Any] | None:
    if type(handler) is logging.NullHandler:
        return {"stream": None}
    if type(handler) is not logging.StreamHandler:
        return None
    stream = {id(sys.stdout): "stdout", id(sys.stderr): "stderr"}.get(id(handler.stream))
    formatter = handler.formatter or logging.Formatter()
    if stream is None or not isinstance(formatter._style, logging.PercentStyle):
        return None
    filters = []
    for found in handler.filters:
        if not isinstance(found, logging.Filter):
            return None
        kind = type(found)
        try:
            kind()  # handed over as its class, made again without arguments
        except Exception:  # noqa: BLE001 - any filter we cannot make again: no handover
            return None
        filters.append(f"{kind.__module__}:{kind.__qualname__}")
    return {
        "stream": stream,
        "level": handler.level,
        "format": formatter._fmt,
        "datefmt": formatter.datefmt,
        "filters": filters,
    }


def _become_lean_seat(handover: dict[str, Any]) -> None:
    """Exec a fresh interpreter that reads `handover` from a pipe; returns only on failure."""
    payload = json.dumps(handover).encode()
    if len(payload) > _PIPE_BYTES:
        return
    read, write = os.pipe()
    os.write(write, payload)
    os.close(write)
    os.set_inheritable(read, True)
    argv = [sys.executable, *_interpreter_flags(), "-c", _LEAN.format(fd=read)]
    argv += sys.orig_argv[1:]  # ps and pgrep still see `hotline seat NAME ...`
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, argv)
    except OSError:
        logging.getLogger("callcenter.seat").warning("seat: exec failed, staying in process")
        os.close(read)


def _interpreter_flags() -> list[str]:
    """The interpreter's own options this process was started with (-u, -X ..., -W ...): the
    arguments before its program (-c CODE, -m MODULE or a script)."""
    flags: list[str] = []
    args = iter(sys.orig_argv[1:])
    for arg in args:
        if arg in ("-c", "-m") or not arg.startswith("-") or arg == "-":
            break
        flags.append(arg)
        if arg in ("-X", "-W"):
            flags.append(next(args, ""))
    return flags


def _make_handler(described: dict[str, Any]) -> logging.Handler:
    if described["stream"] is None:
        return logging.NullHandler()
    handler = logging.StreamHandler(getattr(sys, described["stream"]))
    handler.setLevel(described["level"])
    handler.setFormatter(logging.Formatter(described["format"], described["datefmt"]))
    for path in described["filters"]:
        module, _, name = path.partition(":")
        kind: Any = __import__(module, fromlist=["_"])
        for part in name.split("."):
            kind = getattr(kind, part)
        handler.addFilter(kind())
    return handler


def serve_handover(fd: int) -> None:
    """The fresh interpreter's side of `run_seat`: logging as it was, then the seat."""
    with os.fdopen(fd, "rb") as pipe:
        handover = json.loads(pipe.read())
    for entry in handover["path"]:
        if entry not in sys.path:
            sys.path.append(entry)
    for name, setup in handover["loggers"].items():
        logger = logging.getLogger(name or None)
        logger.setLevel(setup["level"])
        logger.propagate = setup["propagate"]
        for described in setup["handlers"]:
            logger.addHandler(_make_handler(described))
    from callcenter.seat.softphone import run_seat as run

    run(SeatConfig(**handover["seat"]))
