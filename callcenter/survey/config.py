"""A survey process's configuration and the RTP ports survey processes use."""

from dataclasses import dataclass

from callcenter.seat.config import check_transport
from dispatch.followup.survey import TASKS_KEY  # the list the follow-up sweep fills

# Survey processes' RTP ports: RTP_PORT_BASE + 100 * N (N as in `hotline survey N`), a range
# of RTP_PORT_RANGE. Seats leave pjsua2's default (4000 upwards), so the two never meet.
RTP_PORT_BASE = 31000
RTP_PORT_RANGE = 40


@dataclass(frozen=True, slots=True)
class SurveyConfig:
    name: str  # "survey1": registered as sip:survey1@edge_host
    sip_port: int
    rtp_port: int = 0  # 0: pjsua2's default
    edge_host: str = "127.0.0.1"
    edge_port: int = 5060
    redis_url: str = "redis://127.0.0.1:6379/0"
    max_calls: int = 4  # 1..4: pjsua2 is built with PJSUA_MAX_CALLS = 4
    prompts_dir: str = "instance/prompts"
    log_level: int = 1
    caller_name: str = "12345"  # the From display name the citizen's phone shows
    tasks_key: str = TASKS_KEY
    password: str | None = None  # its SIP password (系统管理 → 话机账号); None: refused
    # As a seat's (SeatConfig): "tls" reaches the edge's tls_port, checked with tls_ca_file.
    transport: str = "udp"
    tls_port: int = 0
    tls_ca_file: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.max_calls <= 4:
            raise ValueError("max_calls must be 1..4 (pjsua2 holds at most 4 calls)")
        check_transport(self.transport, self.tls_port, self.tls_ca_file)
