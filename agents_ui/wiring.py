"""What the pages ask of the app's container, typed: everything the packages below offer."""

from typing import Protocol
from typing import cast

from callcenter.wiring import CallcenterServices
from infra.http import container as core
from kb.wiring import KbServices


class UiServices(CallcenterServices, KbServices, Protocol):
    pass


def container() -> UiServices:
    return cast(UiServices, core())
