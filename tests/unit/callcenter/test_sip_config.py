"""The SIP edge's generated Kamailio configuration (UDP, and TLS for seats on a LAN) and the
seat's small helpers."""

import shutil
import subprocess
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest

from callcenter.edge.kamailio import SipEdge
from callcenter.edge.kamailio import edge_from_settings
from callcenter.seat import SeatConfig
from callcenter.seat import local_address
from callcenter.seat import prompt_text
from callcenter.seat import reach_edge
from callcenter.seat import recording_name
from callcenter.seat import staff_number
from callcenter.seat import write_tone
from callcenter.survey import SurveyConfig
from infra.settings import Settings


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


# ---------------------------------------------------------------- TLS for seats on a LAN


def _tls_edge(**more: object) -> SipEdge:
    return SipEdge(
        port=5060,
        tls_port=5061,
        tls_certificate="/etc/hotline/tls/edge.crt",
        tls_private_key="/etc/hotline/tls/edge.key",
        **more,  # type: ignore[arg-type]
    )


def test_without_tls_the_edge_speaks_udp_only() -> None:
    text = SipEdge().config()
    assert "disable_tcp=yes" in text
    for tls in ("enable_tls", "listen=tls", "tls.so", "proto != TLS", "tcp_"):
        assert tls not in text


def test_tls_adds_a_listener_and_the_module_and_keeps_seats_connections() -> None:
    text = _tls_edge().config()
    assert "disable_tcp=yes" not in text and "enable_tls=yes" in text
    assert "listen=udp:127.0.0.1:5060\n" in text  # citizens and the gateway stay on UDP
    assert 'listen=tls:127.0.0.1:5061\nalias="127.0.0.1:5061"' in text
    # loaded before anything else that links OpenSSL (libcurl of http_client)
    assert text.index('loadmodule "tls.so"') < text.index('loadmodule "kex.so"')
    assert 'modparam("tls", "tls_method", "TLSv1.2+")' in text
    assert 'modparam("tls", "certificate", "/etc/hotline/tls/edge.crt")' in text
    assert 'modparam("tls", "private_key", "/etc/hotline/tls/edge.key")' in text
    # A seat is reached only through the connection it registered over, which must outlive
    # its registration; the edge never dials a TLS connection to an address a Contact names.
    assert "tcp_no_connect=yes" in text
    lifetime = int(text.split("tcp_connection_lifetime=")[1].split("\n")[0])
    assert lifetime > int(text.split('"max_expires", ')[1].split(")")[0])
    assert "proto != TLS" not in text  # UDP agents still welcome unless tls_required


def test_tls_required_refuses_our_agents_in_clear_before_any_challenge() -> None:
    text = _tls_edge(tls_required=True).config()
    auth = text.split("route[AUTH] {")[1]
    gate = auth.index("if (proto != TLS)")
    assert gate < auth.index("www_challenge") and gate < auth.index("http_client_query")
    assert 'sl_send_reply("403", "TLS Required");' in auth[gate : auth.index("www_challenge")]
    # citizens' calls to the hotline number never pass route(AUTH): they stay on UDP
    citizens = 'if (is_method("INVITE") && ($rU == "12345" || $avp(line_call) == 1)) {'
    hotline = text.split(citizens)[1].split("\n    }\n")[0]
    assert "route(QUEUE);" in hotline and "exit;" in hotline and "AUTH" not in hotline


def test_tls_changes_nothing_else_in_the_routing() -> None:
    from callcenter.edge.kamailio import TLS_CORE
    from callcenter.edge.kamailio import TLS_GATE
    from callcenter.edge.kamailio import TLS_MODULE

    edge = _tls_edge(tls_required=True)
    text = edge.config()
    for part in (
        TLS_MODULE.format(certificate=edge.tls_certificate, private_key=edge.tls_private_key),
        TLS_GATE,
        '\nlisten=tls:127.0.0.1:5061\nalias="127.0.0.1:5061"',
    ):
        text = text.replace(part, "", 1)
    assert text.replace(TLS_CORE, "disable_tcp=yes") == SipEdge(port=5060).config()


def _tls_module_installed() -> bool:
    return (
        any(Path("/usr/lib").glob("*/kamailio/modules/tls.so"))
        or Path("/usr/lib/kamailio/modules/tls.so").exists()
    )


@pytest.mark.skipif(
    not (shutil.which("kamailio") and shutil.which("openssl") and _tls_module_installed()),
    reason="kamailio, its tls module (kamailio-tls-modules) or openssl is not installed",
)
def test_kamailio_accepts_the_generated_tls_configuration(tmp_path: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", "edge.key", "-out", "edge.crt", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        cwd=tmp_path, check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    edge = SipEdge(
        port=5999,
        tls_port=5998,
        tls_certificate=str(tmp_path / "edge.crt"),
        tls_private_key=str(tmp_path / "edge.key"),
        tls_required=True,
    )
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(edge.config(), encoding="utf-8")
    result = subprocess.run(
        ["kamailio", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_softphone_over_tls_needs_the_edges_tls_port_and_the_ca() -> None:
    assert SeatConfig("s01", 5071).transport == "udp"
    ok = SeatConfig("s01", 5071, transport="tls", tls_port=5061, tls_ca_file="/x/ca.crt")
    assert ok.tls_port == 5061
    with pytest.raises(ValueError, match="tls_ca_file"):
        SeatConfig("s01", 5071, transport="tls", tls_port=5061)
    with pytest.raises(ValueError, match="tls_port"):
        SurveyConfig("survey1", 5171, transport="tls", tls_ca_file="/x/ca.crt")
    with pytest.raises(ValueError, match="udp or tls"):
        SeatConfig("s01", 5071, transport="tcp")


def test_over_tls_the_edge_is_registrar_and_outbound_proxy() -> None:
    udp = SimpleNamespace(regConfig=SimpleNamespace(), sipConfig=SimpleNamespace(proxies=[]))
    reach_edge(udp, "10.0.0.2", 5060, None)
    assert (udp.regConfig.registrarUri, udp.sipConfig.proxies) == ("sip:10.0.0.2:5060", [])
    tls = SimpleNamespace(regConfig=SimpleNamespace(), sipConfig=SimpleNamespace(proxies=[]))
    reach_edge(tls, "10.0.0.2", 5060, 5061)
    assert tls.regConfig.registrarUri == "sip:10.0.0.2:5061;transport=tls"
    # every request (calls too) goes to the edge over TLS, whatever its request URI
    assert tls.sipConfig.proxies == ["sip:10.0.0.2:5061;transport=tls;lr"]


def test_a_softphone_binds_to_its_address_on_the_way_to_the_edge() -> None:
    assert local_address("127.0.0.1") == "127.0.0.1"  # the demo and the tests: loopback


def test_headsets_change_nothing_else_in_the_routing() -> None:
    from callcenter.edge.kamailio import TCP_CORE

    edge = SipEdge(port=5060, ws_port=5066)
    text = edge.config()
    parts = edge._ws_parts()
    for name in ("ws_modules", "ws_gate", "ws_in_dialog", "ws_call", "ws_routes", "ws_auth_gate"):
        assert parts[name] and parts[name] in text
        text = text.replace(parts[name], "", 1)
    text = text.replace("\nlisten=tcp:127.0.0.1:5066", "", 1)
    assert text.replace(TCP_CORE, "disable_tcp=yes") == SipEdge(port=5060).config()


def test_a_headset_only_answers_its_own_seat_and_its_name_only_works_on_the_websocket() -> None:
    text = SipEdge(ws_port=5066).config()
    gate = text.split("if (proto == WS || proto == WSS) {")[1].split("\n    }\n")[0]
    # anything but a REGISTER or a reply inside its call is refused before any routing
    assert '!has_totag() && !is_method("ACK|CANCEL")' in gate
    assert 'sl_send_reply("403", "Headsets Only Answer");' in gate
    assert text.index("Headsets Only Answer") < text.index("route(AUTH);")
    call = text.split('if (is_method("INVITE") && $rU =~ "^hs-") {')[1].split("\n    }\n")[0]
    assert '$var(own) = "hs-" + $fU;' in call and '"403", "Not Your Headset"' in call
    assert call.index("Not Your Headset") < call.index("t_relay();")
    # the seat's call to it passes AUTH first: only seat S (signed in as S) calls hs-S
    assert text.index("route(AUTH);") < text.index('$rU =~ "^hs-"')
    auth = text.split("route[AUTH] {")[1].split("\n}\n")[0]
    assert '$au =~ "^hs-" && proto != WS && proto != WSS' in auth
    assert auth.index('$au =~ "^hs-"') < auth.index("consume_credentials();")


@pytest.mark.skipif(not shutil.which("kamailio"), reason="kamailio is not installed")
def test_kamailio_accepts_the_generated_headset_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(SipEdge(port=15060, ws_port=15066, acd_secret="s" * 32).config())
    done = subprocess.run(
        ["kamailio", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_callers_back_from_the_gateway_reach_listed_numbers_and_the_directory_only() -> None:
    text = SipEdge(gateway="10.0.0.5:5060", acd_secret="s" * 32).config()
    gate = text.split('if (is_method("INVITE") && $si == "10.0.0.5"')[1].split("\n    }\n")[0]
    # without credentials only: a listed number, else the app's word on the directory
    assert '!is_present_hf("Proxy-Authorization")' in text.split('$si == "10.0.0.5"')[1][:60]
    assert "/acd/transfer_target?number=$(rU{s.escape.param})" in gate
    assert 'if ($var(tt) != "ok") { route(AUTH); }' in gate
    # every other request from the gateway, and everyone else, is challenged as before
    assert text.count("route(AUTH);") == SipEdge().config().count("route(AUTH);") + 1
