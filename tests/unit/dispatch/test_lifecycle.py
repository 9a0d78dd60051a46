"""The ticket lifecycle table, who may act (dispatch.tickets.domain), and caller masking
(kernel.masking)."""

import itertools
from collections import deque

import pytest

from dispatch.tickets.domain import ACTION_EVENTS
from dispatch.tickets.domain import ACTION_ROLES
from dispatch.tickets.domain import STATUS_LABELS
from dispatch.tickets.domain import TRANSITIONS
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import IllegalTransition
from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.domain import allowed_actions
from dispatch.tickets.domain import check_role
from dispatch.tickets.domain import is_problem_ticket
from dispatch.tickets.domain import next_status
from kernel.errors import DomainError
from kernel.errors import PermissionDenied
from kernel.masking import identity_visible
from kernel.masking import mask_free_text
from kernel.masking import mask_name
from kernel.masking import mask_phone
from kernel.roles import HOTLINE_ROLES
from kernel.roles import Role

S = TicketStatus
E = TicketEvent

TRANSITION_EVENTS = [e for e in TicketEvent if e is not E.CREATE]
ALL_PAIRS = list(itertools.product(TicketStatus, TRANSITION_EVENTS))
LEGAL_PAIRS = [p for p in ALL_PAIRS if p in TRANSITIONS]
ILLEGAL_PAIRS = [p for p in ALL_PAIRS if p not in TRANSITIONS]


def pair_id(pair: tuple[TicketStatus, TicketEvent]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


# ---------------------------------------------------------------- the table, pair by pair


def test_pairs_cover_the_whole_table() -> None:
    assert len(ALL_PAIRS) == 10 * 19
    assert set(TRANSITIONS) <= set(ALL_PAIRS)
    assert len(LEGAL_PAIRS) == len(TRANSITIONS) == 41  # 35 + 通报 in the 6 supervisable states


def test_create_is_not_a_transition_from_any_status() -> None:
    assert not [key for key in TRANSITIONS if key[1] is E.CREATE]


@pytest.mark.parametrize("pair", LEGAL_PAIRS, ids=pair_id)
def test_legal_pair_leads_to_the_tables_target(pair: tuple[TicketStatus, TicketEvent]) -> None:
    status, event = pair

    assert next_status(status, event) is TRANSITIONS[pair]


@pytest.mark.parametrize("pair", ILLEGAL_PAIRS, ids=pair_id)
def test_illegal_pair_raises_illegal_transition_naming_the_status(
    pair: tuple[TicketStatus, TicketEvent],
) -> None:
    status, event = pair

    with pytest.raises(IllegalTransition) as excinfo:
        next_status(status, event)

    exc = excinfo.value
    assert exc.status is status
    assert exc.event is event
    assert exc.code == "illegal_transition"
    assert exc.details == {"status": status.value, "event": event.value}
    label = STATUS_LABELS[status]
    assert exc.message == f"工单当前状态为「{label}」，不能执行「{event.value}」操作"
    assert label in exc.message
    assert str(exc) == exc.message
    assert isinstance(exc, DomainError)


@pytest.mark.parametrize(
    ("status", "event", "target"),
    [
        (S.ACCEPTED, E.RESOLVE_DIRECTLY, S.RESOLVED),
        (S.ACCEPTED, E.DISPATCH, S.DISPATCHED),
        (S.DISPATCHED, E.SIGN, S.SIGNED),
        (S.SIGNED, E.RETURN, S.RETURNED),
        (S.RETURNED, E.UPHOLD, S.DISPATCHED),
        (S.SIGNED, E.REPLY, S.REPLIED),
        (S.REPLIED, E.REJECT_REPLY, S.SIGNED),
        (S.REPLIED, E.APPROVE_REPLY, S.REVIEWED),
        (S.REVIEWED, E.FOLLOW_UP, S.FOLLOWED_UP),
        (S.FOLLOWED_UP, E.REOPEN, S.DISPATCHED),
        (S.CLOSED, E.REOPEN, S.DISPATCHED),
        (S.SIGNED, E.MERGE, S.MERGED),
        (S.REPLIED, E.SUPERVISE, S.REPLIED),
    ],
)
def test_known_steps_of_the_lifecycle(
    status: TicketStatus, event: TicketEvent, target: TicketStatus
) -> None:
    assert next_status(status, event) is target


def test_every_status_is_reachable_from_accepted() -> None:
    seen = {S.ACCEPTED}
    queue = deque([S.ACCEPTED])
    while queue:
        current = queue.popleft()
        for (source, _event), target in TRANSITIONS.items():
            if source is current and target not in seen:
                seen.add(target)
                queue.append(target)

    assert seen == set(TicketStatus)


@pytest.mark.parametrize("status", [S.RESOLVED, S.MERGED])
def test_terminal_status_has_no_outgoing_transition(status: TicketStatus) -> None:
    assert [event for (source, event) in TRANSITIONS if source is status] == []


def test_closed_ticket_can_only_be_reopened() -> None:
    from_closed = {
        event: target for (source, event), target in TRANSITIONS.items() if source is S.CLOSED
    }

    assert from_closed == {E.REOPEN: S.DISPATCHED}


# ---------------------------------------------------------------- actions and roles


def test_every_action_maps_to_at_least_one_event() -> None:
    assert set(ACTION_EVENTS) == set(Action)
    assert all(ACTION_EVENTS[action] for action in Action)


def test_every_transition_event_belongs_to_an_action_but_the_sweeps_notice() -> None:
    mapped = {event for events in ACTION_EVENTS.values() for event in events}

    # 通报 is made only by the supervision sweep (dispatch.supervision), never by a person.
    assert mapped == set(TRANSITION_EVENTS) - {E.NOTICE}


def test_every_action_has_roles() -> None:
    assert set(ACTION_ROLES) == set(Action)
    assert all(ACTION_ROLES[action] for action in Action)


def test_liaison_only_actions_are_sign_return_extend_and_reply() -> None:
    liaison_only = {a for a, roles in ACTION_ROLES.items() if roles == {Role.LIAISON}}

    assert liaison_only == {Action.SIGN, Action.RETURN, Action.EXTEND, Action.REPLY}


def test_liaison_can_perform_only_unit_actions() -> None:
    liaison_any = {a for a, roles in ACTION_ROLES.items() if Role.LIAISON in roles}

    assert liaison_any == {Action.SIGN, Action.RETURN, Action.EXTEND, Action.REPLY}


def test_leader_can_perform_no_action() -> None:
    assert [a for a, roles in ACTION_ROLES.items() if Role.LEADER in roles] == []


@pytest.mark.parametrize("status", list(TicketStatus))
def test_leader_has_no_allowed_action_in_any_status(status: TicketStatus) -> None:
    assert allowed_actions(status, Role.LEADER) == []


def _expected_actions(status: TicketStatus, role: Role) -> set[Action]:
    """Independent expectation: walk the table and keep the events this role's actions cover."""
    events_here = {event for (source, event) in TRANSITIONS if source is status}
    expected: set[Action] = set()
    for action in Action:
        if role not in ACTION_ROLES[action]:
            continue
        if events_here.intersection(ACTION_EVENTS[action]):
            expected.add(action)
    return expected


@pytest.mark.parametrize(
    ("status", "role"),
    list(itertools.product(TicketStatus, Role)),
    ids=lambda value: value.value,
)
def test_allowed_actions_agree_with_the_table_and_the_roles(
    status: TicketStatus, role: Role
) -> None:
    actions = allowed_actions(status, role)

    assert len(actions) == len(set(actions))
    assert set(actions) == _expected_actions(status, role)


@pytest.mark.parametrize(
    ("status", "role", "expected"),
    [
        (S.ACCEPTED, Role.OPERATOR, [Action.RESOLVE_DIRECTLY, Action.DISPATCH, Action.MERGE]),
        (S.DISPATCHED, Role.LIAISON, [Action.SIGN, Action.RETURN]),
        (S.SIGNED, Role.LIAISON, [Action.RETURN, Action.EXTEND, Action.REPLY]),
        (S.REPLIED, Role.OPERATOR, []),
        (S.CLOSED, Role.TEAM_LEAD, [Action.REOPEN]),
        (S.CLOSED, Role.OPERATOR, []),
        (S.MERGED, Role.ADMIN, []),
        (S.RESOLVED, Role.SUPERVISOR, []),
    ],
)
def test_allowed_actions_examples_in_declaration_order(
    status: TicketStatus, role: Role, expected: list[Action]
) -> None:
    assert allowed_actions(status, role) == expected


@pytest.mark.parametrize(
    ("action", "role"),
    [
        (Action.SIGN, Role.OPERATOR),
        (Action.REPLY, Role.ADMIN),
        (Action.DISPATCH, Role.LIAISON),
        (Action.CLOSE, Role.OPERATOR),
        (Action.REMIND, Role.LEADER),
    ],
)
def test_check_role_refuses_a_wrong_role(action: Action, role: Role) -> None:
    with pytest.raises(PermissionDenied) as excinfo:
        check_role(action, role)

    assert excinfo.value.code == "forbidden"
    assert excinfo.value.details == {"action": action.value, "role": role.value}


def test_check_role_message_names_role_and_action_in_chinese() -> None:
    with pytest.raises(PermissionDenied) as excinfo:
        check_role(Action.SIGN, Role.OPERATOR)

    assert excinfo.value.message == "话务员无权执行「签收」"


@pytest.mark.parametrize(
    ("action", "role"),
    [
        (Action.SIGN, Role.LIAISON),
        (Action.DISPATCH, Role.OPERATOR),
        (Action.CLOSE, Role.TEAM_LEAD),
        (Action.SUPERVISE, Role.SUPERVISOR),
        (Action.MERGE, Role.ADMIN),
    ],
)
def test_check_role_passes_a_right_role(action: Action, role: Role) -> None:
    assert check_role(action, role) is None


@pytest.mark.parametrize(
    ("action", "role"), list(itertools.product(Action, Role)), ids=lambda value: value.value
)
def test_check_role_agrees_with_action_roles(action: Action, role: Role) -> None:
    if role in ACTION_ROLES[action]:
        check_role(action, role)
    else:
        with pytest.raises(PermissionDenied):
            check_role(action, role)


# ---------------------------------------------------------------- identity and masking


def test_hotline_roles_are_the_desk_roles() -> None:
    assert HOTLINE_ROLES == {Role.OPERATOR, Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN}


@pytest.mark.parametrize(
    ("role", "confidential", "disclosure_allowed", "visible"),
    [
        *[
            (role, confidential, disclosure, True)
            for role in (Role.OPERATOR, Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN)
            for confidential in (False, True)
            for disclosure in (False, True)
        ],
        (Role.LIAISON, False, True, True),
        (Role.LIAISON, False, False, False),
        (Role.LIAISON, True, True, False),
        (Role.LIAISON, True, False, False),
        (Role.LEADER, False, True, False),
        (Role.LEADER, False, False, False),
        (Role.LEADER, True, True, False),
        (Role.LEADER, True, False, False),
    ],
)
def test_identity_visible_truth_table(
    role: Role, confidential: bool, disclosure_allowed: bool, visible: bool
) -> None:
    assert (
        identity_visible(role, confidential=confidential, disclosure_allowed=disclosure_allowed)
        is visible
    )


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("02112345678", "021****5678"),
        ("12345678", "123*5678"),
        ("1234567", "1******"),
        ("12345", "1****"),
        ("1", "1"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_phone(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("李", "李*"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_name(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


def test_full_masks_show_no_digit_no_surname_and_no_length() -> None:
    assert mask_phone("17212349251", full=True) == "***********"
    assert mask_phone("051288881234", full=True) == "***********"
    assert mask_name("欧阳娜娜", full=True) == "**"
    assert mask_name(None, full=True) is None


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("来电人张建国反映路灯不亮", "来电人某某反映路灯不亮"),
        ("张先生称，张建国的邻居也反映过", "某先生称，某某的邻居也反映过"),
        ("欧阳女士来电", "欧阳女士来电"),  # not the caller's surname: kept
        ("请回电13812345678", "请回电***********"),
        ("请回电 138 1234 5678 或 138-1234-5678", "请回电 *** **** **** 或 ***-****-****"),
        ("座机0512-88881234，分机 8828 1234", "座机****-********，分机 **** ****"),
        ("电话：+86 13812345678", "电话：+** ***********"),
        ("全角１３８１２３４５６７８", "全角***********"),
        ("身份证号11010119900307123X。", "身份证号******************。"),
        ("卡号6222 0200 1234 5678 901", "卡号**** **** **** **** ***"),
        ("2026-11-16 在 3 栋 1203 室，损失 5000 元", "2026-11-16 在 3 栋 1203 室，损失 5000 元"),
        ("与 JC202611160000042 重复", "与 JC202611160000042 重复"),
        ("", ""),
    ],
)
def test_mask_free_text_hides_the_callers_name_and_personal_numbers(text: str, masked: str) -> None:
    assert mask_free_text(text, ["张建国", None, ""]) == masked


def test_mask_free_text_masks_every_name_given_longest_first() -> None:
    text = "欧阳娜娜和欧阳女士、李四都来过"
    assert mask_free_text(text, ["欧阳娜娜", "李四"]) == "某某和某女士、某某都来过"
    assert mask_free_text(None, ["李四"]) is None


# ---------------------------------------------------------------- problem tickets


@pytest.mark.parametrize(
    ("reopens", "units", "problem"),
    [
        (0, 0, False),
        (0, 1, False),
        (2, 2, False),
        (3, 0, True),
        (0, 3, True),
        (4, 1, True),
        (1, 5, True),
    ],
)
def test_problem_ticket_with_default_thresholds(reopens: int, units: int, problem: bool) -> None:
    assert is_problem_ticket(reopens, units) is problem


@pytest.mark.parametrize(
    ("reopens", "units", "problem"),
    [
        (1, 1, False),
        (2, 1, True),
        (0, 4, False),
        (0, 5, True),
    ],
)
def test_problem_ticket_with_custom_thresholds(reopens: int, units: int, problem: bool) -> None:
    assert is_problem_ticket(reopens, units, reopens=2, units=5) is problem
