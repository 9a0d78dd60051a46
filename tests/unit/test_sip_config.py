"""The SIP edge's generated Kamailio configuration and the seat's small helpers."""

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from callcenter.seat import prompt_text
from callcenter.seat import recording_name
from callcenter.seat import staff_number
from callcenter.seat import write_tone
from callcenter.sip import SipEdge
from callcenter.sip import edge_from_settings
from hotline.settings import Settings


def test_transfer_numbers_leave_through_the_gateway_or_the_registrar() -> None:
    settings = Settings()
    edge = edge_from_settings(settings.telephony, "s" * 32)
    assert edge.transfer_targets == ("110", "119", "120", "122")
    text = edge.config()
    assert '$rU =~ "^(110|119|120|122)$"' in text
    # no gateway: the target is a phone registered at the edge
    block = text.split('$rU =~ "^(110|119|120|122)$"')[1].split("exit;\n    }")[0]
    assert "$du" not in block and 'lookup("location")' in block
    via_gateway = SipEdge(transfer_targets=("12315",), gateway="10.0.0.5:5060").config()
    assert '$du = "sip:10.0.0.5:5060"; t_relay(); exit;' in via_gateway
    assert '"^(12315)$"' in via_gateway


def test_the_edge_keeps_hotline_calls_alive_and_authenticates_our_agents() -> None:
    text = SipEdge(keepalive_seconds=45).config()
    assert 'modparam("dialog", "ka_interval", 45)' in text
    assert 'dlg_set_property("ka-dst")' in text
    # every request but a citizen's call to the hotline number is authenticated
    assert 'pv_www_authenticate("hotline", "$var(ha1)", "1")' in text
    assert text.index('route(AUTH);\n    if (is_method("INVITE") && $rU =~') > text.index(
        "route(QUEUE);"
    )
    assert 'registered("location", "$fu")' not in text
    assert "event_route[tm:local-request]" in text and "by=lost" in text


@pytest.mark.skipif(not shutil.which("kamailio"), reason="kamailio is not installed")
def test_kamailio_accepts_the_generated_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(SipEdge(port=5999, gateway="127.0.0.1:5098").config(), encoding="utf-8")
    result = subprocess.run(
        ["kamailio", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_operator_id_prompt_speaks_the_agents_number_digit_by_digit() -> None:
    assert staff_number("u7") == "0007"
    assert staff_number("u12345") == "12345"
    assert staff_number("agent") == ""
    assert prompt_text("0107") == "您好，零一零七号话务员为您服务。"


def test_recordings_are_filed_by_day_under_a_safe_name(tmp_path: Path) -> None:
    name = recording_name("a/b@../c d", 1_795_000_000)
    assert name.startswith("2026") and name.endswith(".wav")
    day, file = name.split("/")
    assert file == "a_b_.._c_d.wav" and day.isdigit()  # one level, no separator inside
    tone = write_tone(tmp_path / "t.wav", [440.0, 880.0], 0.25)
    with wave.open(str(tone)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getnframes()) == (1, 2, 4000)
