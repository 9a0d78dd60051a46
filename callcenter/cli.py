"""`hotline sip|seat|survey|call`: the call center's processes, started from the command line."""

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import click

from infra.settings import Settings


@click.command()
@click.option("--print-config", is_flag=True, help="只打印生成的 Kamailio 配置")
@click.pass_context
def sip(ctx: click.Context, print_config: bool) -> None:
    """Run the SIP edge: Kamailio with a configuration generated from config.yaml."""
    from callcenter.edge.credentials import acd_secret
    from callcenter.edge.credentials import write_secret_file
    from callcenter.edge.kamailio import edge_from_settings
    from callcenter.edge.kamailio import stop_stale_edges

    settings = ctx.obj
    edge = edge_from_settings(settings.telephony, acd_secret(settings))
    text = edge.config()
    if print_config:
        click.echo(text)
        return
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(kamailio).exists():
        raise click.ClickException(
            "找不到 kamailio（Debian 软件包 kamailio、kamailio-utils-modules）"
        )
    if edge.tls_port:
        _readable(edge.tls_certificate, "telephony.tls_certificate")
        _readable(edge.tls_private_key, "telephony.tls_private_key")
    path = Path(settings.instance_path) / "kamailio.cfg"
    # Workers of a Kamailio whose main process was killed still hold the SIP port.
    for pid in stop_stale_edges(path):
        click.echo(f"stopped a stale kamailio process {pid} of this instance", err=True)
    write_secret_file(path, text)  # it holds the ACD secret
    os.execv(kamailio, [kamailio, "-DD", "-E", "-f", str(path)])


@click.command()
@click.option("--print-command", is_flag=True, help="只打印 rtpengine 的启动命令")
@click.pass_context
def media(ctx: click.Context, print_command: bool) -> None:
    """Run rtpengine: the media relay between browser headsets (WebRTC) and the seats."""
    from callcenter.edge.media import rtpengine_argv
    from callcenter.edge.media import rtpengine_binary

    binary = rtpengine_binary()
    if binary is None:
        raise click.ClickException("找不到 rtpengine（Debian 软件包 rtpengine-daemon）")
    argv = rtpengine_argv(binary, ctx.obj.telephony)
    if print_command:
        click.echo(" ".join(argv))
        return
    os.execv(binary, argv)


def announcer_config(settings: Settings, prefix: str | None = None) -> Any:
    """The announcer's configuration from the settings (`hotline announce`, tests, benches)."""
    from callcenter.acd.keys import DEFAULT_PREFIX
    from callcenter.edge.announcer import AnnouncerConfig
    from callcenter.edge.credentials import acd_secret

    tel = settings.telephony
    return AnnouncerConfig(
        control=tel.announcer,
        media_host=tel.sip_host,
        port_min=tel.announce_port_min,
        port_max=tel.announce_port_max,
        redis_url=settings.redis.url,
        acd_prefix=prefix or DEFAULT_PREFIX,
        acd_secret=acd_secret(settings),
        greeting=tel.queue_greeting,
        goodbye=tel.queue_goodbye,
        announce_seconds=tel.queue_announce_seconds,
        default_handle_seconds=tel.queue_handle_seconds,
        wrap_up_seconds=tel.wrap_up_seconds,
        max_session_seconds=tel.max_wait_seconds + tel.ring_seconds * 3 + 60,
    )


@click.command()
@click.pass_context
def announce(ctx: click.Context) -> None:
    """Run the queue announcer: what waiting callers hear (greeting, place in line, music)."""
    from callcenter.edge.announcer import Announcer

    settings = ctx.obj
    if not settings.telephony.announcer:
        raise click.ClickException("telephony.announcer 为空：排队提示音未启用")
    Announcer(announcer_config(settings)).serve()


def _readable(path: str, setting: str) -> None:
    try:
        Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{setting}：无法读取 {path}（{exc.strerror}）") from exc


TRANSPORT_HELP = (
    "到 SIP 边缘的传输：udp（本机）或 tls（局域网）；默认 telephony.tls_required 时为 tls"
)


def _transport(settings: Settings, transport: str | None) -> dict[str, Any]:
    """A softphone's way to the edge (SeatConfig/SurveyConfig fields) from the option and the
    settings: TLS needs the edge's tls_port and the CA file that issued its certificate."""
    tel = settings.telephony
    chosen = transport or ("tls" if tel.tls_required else "udp")
    if chosen == "udp":
        return {"transport": "udp"}
    if not (tel.tls_port and tel.tls_ca_file):
        raise click.ClickException(
            "--transport tls 需要 telephony.tls_port 与 telephony.tls_ca_file（签发边缘证书的 CA）"
        )
    _readable(tel.tls_ca_file, "telephony.tls_ca_file")
    return {"transport": "tls", "tls_port": tel.tls_port, "tls_ca_file": tel.tls_ca_file}


PASSWORD_FILE_HELP = (
    "SIP 密码文件（系统管理 → 话机账号签发）；未指定时读环境变量 HOTLINE_SIP_PASSWORD，"
    "再读 instance/sip/NAME.password"
)


def _card(wanted: str) -> Any:
    from callcenter.seat.soundcard import SoundCardError
    from callcenter.seat.soundcard import find_device

    try:
        return find_device(wanted)
    except SoundCardError as exc:
        raise click.ClickException(str(exc)) from exc


def _list_devices(ctx: click.Context) -> None:
    from callcenter.seat.soundcard import SoundCardError
    from callcenter.seat.soundcard import devices

    try:
        found = devices()
    except SoundCardError as exc:
        raise click.ClickException(str(exc)) from exc
    if not found:
        click.echo("本机没有找到声卡")
    for d in found:
        usable = "可作坐席耳机" if d.inputs and d.outputs else "不能同时录放音"
        mark = "（默认）" if d.default else ""
        click.echo(
            f"{d.index:>3}  {d.name}{mark}  输入 {d.inputs} 路，输出 {d.outputs} 路，{usable}"
        )
    ctx.exit(0)


def _check_card(wanted: str, echo: bool, seconds: float = 10.0) -> None:
    """`--test-tone` / `--echo-test`: the card alone, no SIP, for `seconds`."""
    from callcenter.seat import soundcard

    if not wanted:
        raise click.ClickException("请用 --audio-device 指定声卡（--list-devices 列出本机声卡）")
    try:
        card = soundcard.Card(_card(wanted))
    except soundcard.SoundCardError as exc:
        raise click.ClickException(str(exc)) from exc
    if echo:
        click.echo(f"回声测试 {seconds:.0f} 秒：对着麦克风说话，半秒后应从听筒听到自己")
        soundcard.echo_test(card, seconds, click.echo)
    else:
        click.echo(f"提示音 {seconds:.0f} 秒：听筒里应有 1 kHz 的嘟声")
        soundcard.test_tone(card, seconds, click.echo)
    click.echo("测试结束")


HELLO_WAIT_SECONDS = 120
SERVER_HELP = (
    "受理系统的网址（如 https://12345.example.lan）：本机是操作员电脑上的坐席话机，"
    "以话机账号密码连接，不直连 Redis"
)


@click.command()
@click.argument("name")
@click.option(
    "--index", type=int, default=1, show_default=True, help="座席序号：SIP 端口为基数加序号"
)
@click.option("--auto-answer", type=float, default=None, help="自动应答延迟（秒），压测与测试用")
@click.option("--password-file", default=None, help=PASSWORD_FILE_HELP)
@click.option("--transport", type=click.Choice(["udp", "tls"]), default=None, help=TRANSPORT_HELP)
@click.option("--server", default=None, help=SERVER_HELP)
@click.option("--ca-file", default="", help="签发服务器 HTTPS 与 SIP 证书的 CA 文件（--server 用）")
@click.option("--audio-device", default="", help="用本机声卡作话务员的麦克风和听筒（名称或序号）")
@click.option(
    "--list-devices", is_flag=True, is_eager=True, expose_value=False,
    callback=lambda ctx, _p, on: _list_devices(ctx) if on else None,
    help="列出本机声卡后退出",
)  # fmt: skip
@click.option(
    "--test-tone", is_flag=True, help="在 --audio-device 上放 1 kHz 提示音并显示麦克风音量"
)
@click.option("--echo-test", is_flag=True, help="回声测试：麦克风的声音半秒后从听筒放出")
@click.pass_context
def seat(
    ctx: click.Context,
    name: str,
    index: int,
    auto_answer: float | None,
    password_file: str | None,
    transport: str | None,
    server: str | None,
    ca_file: str,
    audio_device: str,
    test_tone: bool,
    echo_test: bool,
) -> None:
    """Run one seat softphone (pjsua2), registered to the SIP edge as sip:NAME@host.

    With --server it is a desk seat on an operator's PC: no Redis, no ACD secret; it signs in
    to the web app at that address with its own SIP password (`callcenter.seat.link`). With
    --audio-device the PC's sound card is the operator's microphone and earpiece."""
    from callcenter.seat import SeatConfig
    from callcenter.seat import run_seat

    if test_tone or echo_test:
        _check_card(audio_device, echo_test)
        return
    if audio_device:
        _card(audio_device)  # a wrong name stops here, before anything registers
    settings = ctx.obj
    tel = settings.telephony
    # On the server, a TLS set-up that cannot work is named before any password is looked for.
    way = None if server else _transport(settings, transport)
    password = _sip_password(settings, name, password_file)
    common: dict[str, Any] = {
        "name": name,
        "sip_port": tel.seat_port_base + index,
        "auto_answer_seconds": auto_answer,
        "prompts_dir": str(Path(settings.instance_path) / "prompts"),
        "password": password,
        "audio_device": audio_device,
    }
    if server:
        run_seat(
            SeatConfig(**common, **_desk_seat(settings, name, password, server, ca_file, transport))
        )
        return
    from callcenter.edge.credentials import acd_secret
    from callcenter.records.sync import recordings_root

    run_seat(
        SeatConfig(
            **common,
            edge_host=tel.sip_host,
            edge_port=tel.sip_port,
            redis_url=settings.redis.url,
            acd_url=tel.acd_url,
            recordings_dir=str(recordings_root(settings)),
            acd_secret=acd_secret(settings),
            **(way or {}),
        )
    )


def _desk_seat(
    settings: Settings,
    name: str,
    password: str,
    server: str,
    ca_file: str,
    transport: str | None,
) -> dict[str, Any]:
    """A desk seat's way to the hotline: the edge's address as the app tells it (`hello`)."""
    from callcenter.seat.link import hello

    if not server.startswith(("https://", "http://")):
        raise click.ClickException(
            "--server 须为 https:// 开头的网址（本机测试可用 http://127.0.0.1）"
        )
    if ca_file:
        _readable(ca_file, "--ca-file")
    found = None
    deadline = time.monotonic() + HELLO_WAIT_SECONDS
    while found is None:
        try:
            found = hello(server, name, password, ca_file)
        except PermissionError as exc:
            raise click.ClickException(f"受理系统拒绝了坐席话机 {name}：{exc}") from exc
        except OSError as exc:
            if time.monotonic() > deadline:
                raise click.ClickException(f"无法连接受理系统 {server}：{exc}") from exc
            time.sleep(1)  # the app may still be starting (make demo starts both at once)
    chosen = transport or ("tls" if found["tls_required"] else "udp")
    way: dict[str, Any] = {"transport": chosen}
    if chosen == "tls":
        if not (found["tls_port"] and ca_file):
            raise click.ClickException("TLS 需要边缘开启 tls_port，并用 --ca-file 指定 CA")
        way |= {"tls_port": found["tls_port"], "tls_ca_file": ca_file}
    spool = Path(settings.instance_path) / "seat-spool" / name
    return way | {
        "edge_host": found["sip_host"],
        "edge_port": found["sip_port"],
        "acd_prefix": found["acd_prefix"],
        "server_url": server,
        "server_ca_file": ca_file,
        "recordings_dir": str(spool),
    }


def _sip_password(settings: Settings, name: str, password_file: str | None) -> str:
    from callcenter.edge.credentials import process_password

    try:
        return process_password(settings, name, password_file)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"找不到 {name} 的话机密码：{exc}") from exc


@click.command()
@click.argument("index", type=int, default=1)
@click.option("--password-file", default=None, help=PASSWORD_FILE_HELP)
@click.option("--transport", type=click.Choice(["udp", "tls"]), default=None, help=TRANSPORT_HELP)
@click.pass_context
def survey(
    ctx: click.Context, index: int, password_file: str | None, transport: str | None
) -> None:
    """Run survey process N (自动回访外呼, pjsua2): takes the follow-up calls off Redis."""
    from callcenter.survey import RTP_PORT_BASE
    from callcenter.survey import SurveyConfig
    from callcenter.survey import run_survey
    from dispatch.followup.survey import record_survey_event
    from dispatch.wiring import DispatchServices
    from infra.assembly import build

    settings = ctx.obj
    tel, followup = settings.telephony, settings.followup
    way = _transport(settings, transport)
    password = _sip_password(settings, f"survey{index}", password_file)
    container: DispatchServices = build(settings)

    def report(event: dict[str, Any]) -> None:  # on the survey's reporting thread
        record_survey_event(container.uow(), container.dispatch, followup, event)

    try:
        run_survey(
            SurveyConfig(
                name=f"survey{index}",
                sip_port=followup.survey_port_base + index,
                rtp_port=RTP_PORT_BASE + 100 * index,
                edge_host=tel.sip_host,
                edge_port=tel.sip_port,
                redis_url=settings.redis.url,
                max_calls=followup.survey_calls,
                prompts_dir=str(Path(settings.instance_path) / "prompts"),
                caller_name=tel.number,
                password=password,
                **way,
            ),
            report,
        )
    finally:
        container.close()


CITIZEN_SAYS = "您好，我家小区的电梯坏了三天了，一直没人来修，老人上下楼很不方便。"


def _mulaw_wav(source: Path, target: Path) -> Path:
    """A 16-bit WAV (espeak-ng's) as 8 kHz G.711 µ-law, the RTP payload sipp streams as is."""
    from callcenter.edge.announcer import read_wav_8k
    from callcenter.edge.announcer import ulaw as encode_ulaw

    ulaw = encode_ulaw(read_wav_8k(source))
    header = b"".join(
        (
            b"RIFF", (36 + len(ulaw)).to_bytes(4, "little"), b"WAVEfmt ",
            (16).to_bytes(4, "little"), (7).to_bytes(2, "little"), (1).to_bytes(2, "little"),
            (8000).to_bytes(4, "little"), (8000).to_bytes(4, "little"),
            (1).to_bytes(2, "little"), (8).to_bytes(2, "little"),
            b"data", len(ulaw).to_bytes(4, "little"),
        )
    )  # fmt: skip
    target.write_bytes(header + ulaw)
    return target


@click.command()
@click.option("--from", "caller", default="13912345678", show_default=True, help="主叫号码")
@click.option("--talk", type=float, default=60.0, show_default=True, help="接通后通话秒数")
@click.option("--calls", type=int, default=1, show_default=True, help="呼叫次数")
@click.option("--say", default=CITIZEN_SAYS, show_default=True, help="接通后市民说的话（循环播放）")
@click.option("--silent", is_flag=True, help="接通后不说话")
@click.option("--to", "dialled", default=None, help="被叫号码：默认热线号码，或并入热线的线路号码")
@click.option(
    "--record", "record", default=None, help="把送到市民话机的声音录成 WAV 文件（排队提示音等）"
)
@click.option("--xfer", default="", hidden=True, help="转接令牌（市民话机按转接重新呼入时用）")
@click.pass_context
def call(
    ctx: click.Context,
    caller: str,
    talk: float,
    calls: int,
    say: str,
    silent: bool,
    dialled: str | None,
    record: str | None,
    xfer: str,
) -> None:
    """Place citizen calls to the hotline number with sipp (demo and smoke tests); once
    answered, the citizen speaks (espeak-ng, streamed as G.711 by sipp) until hanging up.
    With --record, the phone's audio is offered at a socket of this process, and what is
    sent to it (the queue's announcements, then the seat's audio) is written to a WAV.
    Transferred (REFER), the phone accepts, reports success and dials the target itself (a
    new `hotline call` in the background, with the transfer's token), as a desk phone does."""
    sipp = shutil.which("sipp")
    if sipp is None:
        raise click.ClickException("找不到 sipp（Debian 软件包 sip-tester）")
    if not caller.isdigit() or len(caller) < 5:
        raise click.ClickException("主叫号码只能是数字")
    tel = ctx.obj.telephony
    dialled = dialled or tel.number
    if not dialled.isdigit() or len(dialled) > 20:
        raise click.ClickException("被叫号码只能是数字")
    if record is not None and calls != 1:
        raise click.ClickException("--record 只用于一次呼叫（--calls 1）")
    from callcenter.acd.transfers import valid_token
    from callcenter.edge.ear import Ear

    if xfer and not valid_token(xfer):
        raise click.ClickException("转接令牌格式不对")
    import tempfile

    source = Path(__file__).resolve().parents[1] / "callcenter" / "sipp" / "caller.xml"
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "caller.xml"
        # the packaged scenario numbers its callers 139<n>; this one calls from `caller`
        text = source.read_text(encoding="utf-8").replace("139[call_number]", caller)
        if not silent and shutil.which("espeak-ng"):
            from callcenter.seat.prompts import speak_wav

            voice = _mulaw_wav(speak_wav(Path(tmp) / "say.wav", say), Path(tmp) / "say.ulaw.wav")
            stream = f'<nop><action><exec rtp_stream="{voice},-1,0"/></action></nop>\n  <pause/>'
            text = text.replace("<pause/>", stream, 1)
        if xfer:  # dialling back in as transferred: the token goes in the request URI
            text = text.replace(
                "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
                f"INVITE sip:[service]@[remote_ip]:[remote_port];xfer={xfer} SIP/2.0",
            )
        follow = _follow_transfers(caller, talk, say, silent, Path(tmp))
        text = text.replace(
            '<recv response="200" rrs="true"/>',
            FOLLOW_STEP + '  <recv response="200" rrs="true"/>',
            1,
        )
        text = text.replace('<label id="busy"/>', follow + '\n  <label id="busy"/>', 1)
        ear = Ear() if record is not None else None
        if ear is not None:
            text = text.replace("m=audio [media_port]", f"m=audio {ear.port}")
            text = text.replace("c=IN IP[media_ip_type] [media_ip]", "c=IN IP4 127.0.0.1")
        scenario.write_text(text, encoding="utf-8")
        argv = [
            sipp, "-sf", str(scenario), f"{tel.sip_host}:{tel.sip_port}", "-s", dialled,
            "-m", str(calls), "-r", "1", "-d", str(int(talk * 1000)),
            "-i", "127.0.0.1", "-nostdin", "-trace_err",
        ]  # fmt: skip
        try:
            code = subprocess.call(argv, cwd=tmp)
        finally:
            if ear is not None and record is not None:
                seconds = _save_wav(ear, Path(record))
                click.echo(f"已录下送到市民话机的声音：{record}（{seconds:.1f} 秒）")
        if (Path(tmp) / "transferred").exists():
            click.echo(f"市民已按转接重新呼入，后台继续通话（日志 {_follow_log(caller)}）")
        raise SystemExit(code)


# A REFER may come any time in the call (the operator's 转接): sipp's global optional step.
FOLLOW_STEP = """<recv request="REFER" optional="global" next="referred">
    <action>
      <ereg regexp="sip:([0-9]+)@" search_in="hdr" header="Refer-To:" assign_to="m1,user"/>
      <ereg regexp="xfer=([A-Za-z0-9_-]+)" search_in="hdr" header="Refer-To:"
            check_it="false" assign_to="m2,token"/>
    </action>
  </recv>
"""


def _follow_log(caller: str) -> Path:
    import tempfile

    return Path(tempfile.gettempdir()) / f"hotline-call-{caller}-transferred.log"


def _follow_transfers(caller: str, talk: float, say: str, silent: bool, tmp: Path) -> str:
    """The scenario's steps once transferred: 202, start the new call (a `hotline call` in
    the background dialling the Refer-To number with its token), NOTIFY 200 (the transfer
    worked: the operator's seat hangs up), answer the seat's BYE."""
    import shlex
    import sys

    again = [sys.executable, "-m", "hotline.cli", "call", "--from", caller, "--talk", str(talk)]
    again += ["--silent"] if silent else ["--say", say]
    command = " ".join(shlex.quote(a) for a in again)
    log = _follow_log(caller)
    # sipp forks `sh -c` for an exec and does not wait; the script outlives this call's
    # temporary folder. Its arguments: the number and token from Refer-To (then the whole
    # matches, which sipp insists are read).
    script = log.with_suffix(".sh")
    script.write_text(
        f"touch {shlex.quote(str(tmp / 'transferred'))}\n"
        f"cd {shlex.quote(os.getcwd())}\n"  # not sipp's folder, gone with this call
        f'exec {command} --to "$1" --xfer="$2" > {shlex.quote(str(log))} 2>&1\n',
        encoding="utf-8",
    )
    shell = f"sh {shlex.quote(str(script))} [$user] [$token] [$m1] [$m2]"
    return f"""<label id="referred"/>
  <send>
    <![CDATA[
      SIP/2.0 202 Accepted
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: sip:citizen@[local_ip]:[local_port]
      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec command="{shell}"/></action></nop>
  <send retrans="500">
    <![CDATA[
      NOTIFY [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "citizen" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 NOTIFY
      Contact: sip:citizen@[local_ip]:[local_port]
      Event: refer
      Subscription-State: terminated;reason=noresource
      Max-Forwards: 70
      Content-Type: message/sipfrag;version=2.0
      Content-Length: [len]

      SIP/2.0 200 OK
    ]]>
  </send>
  <recv response="200"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <nop next="done"/>"""


def _save_wav(ear: Any, path: Path) -> float:
    """What the citizen's phone was sent, as a 16-bit 8 kHz WAV; its length in seconds."""
    import wave

    ear.close()
    samples = ear.audio()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.astype("<i2").tobytes())
    return float(len(samples) / 8000)


COMMANDS = (sip, media, announce, seat, survey, call)
