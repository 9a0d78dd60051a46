"""Settings: config.yaml, HOTLINE_ environment overrides, validation and redaction."""

import json
from pathlib import Path

import pytest

from infra.settings import ClockOverride
from infra.settings import ClockRule
from infra.settings import Settings
from infra.settings import SettingsError
from infra.settings import load_settings
from infra.settings import redacted
from infra.settings import resolve_paths
from infra.settings import settings_path

CONFIG_YAML = Path(__file__).resolve().parents[3] / "config.yaml"


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the committed file


def test_committed_config_yaml_loads_and_equals_the_builtin_defaults() -> None:
    loaded = load_settings(CONFIG_YAML, environ={})

    assert loaded == resolve_paths(Settings(), CONFIG_YAML.parent)


def test_committed_config_yaml_has_the_documented_sla_clocks() -> None:
    sla = load_settings(CONFIG_YAML, environ={}).sla

    assert sla.clocks == {
        "critical": ClockRule(sign="15m", reply="2h"),
        "urgent": ClockRule(sign="30m", reply="24h"),
        "normal": ClockRule(sign="1wd", reply="5wd"),
    }
    assert sla.overrides == {"enquiry": {"normal": ClockOverride(sign=None, reply="3wd")}}
    assert sla.warning_share == 0.75


def test_no_file_and_no_environment_gives_the_defaults() -> None:
    assert load_settings(None, environ={}) == resolve_paths(Settings(), Path.cwd())


# ---------------------------------------------------------------- paths


def test_relative_paths_are_made_absolute_against_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    config = write_yaml(
        folder,
        "instance_path: data\n"
        "database: {url: 'sqlite:///data/hotline.db?timeout=5'}\n"
        "telephony: {recordings_dir: wav}\n",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a process started from another directory

    loaded = load_settings(config, environ={})

    assert loaded.instance_path == str(folder / "data")
    assert loaded.database.url == f"sqlite:///{folder / 'data' / 'hotline.db'}?timeout=5"
    assert loaded.telephony.recordings_dir == str(folder / "data" / "wav")


def test_tls_port_without_certificate_and_key_says_what_is_missing() -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings(None, environ={"HOTLINE_TELEPHONY__TLS_PORT": "5061"})

    message = str(excinfo.value)
    assert "telephony.tls_certificate" in message and "telephony.tls_private_key" in message


def test_tls_files_are_found_under_the_instance_folder_unless_absolute(tmp_path: Path) -> None:
    config = write_yaml(
        tmp_path,
        "instance_path: data\n"
        "telephony:\n  tls_port: 5061\n  tls_certificate: tls/edge.crt\n"
        "  tls_private_key: /etc/hotline/edge.key\n  tls_ca_file: tls/ca.crt\n",
    )

    tel = load_settings(config, environ={}).telephony

    assert tel.tls_certificate == str(tmp_path / "data" / "tls" / "edge.crt")
    assert tel.tls_private_key == "/etc/hotline/edge.key"
    assert tel.tls_ca_file == str(tmp_path / "data" / "tls" / "ca.crt")
    assert load_settings(None, environ={}).telephony.tls_ca_file == ""  # off stays empty


def test_absolute_paths_and_other_databases_are_kept(tmp_path: Path) -> None:
    environ = {
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "inst"),
        "HOTLINE_TELEPHONY__RECORDINGS_DIR": "/var/lib/hotline/recordings",
        "HOTLINE_DATABASE__URL": "postgresql+psycopg://u@db/hotline",
    }

    loaded = load_settings(None, environ=environ)

    assert loaded.instance_path == str(tmp_path / "inst")
    assert loaded.telephony.recordings_dir == "/var/lib/hotline/recordings"
    assert loaded.database.url == "postgresql+psycopg://u@db/hotline"
    assert load_settings(None, {"HOTLINE_DATABASE__URL": "sqlite://"}).database.url == "sqlite://"


# ---------------------------------------------------------------- environment overrides


def test_database_url_comes_from_the_environment() -> None:
    url = "postgresql+psycopg://hotline@db.example:5432/hotline"

    loaded = load_settings(None, environ={"HOTLINE_DATABASE__URL": url})

    assert loaded.database.url == url


def test_environment_number_is_parsed_as_json_into_an_int() -> None:
    loaded = load_settings(None, environ={"HOTLINE_WEB__PORT": "9000"})

    assert loaded.web.port == 9000
    assert isinstance(loaded.web.port, int)


def test_environment_float_sets_the_warning_share() -> None:
    loaded = load_settings(None, environ={"HOTLINE_SLA__WARNING_SHARE": "0.8"})

    assert loaded.sla.warning_share == 0.8


def test_environment_overrides_one_clock_of_the_file_and_keeps_the_rest() -> None:
    loaded = load_settings(CONFIG_YAML, environ={"HOTLINE_SLA__CLOCKS__URGENT__SIGN": "45m"})

    assert loaded.sla.clocks["urgent"] == ClockRule(sign="45m", reply="24h")
    assert loaded.sla.clocks["critical"] == ClockRule(sign="15m", reply="2h")
    assert loaded.sla.clocks["normal"] == ClockRule(sign="1wd", reply="5wd")


def test_environment_beats_the_file(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        "database:\n  url: sqlite:///from-file.db\nweb:\n  port: 8100\n  host: 0.0.0.0\n",
    )

    loaded = load_settings(
        path,
        environ={"HOTLINE_DATABASE__URL": "sqlite:///from-env.db", "HOTLINE_WEB__PORT": "9000"},
    )

    assert loaded.database.url == f"sqlite:///{tmp_path / 'from-env.db'}"
    assert loaded.web.port == 9000
    assert loaded.web.host == "0.0.0.0"


def test_environment_keys_without_the_prefix_are_ignored() -> None:
    loaded = load_settings(None, environ={"WEB__PORT": "1", "PATH": "/usr/bin"})

    assert loaded == resolve_paths(Settings(), Path.cwd())


def test_hotline_config_variable_is_not_taken_for_a_setting() -> None:
    loaded = load_settings(None, environ={"HOTLINE_CONFIG": "/nowhere/config.yaml"})

    assert loaded == resolve_paths(Settings(), Path.cwd())


def test_environment_text_that_is_not_json_stays_text() -> None:
    loaded = load_settings(None, environ={"HOTLINE_LOG_LEVEL": "DEBUG"})

    assert loaded.log_level == "DEBUG"


# ---------------------------------------------------------------- refused settings


@pytest.mark.parametrize(
    ("text", "path_in_message"),
    [
        pytest.param("colour: blue\n", "colour", id="unknown-top-level-key"),
        pytest.param("web:\n  prot: 8000\n", "web: unknown key(s) prot", id="unknown-nested-key"),
        pytest.param("web:\n  port: abc\n", "web.port", id="port-is-text"),
        pytest.param('database:\n  echo: "yes"\n', "database.echo", id="echo-is-text"),
        pytest.param("sla:\n  warning_share: 0\n", "sla.warning_share", id="warning-share-0"),
        pytest.param("sla:\n  warning_share: 1.5\n", "sla.warning_share", id="warning-share-1.5"),
        pytest.param(
            "sla:\n  return_window: 5 days\n", "sla.return_window", id="duration-in-words"
        ),
        pytest.param(
            "sla:\n  clocks:\n    normal: {sign: 1wd}\n    urgent: {reply: 1x}\n",
            "sla.clocks.urgent.reply",
            id="bad-partial-clock",
        ),
        pytest.param(
            "sla:\n  overrides:\n    gossip:\n      normal: {reply: 3wd}\n",
            "sla.overrides.gossip",
            id="unknown-request-type",
        ),
        pytest.param(
            'calendar:\n  day_start: "18:00"\n  day_end: "09:00"\n',
            "calendar.day_start",
            id="day-start-after-day-end",
        ),
        pytest.param(
            "calendar:\n  timezone: Mars/Olympus_Mons\n", "calendar.timezone", id="bad-timezone"
        ),
        pytest.param(
            'calendar:\n  overrides:\n    "2027-13-01": false\n',
            "calendar.overrides.2027-13-01",
            id="bad-override-date",
        ),
        pytest.param(
            'telephony:\n  transfer_targets:\n    "11O": 报警\n',
            "telephony.transfer_targets",
            id="transfer-target-not-digits",
        ),
        pytest.param(
            "telephony:\n  keepalive_seconds: 5\n",
            "telephony.keepalive_seconds",
            id="keepalive-below-kamailio-least",
        ),
        pytest.param(
            "telephony:\n  tls_port: 5061\n  tls_certificate: edge.crt\n",
            "telephony.tls_private_key",
            id="tls-without-key",
        ),
        pytest.param(
            "telephony:\n  tls_required: true\n", "telephony.tls_port", id="tls-required-off"
        ),
        pytest.param(
            "telephony:\n  tls_port: 5060\n  tls_certificate: a\n  tls_private_key: b\n",
            "telephony.tls_port",
            id="tls-port-is-the-udp-port",
        ),
        pytest.param(
            "telephony:\n  tls_port: 70000\n  tls_certificate: a\n  tls_private_key: b\n",
            "telephony.tls_port",
            id="tls-port-out-of-range",
        ),
        pytest.param(
            "telephony:\n  tls_ca_file: 'ca\".crt'\n",
            "telephony.tls_ca_file",
            id="quote-in-a-tls-path",
        ),
    ],
)
def test_bad_setting_in_the_file_is_refused_with_its_path(
    tmp_path: Path, text: str, path_in_message: str
) -> None:
    path = write_yaml(tmp_path, text)

    with pytest.raises(SettingsError) as excinfo:
        load_settings(path, environ={})

    assert path_in_message in str(excinfo.value)


@pytest.mark.parametrize(
    ("environ", "path_in_message"),
    [
        pytest.param({"HOTLINE_COLOUR": "blue"}, "colour", id="unknown-top-level-key"),
        pytest.param({"HOTLINE_WEB__PROT": "8000"}, "web: unknown key(s) prot", id="nested"),
        pytest.param({"HOTLINE_WEB__PORT": "abc"}, "web.port", id="port-is-text"),
        pytest.param({"HOTLINE_DATABASE__ECHO": "yes"}, "database.echo", id="echo-is-text"),
        pytest.param({"HOTLINE_WEB__PORT": "true"}, "web.port", id="port-is-bool"),
        pytest.param(
            {"HOTLINE_SLA__WARNING_SHARE": "0"}, "sla.warning_share", id="warning-share-0"
        ),
        pytest.param(
            {"HOTLINE_SLA__MAX_EXTENSION": "5 days"}, "sla.max_extension", id="bad-duration"
        ),
    ],
)
def test_bad_setting_in_the_environment_is_refused_with_its_path(
    environ: dict[str, str], path_in_message: str
) -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings(None, environ=environ)

    assert path_in_message in str(excinfo.value)


def test_wrong_type_message_names_the_expected_type_and_the_value() -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings(None, environ={"HOTLINE_WEB__PORT": "abc"})

    assert str(excinfo.value) == "web.port: expected a whole number, got 'abc'"


def test_unknown_top_level_key_message_says_settings() -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings(None, environ={"HOTLINE_COLOUR": "blue"})

    assert str(excinfo.value) == "settings: unknown key(s) colour"


def test_bad_clock_duration_is_refused_with_the_clock_path(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        "sla:\n  clocks:\n    critical: {sign: 15m, reply: 2h}\n"
        "    urgent: {sign: 5 days, reply: 24h}\n    normal: {sign: 1wd, reply: 5wd}\n",
    )

    with pytest.raises(SettingsError) as excinfo:
        load_settings(path, environ={})

    assert str(excinfo.value).startswith("sla.clocks.urgent.sign: invalid duration '5 days'")


def test_max_extension_in_calendar_days_is_refused() -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings(None, environ={"HOTLINE_SLA__MAX_EXTENSION": "10d"})

    assert str(excinfo.value) == "sla.max_extension: must be in working days (e.g. 10wd)"


def test_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "web: [unclosed\n  port: 1\n")

    with pytest.raises(SettingsError) as excinfo:
        load_settings(path, environ={})

    assert f"settings file {path} is not valid YAML" in str(excinfo.value)


def test_file_whose_top_level_is_a_list_is_refused(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "- web\n- database\n")

    with pytest.raises(SettingsError) as excinfo:
        load_settings(path, environ={})

    assert str(excinfo.value) == f"settings file {path} must hold a mapping at the top"


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(SettingsError) as excinfo:
        load_settings(path, environ={})

    assert str(excinfo.value).startswith(f"cannot read settings file {path}:")


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "# nothing set\n")

    assert load_settings(path, environ={}) == resolve_paths(Settings(), tmp_path)


# ---------------------------------------------------------------- redaction


def test_redacted_hides_the_secret_key() -> None:
    loaded = load_settings(None, environ={"HOTLINE_WEB__SECRET_KEY": "s3cr3t-value"})

    shown = redacted(loaded)

    assert shown["web"]["secret_key"] == "***"
    assert "s3cr3t-value" not in json.dumps(shown)


def test_redacted_leaves_an_empty_secret_key_empty() -> None:
    assert redacted(Settings())["web"]["secret_key"] == ""


def test_redacted_hides_the_password_inside_the_database_url() -> None:
    loaded = load_settings(
        None, environ={"HOTLINE_DATABASE__URL": "postgresql+psycopg://u:pw@h/db"}
    )

    shown = redacted(loaded)

    assert shown["database"]["url"] == "postgresql+psycopg://u:***@h/db"
    assert "pw" not in json.dumps(shown)


def test_redacted_keeps_a_url_without_password_and_the_other_values() -> None:
    loaded = load_settings(
        CONFIG_YAML,
        environ={
            "HOTLINE_DATABASE__URL": "postgresql+psycopg://hotline@h:5432/db",
            "HOTLINE_WEB__SECRET_KEY": "hidden",
        },
    )

    shown = redacted(loaded)

    assert shown["database"] == {
        "url": "postgresql+psycopg://hotline@h:5432/db",
        "echo": False,
        "pool_size": 10,
    }
    assert shown["web"] == {
        "host": "127.0.0.1",
        "port": 8000,
        "workers": 1,
        "threads": 32,
        "secret_key": "***",
        "max_body_bytes": 1_048_576,
        "live_updates_via_redis": True,
        "cookie_secure": True,
    }
    assert shown["sla"]["clocks"]["urgent"] == {"sign": "30m", "reply": "24h"}
    assert shown["sla"]["overrides"] == {"enquiry": {"normal": {"sign": None, "reply": "3wd"}}}
    assert shown["redis"] == {"url": "redis://127.0.0.1:6379/0"}
    assert shown["log_level"] == "INFO"
    json.dumps(shown)  # plain data, printable by `hotline config show`


# ---------------------------------------------------------------- which file


def test_settings_path_honours_hotline_config(tmp_path: Path) -> None:
    named = tmp_path / "elsewhere.yaml"

    assert settings_path({"HOTLINE_CONFIG": str(named)}) == named


def test_settings_path_falls_back_to_config_yaml_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert settings_path({}) is None

    (tmp_path / "config.yaml").write_text("{}\n", encoding="utf-8")
    assert settings_path({}) == Path("config.yaml")


def test_env_override_of_one_clock_works_without_a_file() -> None:
    loaded = load_settings(None, environ={"HOTLINE_SLA__CLOCKS__URGENT__SIGN": "45m"})
    assert loaded.sla.clocks["urgent"] == ClockRule(sign="45m", reply="24h")
    assert loaded.sla.overrides["enquiry"]["normal"].reply == "3wd"


def test_test_and_bench_variables_are_not_settings() -> None:
    environ = {
        "HOTLINE_TEST_SKIP_POSTGRES": "1",
        "HOTLINE_BENCH_POSTGRES_URL": "x",
        "HOTLINE_CONFIG": "/nowhere",
    }
    assert load_settings(None, environ=environ) == load_settings(None, environ={})


def test_text_secrets_are_taken_verbatim_from_the_environment() -> None:
    loaded = load_settings(None, environ={"HOTLINE_WEB__SECRET_KEY": "1e3"})
    assert loaded.web.secret_key == "1e3"
    assert load_settings(None, environ={"HOTLINE_WEB__SECRET_KEY": "true"}).web.secret_key == "true"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:topsecret@h:6379/0", "redis://:***@h:6379/0"),
        ("postgresql+psycopg://u:p@ss@h/db", "postgresql+psycopg://u:***@h/db"),
        ("redis://h:6379/0", "redis://h:6379/0"),
    ],
)
def test_passwords_in_urls_are_hidden(url: str, shown: str) -> None:
    out = redacted(load_settings(None, environ={"HOTLINE_REDIS__URL": url}))
    assert out["redis"]["url"] == shown


def test_a_file_naming_some_clocks_keeps_the_defaults_for_the_others(tmp_path: Path) -> None:
    path = tmp_path / "partial.yaml"
    path.write_text("sla:\n  clocks:\n    urgent: {sign: 20m}\n", encoding="utf-8")
    clocks = load_settings(path, environ={}).sla.clocks
    assert clocks["urgent"] == ClockRule(sign="20m", reply="24h")
    assert clocks["normal"] == ClockRule(sign="1wd", reply="5wd")
