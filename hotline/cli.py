"""The `hotline` command: config, database, users, web, worker, cron and the demo; it gathers
the packages' own commands (dispatch, followup, kb, report, sip, seat, survey, call)."""

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
    """Each package keeps its own commands; the `hotline` command gathers them."""
    from callcenter.cli import COMMANDS as callcenter_commands
    from dispatch.cli import COMMANDS as dispatch_commands
    from kb.cli import kb_group
    from reports.cli import report_group

    for command in (*dispatch_commands, kb_group, report_group, *callcenter_commands):
        cli.add_command(command)


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


# ---------------------------------------------------------------- follow-up (回访)


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
    from sqlalchemy.orm import configure_mappers

    from hotline.tables import load_all
    from infra.lifeline import keep_running
    from infra.worker import rescue_abandoned
    from infra.worker import worker_class

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
        worker_class()(queues, connection=conn, maintenance_interval=30, worker_ttl=60).work(
            with_scheduler=True, burst=burst
        )

    keep_running("worker", work)  # a Redis outage restarts the loop, never ends the worker


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
# The demo's last seat runs as a desk seat would on an operator's PC: through the web app with
# its own SIP password (`hotline seat --server`), no Redis of its own.
DEMO_DESK_SEAT = "s04"


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
    if tel.headsets:
        from callcenter.edge.media import rtpengine_binary

        if rtpengine_binary() is None:
            click.echo("  （未安装 rtpengine：网页耳机不可用）", err=True)
        else:
            procs.append(("media", [*hotline_cmd, "media"]))
            click.echo(f"  网页耳机: 签入坐席后浏览器即接通耳机（{tel.headset_ws_url()}）")
    if tel.announcer:
        procs.append(("announce", [*hotline_cmd, "announce"]))
    for index, name in enumerate(DEMO_SEATS, start=1):
        argv = [*hotline_cmd, "seat", name, "--index", str(index)]
        if name == DEMO_DESK_SEAT:
            argv += ["--server", f"http://127.0.0.1:{settings.web.port}"]
        if auto_answer is not None:
            argv += ["--auto-answer", str(auto_answer)]
        procs.append((f"seat {name}", argv))
    click.echo(
        f"  电话: SIP 边缘 sip:{tel.number}@{tel.sip_host}:{tel.sip_port}，"
        f"坐席话机 {'、'.join(DEMO_SEATS)}（在受理工作台签入坐席号；"
        f"{DEMO_DESK_SEAT} 按操作员电脑上的话机方式运行，以话机账号经受理系统连接）"
    )
    click.echo("  模拟市民来电: .venv/bin/hotline call --from 13912345678")
    if tel.announcer:
        click.echo(
            "  排队提示音: 无人就绪时来电先听欢迎语、排队位置与预计等待；"
            "加 --record 排队.wav 可录下市民听到的声音"
        )
    if settings.followup.enabled and settings.followup.channel == "voice":
        procs.append(("survey 1", [*hotline_cmd, "survey", "1"]))
        hours = settings.followup.call_hours
        click.echo(f"  自动回访外呼: hotline survey 1（待回访工单在 {hours} 之间自动拨打）")
    return procs


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
