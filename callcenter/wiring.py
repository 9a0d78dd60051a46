"""What the call center's blueprints ask of the app's container, typed."""

from typing import Protocol
from typing import cast

from callcenter.acd.engine import Acd
from dispatch.wiring import DispatchServices
from infra.http import container as core


class CallcenterServices(DispatchServices, Protocol):
    @property
    def acd(self) -> Acd:
        """The ACD over the container's Redis."""
        ...


def container() -> CallcenterServices:
    return cast(CallcenterServices, core())
