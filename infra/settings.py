"""Typed settings: config.yaml, then HOTLINE_ environment overrides.

No Flask here: the CLI, the web app, workers and benchmarks all load settings the same way.
Environment keys use ``__`` for nesting (``HOTLINE_DATABASE__URL``); values are parsed as JSON
and fall back to the raw string, like Flask's ``from_prefixed_env``. Unknown keys and values of
the wrong type fail at startup with the offending path in the message.
"""

import dataclasses
import json
import os
import re
import types
import typing
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import TypeVar

import yaml

ENV_PREFIX = "HOTLINE_"
# Variables under these prefixes belong to the test suite and benchmarks, not to settings.
# HOTLINE_SIP_PASSWORD is a seat's or survey process's own SIP password
# (callcenter.edge.credentials).
ENV_RESERVED = ("HOTLINE_CONFIG", "HOTLINE_TEST_", "HOTLINE_BENCH_", "HOTLINE_SIP_PASSWORD")
SECRET_FIELDS = frozenset({"secret_key", "password", "url", "acd_secret"})


class SettingsError(Exception):
    """A setting is missing, unknown or of the wrong type."""


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = "sqlite:///instance/hotline.db"
    echo: bool = False
    pool_size: int = 10


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True, slots=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int = 32
    # Empty means: generate one and keep it in the instance folder (development only).
    secret_key: str = ""
    max_body_bytes: int = 1_048_576
    live_updates_via_redis: bool = True
    # The session cookie's Secure flag. Browsers send Secure cookies to https and to
    # http://127.0.0.1 / localhost, so the demo works with it on; turn it off only for a
    # plain-http host name in a closed test network.
    cookie_secure: bool = True


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Sign-in: session lifetimes, throttling and lock-out (see docs/security.md)."""

    # A signed-in session unused this long is over (minutes). Seats (operators and team
    # leads at the console) and admins get short ones; the other roles `idle_minutes`.
    idle_minutes: int = 120
    idle_minutes_seat: int = 30
    idle_minutes_admin: int = 15
    # However active, a session (the UI's or one from POST /api/auth/login) ends after this.
    session_hours: int = 12
    # Failed passwords for one account within `failure_window_minutes` before it is locked.
    lock_after_failures: int = 5
    failure_window_minutes: int = 15
    # How long a lock lasts unless an admin lifts it in 系统管理 → 用户; 0 = until lifted.
    lock_minutes: int = 30
    # Failed sign-ins from one address within the window before it must wait (429).
    address_failures: int = 20
    # Passwords: at least this long, with at least `password_classes` of lower case, upper
    # case, digits and symbols, not containing the username and not a common password.
    password_min_length: int = 10
    password_classes: int = 3
    # Redis keys of the failure counters and locks start with this (tests give each its own).
    redis_prefix: str = "login:"


@dataclass(frozen=True, slots=True)
class ClockRule:
    sign: str
    reply: str


@dataclass(frozen=True, slots=True)
class ClockOverride:
    sign: str | None = None
    reply: str | None = None


def _default_clocks() -> dict[str, ClockRule]:
    return {
        "critical": ClockRule(sign="15m", reply="2h"),
        "urgent": ClockRule(sign="30m", reply="24h"),
        "normal": ClockRule(sign="1wd", reply="5wd"),
    }


def _default_overrides() -> dict[str, dict[str, ClockOverride]]:
    return {"enquiry": {"normal": ClockOverride(reply="3wd")}}


@dataclass(frozen=True, slots=True)
class SlaSettings:
    warning_share: float = 0.75
    return_window: str = "2wd"
    max_extension: str = "10wd"
    problem_reopens: int = 3
    problem_units: int = 3
    # 响应: a unit should contact the citizen within this time of dispatch (never later than
    # the reply deadline); 响应率 counts the tickets where it did.
    contact_within: str = "1wd"
    clocks: dict[str, ClockRule] = field(default_factory=_default_clocks)
    overrides: dict[str, dict[str, ClockOverride]] = field(default_factory=_default_overrides)


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    timezone: str = "Asia/Shanghai"
    day_start: str = "09:00"
    day_end: str = "18:00"
    # "YYYY-MM-DD": true (working day) / false (day off), on top of the official calendar.
    overrides: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TicketSettings:
    number_prefix: str = "JC"
    page_size_max: int = 100


@dataclass(frozen=True, slots=True)
class AttachmentSettings:
    max_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    auto_dispatch: bool = True
    auto_dispatch_threshold: float = 0.75  # docs/routing.md: precision >= 97% from here
    duplicate_window_days: int = 7
    duplicate_same_caller_min: float = 0.35
    duplicate_same_place_min: float = 0.55
    retrain_cron: str = "30 2 * * *"
    refresh_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class KbSettings:
    # `hotline cron` reminds the owners of expired and overdue articles (weekly while flagged)
    remind_cron: str = "0 8 * * *"


@dataclass(frozen=True, slots=True)
class SupervisionSettings:
    # How often `hotline cron` sweeps open tickets (催办 at the yellow light, 督办 past a
    # deadline, 通报 when still open `notice_after` later, 提级督办 of problem tickets).
    sweep_seconds: int = 60
    notice_after: str = "5wd"


def _default_weights() -> dict[str, float]:
    # Beijing's 三率: 响应率, 解决率, 满意率, weighted equally.
    return {"response_rate": 1.0, "resolution_rate": 1.0, "satisfaction_rate": 1.0}


@dataclass(frozen=True, slots=True)
class ReportsSettings:
    # Unit ranking score = Σ weight × points ÷ Σ weight over the weighted KPIs, where points
    # is the KPI, or 1 − KPI for one where less is better (超期率, 退回率, 重办率).
    ranking_weights: dict[str, float] = field(default_factory=_default_weights)
    # A unit is ranked only with every weighted KPI over at least this many cases (its
    # whole); others are listed apart as 样本不足.
    ranking_min_sample: int = 5
    # Units whose 满意率 is below this are named in the ranking and the weekly brief.
    satisfaction_floor: float = 0.85
    # `hotline cron` builds last week's brief (周报) at this time (Monday morning).
    brief_cron: str = "0 7 * * 1"


@dataclass(frozen=True, slots=True)
class Open311Settings:
    # GeoReport v2 at /open311/v2. Empty: requests may leave jurisdiction_id out or give any;
    # set: a request naming another jurisdiction gets 404, as the spec says.
    jurisdiction_id: str = ""
    rate_per_minute: int = 60  # requests per key per minute, for keys made without their own
    max_requests: int = 1000  # most requests GET requests.json returns
    default_days: int = 90  # GET requests.json without dates covers this many days back


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    # The public web form (网上诉求) at /intake: no sign-in, one photo at most.
    enabled: bool = True
    per_ip_per_hour: int = 20  # submissions per client address per hour


@dataclass(frozen=True, slots=True)
class FollowUpSettings:
    # Automated follow-up (自动回访) of tickets waiting for it (待回访).
    enabled: bool = True
    channel: str = "voice"  # voice: survey calls from `hotline survey`; sms: the SMS channel
    tries: int = 3  # no answer after this many tries: the human follow-up queue (人工回访)
    retry_after: str = "1d"  # the next try this long after a failed one
    call_hours: str = "09:00-20:00"  # local hours in which citizens are called or texted
    ring_seconds: int = 30  # a survey call not answered by then is "no answer"
    answer_seconds: int = 10  # wait this long for a key after each question
    auto_close: bool = True  # solved and satisfied: close the ticket at once (办结)
    sweep_seconds: int = 60  # how often `hotline cron` hands due tries to the channel
    stale_after: str = "15m"  # a try with no result after this long failed (process died)
    survey_port_base: int = 5170  # `hotline survey N` listens on base + N (SIP, UDP)
    survey_calls: int = 4  # calls at once per survey process (pjsua2's build allows 4)
    sms_inbound_token: str = ""  # the SMS gateway's secret for posting replies; empty: off


@dataclass(frozen=True, slots=True)
class TelephonySettings:
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    number: str = "12345"
    acd_url: str = "http://127.0.0.1:8000/acd"
    ring_seconds: float = 15.0
    max_wait_seconds: float = 60.0
    max_misses: int = 2
    wrap_up_seconds: float = 15.0
    seat_port_base: int = 5070
    # Numbers an operator may transfer a caller to (blind) or bring into a three-way call:
    # number → name shown on the button. Calls to them leave through `gateway` (a PSTN
    # gateway's SIP address, host:port) or, without one, go to a phone registered at the edge
    # under that number. Every active unit's phone in the directory is a target too
    # (`callcenter.cti.targets`).
    transfer_targets: dict[str, str] = field(
        default_factory=lambda: {
            "110": "公安报警",
            "119": "消防救援",
            "120": "医疗急救",
            "122": "交通事故",
        }
    )
    gateway: str = ""
    # Where seats keep call recordings (WAV), relative to instance_path unless absolute.
    recordings_dir: str = "recordings"
    # How often the edge checks that a seat in a call is still there (SIP OPTIONS in the
    # dialog; Kamailio's least is 30 s). A seat that stops answering is ended and set offline.
    keepalive_seconds: int = 30
    # A seat signed in from a console takes calls only while that console is open: one that
    # has not been heard from for this long (browser closed, network lost) goes offline.
    console_grace_seconds: float = 20.0
    # Digest realm of our own SIP user agents (seats, survey processes, registered phones):
    # their passwords are kept as HA1 = md5(name:realm:password), so changing it voids them all.
    sip_realm: str = "hotline"
    # What Kamailio and the seats send (header X-Hotline-Acd-Secret) to reach `/acd/*`. Empty:
    # generated once per instance into <instance_path>/acd_secret (mode 0600). Set it through
    # the environment (HOTLINE_TELEPHONY__ACD_SECRET) when the edge runs on another host.
    acd_secret: str = ""
    # TLS for our own user agents (seats on operators' PCs on a LAN): the edge also listens
    # on tls_port (0: off) with this certificate and its unencrypted key (PEM). Seats check the
    # edge's certificate against tls_ca_file (the internal CA that issued it). Paths are
    # relative to instance_path unless absolute. tls_required: our user agents may no longer
    # REGISTER or call over UDP (403); citizens' calls to the hotline number still may.
    tls_port: int = 0
    tls_certificate: str = ""
    tls_private_key: str = ""
    tls_ca_file: str = ""
    tls_required: bool = False
    # The operator's headset in the console (a WebRTC phone, JsSIP): browsers register at the
    # edge over a WebSocket on ws_port (0: no headsets), or over TLS on wss_port with the
    # certificate above (a LAN: browsers allow the microphone only on https or localhost).
    # headset_url is what browsers connect to (empty: ws://sip_host:ws_port, or
    # wss://sip_host:wss_port). rtpengine (`hotline media`) bridges their DTLS-SRTP media and
    # the seats' RTP: its control socket, the address it offers media on (empty: sip_host) and
    # its UDP port range.
    ws_port: int = 5066
    wss_port: int = 0
    headset_url: str = ""
    rtpengine: str = "127.0.0.1:2223"
    media_address: str = ""
    rtp_port_min: int = 30000
    rtp_port_max: int = 30999
    # What waiting callers hear (排队提示): `hotline announce` plays, as early media, the
    # greeting, then their place in line and the expected wait every queue_announce_seconds
    # with music between, and the goodbye when max_wait_seconds is reached (a call-back task
    # follows). Its control on `announcer` (host:port on loopback; empty: callers hear
    # ringing and then busy), its RTP from sip_host on announce_port_min-announce_port_max.
    # The expected wait uses the calls' recent talk time, or queue_handle_seconds while
    # fewer than five calls have been answered and ended.
    announcer: str = "127.0.0.1:2224"
    announce_port_min: int = 31000
    announce_port_max: int = 31499
    queue_greeting: str = "您好，欢迎致电幺二三四五政务服务便民热线。话务员正忙，请您稍候。"
    queue_goodbye: str = "很抱歉，话务员仍然全忙。我们已记下您的来电，将尽快给您回电。再见。"
    queue_announce_seconds: float = 30.0
    queue_handle_seconds: float = 180.0

    @property
    def headsets(self) -> bool:
        return bool(self.ws_port or self.wss_port)

    def headset_ws_url(self) -> str:
        if self.headset_url:
            return self.headset_url
        if self.wss_port:
            return f"wss://{self.sip_host}:{self.wss_port}"
        return f"ws://{self.sip_host}:{self.ws_port}"


@dataclass(frozen=True, slots=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    web: WebSettings = field(default_factory=WebSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    tickets: TicketSettings = field(default_factory=TicketSettings)
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    kb: KbSettings = field(default_factory=KbSettings)
    supervision: SupervisionSettings = field(default_factory=SupervisionSettings)
    reports: ReportsSettings = field(default_factory=ReportsSettings)
    telephony: TelephonySettings = field(default_factory=TelephonySettings)
    open311: Open311Settings = field(default_factory=Open311Settings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    followup: FollowUpSettings = field(default_factory=FollowUpSettings)
    instance_path: str = "instance"
    log_level: str = "INFO"


T = TypeVar("T")


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    checks: Iterable[Callable[["Settings"], None]] = (),
) -> Settings:
    """Load settings from a YAML file (optional) and the environment.

    `checks` are the packages' own checks of their sections against their vocabulary (the
    KPI names of the ranking weights): the composition root passes them
    (`hotline.config.load_app_settings`); each raises SettingsError.

    :raises SettingsError: for an unreadable file, an unknown key or a value of the wrong type.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = _plain(Settings())
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise SettingsError(f"settings file {path} must hold a mapping at the top")
        _merge(data, loaded or {})
    for key, raw in sorted(environ.items()):
        if key.startswith(ENV_PREFIX) and not key.startswith(ENV_RESERVED):
            _set_nested(data, key[len(ENV_PREFIX) :].lower().split("__"), _EnvValue(raw))
    settings = _build(Settings, data, "")
    _validate(settings)
    for check in checks:
        check(settings)
    base = Path(path).resolve().parent if path is not None else Path.cwd()
    return resolve_paths(settings, base)


def resolve_paths(settings: Settings, base: Path) -> Settings:
    """Make every configured path absolute, once, at startup.

    Relative paths are relative to `base` (the config file's folder): a process started
    from another directory, and a library resolving against its own package folder (Flask's
    `send_file`), then read and write the same files. `telephony.recordings_dir` and the TLS
    files are relative to the instance folder; a SQLite URL's file to `base`.
    """
    instance = Path(settings.instance_path)
    instance = instance if instance.is_absolute() else (base / instance)
    tel = settings.telephony
    recordings = Path(tel.recordings_dir)
    recordings = recordings if recordings.is_absolute() else instance / recordings

    def in_instance(path: str) -> str:  # "" (not set) stays ""; absolute paths stay as they are
        return str((instance / path).resolve()) if path else ""

    return dataclasses.replace(
        settings,
        instance_path=str(instance.resolve()),
        database=dataclasses.replace(
            settings.database, url=_absolute_sqlite_url(settings.database.url, base)
        ),
        telephony=dataclasses.replace(
            tel,
            recordings_dir=str(recordings.resolve()),
            tls_certificate=in_instance(tel.tls_certificate),
            tls_private_key=in_instance(tel.tls_private_key),
            tls_ca_file=in_instance(tel.tls_ca_file),
        ),
    )


def _absolute_sqlite_url(url: str, base: Path) -> str:
    """Return a SQLite URL whose file is absolute (other databases and memory unchanged)."""
    match = re.match(r"^(sqlite(?:\+\w+)?:///)([^?]*)(\?.*)?$", url)
    if match is None or not match.group(2) or match.group(2) == ":memory:":
        return url
    prefix, file, query = match.group(1), match.group(2), match.group(3) or ""
    if file.startswith("/"):
        return url
    return f"{prefix}{(base / file).resolve()}{query}"


@dataclass(frozen=True, slots=True)
class _EnvValue:
    """A raw environment string, parsed once the target type is known.

    Text settings take it as it is (a secret like "1e3" stays "1e3"); other types parse it
    as JSON first, so HOTLINE_WEB__PORT=9000 is a number.
    """

    raw: str

    def parsed(self) -> Any:
        try:
            return json.loads(self.raw)
        except ValueError:
            return self.raw


def _plain(obj: Any) -> Any:
    """Turn dataclass settings into nested dicts (the built-in defaults to merge into)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _set_nested(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _build(cls: type[T], data: Any, path: str) -> T:
    if not isinstance(data, Mapping):
        raise SettingsError(f"{path or 'settings'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        where = path or "settings"
        raise SettingsError(f"{where}: unknown key(s) {', '.join(unknown)}")
    kwargs = {
        name: _coerce(hints[name], value, f"{path}.{name}" if path else name)
        for name, value in data.items()
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise SettingsError(f"{path or 'settings'}: {exc}") from exc


def _coerce(tp: Any, value: Any, path: str) -> Any:  # noqa: C901 - one branch per supported type
    if isinstance(value, _EnvValue):
        value = value.raw if tp is str or tp == (str | None) else value.parsed()
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, path)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)  # type: ignore[arg-type]
    if origin is dict:
        key_tp, value_tp = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise SettingsError(f"{path}: expected a mapping, got {value!r}")
        return {str(k): _coerce(value_tp, v, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise SettingsError(f"{path}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SettingsError(f"{path}: expected a whole number, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise SettingsError(f"{path}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise SettingsError(f"{path}: expected text, got {value!r}")
    raise SettingsError(f"{path}: unsupported setting type {tp!r}")


def _validate_auth(auth: AuthSettings) -> None:
    minutes = (auth.idle_minutes, auth.idle_minutes_seat, auth.idle_minutes_admin)
    if min(minutes) < 1 or auth.session_hours < 1 or auth.failure_window_minutes < 1:
        raise SettingsError("auth: idle minutes, session_hours and the window must be at least 1")
    if auth.lock_after_failures < 1 or auth.address_failures < 1 or auth.lock_minutes < 0:
        raise SettingsError("auth: failure limits must be at least 1 and lock_minutes not negative")
    if auth.password_min_length < 8 or not 1 <= auth.password_classes <= 4:
        raise SettingsError("auth: password_min_length at least 8, password_classes 1 to 4")


def _validate(settings: Settings) -> None:
    # Imported here: the clock parser is the one place durations are defined.
    from kernel.vocabulary import RequestType
    from kernel.vocabulary import Urgency
    from kernel.worktime import Duration

    sla = settings.sla
    if not 0 < sla.warning_share <= 1:
        raise SettingsError(f"sla.warning_share: must be in (0, 1], got {sla.warning_share}")
    durations = {
        "sla.return_window": sla.return_window,
        "sla.max_extension": sla.max_extension,
        "sla.contact_within": sla.contact_within,
        "supervision.notice_after": settings.supervision.notice_after,
        "followup.retry_after": settings.followup.retry_after,
        "followup.stale_after": settings.followup.stale_after,
    }
    missing = sorted({u.value for u in Urgency} - set(sla.clocks))
    if missing:
        raise SettingsError(f"sla.clocks: missing urgency level(s) {', '.join(missing)}")
    for urgency, rule in sla.clocks.items():
        _check_member(Urgency, urgency, f"sla.clocks.{urgency}")
        durations[f"sla.clocks.{urgency}.sign"] = rule.sign
        durations[f"sla.clocks.{urgency}.reply"] = rule.reply
    for rtype, per_urgency in sla.overrides.items():
        _check_member(RequestType, rtype, f"sla.overrides.{rtype}")
        for urgency, override in per_urgency.items():
            _check_member(Urgency, urgency, f"sla.overrides.{rtype}.{urgency}")
            for name in ("sign", "reply"):
                text = getattr(override, name)
                if text is not None:
                    durations[f"sla.overrides.{rtype}.{urgency}.{name}"] = text
    for where, text in durations.items():
        try:
            Duration.parse(text)
        except ValueError as exc:
            raise SettingsError(f"{where}: {exc}") from exc
    if not Duration.parse(sla.max_extension).working:
        raise SettingsError("sla.max_extension: must be in working days (e.g. 10wd)")
    _validate_calendar(settings.calendar)
    _validate_routing(settings.routing)
    _validate_kb(settings.kb)
    _validate_supervision(settings.supervision, settings.reports)
    _validate_telephony(settings.telephony)
    _validate_channels(settings)
    if settings.web.workers < 1 or settings.web.threads < 1:
        raise SettingsError("web.workers and web.threads must be at least 1")
    _validate_auth(settings.auth)


def _validate_channels(settings: Settings) -> None:
    o311, intake, fu = settings.open311, settings.intake, settings.followup
    if o311.rate_per_minute < 1 or o311.max_requests < 1 or o311.default_days < 1:
        raise SettingsError("open311: rate_per_minute, max_requests, default_days must be >= 1")
    if intake.per_ip_per_hour < 1:
        raise SettingsError("intake.per_ip_per_hour: must be at least 1")
    from kernel.worktime import Duration

    for name in ("retry_after", "stale_after"):
        if Duration.parse(getattr(fu, name)).working:
            raise SettingsError(f"followup.{name}: calendar time only (m, h or d)")
    if fu.channel not in ("voice", "sms"):
        raise SettingsError(f"followup.channel: voice or sms, got {fu.channel!r}")
    if fu.tries < 1:
        raise SettingsError("followup.tries: must be at least 1")
    if not 1 <= fu.survey_calls <= 4:
        raise SettingsError("followup.survey_calls: 1 to 4 (pjsua2 holds at most 4 calls)")
    if fu.ring_seconds < 5 or fu.answer_seconds < 1 or fu.sweep_seconds < 1:
        raise SettingsError("followup: ring_seconds >= 5, answer_seconds and sweep_seconds >= 1")
    start, sep, end = fu.call_hours.partition("-")
    try:
        if not sep or _hhmm(start) >= _hhmm(end):
            raise ValueError
    except ValueError:
        raise SettingsError(
            f"followup.call_hours: HH:MM-HH:MM with start before end, got {fu.call_hours!r}"
        ) from None


def _hhmm(text: str) -> tuple[int, int]:
    hour, _, minute = text.strip().partition(":")
    h, m = int(hour), int(minute)
    if not (0 <= h <= 24 and 0 <= m < 60 and len(minute) == 2):
        raise ValueError(text)
    return h, m


def _validate_telephony(tel: TelephonySettings) -> None:
    if tel.ring_seconds <= 0 or tel.max_wait_seconds <= 0 or tel.wrap_up_seconds < 0:
        raise SettingsError("telephony: ring_seconds and max_wait_seconds must be positive")
    if tel.max_misses < 1:
        raise SettingsError("telephony.max_misses: must be at least 1")
    if not tel.number.isdigit():
        raise SettingsError(f"telephony.number: digits only, got {tel.number!r}")
    bad = sorted(n for n in tel.transfer_targets if not n.isdigit() or len(n) > 20)
    if bad:
        raise SettingsError(f"telephony.transfer_targets: numbers are digits only, got {bad}")
    if tel.keepalive_seconds < 30:
        raise SettingsError("telephony.keepalive_seconds: at least 30 (Kamailio's least)")
    if not 5 <= tel.console_grace_seconds <= 600:
        raise SettingsError("telephony.console_grace_seconds: between 5 and 600 seconds")
    # Both go verbatim into the generated Kamailio configuration, inside double quotes.
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", tel.sip_realm):
        raise SettingsError("telephony.sip_realm: 1-64 letters, digits, dot, dash or underscore")
    if tel.acd_secret and not re.fullmatch(r"[A-Za-z0-9_-]{24,128}", tel.acd_secret):
        raise SettingsError("telephony.acd_secret: 24-128 letters, digits, dash or underscore")
    _validate_tls(tel)
    _validate_headsets(tel)


def _validate_headsets(tel: TelephonySettings) -> None:
    taken = {tel.sip_port, tel.tls_port}
    for name in ("ws_port", "wss_port"):
        port = getattr(tel, name)
        if not 0 <= port <= 65535 or (port and port in taken):
            raise SettingsError(f"telephony.{name}: 0 (off) or a port of its own")
        taken.add(port)
    if tel.wss_port and not (tel.tls_certificate and tel.tls_private_key):
        raise SettingsError(
            "telephony.wss_port: WSS needs telephony.tls_certificate and tls_private_key"
        )
    # It goes verbatim into the generated Kamailio configuration, inside double quotes.
    if not re.fullmatch(r"[A-Za-z0-9.:-]{1,100}", tel.rtpengine):
        raise SettingsError("telephony.rtpengine: host:port of rtpengine's control socket")
    if tel.headset_url and not re.fullmatch(r"wss?://[^\s\"'<>]{1,200}", tel.headset_url):
        raise SettingsError("telephony.headset_url: a ws:// or wss:// address, or empty")
    if not 1024 <= tel.rtp_port_min < tel.rtp_port_max <= 65535:
        raise SettingsError("telephony.rtp_port_min/max: a range of UDP ports above 1023")


def _validate_tls(tel: TelephonySettings) -> None:
    if not 0 <= tel.tls_port <= 65535 or (tel.tls_port and tel.tls_port == tel.sip_port):
        raise SettingsError("telephony.tls_port: 0 (off) or a port other than sip_port")
    if tel.tls_port and not (tel.tls_certificate and tel.tls_private_key):
        raise SettingsError(
            "telephony.tls_port: TLS needs telephony.tls_certificate and "
            "telephony.tls_private_key (PEM files of the edge's certificate and key)"
        )
    if tel.tls_required and not tel.tls_port:
        raise SettingsError("telephony.tls_required: set telephony.tls_port too")
    for name in ("tls_certificate", "tls_private_key", "tls_ca_file"):
        # They go verbatim into the generated Kamailio configuration, inside double quotes.
        if re.search(r'["\\\x00-\x1f]', getattr(tel, name)):
            raise SettingsError(f"telephony.{name}: no quotes, backslashes or control characters")


def _validate_kb(kb: KbSettings) -> None:
    from croniter import croniter

    if not croniter.is_valid(kb.remind_cron):
        raise SettingsError(f"kb.remind_cron: not a cron expression: {kb.remind_cron!r}")


def _validate_supervision(sup: SupervisionSettings, reports: ReportsSettings) -> None:
    from croniter import croniter

    if sup.sweep_seconds < 10:
        raise SettingsError("supervision.sweep_seconds: at least 10")
    if not croniter.is_valid(reports.brief_cron):
        raise SettingsError(f"reports.brief_cron: not a cron expression: {reports.brief_cron!r}")
    if not 0 <= reports.satisfaction_floor <= 1:
        raise SettingsError("reports.satisfaction_floor: must be in [0, 1]")
    if reports.ranking_min_sample < 1:
        raise SettingsError("reports.ranking_min_sample: must be at least 1")
    weights = reports.ranking_weights
    if not weights or any(w < 0 for w in weights.values()) or not sum(weights.values()) > 0:
        raise SettingsError("reports.ranking_weights: weights must be ≥ 0 and not all 0")


def _validate_routing(routing: RoutingSettings) -> None:
    from croniter import croniter

    if not 0 < routing.auto_dispatch_threshold <= 1:
        raise SettingsError(
            "routing.auto_dispatch_threshold: must be in (0, 1], "
            f"got {routing.auto_dispatch_threshold}"
        )
    for name in ("duplicate_same_caller_min", "duplicate_same_place_min"):
        value = getattr(routing, name)
        if not 0 < value <= 1:
            raise SettingsError(f"routing.{name}: must be in (0, 1], got {value}")
    if routing.duplicate_window_days < 1:
        raise SettingsError("routing.duplicate_window_days: must be at least 1")
    if routing.refresh_seconds < 0:
        raise SettingsError("routing.refresh_seconds: must not be negative")
    if routing.retrain_cron and not croniter.is_valid(routing.retrain_cron):
        raise SettingsError(
            f"routing.retrain_cron: not a cron expression: {routing.retrain_cron!r}"
        )


def _validate_calendar(cal: CalendarSettings) -> None:
    import datetime as dt
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(cal.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"calendar.timezone: unknown time zone {cal.timezone!r}") from exc
    try:
        start = dt.time.fromisoformat(cal.day_start)
        end = dt.time.fromisoformat(cal.day_end)
    except ValueError as exc:
        raise SettingsError(f"calendar.day_start/day_end: expected HH:MM ({exc})") from exc
    if start >= end:
        raise SettingsError("calendar.day_start must be before calendar.day_end")
    for day in cal.overrides:
        try:
            dt.date.fromisoformat(day)
        except ValueError as exc:
            raise SettingsError(f"calendar.overrides.{day}: expected YYYY-MM-DD") from exc


def _check_member(enum_cls: Any, value: str, path: str) -> None:
    allowed = [m.value for m in enum_cls]
    if value not in allowed:
        raise SettingsError(f"{path}: unknown value {value!r}, expected one of {allowed}")


def redacted(settings: Settings) -> dict[str, Any]:
    """Return the settings as a plain dict with secrets hidden, for `hotline config show`."""

    def walk(obj: Any, key: str = "") -> Any:
        if dataclasses.is_dataclass(obj):
            return {f.name: walk(getattr(obj, f.name), f.name) for f in dataclasses.fields(obj)}
        if isinstance(obj, dict):
            return {k: walk(v, k) for k, v in obj.items()}
        if isinstance(obj, str) and key in SECRET_FIELDS:
            return _hide_url_password(obj) if key == "url" else ("***" if obj else "")
        return obj

    result: dict[str, Any] = walk(settings)
    return result


def _hide_url_password(url: str) -> str:
    """Replace the password of a URL (with or without a user name) by ***."""
    from urllib.parse import urlsplit
    from urllib.parse import urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def settings_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """Return the config file named by HOTLINE_CONFIG, else ./config.yaml if it exists."""
    environ = os.environ if environ is None else environ
    named = environ.get("HOTLINE_CONFIG")
    if named:
        return Path(named)
    default = Path("config.yaml")
    return default if default.exists() else None
