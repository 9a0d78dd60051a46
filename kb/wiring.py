"""What the knowledge base's blueprints ask of the app's container, typed."""

from typing import Protocol
from typing import cast

from dispatch.wiring import DispatchServices
from infra.http import container as core
from kb.index import LiveIndex


class KbServices(DispatchServices, Protocol):
    kb_index: LiveIndex


def container() -> KbServices:
    return cast(KbServices, core())
