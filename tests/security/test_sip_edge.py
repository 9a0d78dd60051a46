# ruff: noqa: F811 - the telephony fixtures, imported by name for pytest
"""Issue 17, finding 2 and the `/acd/*` item: attacks on the SIP edge, against real Kamailio.

Each test is the attack itself: a REGISTER without credentials or with a guessed password, a
listening-in INVITE from an authenticated stranger without the app's token or with a forged
one, a question to the ACD without its secret.
"""

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from hotline.bootstrap import Container
from tests.e2e.conftest import db_url  # noqa: F401 - SQLite, as the telephony tests
from tests.e2e.conftest import engine  # noqa: F401
from tests.e2e.conftest import live_server  # noqa: F401
from tests.telephony.conftest import SIPP
from tests.telephony.conftest import Stack
from tests.telephony.conftest import acd_url  # noqa: F401
from tests.telephony.conftest import free_udp_port
from tests.telephony.conftest import stack  # noqa: F401
from tests.telephony.conftest import wait_for
from tests.telephony.test_features import CITIZEN_HZ
from tests.telephony.test_features import Hall
from tests.telephony.test_features import recordings
from tests.telephony.test_features import tone_level

HERE = Path(__file__).parent
pytestmark = [pytest.mark.slow, pytest.mark.redis]


def _sipp(stack: Stack, scenario: str, *extra: str) -> "subprocess.CompletedProcess[str]":
    argv = [
        SIPP, "-sf", str(HERE / scenario), f"127.0.0.1:{stack.port}", "-s", "s01",
        "-m", "1", "-i", "127.0.0.1", "-p", str(free_udp_port()),
        "-nostdin", "-timeout", "10s", "-timeout_error", *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=stack.tmp)


def test_register_without_credentials_is_challenged(stack: Stack) -> None:
    stack.start_edge()
    result = _sipp(stack, "sip_register_no_auth.xml")
    assert result.returncode == 0, result.stdout[-2000:]


def test_register_with_a_wrong_password_is_refused(stack: Stack) -> None:
    stack.start_edge()
    stack.password("s01")  # the seat exists; the attacker guesses its password
    result = _sipp(stack, "sip_register_wrong_password.xml", "-au", "s01", "-ap", "guess1234")
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.parametrize("token", ["", "forged-token-AAAAAAAAAAAAAAAAAAAAAAAA"])
def test_an_authenticated_stranger_cannot_listen_in_without_the_apps_token(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path, token: str
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    folders = hall.open("mallory")  # a phone of ours with valid credentials, not a supervisor
    call_id = hall.citizen_calls()
    # The attack: its softphone sends X-Hotline-Spy: monitor straight to s01, no app involved.
    real_redis.publish(
        f"{hall.prefix}seatcmd:mallory",
        f'{{"action": "spy", "seat": "s01", "mode": "monitor", "token": "{token}"}}',
    )
    wait_for(lambda: "event spy_failed" in stack.log("mallory"), 15, "the refusal")
    time.sleep(1)
    hall.citizen_hangs_up(call_id)
    assert "spy_in media up" not in stack.log("s01")
    assert "listening in" in stack.log("s01") and "refused" in stack.log("s01")
    heard = [f for f in recordings(folders["mallory"]) if tone_level(f, CITIZEN_HZ) > 50]
    assert heard == []  # never mixed into the call


def test_the_acd_refuses_a_local_client_without_the_secret(app: Any) -> None:
    # A reverse proxy on the same host makes every visitor a loopback client.
    anyone = app.test_client()
    assert anyone.get("/acd/route?call_id=x&from=13800138000").status_code == 403
    assert anyone.get("/acd/sip_ha1?user=s01").status_code == 403
    wrong = anyone.get("/acd/route?call_id=x", headers={"X-Hotline-Acd-Secret": "guess"})
    assert wrong.status_code == 403


def test_register_while_the_app_is_away_is_asked_to_retry_not_refused(
    tmp_path: Path, container: Container
) -> None:
    """The app down or still starting is no verdict on a password: 503 with Retry-After,
    which softphones retry within seconds (a 403 kept the demo's seats away for 5 min)."""
    away = free_udp_port()  # nothing listens there over TCP either, in practice
    stack = Stack(tmp_path, f"http://127.0.0.1:{away}/acd", container)
    try:
        stack.start_edge()
        result = _sipp(stack, "sip_register_app_away.xml", "-au", "s01", "-ap", "any-password-1")
        assert result.returncode == 0, result.stdout[-2000:]
    finally:
        stack.stop()
