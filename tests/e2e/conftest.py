"""Browser tests: a live server on loopback and Debian's chromium driven by Playwright.

No browser is downloaded: Playwright launches /usr/bin/chromium (HOTLINE_TEST_CHROMIUM); the
session's one browser is the `browser` fixture of tests/conftest.py, which the telephony
tests' console checks share.
Set HOTLINE_TEST_SCREENSHOTS=docs/screenshots to save the pages the tests visit.
"""

import os
import threading
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

SHOTS = os.environ.get("HOTLINE_TEST_SCREENSHOTS")


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Browser tests run once, on SQLite (the API suite covers both backends)."""
    from infra.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'hotline.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Any]:
    """Own engine for the own database: a session fixture built here must not be reused by
    the parametrised suite (nor the reverse)."""
    from infra.db import make_engine
    from infra.settings import DatabaseSettings

    eng = make_engine(DatabaseSettings(url=db_url))
    yield eng
    eng.dispose()


# The ACD secret of each running live server: what Kamailio sends with every /acd request.
_ACD_SECRETS: dict[str, str] = {}


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    from callcenter.edge.credentials import acd_secret

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    _ACD_SECRETS[url] = acd_secret(app.extensions["hotline"].settings)
    yield url
    _ACD_SECRETS.pop(url, None)
    server.shutdown()
    thread.join(timeout=10)


def kamailio(live_server: str, step: str) -> str:
    """Report a call step to the ACD over HTTP as Kamailio does, with the ACD secret."""
    from callcenter.edge.credentials import ACD_SECRET_HEADER

    request = urllib.request.Request(  # noqa: S310 - loopback test server
        f"{live_server}/acd/{step}", headers={ACD_SECRET_HEADER: _ACD_SECRETS[live_server]}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - loopback
        return str(resp.read().decode().strip())


@pytest.fixture
def signed_in(browser: Any, live_server: str, world: Any) -> Iterator[Callable[[str], Any]]:
    """Open a fresh browser context signed in as one of the world's users."""
    contexts: list[Any] = []

    def open_as(username: str) -> Any:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(world.password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state("networkidle")
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> None:
    """Save a screenshot for the README when HOTLINE_TEST_SCREENSHOTS is set."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
