"""What a weekly brief (周报) holds: one week's figures and lines, and the week before's.

`reports.brief.weekly.gather` reads one ISO week (and the week before, for the changes) into a
`Brief`; reports.brief.render turns a Brief into HTML, PDF and DOCX. The Brief holds no
personal data: cases show the ticket number, title and unit, never the caller.
"""

import datetime as dt
from dataclasses import dataclass
from dataclasses import field

from reports.topics.report import TopicReport


@dataclass(frozen=True, slots=True)
class Change:
    """A figure this week and the week before."""

    now: float | None
    before: float | None

    @property
    def delta(self) -> float | None:
        if self.now is None or self.before is None:
            return None
        return self.now - self.before


@dataclass(frozen=True, slots=True)
class CountRow:
    """One line of a breakdown (a channel, a request type): tickets this week and last."""

    key: str
    label: str
    now: int
    before: int


@dataclass(frozen=True, slots=True)
class KpiLine:
    """One KPI (reports.kpis.FORMULAS): its share this week and last, and this week's counts."""

    name: str
    label: str
    formula: str
    now: float | None
    before: float | None
    part: int
    whole: int


@dataclass(frozen=True, slots=True)
class DayCount:
    day: dt.date
    accepted: int
    dispatched: int


@dataclass(frozen=True, slots=True)
class CategoryLine:
    name: str
    count: int
    share: float | None  # of the week's accepted tickets
    before: int  # the week before


@dataclass(frozen=True, slots=True)
class UnitLine:
    """A unit's week (its sub-units rolled up), ranked by the configured weighted score."""

    rank: int  # 0: not ranked (样本不足)
    unit_id: int
    unit: str
    dispatched: int
    on_time_sign_rate: float | None
    reply_rate: float | None
    on_time_reply_rate: float | None
    overdue: int
    overdue_rate: float | None
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    score: float | None
    below_floor: bool
    valid_follow_ups: int = 0  # the cases behind its 满意率 and 解决率
    # 样本不足: the weighted KPIs it lacks or has too few cases for, as people read them
    # (响应率（应联系2件）); empty when ranked.
    short: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseLine:
    """A ticket shown in the brief: number, title, unit and why it is there."""

    ticket_id: int
    number: str
    title: str
    unit: str | None
    status: str  # label in Chinese
    why: str  # 重办3次 / 经3个单位 / 通报 / 超期未办结 …
    summary: str = ""  # the unit's reply or the resolution, trimmed


@dataclass(frozen=True, slots=True)
class NoticeLine:
    """A unit named (通报): its tickets still open 5 working days past the deadline."""

    unit_id: int
    unit: str
    count: int
    numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Brief:
    week: str  # 2026-W47
    title: str  # 12345热线工作周报（2026年第47周）
    range_text: str  # 2026年11月16日—11月22日
    monday: dt.date
    generated_at: dt.datetime  # local time
    hotline: str  # the hotline's name, e.g. 12345政务服务便民热线
    headline: list[str]  # the opening paragraph, sentence by sentence
    accepted: Change
    dispatched: Change
    resolved_directly: Change
    calls_offered: Change
    calls_answered: Change
    average_wait_seconds: Change
    average_talk_seconds: Change
    channels: list[CountRow]
    request_types: list[CountRow]
    kpis: list[KpiLine]
    daily: list[DayCount]  # Monday first, 7 days
    categories: list[CategoryLine]
    topics: TopicReport
    units: list[UnitLine]
    satisfaction_floor: float
    below_floor: list[str]  # unit names, worst first
    notices: list[NoticeLine]
    problems: list[CaseLine]
    cases: list[CaseLine]
    weights: dict[str, float] = field(default_factory=dict)  # ranking weights used
    min_sample: int = 1  # the ranking's least number of cases behind each weighted KPI
