"""Hot topics (reports.topics.queries.hot_topics) over tickets written straight to the database.

The week of Monday 16 November 2026 (Shanghai), and the four weeks before it:

this week   6 noise tickets: 5 at 滨江社区 (Mon–Fri), 1 at 翠屏街道 (Sat); one more at 滨江社区
              on Sunday merged into the first; one the minute before the week, one at its end
            4 parking tickets: 3 at "滨江路 88号 阳光花园", 1 at 柳岸路15号
            3 housing-fund tickets, 3 shared-bike tickets (no place)
before      3 parking tickets and 1 housing-fund ticket each week, and the noise ticket of the
              minute before the week
"""

import datetime as dt
from dataclasses import dataclass

import pytest

from dispatch.tickets.domain import Channel
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from hotline.bootstrap import Container
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from reports.topics.queries import hot_topics
from reports.topics.report import HotSpot
from reports.topics.report import TopicReport
from reports.topics.words import tokenize
from tests.conftest import SHANGHAI
from tests.conftest import World

START = dt.datetime(2026, 11, 16, tzinfo=SHANGHAI)
END = START + dt.timedelta(days=7)

NOISE = ("工地夜间施工噪音扰民", "工地每天夜间施工到凌晨，噪音很大，无法休息")
PARKING = ("小区停车位不足", "小区停车位严重不足，车辆乱停乱放，堵住消防通道")
FUND = ("咨询公积金提取", "想了解住房公积金提取需要哪些材料")
BIKES = ("共享单车堆积", "地铁站口共享单车堆积如山，行人无法通过")


@dataclass(frozen=True)
class Place:
    address: str | None = None
    district_id: int | None = None
    street_id: int | None = None
    community_id: int | None = None


NOWHERE = Place()


class Tickets:
    """Writes tickets as they would be after intake, one unit of work each."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def add(
        self,
        when: dt.datetime,
        text: tuple[str, str],
        place: Place = NOWHERE,
        *,
        status: TicketStatus = TicketStatus.ACCEPTED,
        category: str | None = None,
        merged_into_id: int | None = None,
    ) -> int:
        with self.container.uow() as uow:
            ticket = Ticket(
                channel=Channel.PHONE,
                request_type=RequestType.COMPLAINT,
                urgency=Urgency.NORMAL,
                title=text[0],
                content=text[1],
                status=status,
                category=category,
                address=place.address,
                district_id=place.district_id,
                street_id=place.street_id,
                community_id=place.community_id,
                merged_into_id=merged_into_id,
                created_at=when,
            )
            uow.session.add(ticket)
            uow.session.flush()
            ticket_id = ticket.id
            uow.commit()
        return ticket_id


def day(n: int, hour: int = 10) -> dt.datetime:
    """A moment of the week: day 0 is Monday."""
    return START + dt.timedelta(days=n, hours=hour)


class Week:
    """The scenario of the module docstring; ids by group."""

    def __init__(self, container: Container, world: World) -> None:
        add = Tickets(container).add
        units = world.units
        binjiang = Place("东湖区湖滨街道滨江社区", units["dh"], units["dh-hb"], units["dh-hb-01"])
        self.noise = [add(day(n), NOISE, binjiang, category="城市管理/噪音扰民") for n in range(5)]
        cuiping = Place(street_id=units["xs-cp"])
        self.noise.append(add(day(5), NOISE, cuiping, category="环境保护/噪声污染"))
        self.merged = add(
            day(6), NOISE, binjiang, status=TicketStatus.MERGED, merged_into_id=self.noise[0]
        )
        self.outside = [
            add(START - dt.timedelta(minutes=1), NOISE, binjiang),
            add(END, NOISE, binjiang),
        ]
        seaside = Place("滨江路 88号 阳光花园")
        self.parking = [add(day(n), PARKING, seaside) for n in range(3)]
        self.parking.append(add(day(3), PARKING, Place("柳岸路15号")))
        self.fund = [add(day(n, 14), FUND, category="住房保障/公积金") for n in range(3)]
        self.bikes = [add(day(n, 16), BIKES) for n in range(3)]
        for week in range(1, 5):
            monday = START - dt.timedelta(weeks=week)
            for n in range(3):
                add(monday + dt.timedelta(days=n, hours=9), PARKING, Place("柳岸路15号"))
            add(monday + dt.timedelta(days=4, hours=9), FUND)


@pytest.fixture
def week(container: Container, world: World) -> Week:
    return Week(container, world)


def report(container: Container, **options: int) -> TopicReport:
    with container.uow() as uow:
        return hot_topics(uow.session, START, END, **options)


def test_topics_of_the_week_biggest_first(container: Container, week: Week) -> None:
    result = report(container)
    assert result.tickets == 6 + 4 + 3 + 3
    assert [t.count for t in result.topics] == [6, 4, 3, 3]
    noise, parking, fund, bikes = result.topics
    assert noise.ticket_ids == tuple(reversed(week.noise[1:]))  # the 5 most recent
    assert noise.category == "城市管理"
    assert {"施工", "噪音", "工地", "夜间"} <= set(noise.keywords)
    assert noise.label == "、".join(noise.keywords)
    assert "停车位" in parking.keywords
    assert parking.ticket_ids == tuple(reversed(week.parking))
    assert parking.category is None
    assert (fund.ticket_ids, fund.category) == (tuple(reversed(week.fund)), "住房保障")
    assert "公积金" in fund.keywords
    assert bikes.ticket_ids == tuple(reversed(week.bikes))


def test_merged_tickets_and_tickets_outside_the_week_are_left_out(
    container: Container, week: Week
) -> None:
    result = report(container)
    shown = {i for t in result.topics for i in t.ticket_ids}
    shown |= {i for s in result.hot_spots for i in s.ticket_ids}
    assert week.merged not in shown
    assert not shown & set(week.outside)
    assert result.topics[0].count == 6
    assert result.hot_spots[0].count == 5


def test_hot_spots_are_one_topic_at_one_place(container: Container, week: Week) -> None:
    result = report(container)
    noise, parking = result.topics[:2]
    assert result.hot_spots == [
        HotSpot("滨江社区", noise.label, 5, tuple(reversed(week.noise[:5]))),
        # No unit: the address, without its spaces.
        HotSpot("滨江路88号阳光花园", parking.label, 3, tuple(reversed(week.parking[:3]))),
    ]


def test_rising_keywords_against_the_four_weeks_before(container: Container, week: Week) -> None:
    rising = report(container).rising
    words = {
        name: set(tokenize("\n".join(text)))
        for name, text in [("noise", NOISE), ("parking", PARKING), ("fund", FUND), ("bikes", BIKES)]
    }
    by_group = {name: [r for r in rising if r.keyword in group] for name, group in words.items()}
    # New this week: no baseline, first.
    assert by_group["bikes"]
    assert all((r.count, r.baseline, r.ratio) == (3, 0.0, None) for r in by_group["bikes"])
    assert rising[: len(by_group["bikes"])] == by_group["bikes"]
    # 6 against 1 in four weeks; 3 against 1 a week.
    assert by_group["noise"]
    assert all((r.count, r.baseline, r.ratio) == (6, 0.25, 24.0) for r in by_group["noise"])
    assert by_group["fund"]
    assert all((r.count, r.baseline, r.ratio) == (3, 1.0, 3.0) for r in by_group["fund"])
    assert rising.index(by_group["noise"][0]) < rising.index(by_group["fund"][0])
    # 4 against 3 a week does not rise.
    assert by_group["parking"] == []


def test_options(container: Container, week: Week) -> None:
    result = report(container, limit=1)
    assert (len(result.topics), len(result.hot_spots), len(result.rising)) == (1, 1, 1)
    assert result.topics[0].count == 6
    assert [t.count for t in report(container, min_cluster=4).topics] == [6, 4]
    assert report(container, min_cluster=4).hot_spots[0].place == "滨江社区"
    assert len(report(container, min_cluster=4).hot_spots) == 1
    assert report(container, previous_weeks=0).rising == []


def test_a_week_without_tickets(container: Container, world: World) -> None:
    Tickets(container).add(START - dt.timedelta(days=1), NOISE)
    assert report(container) == TopicReport(0, [], [], [])


def test_same_tickets_same_report(container: Container, week: Week) -> None:
    first = report(container)
    assert first.topics and first.hot_spots and first.rising
    assert report(container) == first
