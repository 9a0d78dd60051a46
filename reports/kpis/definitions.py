"""The KPIs' vocabulary: every count's name and label, every formula, and the KPIs of a scope.

Pure: no database. What each count counts is in reports.kpis.counts.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any
from typing import Final

UNCATEGORISED: Final = "未分类"
NO_DISTRICT: Final = "未定属地"


class GroupBy(StrEnum):
    """What a report's rows are: units (sub-units rolled up), categories or districts."""

    UNIT = "unit"
    CATEGORY = "category"
    DISTRICT = "district"


# ---------------------------------------------------------------- the counts

# Call counts (callcenter.records.kpis): offered, answered, answered within 15 s, abandoned.
CALL_COUNTS: Final = ("calls_offered", "calls_answered", "calls_answered_15s", "calls_abandoned")
# Tickets (受理量, 直办量) and rounds (派单量 …): reports.kpis.counts states what each counts.
TICKET_COUNT_NAMES: Final = ("accepted", "resolved_directly")
ROUND_COUNT_NAMES: Final = (
    "dispatched",
    "returned",
    "assessed",
    "replied",
    "sign_settled",
    "signed_on_time",
    "contact_settled",
    "contacted_on_time",
    "due",
    "replied_on_time",
    "overdue",
    "closed_of_due",
    "closed",
    "followed_up",
    "finished",
    "reopened",
    "valid_follow_ups",
    "satisfied",
    "solved",
)
COUNT_NAMES: Final = (*CALL_COUNTS, *TICKET_COUNT_NAMES, *ROUND_COUNT_NAMES)

# What each count is called where people read it.
COUNT_LABELS: Final[Mapping[str, str]] = {
    "calls_offered": "呼入量",
    "calls_answered": "人工接通量",
    "calls_answered_15s": "15秒内接通量",
    "calls_abandoned": "放弃量",
    "accepted": "受理量",
    "resolved_directly": "直接办结量",
    "dispatched": "派单量",
    "returned": "被退回量",
    "assessed": "考核派单量",
    "replied": "已回复量",
    "sign_settled": "应签收量",
    "signed_on_time": "按时签收量",
    "contact_settled": "应联系量",
    "contacted_on_time": "按时联系量",
    "due": "到期量",
    "replied_on_time": "按时回复量",
    "overdue": "超期量",
    "closed_of_due": "到期已办结量",
    "closed": "办结量",
    "followed_up": "已回访量",
    "finished": "回访或办结量",
    "reopened": "被重办量",
    "valid_follow_ups": "有效回访量",
    "satisfied": "满意量",
    "solved": "解决量",
}

# ---------------------------------------------------------------- the formulas (stated once)


@dataclass(frozen=True, slots=True)
class Formula:
    label: str  # the KPI's name in Chinese
    part: str  # a count above the line
    whole: str  # a count below it
    text: str  # the formula as people read it
    lower_is_better: bool = False  # 超期率, 退回率, 重办率, 放弃率: less is better


FORMULAS: Final[Mapping[str, Formula]] = {
    "answer_rate": Formula("接通率", "calls_answered", "calls_offered", "人工接通量 ÷ 呼入量"),
    "service_level_15s": Formula(
        "15秒接通率", "calls_answered_15s", "calls_answered", "15秒内接通量 ÷ 人工接通量"
    ),
    "abandon_rate": Formula(
        "放弃率", "calls_abandoned", "calls_offered", "放弃量 ÷ 呼入量", lower_is_better=True
    ),
    "direct_resolution_rate": Formula(
        "直办率", "resolved_directly", "accepted", "直接办结量 ÷ 受理量"
    ),
    "on_time_sign_rate": Formula(
        "及时签收率",
        "signed_on_time",
        "sign_settled",
        "按时签收量 ÷ 应签收量（期内派单中已签收或签收时限已到的）",
    ),
    "reply_rate": Formula("回复率", "replied", "assessed", "已回复量 ÷ 考核派单量（不含改派走的）"),
    "on_time_reply_rate": Formula(
        "按时办结率", "replied_on_time", "due", "按时回复量 ÷ 到期量（回复时限在期内且已到）"
    ),
    "closure_rate": Formula("办结率", "closed_of_due", "due", "到期已办结量 ÷ 到期量"),
    "overdue_rate": Formula(
        "超期率",
        "overdue",
        "due",
        "（逾期回复 + 到期未回复）÷ 到期量",
        lower_is_better=True,
    ),
    "follow_up_rate": Formula("回访率", "followed_up", "closed", "已回访量 ÷ 办结量"),
    "satisfaction_rate": Formula(
        "满意率", "satisfied", "valid_follow_ups", "（非常满意 + 满意 + 基本满意）÷ 有效回访量"
    ),
    "resolution_rate": Formula("解决率", "solved", "valid_follow_ups", "已解决 ÷ 有效回访量"),
    "response_rate": Formula(
        "响应率",
        "contacted_on_time",
        "contact_settled",
        "按时联系诉求人量 ÷ 应联系量（期内派单中已回复或联系时限已到的）",
    ),
    "return_rate": Formula(
        "退回率", "returned", "dispatched", "被退回量 ÷ 派单量", lower_is_better=True
    ),
    "reopen_rate": Formula(
        "重办率",
        "reopened",
        "finished",
        "被重办量 ÷ 回访或办结量（期内首次回访或办结的）",
        lower_is_better=True,
    ),
}
KPI_NAMES: Final = tuple(FORMULAS)
CALL_KPIS: Final = frozenset({"answer_rate", "service_level_15s", "abandon_rate"})
# The hotline's own KPIs: no unit has them (calls, and 直办率, the hotline's share).
HOTLINE_KPIS: Final = CALL_KPIS | {"direct_resolution_rate"}
LOWER_IS_BETTER: Final = frozenset(n for n, f in FORMULAS.items() if f.lower_is_better)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(slots=True)
class Figures:
    """The counts of one scope (everything, a unit, a category ...) and the KPIs from them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    average_wait_seconds: float | None = None
    average_talk_seconds: float | None = None
    with_calls: bool = False
    # A unit's figures: 受理 and 直办 are the hotline's own and mean nothing for a unit.
    for_unit: bool = False

    def add(self, other: "Figures") -> None:
        for name, n in other.counts.items():
            self.counts[name] += n

    def applies(self, name: str) -> bool:
        """Whether this scope has the KPI at all (calls: the hotline only; 直办率: not units)."""
        if name in CALL_KPIS:
            return self.with_calls
        return not (name == "direct_resolution_rate" and self.for_unit)

    def kpis(self) -> dict[str, float | None]:
        return {
            name: ratio(self.counts[f.part], self.counts[f.whole]) if self.applies(name) else None
            for name, f in FORMULAS.items()
        }

    def view(self) -> dict[str, Any]:
        """The JSON shape: each KPI, and the counts behind each."""
        values = self.kpis()
        return {
            **values,
            "average_wait_seconds": self.average_wait_seconds,
            "average_talk_seconds": self.average_talk_seconds,
            "counts": {
                name: {"part": self.counts[f.part], "whole": self.counts[f.whole]}
                for name, f in FORMULAS.items()
            },
            "totals": dict(self.counts),
        }


# ---------------------------------------------------------------- categories


def first_level(category: str | None) -> str:
    """The first level of a category path ("城市管理/噪音" → "城市管理"), 未分类 for none."""
    head = (category or "").split("/", 1)[0].strip()
    return head or UNCATEGORISED


def ranked_categories(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Biggest first; 未分类 after named categories of the same size; then by name."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] == UNCATEGORISED, kv[0]))
