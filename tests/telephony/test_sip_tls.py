"""TLS between our own user agents and the edge (seats on operators' PCs on a LAN).

Real Kamailio with its tls module, real pjsua2 seats and survey processes, and an internal CA
made for each test with the openssl command line: the edge gets a certificate for 127.0.0.1,
the seats trust that CA. The attacks: a seat's REGISTER in clear where TLS is required, a seat
led to an edge its CA did not vouch for (another CA, or our CA's certificate for another
address), a client that speaks plain SIP to the TLS port.
"""

import logging
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from hotline.bootstrap import Container
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for
from tests.telephony.test_features import CITIZEN_HZ
from tests.telephony.test_features import Hall
from tests.telephony.test_features import closed
from tests.telephony.test_features import recordings
from tests.telephony.test_features import tone_level

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@dataclass(frozen=True, slots=True)
class Pki:
    """An internal CA and the edge's certificate and key, as PEM files."""

    ca: Path
    certificate: Path
    key: Path


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder: Path, name: str) -> Pki:
    """A CA (its certificate signs, nothing else) and, issued by it, a certificate for the
    edge at 127.0.0.1."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        folder, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return issue(folder, "127.0.0.1")


def issue(folder: Path, address: str, name: str = "edge") -> Pki:
    """A server certificate for `address`, issued by the CA in `folder`."""
    (folder / f"{name}.ext").write_text(
        f"subjectAltName=IP:{address}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        encoding="utf-8",
    )
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        folder, "req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
        "-subj", f"/CN={address}",
    )  # fmt: skip
    _openssl(
        folder, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext",
    )  # fmt: skip
    return Pki(folder / "ca.crt", folder / f"{name}.crt", folder / f"{name}.key")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    if not Path(OPENSSL).exists():
        pytest.fail("openssl missing (make test installs it)")
    return make_ca(tmp_path / "pki", "Hotline test CA")


def start_tls_edge(stack: Stack, pki: Pki, required: bool = True, **options: Any) -> None:
    stack.start_edge(
        tls_port=stack.tls_port,
        tls_certificate=str(pki.certificate),
        tls_private_key=str(pki.key),
        tls_required=required,
        **options,
    )


def tls_seat(stack: Stack, ca: Path) -> dict[str, Any]:
    """SeatConfig fields of a seat that speaks TLS to the test's edge and trusts `ca`."""
    return {"transport": "tls", "tls_port": stack.tls_port, "tls_ca_file": str(ca)}


def test_a_seat_registers_over_tls_and_answers_a_hotline_call(
    stack: Stack, container: Container, real_redis: Any, pki: Pki
) -> None:
    acd = Acd(real_redis, AcdConfig(wrap_up_seconds=5), prefix=f"t{uuid.uuid4().hex[:8]}:")
    container._acd = acd
    # TLS required: the seat's 200 can only have come over TLS, and the citizen's call over
    # UDP to the hotline number must still get through.
    start_tls_edge(stack, pki, required=True)
    stack.start_seat("s01", **tls_seat(stack, pki.ca))
    acd.login("s01", "agent-1")
    acd.ready("s01")
    result = stack.call(talk_ms=500)
    assert result.returncode == 0, result.stdout[-2000:]
    [call] = [e["call"] for e in acd.events() if e["type"] == "offered"]
    kinds = [
        e["type"] for e in acd.events() if e.get("call") == call and e["type"] != "agent_state"
    ]
    assert kinds == ["offered", "route", "answered", "ended"]
    cdr = call_record(container, call)
    assert (cdr.outcome, cdr.seat, cdr.agent) == ("answered", "s01", "agent-1")
    assert "not over TLS" not in stack.log("kamailio")


def test_a_supervisor_listens_in_over_tls_on_a_citizen_calling_over_udp(
    stack: Stack, container: Container, real_redis: Any, pki: Pki, tmp_path: Path
) -> None:
    # The operator's and the supervisor's softphones on TLS, the citizen's phone on UDP: the
    # spy token travels over TLS, and requests inside the call cross from one to the other.
    hall = Hall(stack, container, real_redis, tmp_path)
    start_tls_edge(stack, pki, required=False)
    tls = tls_seat(stack, pki.ca)
    stack.phone("s01", auto_answer=0.3, acd_prefix=hall.prefix, **tls)
    hall.acd.login("s01", "u7")
    hall.acd.ready("s01")
    hall.phone("citizen")
    supervisor = stack.phone("sup", acd_prefix=hall.prefix, **tls)
    call_id = hall.citizen_calls()
    hall.command("sup", action="spy", seat="s01", mode="monitor", play=str(hall.supervisor_tone))
    wait_for(lambda: "event spy_started" in stack.log("sup"), 15, "the supervisor to listen in")
    time.sleep(2.5)
    hall.command("sup", action="spy_end")
    hall.citizen_hangs_up(call_id)  # the citizen's BYE (UDP) reaches the seat (TLS)
    wait_for(lambda: closed(supervisor), 10, "the supervisor's recording to close")
    assert "sup listens in (monitor)" in stack.log("s01")
    assert all(tone_level(f, CITIZEN_HZ) > 50 for f in recordings(supervisor))
    assert hall.record(call_id).end_reason == "caller"


def test_a_survey_process_reaches_the_edge_over_tls(stack: Stack, pki: Pki, tmp_path: Path) -> None:
    start_tls_edge(stack, pki, required=True)
    # Returns once the survey process is registered (200): over TLS, as the edge requires.
    stack.start_survey(
        "survey1",
        tmp_path / "events.jsonl",
        prompts_dir=str(tmp_path / "prompts"),
        **tls_seat(stack, pki.ca),
    )


def asked_for_ha1(caplog: pytest.LogCaptureFixture) -> bool:
    """Whether the edge checked a digest response (it asks the app for the HA1 only then)."""
    return any("/acd/sip_ha1" in r.getMessage() for r in caplog.records)


def test_with_tls_required_a_seat_registering_over_udp_is_refused_before_its_digest(
    stack: Stack, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    start_tls_edge(stack, pki, required=True)
    # The right password, over UDP: refused at the first REGISTER, unchallenged, so no
    # digest response (which an eavesdropper could take to guess the password) is ever sent.
    stack.start_seat("s01", registered="registration: 403 TLS Required")
    assert "REGISTER of 's01'" in stack.log("kamailio") and "not over TLS" in stack.log("kamailio")
    assert "registration: 200" not in stack.log("s01")
    assert not asked_for_ha1(caplog)


@pytest.mark.parametrize("impostor", ["another CA", "our CA, another address"])
def test_a_seat_refuses_an_edge_its_ca_does_not_vouch_for(
    stack: Stack, pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture, impostor: str
) -> None:
    caplog.set_level(logging.INFO)
    if impostor == "another CA":
        # The edge shows a certificate for 127.0.0.1 from a CA the seat does not trust.
        edge = make_ca(tmp_path / "rogue", "Hotline test CA")  # same name, other key
    else:
        # Our CA's certificate, but for another machine's address (a stolen LAN certificate).
        edge = issue(pki.ca.parent, "10.9.9.9", name="other")
    start_tls_edge(stack, edge, required=True)
    # pjsua2 drops the connection after the handshake, before the REGISTER (and so before
    # any digest) is sent: the account reports the failed certificate check.
    stack.start_seat("s01", registered="PJSIP_TLS_ECERTVERIF", **tls_seat(stack, pki.ca))
    assert "registration: 503 SSL certificate verification error" in stack.log("s01")
    assert "registration: 200" not in stack.log("s01")
    assert not asked_for_ha1(caplog)  # no digest response reached the impostor


def test_a_client_speaking_plain_sip_to_the_tls_port_gets_nothing_usable(
    stack: Stack, pki: Pki
) -> None:
    start_tls_edge(stack, pki, required=True)
    register = (
        f"REGISTER sip:127.0.0.1:{stack.tls_port} SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-plain\r\n"
        "From: <sip:s01@127.0.0.1>;tag=1\r\nTo: <sip:s01@127.0.0.1>\r\n"
        "Call-ID: plain-1\r\nCSeq: 1 REGISTER\r\n"
        "Contact: <sip:s01@127.0.0.1:5999;transport=tcp>\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    answer = b""
    with socket.create_connection(("127.0.0.1", stack.tls_port), timeout=5) as conn:
        conn.sendall(register)
        try:
            while chunk := conn.recv(4096):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass  # the edge said nothing more, or hung up
    # At most a TLS alert: no SIP answer, no challenge (no nonce, no realm).
    assert b"SIP/2.0" not in answer and b"hotline" not in answer
    assert answer == b"" or answer[0] == 0x15  # a TLS alert record
    # The edge is unharmed: a seat still registers over TLS afterwards.
    stack.start_seat("s01", **tls_seat(stack, pki.ca))
