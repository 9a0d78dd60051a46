"""`hotline seat SEAT`: one pjsua2 softphone process per operator seat.

- `config`: `SeatConfig` and the commands a seat obeys (their Redis channel:
  `callcenter.acd.keys.command_channel`, re-exported here);
- `mixing`: the calls' roles and who hears whom (pure: no pjsua2, no Redis);
- `softphone`: the pjsua2 process that applies them (`run_seat`);
- `endpoint`: pjsua2's set-up, shared with the survey process (`callcenter.survey`);
- `prompts`: the operator-ID prompt (工号播报), tones and recording names.

pjsua2 loads only when `run_seat` runs: the web app imports `command_channel` from here
without it.
"""

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
    "speak_wav",
    "staff_number",
    "start_endpoint",
    "write_tone",
]


def run_seat(cfg: SeatConfig) -> None:
    """Run seat `cfg.name`'s softphone until SIGTERM or SIGINT (`callcenter.seat.softphone`)."""
    from callcenter.seat.softphone import run_seat as run

    run(cfg)
