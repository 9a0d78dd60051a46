"""The `hotline` command, run in-process with click's CliRunner on both database backends."""

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from click.testing import Result
from flask.testing import FlaskClient

from hotline.bootstrap import Container
from hotline.cli import cli
from infra.auth import authenticate
from infra.models import ApiToken
from infra.models import User
from kernel.roles import Role

CONFIG_YAML = Path(__file__).resolve().parents[3] / "config.yaml"
PASSWORD = "Harbour-lamp-2026"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The CLI configures the root logger; put it back so later tests are not affected."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def cli_env(url: str, **extra: str) -> dict[str, str | None]:
    # Unset any HOTLINE_ setting of the surrounding shell so that only these apply.
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE__URL": url, "HOTLINE_CONFIG": str(CONFIG_YAML)})
    env.update(extra)
    return env


def run(url: str, *args: str, input: str | None = None, **extra: str) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, list(args), env=cli_env(url, **extra), input=input)


def create_alice(url: str, *more: str) -> Result:
    return run(url, "user", "create", "alice", "--role", "operator", "--password", PASSWORD, *more)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- config


def test_config_show_prints_json_with_the_database_url_and_hides_the_secret_key(
    db_url: str,
) -> None:
    result = run(db_url, "config", "show", HOTLINE_WEB__SECRET_KEY="very-secret-key")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["database"]["url"] == db_url
    assert shown["web"]["secret_key"] == "***"
    assert shown["sla"]["clocks"]["normal"] == {"sign": "1wd", "reply": "5wd"}
    assert "very-secret-key" not in result.output


def test_config_option_names_the_settings_file(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("web:\n  port: 8123\n", encoding="utf-8")

    result = run(db_url, "--config", str(path), "config", "show")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["web"]["port"] == 8123


def test_bad_setting_stops_the_command_and_names_the_setting(db_url: str) -> None:
    result = run(db_url, "config", "show", HOTLINE_WEB__PORT="abc")

    assert result.exit_code == 1
    assert "配置错误" in result.output
    assert "web.port" in result.output
    assert result.stdout == ""


# ---------------------------------------------------------------- users


def test_user_create_stores_a_hashed_password_that_authenticates(
    db_url: str, container: Container
) -> None:
    result = create_alice(db_url, "--name", "Alice Operator")

    assert result.exit_code == 0, result.output
    assert "created user alice (operator) id=" in result.stdout
    with container.uow() as uow:
        user = uow.session.scalar(sa.select(User).where(User.username == "alice"))
        assert user is not None
        assert user.role is Role.OPERATOR
        assert user.display_name == "Alice Operator"
        assert user.unit_id is None
        assert user.password_hash != PASSWORD
        assert PASSWORD not in user.password_hash
        assert authenticate(uow.session, "alice", PASSWORD) is not None
        assert authenticate(uow.session, "alice", "wrong-password") is None


def test_user_create_asks_for_the_password_twice(db_url: str, container: Container) -> None:
    result = run(
        db_url, "user", "create", "bob", "--role", "team_lead", input=f"{PASSWORD}\n{PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    with container.uow() as uow:
        user = authenticate(uow.session, "bob", PASSWORD)
        assert user is not None
        assert user.role is Role.TEAM_LEAD
        assert user.display_name == "bob"


def test_duplicate_username_is_refused(db_url: str, container: Container) -> None:
    assert create_alice(db_url).exit_code == 0

    result = create_alice(db_url)

    assert result.exit_code == 1
    assert "用户名已存在" in result.output
    with container.uow() as uow:
        count = uow.session.scalar(sa.select(sa.func.count()).where(User.username == "alice"))
    assert count == 1


def test_liaison_without_a_unit_is_refused(db_url: str, container: Container) -> None:
    result = run(db_url, "user", "create", "carol", "--role", "liaison", "--password", PASSWORD)

    assert result.exit_code == 1
    assert "联络员必须属于一个已存在的单位" in result.output
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(User).where(User.username == "carol")) is None


def test_short_password_is_refused(db_url: str, container: Container) -> None:
    result = run(db_url, "user", "create", "dave", "--role", "operator", "--password", "short")

    assert result.exit_code == 1
    assert "密码至少10位" in result.output
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(User).where(User.username == "dave")) is None


def test_unknown_role_is_a_usage_error(db_url: str, container: Container) -> None:
    result = run(db_url, "user", "create", "erin", "--role", "mayor", "--password", PASSWORD)

    assert result.exit_code == 2
    assert "--role" in result.output


# ---------------------------------------------------------------- tokens


def test_user_token_prints_a_bearer_token_for_the_api(
    db_url: str, container: Container, client: FlaskClient
) -> None:
    assert create_alice(db_url).exit_code == 0

    result = run(db_url, "user", "token", "alice", "--name", "ci")

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("hl_")
    resp = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()
    me = resp.get_json()["user"]
    assert me["role"] == "operator"
    assert me["display_name"] == "alice"
    with container.uow() as uow:
        stored = uow.session.execute(sa.select(ApiToken.name, ApiToken.prefix, ApiToken.token_hash))
        assert [tuple(row) for row in stored] == [("ci", token[:10], sha256_hex(token))]


def test_api_refuses_a_made_up_token(container: Container, client: FlaskClient) -> None:
    resp = client.get("/api/me", headers={"Authorization": "Bearer hl_not-a-real-token"})

    assert resp.status_code == 401


def test_user_token_for_an_unknown_user_is_refused(db_url: str, container: Container) -> None:
    result = run(db_url, "user", "token", "nobody")

    assert result.exit_code == 1
    assert "用户不存在或已停用: nobody" in result.output
    with container.uow() as uow:
        assert uow.session.scalars(sa.select(ApiToken)).all() == []


# ---------------------------------------------------------------- database


def test_db_upgrade_creates_the_tables_in_a_fresh_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.db"
    url = f"sqlite:///{path}"

    result = run(url, "db", "upgrade")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "database at head"
    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "alembic_version",
        "units",
        "users",
        "api_tokens",
        "tickets",
        "ticket_events",
        "ticket_assignments",
        "extension_requests",
        "audit_log",
    } <= tables


@pytest.mark.redis
def test_worker_runs_a_burst_against_the_real_redis(db_url: str, container: Container) -> None:
    url = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    result = run(db_url, "worker", "--burst", HOTLINE_REDIS__URL=url)
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- routing

NO_DATABASE = "sqlite://"  # `dispatch evaluate` reads files only
SHARED_TRAIN = Path(__file__).resolve().parents[4] / "shared" / "data" / "gov_messages_train.tsv"


def _tsv(path: Path, rows: list[tuple[str, str, str]]) -> str:
    lines = ["id\tlabel\ttitle\ttext"] + [f"{i}\t{a}\t{b}\t{c}" for i, (a, b, c) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


ROWS = [
    ("住建", "小区电梯故障", "电梯停运物业不修"),
    ("住建", "物业费上涨", "物业公司擅自上涨物业费"),
    ("住建", "燃气泄漏", "楼道燃气味很浓"),
    ("供电", "小区停电", "整栋楼突然停电"),
    ("供电", "电费异常", "电费比平时高很多"),
    ("供电", "电线断落", "路边电线断落很危险"),
]


def test_dispatch_evaluate_prints_the_figures_as_json(tmp_path: Path) -> None:
    train = _tsv(tmp_path / "train.tsv", ROWS)
    test = _tsv(
        tmp_path / "test.tsv", [("住建", "电梯坏了", "物业不管电梯"), ("供电", "停电", "又停电了")]
    )
    result = run(
        NO_DATABASE,
        "dispatch",
        "evaluate",
        "--train",
        train,
        "--test",
        test,
        "--fields",
        "title+text",
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["accuracy"] == 1.0 and figures["macro_f1"] == 1.0
    assert set(figures["per_label_f1"]) == {"住建", "供电"}
    for key in ("top3_accuracy", "train_seconds", "predict_p50_ms", "predict_p99_ms"):
        assert figures[key] >= 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id\ttitle\ttext\n1\t电梯\t坏了\n", "missing column(s) label"),
        ("id\tlabel\ttitle\ttext\n1\t住建\t电梯\t坏了\n", "need at least two labels"),
    ],
)
def test_dispatch_evaluate_refuses_bad_files_clearly(
    tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text(content, encoding="utf-8")
    good = _tsv(tmp_path / "good.tsv", ROWS)
    result = run(NO_DATABASE, "dispatch", "evaluate", "--train", str(bad), "--test", good)
    assert result.exit_code == 1 and message in result.output
    missing = run(
        NO_DATABASE, "dispatch", "evaluate", "--train", str(tmp_path / "no.tsv"), "--test", good
    )
    assert missing.exit_code != 0


def test_dispatch_train_retrains_from_the_tickets(
    db_url: str, container: Container, world: object
) -> None:
    result = run(db_url, "dispatch", "train")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output.strip().splitlines()[-1])
    assert outcome["status"] == "active" and outcome["version"] >= 1
    assert "首个模型版本" in outcome["note"]


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_TRAIN.exists(), reason="shared data not beside the repository")
def test_the_classifier_on_a_slice_of_the_real_messages(tmp_path: Path) -> None:
    """A regression guard on real data: 2,000 messages to train, 600 others to test."""
    lines = SHARED_TRAIN.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]  # sorted by label: take every third row to test
    train = [row for i, row in enumerate(rows) if i % 3][::2][:2000]
    test = rows[::3][:600]
    (tmp_path / "train.tsv").write_text("\n".join([header, *train]) + "\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("\n".join([header, *test]) + "\n", encoding="utf-8")
    result = run(
        NO_DATABASE,
        "dispatch",
        "evaluate",
        "--train",
        str(tmp_path / "train.tsv"),
        "--test",
        str(tmp_path / "test.tsv"),
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["macro_f1"] >= 0.85 and figures["top3_accuracy"] >= 0.97


def test_call_refuses_a_caller_number_that_is_not_digits(db_url: str) -> None:
    import shutil

    if shutil.which("sipp") is None:
        pytest.skip("sipp is not installed")
    result = run(db_url, "call", "--from", "13912abc")
    assert result.exit_code == 1
    assert "主叫号码只能是数字" in result.output


# ---------------------------------------------------------------- TLS at the SIP edge


def tls_env(tmp_path: Path) -> dict[str, str]:
    return {
        "HOTLINE_TELEPHONY__TLS_PORT": "5061",
        "HOTLINE_TELEPHONY__TLS_CERTIFICATE": str(tmp_path / "edge.crt"),
        "HOTLINE_TELEPHONY__TLS_PRIVATE_KEY": str(tmp_path / "edge.key"),
        "HOTLINE_TELEPHONY__TLS_REQUIRED": "true",
        "HOTLINE_TELEPHONY__ACD_SECRET": "cli-test-secret-0123456789abcdef",
    }


def test_sip_print_config_renders_tls_from_the_settings(db_url: str, tmp_path: Path) -> None:
    result = run(db_url, "sip", "--print-config", **tls_env(tmp_path))

    assert result.exit_code == 0, result.output
    assert "listen=tls:127.0.0.1:5061" in result.stdout
    assert f'modparam("tls", "certificate", "{tmp_path / "edge.crt"}")' in result.stdout
    assert 'sl_send_reply("403", "TLS Required");' in result.stdout


def test_with_tls_required_a_seat_defaults_to_tls_and_needs_the_ca_file(
    db_url: str, tmp_path: Path
) -> None:
    # No --transport: TLS, as the edge requires; without the CA it cannot check the edge.
    for command in (["seat", "s01"], ["survey", "1"]):
        result = run(db_url, *command, **tls_env(tmp_path))

        assert result.exit_code == 1, result.output
        assert "telephony.tls_ca_file" in result.output
    missing = tls_env(tmp_path) | {"HOTLINE_TELEPHONY__TLS_CA_FILE": "/nowhere/ca.crt"}
    refused = run(db_url, "seat", "s01", "--transport", "tls", **missing)
    assert refused.exit_code == 1 and "/nowhere/ca.crt" in refused.output


def test_a_desk_seats_sound_card_options_speak_plainly(db_url: str) -> None:
    # No sound server and no card here: the list says so, and a card that is not there stops
    # the seat before it registers or asks for a password.
    listed = run(db_url, "seat", "--list-devices", PULSE_SERVER="unix:/nowhere/native")
    assert listed.exit_code == 0, listed.output
    assert "声卡" in listed.output
    for args in (
        ["seat", "s01", "--audio-device", "没有这块声卡"],
        ["seat", "s01", "--test-tone", "--audio-device", "没有这块声卡"],
    ):
        result = run(db_url, *args, PULSE_SERVER="unix:/nowhere/native")
        assert result.exit_code == 1, result.output
        assert "没有既能录音又能放音的声卡“没有这块声卡”" in result.output
    no_card = run(db_url, "seat", "s01", "--echo-test")
    assert no_card.exit_code == 1 and "请用 --audio-device 指定声卡" in no_card.output


def test_a_desk_seat_needs_the_web_apps_address(db_url: str, tmp_path: Path) -> None:
    password = tmp_path / "s01.password"
    password.write_text("not-the-password\n")
    bad = run(
        db_url, "seat", "s01", "--server", "ftp://hotline.lan", "--password-file", str(password)
    )
    assert bad.exit_code == 1 and "https://" in bad.output
