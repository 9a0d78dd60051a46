"""The one list of the modules that define tables: the app, the CLI and Alembic load them all."""

import importlib

# Every module that declares tables on infra.db.Base. A new one goes here, nowhere else.
MODEL_MODULES = (
    "infra.models",
    "dispatch.tickets.models",
    "dispatch.routing.models",
    "dispatch.open311.models",
    "dispatch.followup.models",
    "callcenter.models",
    "callcenter.duty",
    "kb.models",
    "reports.models",
)


def load_all() -> None:
    """Import every table module, so that the mappers and Alembic see the whole schema."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
