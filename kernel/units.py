"""The kinds of member unit (成员单位): departments, districts, streets, communities, companies."""

from enum import StrEnum


class UnitKind(StrEnum):
    DEPARTMENT = "department"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    UTILITY = "utility"
