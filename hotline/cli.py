"""The `hotline` command: demo, web, worker, users, database and settings."""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from hotline.config import load_app_settings
from infra.settings import Settings
from infra.settings import SettingsError
from infra.settings import redacted
from kernel.errors import ValidationError
from kernel.roles import Role

log = logging.getLogger(__name__)
QUEUES = ("dispatch", "notify", "kb", "reports", "default")


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="配置文件 (默认 HOTLINE_CONFIG 或 ./config.yaml)",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """12345 政务服务便民热线."""
    try:
        ctx.obj = load_app_settings(Path(config_path) if config_path else None)
    except SettingsError as exc:
        raise click.ClickException(f"配置错误: {exc}") from exc
    from infra.logs import configure_logging

    configure_logging(ctx.obj.log_level)


def main() -> None:
    cli(prog_name="hotline")


def _add_package_commands() -> None:
    from kb.cli import kb_group
    from reports.cli import report_group

    cli.add_command(kb_group)
    cli.add_command(report_group)


_add_package_commands()


# ---------------------------------------------------------------- config, db


@cli.group()
def config() -> None:
    """Settings."""


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective settings with secrets hidden."""
    click.echo(json.dumps(redacted(_settings(ctx)), ensure_ascii=False, indent=2))


@cli.group()
def db() -> None:
    """Database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the Alembic migrations."""
    from infra.migrate import upgrade

    upgrade(_settings(ctx).database.url, revision)
    click.echo(f"database at {revision}")


# ---------------------------------------------------------------- users


@cli.group()
def user() -> None:
    """Users and API tokens."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--unit", "unit_code", help="单位代码（联络员必填）")
@click.option("--name", "display_name", default="")
@click.password_option(prompt="密码", confirmation_prompt=True)
@click.pass_context
def user_create(
    ctx: click.Context,
    username: str,
    role: str,
    unit_code: str | None,
    display_name: str,
    password: str,
) -> None:
    """Create a user with a hashed password."""
    from hotline.bootstrap import bootstrap
    from infra.auth import NewUser
    from infra.auth import create_user

    container = bootstrap(_settings(ctx))
    try:
        with container.uow() as uow:
            try:
                created = create_user(
                    uow.session, NewUser(username, password, Role(role), display_name, unit_code)
                )
            except ValidationError as exc:
                problems = "; ".join(f"{k}: {v}" for k, v in exc.field_errors.items())
                raise click.ClickException(f"{exc.message}: {problems}") from exc
            uow.commit()
            click.echo(f"created user {created.username} ({created.role.value}) id={created.id}")
    finally:
        container.close()


@user.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="令牌用途说明")
@click.pass_context
def user_token(ctx: click.Context, username: str, name: str) -> None:
    """Issue an API token (printed once; only its hash is stored)."""
    import sqlalchemy as sa

    from hotline.bootstrap import bootstrap
    from infra.auth import issue_token
    from infra.models import User

    container = bootstrap(_settings(ctx))
    try:
        with container.uow() as uow:
            found = uow.session.scalar(sa.select(User).where(User.username == username))
            if found is None or not found.active:
                raise click.ClickException(f"用户不存在或已停用: {username}")
            token = issue_token(uow.session, found, name)
            uow.commit()
    finally:
        container.close()
    click.echo(token)


# ---------------------------------------------------------------- routing


@cli.group("dispatch")
def dispatch_group() -> None:
    """Ticket routing: train and evaluate the classifier."""


@dispatch_group.command("train")
@click.pass_context
def dispatch_train(ctx: click.Context) -> None:
    """Retrain the routing models from the hotline's decisions (as the scheduled job does).

    Prints one JSON object; the new version goes live only if it scores at least as well on
    the held-back slice as the live one.
    """
    from dispatch.routing.learning import retrain
    from hotline.bootstrap import bootstrap

    container = bootstrap(_settings(ctx))
    try:
        result = retrain(container.uow(), trigger="cli")
    finally:
        container.close()
    click.echo(
        json.dumps(
            {
                "version": result.version,
                "status": result.status,
                "note": result.note,
                "n_examples": result.n_examples,
                "n_holdout": result.n_holdout,
                "train_seconds": result.train_seconds,
                "scores": result.scores,
            },
            ensure_ascii=False,
        )
    )


@dispatch_group.command("evaluate")
@click.option("--train", "train_path", required=True, type=click.Path(dir_okay=False))
@click.option("--test", "test_path", required=True, type=click.Path(dir_okay=False))
@click.option("--fields", type=click.Choice(["title", "text", "title+text"]), default="title+text")
def dispatch_evaluate(train_path: str, test_path: str, fields: str) -> None:
    """Train a fresh classifier on a labelled TSV (id, label, title, text) and score it on another.

    The last line printed is one JSON object: accuracy, macro_f1, top3_accuracy,
    per_label_f1, train_seconds, predict_p50_ms, predict_p99_ms.
    """
    from dispatch.routing.classifier import DataError
    from dispatch.routing.classifier import evaluate
    from dispatch.routing.classifier import read_labelled_tsv

    try:
        train_docs, train_labels = read_labelled_tsv(train_path)
        test_docs, test_labels = read_labelled_tsv(test_path)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    if len(set(train_labels)) < 2:
        raise click.ClickException(f"{train_path}: need at least two labels to train")
    click.echo(f"training on {len(train_docs)} rows, testing on {len(test_docs)} ...", err=True)
    result = evaluate(train_docs, train_labels, test_docs, test_labels, fields=fields)  # type: ignore[arg-type]
    click.echo(json.dumps(result, ensure_ascii=False))


# ---------------------------------------------------------------- follow-up (回访)


@cli.group("followup")
def followup_group() -> None:
    """Automated follow-up (自动回访): run the sweep, simulate the SMS gateway."""


@followup_group.command("sweep")
@click.pass_context
def followup_sweep(ctx: click.Context) -> None:
    """Move automated follow-ups along once, as `hotline cron` does; print the result (JSON).

    Survey calls go on the Redis list of the survey processes, SMS to the SMS channel.
    """
    from dispatch.jobs import sweep_followup

    config_path = ctx.find_root().params.get("config_path")
    if config_path:  # the job reads its settings as a worker does: point it at this file
        os.environ["HOTLINE_CONFIG"] = str(Path(config_path).resolve())
    click.echo(json.dumps(sweep_followup(), ensure_ascii=False))


@followup_group.command("sms-reply")
@click.argument("phone")
@click.argument("text")
@click.pass_context
def followup_sms_reply(ctx: click.Context, phone: str, text: str) -> None:
    """Take a citizen's SMS reply to the survey, as the gateway's callback would (JSON)."""
    from dispatch.followup.survey import record_sms_reply
    from hotline.bootstrap import bootstrap
    from infra.jobs import emitter as _emitter

    settings = _settings(ctx)
    container = bootstrap(settings)
    try:
        container.dispatch.publish = _emitter(settings)
        result = record_sms_reply(
            container.uow(), container.dispatch, settings.followup, phone, text
        )
    finally:
        container.close()
    click.echo(json.dumps(result, ensure_ascii=False))


# ---------------------------------------------------------------- processes


@cli.command()
@click.option("--host")
@click.option("--port", type=int)
@click.option("--workers", type=int, help="进程数；Socket.IO 需要粘性会话时保持 1")
@click.option("--threads", type=int)
@click.pass_context
def web(
    ctx: click.Context, host: str | None, port: int | None, workers: int | None, threads: int | None
) -> None:
    """Serve the web app and API with gunicorn (threaded workers)."""
    settings = _settings(ctx)
    s = settings.web
    serve(
        host or s.host,
        port or s.port,
        workers or s.workers,
        threads or s.threads,
        control_socket(settings.instance_path),
    )


def control_socket(instance_path: str) -> Path:
    """Where this instance's gunicorn keeps its control socket (for `gunicornc -s PATH`).

    gunicorn (25.1+) defaults to one path per user, `$XDG_RUNTIME_DIR/gunicorn.ctl` or
    `~/.gunicorn/gunicorn.ctl`: a second instance on the machine would take it over and
    delete it on exit, leaving the first one unreachable. Each instance folder gets its own.
    """
    run = Path(instance_path).resolve() / "run"
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    return run / "gunicorn.ctl"


def serve(host: str, port: int, workers: int, threads: int, ctl: Path) -> None:
    from gunicorn.app.base import BaseApplication

    from hotline.app import create_app

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", None)
            self.cfg.set("graceful_timeout", 5)
            # A path of 108 bytes or more cannot be bound: gunicorn then logs a warning
            # and runs without its control socket.
            self.cfg.set("control_socket", str(ctl))

        def load(self) -> Any:
            return create_app()

    _App().run()


@cli.command()
@click.option("--burst", is_flag=True, help="处理完队列后退出")
@click.pass_context
def worker(ctx: click.Context, burst: bool) -> None:
    """Run an rq worker (with scheduler) on the hotline's queues."""
    import redis
    from rq import Queue
    from rq import Worker
    from sqlalchemy.orm import configure_mappers

    from hotline.tables import load_all
    from infra.lifeline import keep_running
    from infra.worker import rescue_abandoned

    # Preload before rq forks work horses, so each job does not pay for it (rq docs).
    load_all()
    configure_mappers()
    url = _settings(ctx).redis.url

    def work() -> None:
        # A new Worker each time: after an outage the old one's registration is stale.
        conn = redis.Redis.from_url(url)
        queues = [Queue(name, connection=conn) for name in QUEUES]
        rescue_abandoned(conn, queues)  # a worker killed before this one: its jobs run again
        # Abandoned jobs (a killed work horse) are looked for every 30 s, not every 10 min.
        # worker_ttl 60: a heartbeat at least every 45 s, which /healthz reads as alive.
        Worker(queues, connection=conn, maintenance_interval=30, worker_ttl=60).work(
            with_scheduler=True, burst=burst
        )

    keep_running("worker", work)  # a Redis outage restarts the loop, never ends the worker


@cli.command()
@click.option("--print-config", is_flag=True, help="只打印生成的 Kamailio 配置")
@click.pass_context
def sip(ctx: click.Context, print_config: bool) -> None:
    """Run the SIP edge: Kamailio with a configuration generated from config.yaml."""
    from callcenter.edge.credentials import acd_secret
    from callcenter.edge.credentials import write_secret_file
    from callcenter.edge.kamailio import edge_from_settings
    from callcenter.edge.kamailio import stop_stale_edges

    settings = _settings(ctx)
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


@cli.command()
@click.argument("name")
@click.option(
    "--index", type=int, default=1, show_default=True, help="座席序号：SIP 端口为基数加序号"
)
@click.option("--auto-answer", type=float, default=None, help="自动应答延迟（秒），压测与测试用")
@click.option("--password-file", default=None, help=PASSWORD_FILE_HELP)
@click.option("--transport", type=click.Choice(["udp", "tls"]), default=None, help=TRANSPORT_HELP)
@click.pass_context
def seat(
    ctx: click.Context,
    name: str,
    index: int,
    auto_answer: float | None,
    password_file: str | None,
    transport: str | None,
) -> None:
    """Run one seat softphone (pjsua2), registered to the SIP edge as sip:NAME@host."""
    from callcenter.edge.credentials import acd_secret
    from callcenter.records.sync import recordings_root
    from callcenter.seat import SeatConfig
    from callcenter.seat import run_seat

    settings = _settings(ctx)
    tel = settings.telephony
    way = _transport(settings, transport)
    password = _sip_password(settings, name, password_file)
    run_seat(
        SeatConfig(
            name=name,
            sip_port=tel.seat_port_base + index,
            edge_host=tel.sip_host,
            edge_port=tel.sip_port,
            auto_answer_seconds=auto_answer,
            redis_url=settings.redis.url,
            acd_url=tel.acd_url,
            recordings_dir=str(recordings_root(settings)),
            prompts_dir=str(Path(settings.instance_path) / "prompts"),
            password=password,
            acd_secret=acd_secret(settings),
            **way,
        )
    )


def _sip_password(settings: Settings, name: str, password_file: str | None) -> str:
    from callcenter.edge.credentials import process_password

    try:
        return process_password(settings, name, password_file)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"找不到 {name} 的话机密码：{exc}") from exc


@cli.command()
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
    from hotline.bootstrap import bootstrap

    settings = _settings(ctx)
    tel, followup = settings.telephony, settings.followup
    way = _transport(settings, transport)
    password = _sip_password(settings, f"survey{index}", password_file)
    container = bootstrap(settings)

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


@cli.command()
@click.pass_context
def cron(ctx: click.Context) -> None:
    """Enqueue the periodic jobs on time (routing retraining); `hotline worker` runs them."""
    import redis

    from hotline.jobs import schedule
    from infra.lifeline import keep_running

    settings = _settings(ctx)

    def run() -> None:
        schedule(settings, redis.Redis.from_url(settings.redis.url)).start()

    keep_running("cron", run)  # a Redis outage restarts the schedule, never ends it


# ---------------------------------------------------------------- demo


@cli.command()
@click.option("--reset", is_flag=True, help="删除并重建演示数据库")
@click.option("--no-serve", is_flag=True, help="只准备数据，不启动服务")
@click.option("--auto-answer", type=float, default=None, help="演示座席自动应答延迟（秒），压测用")
@click.pass_context
def demo(ctx: click.Context, reset: bool, no_serve: bool, auto_answer: float | None) -> None:
    """Start the whole system on this machine with demo data."""
    from hotline.bootstrap import bootstrap
    from hotline.demo import DEMO_API_KEY
    from hotline.demo import DEMO_PASSWORD
    from hotline.demo import demo_logins
    from hotline.demo import load_demo
    from infra.migrate import upgrade

    settings = _settings(ctx)
    if reset:
        _reset_sqlite(settings)
    upgrade(settings.database.url)
    container = bootstrap(settings)
    click.echo("loading demo data (first run takes about 20 seconds) ...")
    try:
        counts = load_demo(container)
        if counts.get("tickets"):
            from dispatch.routing.learning import retrain

            click.echo("training the routing model on the demo tickets ...")
            trained = retrain(container.uow(), trigger="demo")
            click.echo(f"routing model v{trained.version}: {trained.note}")
        logins = demo_logins(container)
    finally:
        container.close()
    if counts.get("tickets"):
        click.echo(f"loaded {counts}")
    redis_proc = _ensure_redis(settings.redis.url)
    children: list[subprocess.Popen[bytes]] = [redis_proc] if redis_proc else []
    url = f"http://{settings.web.host}:{settings.web.port}/"
    click.echo("")
    click.echo(f"  12345 热线演示已就绪: {url}")
    click.echo(f"  API 文档: {url}api/openapi.json   健康检查: {url}healthz")
    click.echo(f"  所有演示账号的密码: {DEMO_PASSWORD}")
    for username, role, unit in logins[:8]:
        click.echo(f"    {username:<22} {role:<11} {unit}")
    click.echo("    ... 以及每个承办单位的联络员 liaison-<单位代码>，例如 liaison-zjj（住建局）")
    click.echo(f"  市民网上诉求（无需登录）: {url}intake")
    click.echo(f"  Open311 接口: {url}open311/v2/services.json   演示 api_key: {DEMO_API_KEY}")
    click.echo("")
    if no_serve:
        for proc in children:
            proc.terminate()
        return
    from infra.lifeline import Keeper

    # This process only watches: every process of the demo, the web app too, is its child
    # and is started again when it dies (a gunicorn master here would reap the others'
    # exit statuses). The Redis the demo started is stopped last.
    keeper = Keeper()
    hotline_cmd = [sys.executable, "-m", "hotline.cli"]
    keeper.start("web", [*hotline_cmd, "web"])
    keeper.start("worker", [*hotline_cmd, "worker"])
    keeper.start("cron", [*hotline_cmd, "cron"])
    for name, argv in _telephony_commands(settings, hotline_cmd, auto_answer):
        keeper.start(name, argv)
    signal.signal(signal.SIGTERM, _interrupt)  # stopped like Ctrl-C
    try:
        keeper.watch()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("  正在停止演示……")
    finally:
        keeper.stop()
        for proc in children:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


DEMO_SEATS = ("s01", "s02", "s03", "s04")


def _provision_demo_agents(settings: Settings) -> None:
    """SIP passwords for the processes the demo starts itself, in instance/sip (0600)."""
    from callcenter.edge.credentials import password_path
    from callcenter.edge.credentials import provision
    from hotline.bootstrap import bootstrap

    agents = [(name, "seat") for name in DEMO_SEATS] + [("survey1", "survey")]
    container = bootstrap(settings)
    try:
        for name, kind in agents:
            path = password_path(settings, name)
            realm = settings.telephony.sip_realm
            if provision(container.uow(), name, kind, realm, path, note="演示自动签发"):
                click.echo(f"  话机账号 {name}: 已签发新密码（{path}）")
    finally:
        container.close()


def _telephony_commands(
    settings: Settings, hotline_cmd: list[str], auto_answer: float | None = None
) -> list[tuple[str, list[str]]]:
    """The SIP edge and the demo seats' softphones, when Kamailio is installed (answering
    by themselves after `auto_answer` seconds when given: the chaos bench)."""
    tel = settings.telephony
    if not (shutil.which("kamailio") or Path("/usr/sbin/kamailio").exists()):
        click.echo("  （未安装 kamailio：电话功能未启动）", err=True)
        return []
    _provision_demo_agents(settings)
    procs = [("sip", [*hotline_cmd, "sip"])]
    for index, name in enumerate(DEMO_SEATS, start=1):
        argv = [*hotline_cmd, "seat", name, "--index", str(index)]
        if auto_answer is not None:
            argv += ["--auto-answer", str(auto_answer)]
        procs.append((f"seat {name}", argv))
    click.echo(
        f"  电话: SIP 边缘 sip:{tel.number}@{tel.sip_host}:{tel.sip_port}，"
        f"坐席话机 {'、'.join(DEMO_SEATS)}（在受理工作台签入坐席号）"
    )
    click.echo("  模拟市民来电: .venv/bin/hotline call --from 13912345678")
    if settings.followup.enabled and settings.followup.channel == "voice":
        procs.append(("survey 1", [*hotline_cmd, "survey", "1"]))
        hours = settings.followup.call_hours
        click.echo(f"  自动回访外呼: hotline survey 1（待回访工单在 {hours} 之间自动拨打）")
    return procs


@cli.command()
@click.option("--from", "caller", default="13912345678", show_default=True, help="主叫号码")
@click.option("--talk", type=float, default=60.0, show_default=True, help="接通后通话秒数")
@click.option("--calls", type=int, default=1, show_default=True, help="呼叫次数")
@click.pass_context
def call(ctx: click.Context, caller: str, talk: float, calls: int) -> None:
    """Place citizen calls to the hotline number with sipp (demo and smoke tests)."""
    sipp = shutil.which("sipp")
    if sipp is None:
        raise click.ClickException("找不到 sipp（Debian 软件包 sip-tester）")
    if not caller.isdigit() or len(caller) < 5:
        raise click.ClickException("主叫号码只能是数字")
    tel = _settings(ctx).telephony
    import tempfile

    source = Path(__file__).resolve().parents[1] / "callcenter" / "sipp" / "caller.xml"
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "caller.xml"
        # the packaged scenario numbers its callers 139<n>; this one calls from `caller`
        text = source.read_text(encoding="utf-8").replace("139[call_number]", caller)
        scenario.write_text(text, encoding="utf-8")
        argv = [
            sipp, "-sf", str(scenario), f"{tel.sip_host}:{tel.sip_port}", "-s", tel.number,
            "-m", str(calls), "-r", "1", "-d", str(int(talk * 1000)),
            "-i", "127.0.0.1", "-nostdin", "-trace_err",
        ]  # fmt: skip
        raise SystemExit(subprocess.call(argv, cwd=tmp))


def _reset_sqlite(settings: Settings) -> None:
    import sqlalchemy as sa

    url = sa.make_url(settings.database.url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException("--reset 只用于 SQLite 演示数据库")
    for suffix in ("", "-wal", "-shm"):
        Path(url.database + suffix).unlink(missing_ok=True)


def _ensure_redis(url: str) -> "subprocess.Popen[bytes] | None":
    """Start a throwaway local redis-server when the configured local one is not running."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return None
    except redis.RedisError:
        pass
    from urllib.parse import urlsplit

    parsed = urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if host not in ("127.0.0.1", "localhost") or not shutil.which("redis-server"):
        click.echo(f"warning: Redis at {url} is not reachable; queues will not run", err=True)
        return None
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    click.echo("warning: redis-server did not start", err=True)
    return proc


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
