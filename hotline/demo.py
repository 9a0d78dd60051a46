"""Demo data: units, a user for every role, and tickets in every state over eight weeks.

Tickets are driven through the real services with a simulated clock, so their events,
clocks and lights are exactly what the product would have produced.
"""

import dataclasses
import datetime as dt
import logging
import math
import random
import re
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa

from callcenter.lines import save_line
from dispatch.routing.models import Matter
from dispatch.tickets import actions
from dispatch.tickets import commands as c
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import SATISFIED_LEVELS
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import ReturnReason
from dispatch.tickets.domain import Satisfaction
from hotline import demo_content as content
from hotline.bootstrap import Container
from infra.auth import NewUser
from infra.auth import create_user
from infra.commands import Command
from infra.models import Unit
from infra.models import User
from kernel.actor import Actor
from kernel.errors import DomainError
from kernel.roles import Role
from kernel.units import UnitKind
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency

log = logging.getLogger(__name__)

DEMO_PASSWORD = "hotline2026"
# The demo's Open311 client key (a real deployment's keys are made, and shown once, by admins).
DEMO_API_KEY = "demo-open311-key-12345"
HOUR = dt.timedelta(hours=1)

DESK_USERS: tuple[tuple[str, str, Role], ...] = (
    ("admin", "系统管理员", Role.ADMIN),
    ("operator1", "王芳", Role.OPERATOR),
    ("operator2", "李娜", Role.OPERATOR),
    ("lead1", "赵敏", Role.TEAM_LEAD),
    ("supervisor1", "陈刚", Role.SUPERVISOR),
    ("leader1", "周建国", Role.LEADER),
)


@dataclass
class _World:
    container: Container
    rng: random.Random
    units: dict[str, int]
    unit_codes: dict[int, str]
    desk: dict[Role, Actor]
    liaisons: dict[int, Actor]
    open_by_title: dict[str, list[int]]
    # The calls behind the phone tickets, and calls that got no ticket (written at the end).
    calls: list[dict[str, object]] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)  # the operators, as seats name them: u<id>
    stops: int = 0  # recent tickets stopped part-way so far


def demo_logins(container: Container) -> list[tuple[str, str, str]]:
    """Return (username, role label, unit) for the demo users, for printing."""
    with container.uow() as uow:
        rows = uow.session.execute(
            sa.select(User.username, User.role, Unit.name)
            .outerjoin(Unit, Unit.id == User.unit_id)
            .order_by(User.id)
        ).all()
    return [(u, r.value, n or "") for u, r, n in rows]


def load_demo(
    container: Container,
    *,
    tickets: int = 300,
    weeks: int = 8,
    seed: int = 12345,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Load the demo data into an empty database; return counts. Does nothing if units exist."""
    with container.uow() as uow:
        if uow.session.scalar(sa.select(sa.func.count()).select_from(Unit)):
            log.info("demo data already present; nothing loaded")
            return {"tickets": 0}
    now = now or dt.datetime.now(dt.UTC)
    rng = random.Random(seed)
    units = _load_units(container)
    desk, liaisons = _load_users(container, units)
    world = _World(container, rng, units, {v: k for k, v in units.items()}, desk, liaisons, {})
    starts = sorted(
        now - dt.timedelta(seconds=rng.uniform(0, weeks * 7 * 86400)) for _ in range(tickets)
    )
    quiet = logging.getLogger("dispatch.tickets.actions")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # one line per transition is too much for a bulk load
    try:
        for start in starts:
            _one_ticket(world, _daytime(start, container, rng), now)
    finally:
        quiet.setLevel(level)
    _load_calls(world)
    _load_lines(container)
    articles = load_demo_kb(container)
    channels = _load_channels(container, now, rng)
    return {
        "units": len(units),
        "users": len(desk) + len(liaisons),
        "tickets": tickets,
        "articles": articles,
    } | channels


def _load_channels(container: Container, now: dt.datetime, rng: random.Random) -> dict[str, int]:
    """An Open311 client key, missed calls waiting for a call-back (漏接回拨), and tickets
    whose automated follow-up reached nobody (人工回访)."""
    from callcenter.callbacks.service import note_call
    from callcenter.models import CallRecord
    from dispatch.followup.models import FollowUpAttempt
    from dispatch.open311.apikeys import hash_key
    from dispatch.open311.models import ApiKey
    from dispatch.tickets.domain import TicketStatus
    from dispatch.tickets.models import Ticket

    with container.uow() as uow:
        session = uow.session
        session.add(
            ApiKey(
                name="市民通 APP（演示）",
                contact="app@example.gov.cn",
                key_prefix=DEMO_API_KEY[:6],
                key_hash=hash_key(DEMO_API_KEY),
                rate_per_minute=120,
                created_at=now,
            )
        )
        missed = 0
        for minutes, outcome in ((50, "abandoned"), (35, "overflow"), (12, "abandoned")):
            at = now - dt.timedelta(minutes=minutes)
            record = CallRecord(
                call_id=f"demo-missed-{minutes}",
                caller=_phone(rng),
                outcome=outcome,
                offered_at=at,
                ended_at=at + dt.timedelta(seconds=40),
                wait_seconds=40.0,
                end_reason="caller" if outcome == "abandoned" else "edge",
            )
            session.add(record)
            missed += note_call(session, record, None) is not None
        waiting = session.scalars(
            sa.select(Ticket)
            .where(Ticket.status == TicketStatus.REVIEWED)
            .order_by(Ticket.reviewed_at)
            .limit(2)
        ).all()
        for ticket in waiting:
            start = max(ticket.reviewed_at or now, now - dt.timedelta(days=2, hours=1))
            for n, status in enumerate(("no_answer", "busy", "no_answer"), start=1):
                at = start + dt.timedelta(days=n - 1)
                session.add(
                    FollowUpAttempt(
                        ticket_id=ticket.id,
                        try_no=n,
                        channel="voice",
                        status=status,
                        phone=ticket.contact_phone or ticket.caller_phone or "",
                        scheduled_at=at,
                        queued_at=at,
                        started_at=at,
                        ended_at=at + dt.timedelta(seconds=30),
                        sip_status=480 if status == "no_answer" else 486,
                        created_at=at,
                    )
                )
            ticket.followup_handover_at = start + dt.timedelta(days=2, seconds=30)
        uow.commit()
    return {"callbacks": missed, "handed_over": len(waiting)}


def load_demo_kb(container: Container) -> int:
    """The demo knowledge base: articles (owned by the demo's units where they exist),
    the synonym table, and the index. Returns the number of articles."""
    from kb.bulk import import_articles
    from kb.commands import SynonymInput
    from kb.demo_content import SYNONYMS
    from kb.demo_content import demo_articles
    from kb.index import index_pending
    from kb.synonyms import save_synonyms

    system = Actor(user_id=None, role=Role.ADMIN, name="演示数据")
    with container.uow() as uow:
        names = set(uow.session.scalars(sa.select(Unit.name)))
    records = [
        r if not r.unit or r.unit in names else dataclasses.replace(r, unit="")
        for r in demo_articles()
    ]
    import_articles(container.uow(), system, records)
    for words in SYNONYMS:
        save_synonyms(container.uow(), system, SynonymInput(words=list(words)))
    with container.uow() as uow:
        index_pending(uow.session)
    return len(records)


def _daytime(moment: dt.datetime, container: Container, rng: random.Random) -> dt.datetime:
    # The hotline answers 7x24, but most calls come in the day.
    tz = container.dispatch.policy.calendar.tz
    local = moment.astimezone(tz)
    if local.hour < 8 or local.hour >= 21:
        local = local.replace(hour=rng.randint(8, 20), minute=rng.randint(0, 59))
    return local.astimezone(dt.UTC)


_HEAD_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_HEAD_TITLES = {
    "department": "局长",
    "district": "区长",
    "street": "主任",
    "community": "书记",
    "utility": "总经理",
}


def _load_units(container: Container) -> dict[str, int]:
    ids: dict[str, int] = {}
    with container.uow() as uow:
        for spec in content.UNITS:
            unit = Unit(
                code=spec.code,
                name=spec.name,
                kind=UnitKind(spec.kind),
                parent_id=ids[spec.parent] if spec.parent else None,
                responsibility=spec.responsibility,
                keywords=list(spec.keywords),
                places=_places(spec.code),
                phone=spec.phone,
                # 单位负责人, copied on the supervision sweep's 督办单
                head_name=_HEAD_SURNAMES[len(ids) % len(_HEAD_SURNAMES)]
                + _HEAD_TITLES.get(spec.kind, "负责人"),
                head_phone=spec.phone,
            )
            uow.session.add(unit)
            uow.session.flush()
            ids[spec.code] = unit.id
        for path, (unit_code, local) in _matters().items():
            uow.session.add(
                Matter(path=path, unit_id=None if local else ids[unit_code], local=local)
            )
        uow.commit()
    return ids


_ADDRESS = re.compile(r"(?P<road>[^区道]+?(?:路|街|巷|大道))\d+号(?P<estate>.+)$")


def _places(code: str) -> list[str]:
    """The roads and estates of a street's demo addresses, for the locality gazetteer."""
    places: list[str] = []
    for address in content.STREET_ADDRESSES.get(code, ()):
        match = _ADDRESS.search(address)
        if match:
            places += [match["road"], match["estate"]]
    return list(dict.fromkeys(places))


def _matters() -> dict[str, tuple[str, bool]]:
    """The matter catalogue of the demo city, from the categories of its ticket templates."""
    matters: dict[str, tuple[str, bool]] = {}
    for tpl in content.TEMPLATES:
        unit, local = matters.get(tpl.category, (tpl.unit, False))
        matters[tpl.category] = (unit, local or tpl.local)
    return matters


def _load_users(
    container: Container, units: dict[str, int]
) -> tuple[dict[Role, Actor], dict[int, Actor]]:
    desk: dict[Role, Actor] = {}
    liaisons: dict[int, Actor] = {}
    with container.uow() as uow:
        for username, name, role in DESK_USERS:
            # The demo's one password is printed on screen: no rules (rules=None).
            user = create_user(
                uow.session, NewUser(username, DEMO_PASSWORD, role, name), rules=None
            )
            desk.setdefault(role, Actor(user.id, role, None, name))
        for spec in content.UNITS:
            if spec.kind == UnitKind.COMMUNITY:
                continue
            user = create_user(
                uow.session,
                NewUser(
                    f"liaison-{spec.code}",
                    DEMO_PASSWORD,
                    Role.LIAISON,
                    f"{spec.name}联络员",
                    spec.code,
                ),
                rules=None,
            )
            liaisons[units[spec.code]] = Actor(
                user.id, Role.LIAISON, units[spec.code], user.display_name
            )
        uow.commit()
    return desk, liaisons


# 合并热线: the old mayor's line now rings the hotline; operator1 and lead1 take its calls.
DEMO_LINE = ("83333333", "原市长热线", ("operator1", "lead1"))


def _load_lines(container: Container) -> None:
    number, name, usernames = DEMO_LINE
    with container.uow() as uow:
        ids = list(uow.session.scalars(sa.select(User.id).where(User.username.in_(usernames))))
    save_line(
        container.uow(),
        None,
        line_id=None,
        number=number,
        name=name,
        user_ids=ids,
        hotline_number=container.settings.telephony.number,
    )


# Mobile prefixes phonenumbers knows as valid (not every 1xx is: 179 is no mobile block).
MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "187")


def _phone(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"


def _create(world: _World, at: dt.datetime) -> tuple[int, content.TicketTemplate]:
    rng = world.rng
    tpl = rng.choice(content.TEMPLATES)
    street = tpl.unit if tpl.local else rng.choice(list(content.STREET_ADDRESSES))
    address = rng.choice(content.STREET_ADDRESSES[street])
    name = rng.choice(content.SURNAMES) + rng.choice(content.GIVEN_NAMES)
    street_spec = next(u for u in content.UNITS if u.code == street)
    communities = [u.code for u in content.UNITS if u.parent == street]
    anonymous = rng.random() < 0.08
    cmd = c.CreateTicket(
        channel=rng.choices(["phone", "web", "app", "sms"], [80, 10, 8, 2])[0],
        caller_phone=_phone(rng),
        citizen_name=None if anonymous else name,
        anonymous=anonymous,
        confidential=tpl.request_type == RequestType.REPORT.value and rng.random() < 0.7,
        disclosure_allowed=rng.random() < 0.5,
        contact_phone=_phone(rng) if rng.random() < 0.2 else None,
        address=address,
        district_id=world.units[street_spec.parent or ""],
        street_id=world.units[street],
        community_id=world.units[rng.choice(communities)] if communities else None,
        request_type=RequestType(tpl.request_type),
        urgency=Urgency(tpl.urgency),
        category=tpl.category,
        title=tpl.title,
        content=tpl.content.format(address=address, name=name),
        tags=["演示数据"],
    )
    operator = world.desk[rng.choice([Role.OPERATOR, Role.OPERATOR, Role.TEAM_LEAD])]
    view, _ = actions.create_ticket(world.container.uow(), _at(world, at), operator, cmd)
    ticket_id = int(view["id"])
    if cmd.channel == "phone":
        _calls_behind(world, ticket_id, at, cmd.caller_phone or "")
    return ticket_id, tpl


SEATS = ("s01", "s02", "s03", "s04")
STOPS = (
    "accepted",
    "dispatched",
    "signed",
    "returned",
    "signed",
    "replied",
    "reviewed",
    "followed_up",
)


def _calls_behind(world: _World, ticket_id: int, accepted: dt.datetime, caller: str) -> None:
    """The call a phone ticket was accepted during, and now and then a caller who hung up
    in the queue or was turned away busy: the leaders' call figures for past weeks."""
    rng = world.rng
    # Answered by operator1 or operator2 at one of the demo's four seats; most within 15 s.
    if not world.agents:
        with world.container.uow() as uow:
            ids = uow.session.scalars(
                sa.select(User.id).where(User.role == Role.OPERATOR).order_by(User.id)
            )
            world.agents = [f"u{uid}" for uid in ids]
    operators: list[str | None] = [*world.agents] or [None]
    wait = rng.uniform(2, 14) if rng.random() < 0.85 else rng.uniform(15, 55)
    talk = min(900.0, max(40.0, rng.lognormvariate(math.log(170), 0.45)))
    offered = accepted - dt.timedelta(seconds=wait + talk * rng.uniform(0.3, 0.8))
    answered = offered + dt.timedelta(seconds=wait)
    world.calls.append(
        {
            "call_id": f"demo-{ticket_id}",
            "caller": caller,
            "outcome": "answered",
            "seat": rng.choice(SEATS),
            "agent": rng.choice(operators),
            "offered_at": offered,
            "rang_at": answered - dt.timedelta(seconds=min(wait, rng.uniform(2, 5))),
            "answered_at": answered,
            "ended_at": answered + dt.timedelta(seconds=talk),
            "wait_seconds": round(wait, 3),
            "talk_seconds": round(talk, 3),
            "wrap_up_seconds": round(rng.uniform(5, 15), 3),
            "end_reason": "caller" if rng.random() < 0.7 else "seat",
            "ticket_id": ticket_id,
        }
    )
    if rng.random() < 0.08:
        missed = accepted - dt.timedelta(minutes=rng.uniform(5, 90))
        waited = rng.uniform(4, 50) if rng.random() < 0.8 else 60.0
        world.calls.append(
            {
                "call_id": f"demo-{ticket_id}-missed",
                "caller": _phone(rng),
                "outcome": "abandoned" if waited < 60 else "overflow",
                "offered_at": missed,
                "ended_at": missed + dt.timedelta(seconds=waited),
                "wait_seconds": round(waited, 3),
                "end_reason": "caller" if waited < 60 else "edge",
            }
        )


def _load_calls(world: _World) -> None:
    """Write the history's call records in one go (missed ones long past need no call-back)."""
    from callcenter.models import CallRecord

    with world.container.uow() as uow:
        uow.session.add_all(CallRecord(**call) for call in world.calls)
        uow.commit()


def _at(world: _World, moment: dt.datetime) -> DispatchContext:
    return dataclasses.replace(world.container.dispatch, now=lambda: moment)


def _contact_time(
    rng: random.Random, start: dt.datetime, reply: dt.datetime, *, fast: bool, late: bool
) -> dt.datetime | None:
    """The 联系时间 a unit states on its reply: mostly soon after the ticket reached it, on
    slow tickets now and then more than a working day later, and sometimes none at all (then
    the reply itself counts as the contact)."""
    r = rng.random()
    if r < 0.12:
        return None
    span = (reply - start).total_seconds()
    if fast:
        after = span * rng.uniform(0.1, 0.6)
    elif late or r > 0.9:
        after = max(span * rng.uniform(0.5, 0.9), min(span * 0.95, 30 * 3600.0))
    else:
        after = min(span * rng.uniform(0.05, 0.5), 5 * 3600.0 * rng.uniform(0.2, 1.0))
    return start + dt.timedelta(seconds=max(60.0, min(after, span - 60.0)))


@dataclass
class _Story:
    """One demo ticket on its way through the services: its clock ``t`` only moves when a
    step goes through, and ``lead`` is the unit that has it now."""

    world: _World
    tpl: content.TicketTemplate
    ticket_id: int
    now: dt.datetime
    t: dt.datetime
    lead: int
    round_start: dt.datetime  # when the lead unit got it: its 联系时间 is measured from here

    def act(self, actor: Actor, action: Action, cmd: Command, after: dt.timedelta) -> bool:
        when = self.t + after
        if when > self.now:
            return False
        try:
            actions.perform_action(
                self.world.container.uow(),
                _at(self.world, when),
                actor,
                self.ticket_id,
                action,
                cmd,
            )
        except DomainError as exc:  # a guard said no (e.g. late return): keep the story going
            log.debug("demo step %s on %s refused: %s", action.value, self.ticket_id, exc.message)
            return False
        self.t = when
        return True

    def liaison(self) -> Actor:
        return self.world.liaisons[self.lead]

    def minutes(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(minutes=self.world.rng.uniform(low, high))


def _one_ticket(world: _World, start: dt.datetime, now: dt.datetime) -> None:
    ticket_id, tpl = _create(world, start)
    story = _Story(world, tpl, ticket_id, now, start, world.units[tpl.unit], start)
    stop = _stop(world, start, now)
    if stop == "accepted" or not _intake(story, stop):
        return
    if _return_round(story, stop) and _sign_and_reply(story, stop):
        _review_and_close(story, stop)


def _stop(world: _World, start: dt.datetime, now: dt.datetime) -> str | None:
    """Some recent tickets stop part-way, so every state and every light shows up: the stops
    are taken in turn, so even a small demo has each of them."""
    stop = None
    if now - start < dt.timedelta(days=21) and world.rng.random() < 0.3:
        stop = STOPS[world.stops % len(STOPS)]
        world.stops += 1
    return stop


def _intake(story: _Story, stop: str | None) -> bool:
    """Merge, answer at once, or dispatch to the lead unit; False when the story ends here."""
    rng, op = story.world.rng, story.world.desk[Role.OPERATOR]
    # Duplicates of an open ticket with the same title get merged now and then.
    same = story.world.open_by_title.setdefault(story.tpl.title, [])
    if same and rng.random() < 0.5:
        merge = c.Merge(master_id=same[-1], note="同一诉求重复来电")
        if story.act(op, Action.MERGE, merge, story.minutes(3, 30)):
            return False
    if story.tpl.request_type == RequestType.ENQUIRY.value and rng.random() < 0.55:
        story.act(
            op,
            Action.RESOLVE_DIRECTLY,
            c.ResolveDirectly(answer="已根据知识库政策解答，来电人表示清楚。"),
            story.minutes(2, 8),
        )
        return False
    if not story.act(
        op, Action.DISPATCH, c.Dispatch(lead_unit_id=story.lead), story.minutes(2, 15)
    ):
        return False
    story.round_start = story.t
    same.append(story.ticket_id)
    return stop != "dispatched"


def _return_round(story: _Story, stop: str | None) -> bool:
    """Now and then the unit returns the ticket (退回) and the team lead reassigns it or
    upholds the dispatch; False when the story ends here."""
    world, rng, lead1 = story.world, story.world.rng, story.world.desk[Role.TEAM_LEAD]
    if not (stop == "returned" or rng.random() < 0.08):
        return True
    if (
        not story.act(
            story.liaison(),
            Action.RETURN,
            c.Return(reason_code=ReturnReason.NOT_OURS, reason=rng.choice(content.RETURN_REASONS)),
            story.minutes(20, 600),
        )
        or stop == "returned"
    ):
        return False
    if rng.random() < 0.6:
        other = rng.choice(
            [
                u
                for code, u in world.units.items()
                if u != story.lead and "-" not in code and code not in ("dh", "xs", "nc")
            ]
        )
        if not story.act(
            lead1,
            Action.REASSIGN,
            c.Reassign(lead_unit_id=other, note="按职责改派"),
            story.minutes(10, 240),
        ):
            return False
        story.lead = other
        story.round_start = story.t
        return True
    return story.act(
        lead1,
        Action.UPHOLD,
        c.Uphold(note="经核实属于该单位职责，请按时办理"),
        story.minutes(10, 240),
    )


def _sign_and_reply(story: _Story, stop: str | None) -> bool:
    """Sign, maybe ask for more time, get reminded or supervised when late, and reply;
    False when the story ends here."""
    world, rng = story.world, story.world.rng
    lead1, sup = world.desk[Role.TEAM_LEAD], world.desk[Role.SUPERVISOR]
    fast = story.tpl.urgency != Urgency.NORMAL.value
    late_sign = rng.random() < 0.06
    sign_after = (
        story.minutes(5, 25)
        if fast
        else (HOUR * rng.uniform(10, 30) if late_sign else story.minutes(20, 300))
    )
    if not story.act(story.liaison(), Action.SIGN, c.Sign(), sign_after) or stop == "signed":
        return False
    if not fast and rng.random() < 0.06:
        if not story.act(
            story.liaison(),
            Action.EXTEND,
            c.Extend(days=rng.choice([3, 5, 10]), reason="需协调多个部门现场处置"),
            HOUR * 20,
        ):
            return False
        decide = c.DecideExtension(approve=rng.random() < 0.8)
        story.act(lead1, Action.DECIDE_EXTENSION, decide, HOUR * 3)
    late = rng.random() < 0.12
    if late:
        story.act(sup, Action.REMIND, c.Remind(note="即将超期，请抓紧办理"), HOUR * 30)
    reply_after = (
        story.minutes(30, 100)
        if fast
        else HOUR * rng.uniform(90, 200)
        if late
        else HOUR * rng.uniform(4, 80)
    )
    if late and rng.random() < 0.5:
        supervise = c.Supervise(note="已超期，请说明原因并立即办理")
        story.act(sup, Action.SUPERVISE, supervise, HOUR * 50)
    texts = content.REPLY_TEXTS.get(world.unit_codes[story.lead], content.REPLY_TEXTS["street"])
    contacted = _contact_time(rng, story.round_start, story.t + reply_after, fast=fast, late=late)
    reply = c.Reply(text=rng.choice(texts), contacted_at=contacted)
    if not story.act(story.liaison(), Action.REPLY, reply, reply_after):
        return False
    return stop != "replied"


def _review_and_close(story: _Story, stop: str | None) -> None:
    """Review the reply, follow up with the citizen (回访), then close or reopen."""
    world, rng = story.world, story.world.rng
    op, lead1 = world.desk[Role.OPERATOR], world.desk[Role.TEAM_LEAD]
    if not story.act(lead1, Action.REVIEW, c.Review(approve=True), HOUR * rng.uniform(1, 20)):
        return
    if stop == "reviewed":
        return
    world.open_by_title[story.tpl.title].remove(story.ticket_id)
    reached = rng.random() < 0.93
    satisfied = rng.random() < 0.88
    cmd_fu = c.FollowUp(
        reached=reached,
        solved=(satisfied or rng.random() < 0.3) if reached else None,
        satisfaction=(
            rng.choice(sorted(SATISFIED_LEVELS))
            if satisfied
            else rng.choice([Satisfaction.DISSATISFIED, Satisfaction.VERY_DISSATISFIED])
        )
        if reached
        else None,
        note=rng.choice(content.FOLLOW_UP_NOTES) if reached else "三次回访均未接通",
    )
    followed = story.act(op, Action.FOLLOW_UP, cmd_fu, HOUR * rng.uniform(2, 30))
    if not followed or stop == "followed_up":
        return
    if reached and not satisfied and rng.random() < 0.5:
        reopen = c.Reopen(reason="市民对处理结果不满意，要求重新办理")
        story.act(lead1, Action.REOPEN, reopen, HOUR)
        return
    close = c.Close(note="" if reached else "多次回访未接通")
    story.act(lead1, Action.CLOSE, close, story.minutes(5, 60))
