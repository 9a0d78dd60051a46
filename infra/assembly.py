"""How code below the composition root gets the app's services without importing it.

The composition root (`hotline`, when its package is imported) says how the app's container
is built (`provide`); jobs and CLI commands of the packages ask for it (`services`) and see it
through their own typed view (`dispatch.wiring.DispatchServices`, ...).
"""

from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from infra.settings import Settings

_factory: Callable[[Settings | None], Any] | None = None


def provide(factory: Callable[[Settings | None], Any]) -> None:
    """Say how the app's services are built (from these settings, or the settings file)."""
    global _factory
    _factory = factory


def build(settings: Settings | None = None) -> Any:
    """The app's services, built now; the caller closes them."""
    if _factory is None:
        raise RuntimeError("no app services: import the composition root (hotline) first")
    return _factory(settings)


@contextmanager
def services(settings: Settings | None = None) -> Iterator[Any]:
    """The app's services for one job or command, closed at the end however it ends; the
    caller types them as its package sees them (`c: DispatchServices = built`)."""
    built = build(settings)
    try:
        yield built
    finally:
        built.close()
