"""Who is acting, as the use cases need to know it (user, role, unit, where from)."""

from dataclasses import dataclass

from kernel.roles import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, as the services need to know it."""

    user_id: int | None
    role: Role
    unit_id: int | None = None
    name: str = ""
    ip: str | None = None
    request_id: str | None = None
