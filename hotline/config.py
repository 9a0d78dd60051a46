"""The settings as the app runs on them: loaded by `infra.settings`, checked by every package."""

from collections.abc import Mapping
from pathlib import Path

from infra.settings import Settings
from infra.settings import load_settings
from infra.settings import settings_path


def load_app_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Load the settings (default: the file `settings_path()` names) and run the packages'
    checks of their own sections against their vocabulary (the ranking's KPI names)."""
    from reports.ranking import check_ranking_weights  # imported here: it loads the ORM

    return load_settings(
        settings_path() if path is None else path, environ, checks=(check_ranking_weights,)
    )
