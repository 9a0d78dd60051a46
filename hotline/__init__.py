"""The composition root of the 12345 hotline: it builds the app and nothing imports it.

It assembles the packages below it: the app factory (`app`), the container (`bootstrap`),
the settings as the app runs on them (`config`), the `hotline` command (`cli`), the job
schedule (`jobs`), the OpenAPI document (`openapi`), core routes (`web`) and the demo.
Importing it tells `infra.assembly` how the app's services are built, so the packages' jobs
and commands get them without importing this package.
"""

from typing import Any

from infra import assembly
from infra.settings import Settings


def _build(settings: Settings | None) -> Any:
    from hotline.bootstrap import bootstrap
    from hotline.config import load_app_settings

    return bootstrap(settings if settings is not None else load_app_settings())


assembly.provide(_build)
