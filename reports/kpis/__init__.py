"""The hotline's KPIs (考核指标) over any period: overall, per unit, per category, per district.

Every formula of ../shared/DOMAIN.md "KPIs" is stated once, in `definitions.FORMULAS`, as the
names of two counts: the KPI is part ÷ whole (None when the whole is 0). docs/reports.md
defines every count so that an auditor can recompute it from `ticket_events` alone; the
docstrings of `counts` are those definitions, in code.

A period is the half-open [start, end) of aware datetimes (local days in the hotline's time
zone); `now` is the moment of asking. Populations are fixed by events in the period; their
outcomes are read from every event up to `now`. Events are never changed or removed, so a
figure of a past period only moves while outcomes of its own population are still coming in
(a reply after the period ended, a reopening of a round finished in it), never because of
something else.

Rounds (办理轮次): each `dispatch`, `reassign` or `reopen` event starts a round of a ticket
for the unit named on it, with the deadlines in its data (sign_due_at, reply_due_at,
contact_due_at); the round lasts until the ticket's next such event. Every later event of
the round names the same unit. An `uphold` (审定) restarts the round's sign-for clock, an
`approve_extension` moves its reply deadline.

Attribution: a round counts for its unit, a unit's figures include its sub-units' (a
district rolls up its streets); categories and districts are the ticket's. Calls are not
attributable to units: call KPIs exist overall only. Merged duplicates (已合并) count
nowhere: their master does.

Everything is read-only; nothing here returns personal data.

- `definitions`: the vocabulary, pure: count names and labels, `FORMULAS`, `KPI_NAMES`,
  `HOTLINE_KPIS`, `LOWER_IS_BETTER`, `Figures` (counts → KPIs), category naming.
- `counts`: the `Period`, and what each count counts, as SQL conditions on a round or ticket.
- `rounds`: every round of the tickets that may count in a period, read from their events.
- `report`: `compute`, the counting and its roll-up per unit, category or district.
- `breakdowns`: 受理量 per channel, type or category, and per day.

The names below are the package's API: callers import them from `reports.kpis`.
"""

from reports.kpis.breakdowns import accepted_by
from reports.kpis.breakdowns import accepted_by_category
from reports.kpis.breakdowns import daily
from reports.kpis.counts import ROUND_COUNTS
from reports.kpis.counts import TICKET_COUNTS
from reports.kpis.counts import Period
from reports.kpis.counts import accepted
from reports.kpis.definitions import CALL_COUNTS
from reports.kpis.definitions import CALL_KPIS
from reports.kpis.definitions import COUNT_LABELS
from reports.kpis.definitions import COUNT_NAMES
from reports.kpis.definitions import FORMULAS
from reports.kpis.definitions import HOTLINE_KPIS
from reports.kpis.definitions import KPI_NAMES
from reports.kpis.definitions import LOWER_IS_BETTER
from reports.kpis.definitions import NO_DISTRICT
from reports.kpis.definitions import UNCATEGORISED
from reports.kpis.definitions import Figures
from reports.kpis.definitions import Formula
from reports.kpis.definitions import GroupBy
from reports.kpis.definitions import first_level
from reports.kpis.definitions import ranked_categories
from reports.kpis.definitions import ratio
from reports.kpis.report import KpiReport
from reports.kpis.report import UnitNode
from reports.kpis.report import compute
from reports.kpis.report import unit_tree
from reports.kpis.report import with_descendants

__all__ = [
    "CALL_COUNTS",
    "CALL_KPIS",
    "COUNT_LABELS",
    "COUNT_NAMES",
    "FORMULAS",
    "HOTLINE_KPIS",
    "KPI_NAMES",
    "LOWER_IS_BETTER",
    "NO_DISTRICT",
    "ROUND_COUNTS",
    "TICKET_COUNTS",
    "UNCATEGORISED",
    "Figures",
    "Formula",
    "GroupBy",
    "KpiReport",
    "Period",
    "UnitNode",
    "accepted",
    "accepted_by",
    "accepted_by_category",
    "compute",
    "daily",
    "first_level",
    "ranked_categories",
    "ratio",
    "unit_tree",
    "with_descendants",
]
