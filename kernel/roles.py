"""Roles of the people who use the hotline, their labels, and the role groups rules speak of."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class Role(StrEnum):
    OPERATOR = "operator"
    TEAM_LEAD = "team_lead"
    LIAISON = "liaison"
    SUPERVISOR = "supervisor"
    LEADER = "leader"
    ADMIN = "admin"


ROLE_LABELS: Final[Mapping[Role, str]] = {
    Role.OPERATOR: "话务员",
    Role.TEAM_LEAD: "班长",
    Role.LIAISON: "联络员",
    Role.SUPERVISOR: "督办",
    Role.LEADER: "领导",
    Role.ADMIN: "管理员",
}


# Hotline-side roles see the caller's identity (audited); units and leaders see it masked.
HOTLINE_ROLES: Final = frozenset({Role.OPERATOR, Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN})


# The supervision desk and the hall view (坐席监控): team leads, supervisors and admins.
SUPERVISE_ROLES: Final = (Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN)
