"""The one place the ACD's Redis keys and channels are spelled, and the ACD's protocol headers.

Every key starts with the ACD's prefix (`acd:` unless configured otherwise; the seat process
has it as `SeatConfig.acd_prefix`). `AcdKeys(prefix)` spells each one for Python; the Lua
scripts in `callcenter.acd.scripts` get the prefix in ARGV[1] and build the keys they touch
themselves (`P .. 'seat:' .. seat`). `tests/unit/callcenter/test_acd_keys.py` pins every string (the
data in a running Redis must stay readable) and checks that the scripts build no key that is
missing below.

The hall's state, kept by the ACD (`callcenter.acd.engine`, "Lua": its scripts):

- `<prefix>seat:<seat>` (hash): one seat: agent, state, reason, since, skills, penalty,
  misses, user_id, console, call, last_call, pending. Written by `Acd.login` and Lua; read
  by the hall view (`callcenter.cti.hall`) and the seat's softphone (the agent's prompt).
- `<prefix>call:<call_id>` (hash, expires a day after the call was offered): one call:
  state, caller, skill, arrived, tried, unreached, seat, agent, rang_at, answered_at,
  ended_at, end_reason, wrap_until, wrapped_at, revived. Written by Lua; the edge
  (`callcenter.edge.http`) adds `recorded`, the seat's softphone adds and removes its notes
  (`recording`, `transfer_target`, `conference_target`). Read by the call records
  (`callcenter.records`) and the hall view.
- `<prefix>seats` (set): every seat ever signed in. Written by `Acd.login`; read by Lua and
  the hall view.
- `<prefix>idle` (sorted set, seat -> ready since): the pool of free seats. Written by Lua
  (and emptied of a seat by `Acd.login`).
- `<prefix>queue` (sorted set, call -> arrived): the calls waiting for a seat. Written by Lua.
- `<prefix>ringing` (sorted set, seat -> rang at): seats given a call not answered yet,
  released as stale after `stale_ring_seconds`. Written by Lua.
- `<prefix>wrapup` (sorted set, seat -> wrap-up ends at): seats in 话后整理. Written by Lua.
- `<prefix>events` (stream, capped near 100 000 entries): every change, from which call
  records and call KPIs are computed. Written by Lua and `Acd.login`.
- `<prefix>open` (sorted set, call -> last heard of): waiting or ringing calls the edge has
  still to speak of. Written by the `Acd` methods that route and close calls; emptied by
  `Acd.forgotten`.
- `<prefix>alive:<seat>` (string "1", expires after `console_grace_seconds`): the seat's
  console is there. Set by `Acd.alive` (over the console's live connection), deleted by
  `Acd.logout`; read by Lua and the operator's console (`callcenter.cti.console`).
- `<prefix>softphone:<seat>` (string "1" registered, "0" not; expires after three seat sync
  intervals): the seat's softphone reported lately. Set by `Acd.heard_from`, read by
  `Acd.softphones`.

Kept by the parties around the ACD:

- `<prefix>user:<user_id>` (string, a seat's name): the seat the user signed in to from the
  operator's console. Set and deleted by `callcenter.cti.console`; read by the call-backs
  (`callcenter.callbacks.service`) and the Socket.IO handler (`agents_ui.realtime`).
- `<prefix>unsynced` (set of call ids): ended calls whose record could not be written yet
  (the database away). Written and emptied by `callcenter.records.sync`.
- `<prefix>spytoken:<token>` (string, JSON, expires after 30 s): a supervisor's single-use
  listen-in grant. Set by `callcenter.acd.spytoken.issue_spy_token` (for the operator's
  console), taken (GETDEL) by the listened-to seat's softphone.
- `<prefix>xfer:<token>` (string, JSON, expires after 60 s): a transfer to another seat or to
  the team lead on duty, for one caller's next call. Set by
  `callcenter.acd.transfers.issue_transfer` (`POST /api/cti/call`), taken (GETDEL) by
  `/acd/route` when the caller's phone dials the hotline with it.
- The call hash's `transferred_from` (the seat and operator who transferred the caller) is
  set there too, for the screen pop.

A desk seat over the network (`callcenter.acd.seatlink`, `hotline seat --server`), which has
no Redis of its own and reaches the web app with its own SIP credentials:

- `<prefix>seatlink:<seat>` (string "1", expires 10 s after the seat's long poll would have
  ended): the seat is linked over HTTP. Set by each poll (`callcenter.edge.seatlink`).
- `<prefix>seatbox:<seat>` (list of JSON commands, expires 60 s after the last one, at most
  50): its commands while it is linked, in order, none lost between two polls. Pushed by
  `callcenter.acd.seatlink.send_to_seat`, popped by the seat's poll.
- `<prefix>seatpoll:<seat>` (string, the id of the seat's newest poll, expiring with the
  link): an older poll that sees another id here answers at once.
- `<prefix>seatrec:<seat>` (set of recording names, expires two days after the last one):
  the recordings that seat may upload, each once. Added when it notes a call's recording,
  removed by the upload.

The pub/sub channel:

- `<prefix>seatcmd:<seat>`: commands to the seat's softphone (answer, hold, transfer, dial,
  listen in, register again ...). Published by the operator's console, the call-backs and
  the edge (`callcenter.edge.http`); the seat's softphone subscribes
  (`callcenter.acd.channel`).

Pure: strings only, no Redis client.
"""

from dataclasses import dataclass

ACD_SECRET_HEADER = "X-Hotline-Acd-Secret"  # what the ACD wants to see (callcenter.edge.http)
DEFAULT_PREFIX = "acd:"


@dataclass(frozen=True, slots=True)
class AcdKeys:
    """The ACD's Redis keys and channels under one prefix (see the module's docstring)."""

    prefix: str = DEFAULT_PREFIX

    def seat(self, seat: str) -> str:
        return f"{self.prefix}seat:{seat}"

    def call(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}"

    def alive(self, seat: str) -> str:
        return f"{self.prefix}alive:{seat}"

    def softphone(self, seat: str) -> str:
        """The softphone key of `seat`; `softphone("*")` matches them all."""
        return f"{self.prefix}softphone:{seat}"

    def user(self, user_id: int | str) -> str:
        return f"{self.prefix}user:{user_id}"

    def spy_token(self, token: str) -> str:
        return f"{self.prefix}spytoken:{token}"

    def transfer_token(self, token: str) -> str:
        return f"{self.prefix}xfer:{token}"

    def command_channel(self, seat: str) -> str:
        """The pub/sub channel on which the operator's browser commands seat `seat`."""
        return f"{self.prefix}seatcmd:{seat}"

    def seat_link(self, seat: str) -> str:
        return f"{self.prefix}seatlink:{seat}"

    def seat_box(self, seat: str) -> str:
        return f"{self.prefix}seatbox:{seat}"

    def seat_poll(self, seat: str) -> str:
        return f"{self.prefix}seatpoll:{seat}"

    def seat_uploads(self, seat: str) -> str:
        return f"{self.prefix}seatrec:{seat}"

    @property
    def seats(self) -> str:
        return f"{self.prefix}seats"

    @property
    def idle(self) -> str:
        return f"{self.prefix}idle"

    @property
    def queue(self) -> str:
        return f"{self.prefix}queue"

    @property
    def ringing(self) -> str:
        return f"{self.prefix}ringing"

    @property
    def wrapup(self) -> str:
        return f"{self.prefix}wrapup"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def open(self) -> str:
        return f"{self.prefix}open"

    @property
    def unsynced(self) -> str:
        return f"{self.prefix}unsynced"


def command_channel(prefix: str, seat: str) -> str:
    """The Redis channel on which the operator's browser commands seat `seat`."""
    return AcdKeys(prefix).command_channel(seat)
