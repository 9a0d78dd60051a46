"""Composition root: the one place that builds concrete adapters from settings."""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from agents_ui.wiring import UiServices
from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.duty import on_duty_check
from callcenter.edge.kamailio import wait_step_seconds
from dispatch.routing.assist import Assistant
from dispatch.routing.duplicates import DuplicateRules
from dispatch.routing.router import Router
from dispatch.tickets.attachments import AttachmentPolicy
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.context import SlaPolicy
from dispatch.tickets.policy import OverlayCache
from dispatch.tickets.policy import load_overlay
from hotline.tables import load_all
from infra.auth import TokenCache
from infra.db import UnitOfWork
from infra.db import make_engine
from infra.db import make_session_factory
from infra.files import FileStore
from infra.settings import Settings
from infra.settings import resolve_paths
from infra.workdays import ChineseWorkdays
from kb.index import LiveIndex
from kernel.worktime import WorkCalendar

load_all()  # the composition root registers every table
log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    dispatch: DispatchContext
    redis_factory: Callable[[], "redis.Redis"]
    attachments: AttachmentPolicy
    overlay: OverlayCache
    assistant: Assistant
    kb_index: LiveIndex
    tokens: TokenCache = field(default_factory=TokenCache)
    _redis: "redis.Redis | None" = field(default=None, repr=False)
    _acd: Acd | None = field(default=None, repr=False)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def utcnow(self) -> dt.datetime:
        return self.dispatch.utcnow()

    def close(self) -> None:
        """Release pooled connections (commands and workers that end, tests)."""
        self.engine.dispose()
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    @property
    def redis(self) -> "redis.Redis":
        if self._redis is None:
            self._redis = self.redis_factory()
        return self._redis

    @property
    def acd(self) -> Acd:
        """The ACD over this container's Redis (the hall's state is shared through it)."""
        if self._acd is None or self._acd.r is not self.redis:
            tel = self.settings.telephony
            self._acd = Acd(
                self.redis,
                AcdConfig(
                    max_wait_seconds=tel.max_wait_seconds,
                    max_misses=tel.max_misses,
                    wrap_up_seconds=tel.wrap_up_seconds,
                    console_grace_seconds=tel.console_grace_seconds,
                    # Kamailio comes for a reserved seat within seconds, or reports no answer
                    # after ring_seconds, and a waiting call asks again every wait step: a
                    # call quiet for longer than that was forgotten.
                    stale_ring_seconds=max(
                        tel.ring_seconds + 20, 3 * wait_step_seconds(tel.max_wait_seconds)
                    ),
                ),
            )
        return self._acd


def make_calendar(settings: Settings, overlay: OverlayCache | None = None) -> WorkCalendar:
    from zoneinfo import ZoneInfo

    cal = settings.calendar
    overrides = {dt.date.fromisoformat(k): v for k, v in cal.overrides.items()}
    return WorkCalendar(
        workdays=ChineseWorkdays(overrides, overlay.days if overlay else None),
        tz=ZoneInfo(cal.timezone),
        day_start=dt.time.fromisoformat(cal.day_start),
        day_end=dt.time.fromisoformat(cal.day_end),
    )


def bootstrap(
    settings: Settings,
    *,
    engine: Engine | None = None,
    now: Callable[[], dt.datetime] | None = None,
    redis_factory: Callable[[], "redis.Redis"] | None = None,
) -> Container:
    """Build the container; tests pass their own engine, clock or Redis."""
    # Settings from load_settings are absolute already; ones built in code are made so here.
    settings = resolve_paths(settings, Path.cwd())
    engine = engine or make_engine(settings.database)
    session_factory = make_session_factory(engine)
    overlay = OverlayCache(lambda: load_overlay(engine))
    policy = SlaPolicy(
        calendar=make_calendar(settings, overlay), settings=settings.sla, rules=overlay.sla
    )
    ctx = DispatchContext(policy=policy, number_prefix=settings.tickets.number_prefix)
    if now is not None:
        ctx.now = now
    # 领导接听: a leader accepts requests inside their duty windows
    ctx.on_duty = on_duty_check(session_factory, lambda: ctx.now())
    url = settings.redis.url
    routing = settings.routing
    assistant = Assistant(
        router=Router(
            session_factory,
            threshold=routing.auto_dispatch_threshold,
            refresh_seconds=routing.refresh_seconds,
            enabled=routing.auto_dispatch,
        ),
        duplicates=DuplicateRules(
            window_days=routing.duplicate_window_days,
            same_caller_min=routing.duplicate_same_caller_min,
            same_place_min=routing.duplicate_same_place_min,
        ),
    )
    return Container(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        overlay=overlay,
        assistant=assistant,
        dispatch=ctx,
        kb_index=LiveIndex(session_factory),
        attachments=AttachmentPolicy(
            store=FileStore(Path(settings.instance_path) / "attachments"),
            max_bytes=settings.attachments.max_bytes,
        ),
        redis_factory=redis_factory
        or (lambda: redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)),
    )


def _offers_what_every_package_asks(container: Container) -> UiServices:
    """Never called: mypy checks here that the container is what each package's view says."""
    return container
