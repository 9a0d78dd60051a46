"""A seat softphone's configuration and the commands it obeys."""

from dataclasses import dataclass

from callcenter.acd.keys import DEFAULT_PREFIX
from callcenter.acd.seatsync import SYNC_SECONDS


@dataclass(frozen=True, slots=True)
class SeatConfig:
    name: str
    sip_port: int
    edge_host: str = "127.0.0.1"
    edge_port: int = 5060
    rtp_port: int = 0  # 0: let pjsua2 choose
    auto_answer_seconds: float | None = None  # benches and tests answer by themselves
    log_level: int = 1
    # Commands from the operator's browser arrive on the Redis channel <prefix>seatcmd:<name>.
    redis_url: str | None = None
    acd_prefix: str = DEFAULT_PREFIX
    # Where the seat tells the web app what it did (transfer, three-way call, listening in).
    acd_url: str | None = None
    recordings_dir: str | None = None  # None: no recordings (benches)
    prompts_dir: str | None = None  # the 工号播报 WAVs, spoken once per operator
    announce: bool = True
    # The seat's SIP password (digest, issued in 系统管理 → 话机账号); None: no credentials,
    # which the edge refuses.
    password: str | None = None
    acd_secret: str = ""  # proves the seat's reports to the ACD (X-Hotline-Acd-Secret)
    # How often the seat reports its calls to the ACD (`/acd/seat_sync`), besides at once on
    # each answer and end (`callcenter.acd.seatsync`).
    sync_seconds: float = SYNC_SECONDS
    # "tls": SIP to the edge's tls_port over TLS, its certificate checked against
    # tls_ca_file (telephony.tls_*); "udp": to edge_port in clear (loopback, the demo).
    transport: str = "udp"
    tls_port: int = 0
    tls_ca_file: str = ""
    # A desk seat on an operator's PC: the web app's address (`hotline seat --server`). It then
    # has no Redis and no ACD secret: it signs in to `/seat-link/*` with its name and password
    # (`callcenter.seat.link.RemoteLink`), recordings_dir being its local spool.
    server_url: str | None = None
    server_ca_file: str = ""  # the CA that issued the app's HTTPS certificate ("": the system's)
    # The PC's sound card as the operator's microphone and earpiece (a PortAudio device name
    # or number, `callcenter.seat.soundcard`); "": none (the browser headset, or nobody).
    audio_device: str = ""

    def __post_init__(self) -> None:
        check_transport(self.transport, self.tls_port, self.tls_ca_file)
        if self.server_url and not self.password:
            raise ValueError("a desk seat (server_url) signs in with its SIP password")
        if self.server_url and self.redis_url:
            raise ValueError("a desk seat reaches the app over server_url, not Redis")


COMMANDS = (
    "answer", "hangup", "hold", "unhold", "mute", "unmute", "dtmf",
    "transfer", "conference", "conference_end", "spy", "spy_end", "dial", "reregister",
    "headset", "headset_end",
)  # fmt: skip


TRANSPORTS = ("udp", "tls")


def check_transport(transport: str, tls_port: int, tls_ca_file: str) -> None:
    """Refuse a softphone configuration that could not reach the edge as asked."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be udp or tls, got {transport!r}")
    if transport == "tls" and not (tls_port and tls_ca_file):
        raise ValueError("transport tls needs the edge's tls_port and the tls_ca_file to check it")
