"""The media relay of browser headsets: rtpengine, run in userspace by `hotline media`.

Browsers speak DTLS-SRTP with ICE; the seats' softphones speak plain RTP. For each agent leg
(a seat calling its operator's browser headset), the edge asks rtpengine over its control
socket (`telephony.rtpengine`) to rewrite the SDP toward each side and relays the media in
between. No kernel module: the packets are forwarded in rtpengine's own threads.
"""

import secrets
import shutil
import socket
from pathlib import Path

from infra.settings import TelephonySettings


def rtpengine_binary() -> str | None:
    found = shutil.which("rtpengine") or "/usr/bin/rtpengine"
    return found if Path(found).exists() else None


def rtpengine_argv(binary: str, tel: TelephonySettings, threads: int = 2) -> list[str]:
    """rtpengine in the foreground, logging to stderr, no configuration file nor kernel
    table, its media on `media_address` (else the edge's address) in the configured ports."""
    address = tel.media_address or tel.sip_host
    return [
        binary,
        "--config-file=none",
        "--foreground",
        "--log-stderr",
        "--log-level=5",
        "--table=-1",
        f"--interface={address}",
        f"--listen-ng={tel.rtpengine}",
        f"--port-min={tel.rtp_port_min}",
        f"--port-max={tel.rtp_port_max}",
        f"--num-threads={threads}",
        # A leg whose media stopped for this long (a browser gone without a BYE) is freed.
        "--timeout=60",
    ]


def rtpengine_answers(control: str, timeout: float = 0.5) -> bool:
    """Whether rtpengine answers a ping on its control socket (the ng protocol: a cookie and a
    bencoded dictionary over UDP)."""
    host, _, port = control.rpartition(":")
    cookie = secrets.token_hex(6)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((host, int(port)))
            sock.send(f"{cookie} d7:command4:pinge".encode())
            reply = sock.recv(1024)
        except (OSError, ValueError):
            return False
    return reply.startswith(f"{cookie} ".encode()) and b"pong" in reply
