"""What dispatch's blueprints ask of the app's container, typed (the composition root fills it)."""

from typing import Protocol
from typing import cast

from dispatch.routing.assist import Assistant
from dispatch.tickets.attachments import AttachmentPolicy
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.policy import OverlayCache
from infra.http import Core
from infra.http import container as core


class DispatchServices(Core, Protocol):
    dispatch: DispatchContext
    attachments: AttachmentPolicy
    overlay: OverlayCache
    assistant: Assistant


def container() -> DispatchServices:
    return cast(DispatchServices, core())
