"""The seat's call roles and audio-mixing rules: which call it admits, which port hears which.

Pure: plain data in, decisions out; no pjsua2, no Redis. The softphone
(`callcenter.seat.softphone`) describes its calls as `LegView`s, applies the `Link`s this
module returns to pjsua2's conference bridge and answers INVITEs with the `Admission` it gets.

A seat has at most four calls, each with a role:

- ``inbound``: the citizen's call the ACD gave the seat (or, for a softphone that dials, the
  call it placed: ``outbound``). It is recorded (one WAV, both directions mixed) and on answer
  the caller hears the operator-ID prompt (工号播报).
- ``party``: the third party of a three-way call (三方通话), dialled by the seat and mixed with
  the citizen and the operator in the seat's conference bridge.
- ``spy_in``: a supervisor's seat listening in (header ``X-Hotline-Spy: monitor|whisper|barge``):
  monitor hears citizen and operator; whisper also speaks to the operator alone; barge speaks to
  everyone.
- ``spy_out``: this seat is the supervisor's, listening in on another seat.
- ``agent``: the agent leg, the seat's call to the operator's browser headset (``hs-SEAT``),
  placed once and kept for the shift. While it is up it *is* the operator: their microphone
  and earpiece in every path below, in place of the seat's sound device.
- ``rejected``: a call the seat refused (or a listener another one replaced); never mixed.

The audio paths are recomputed from those roles whenever a call's media changes, so a mute,
a hold or a party leaving never leaves a stale connection behind. A call on hold (either
side) has no active audio, so it is mixed with nobody until it is taken off hold.
"""

import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from typing import TypeVar

INBOUND = "inbound"
OUTBOUND = "outbound"
PARTY = "party"
SPY_IN = "spy_in"
SPY_OUT = "spy_out"
AGENT = "agent"
REJECTED = "rejected"
MAIN_ROLES = (INBOUND, OUTBOUND)
SPY_MODES = ("monitor", "whisper", "barge")

_SPY_HEADER = re.compile(r"^X-Hotline-Spy:\s*(\w+)\s*$", re.MULTILINE | re.IGNORECASE)
_SPY_TOKEN = re.compile(r"^X-Hotline-Spy-Token:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)
_FROM_USER = re.compile(r"^(?:From|f)\s*:[^\r\n]*?sips?:([^@;>\s]+)@", re.MULTILINE | re.IGNORECASE)


# --- Which calls the seat admits -----------------------------------------------------------


def spy_mode(message: str) -> str | None:
    """The listening-in mode an INVITE asks for (lower case), None for an ordinary call."""
    found = _SPY_HEADER.search(message or "")
    return None if found is None else found.group(1).lower()


def spy_token(message: str) -> str | None:
    """The single-use listen-in token the INVITE carries, if any."""
    found = _SPY_TOKEN.search(message or "")
    return None if found is None else found.group(1)


def sender(message: str) -> str | None:
    """The user part of the INVITE's From URI (the supervisor's seat), if any."""
    found = _FROM_USER.search(message or "")
    return None if found is None else found.group(1)


@dataclass(frozen=True, slots=True)
class Admission:
    """How the seat answers an incoming call, and the role the call gets."""

    role: str
    status: int  # the SIP status the seat answers with


def admit_spy(mode: str, has_call: bool, token_ok: Callable[[], bool]) -> Admission:
    """Listening in needs a call to listen to, a known mode and the app's token for it.

    `token_ok` is asked only when the first two hold: checking uses the token up.
    """
    ok = has_call and mode in SPY_MODES
    allowed = ok and token_ok()
    if allowed:
        return Admission(SPY_IN, 200)
    return Admission(REJECTED, 403 if ok else 480)


def admit_call(has_call: bool) -> Admission:
    """One citizen at a time (the ACD knows): a second call is busy, a first one rings."""
    return Admission(REJECTED, 486) if has_call else Admission(INBOUND, 180)


# --- The live calls ------------------------------------------------------------------------


class HasRole(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def gone(self) -> bool: ...


L = TypeVar("L", bound=HasRole)


def latest(legs: Sequence[L], roles: Iterable[str]) -> L | None:
    """The latest of the calls in `roles` that is not gone yet."""
    wanted = tuple(roles)
    live = [g for g in legs if g.role in wanted and not g.gone]
    return live[-1] if live else None


# --- Who hears whom ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegView:
    """What the mixing rules need to know of one call."""

    key: int  # the caller's name for the call, echoed in the ports
    role: str
    mode: str = ""  # the listening-in mode of a spy_in / spy_out call
    confirmed: bool = False  # answered: early media is no conversation
    gone: bool = False
    media: bool = False  # its audio flows (active: neither early, held nor ended)
    recorder: bool = False  # it has a recording
    player: bool = False  # it has a prompt or test signal to play


@dataclass(frozen=True, slots=True)
class Port:
    """A port of the seat's conference bridge: the operator, a call, a recording, a player."""

    kind: str  # "operator", "call", "recorder", "player"
    leg: int = -1  # the LegView.key of a call's own port


# The operator's sound device: their microphone as a source, their earpiece as a sink.
OPERATOR = Port("operator")


def call(key: int) -> Port:
    return Port("call", key)


def recorder(key: int) -> Port:
    return Port("recorder", key)


def player(key: int) -> Port:
    return Port("player", key)


Link = tuple[Port, Port]  # source -> sink: the sink hears the source


@dataclass(frozen=True, slots=True)
class Conversation:
    """The calls that take part in the mix now, by role."""

    main: LegView | None  # the citizen's call (inbound, else outbound)
    party: LegView | None  # the three-way call's third party
    spy: LegView | None  # a supervisor listening in on this seat
    spying: LegView | None  # this seat listening in on another


def conversation(legs: Iterable[LegView]) -> Conversation:
    """Only answered calls with flowing audio take part; of a role, the latest one."""
    active = {g.role: g for g in legs if not g.gone and g.media and g.confirmed}
    return Conversation(
        main=active.get(INBOUND) or active.get(OUTBOUND),
        party=active.get(PARTY),
        spy=active.get(SPY_IN),
        spying=active.get(SPY_OUT),
    )


def headset(legs: Iterable[LegView]) -> LegView | None:
    """The agent leg that stands for the operator now: the latest answered one whose audio
    flows. None: the operator is the seat's own sound device."""
    live = [g for g in legs if g.role == AGENT and not g.gone and g.media and g.confirmed]
    return live[-1] if live else None


def media_to_start(legs: Iterable[LegView]) -> list[int]:
    """The calls whose recording and player should exist before they are mixed: the main
    call and this seat's own listening in (never a supervisor's call into this seat)."""
    now = conversation(legs)
    return [g.key for g in (now.main, now.spying) if g is not None]


def links(legs: Iterable[LegView], muted: bool) -> list[Link]:
    """Every audio path the seat's calls need now (source -> sink), in the order to open."""
    now = conversation(legs)
    main, party, spy, spying = now.main, now.party, now.spy, now.spying
    talkers = [call(g.key) for g in (main, party) if g is not None]
    paths: list[Link] = []
    for leg in talkers:  # the operator hears and (unless muted) speaks to each
        paths.append((leg, OPERATOR))
        if not muted:
            paths.append((OPERATOR, leg))
    rec = recorder(main.key) if main is not None and main.recorder else None
    if main is not None:
        if main.player:  # the prompt, to the caller and into the recording
            paths += [(player(main.key), call(main.key))]
            paths += [(player(main.key), rec)] if rec else []
        if party is not None:  # 三方通话: citizen and party hear each other
            paths += [(call(party.key), call(main.key)), (call(main.key), call(party.key))]
        if rec is not None:
            paths += [(leg, rec) for leg in talkers]
            if not muted:
                paths.append((OPERATOR, rec))
    if spy is not None and main is not None:
        # The supervisor hears everyone (the operator even muted); whisper reaches the
        # operator; barge everyone, and the recording.
        ear = call(spy.key)
        paths += [(leg, ear) for leg in talkers] + [(OPERATOR, ear)]
        if spy.mode in ("whisper", "barge"):
            paths.append((ear, OPERATOR))
        if spy.mode == "barge":
            sinks = talkers + ([rec] if rec else [])
            paths += [(ear, sink) for sink in sinks]
    if spying is not None:
        line = call(spying.key)
        paths += [(line, OPERATOR), (OPERATOR, line)]
        if spying.player:
            paths.append((player(spying.key), line))
        if spying.recorder:
            paths.append((line, recorder(spying.key)))
    return paths
