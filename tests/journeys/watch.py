"""What a journey checks on every page it visits, whatever the page is for.

A `PageWatcher` listens to a browser page for the whole journey: errors in the console and
uncaught exceptions, requests that failed and responses of 400 and above, except the ones
the test declares it expects (a refused attempt is meant to get its 422). At every page the
journey looks at (`seen`), the watcher also reads what a person sees
(`document.body.innerText`) and notes English words, and keeps a screenshot.

The watcher collects; it does not stop the journey. A journey walks on as far as the
product lets it, then `assert_clean` fails once, naming each page and what was wrong there,
so that one run tells about every page and not only the first.
"""

import itertools
import os
import re
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

# Words in Latin letters a Chinese user of a government system reads as they are, because
# that is how the thing itself is named where they meet it (compared case-insensitively,
# since file names show their extension as `.jpg`):
#   PDF DOCX XLSX Excel JPG JPEG PNG HTML  file formats, as printed on the file and its icon,
#                                     and on the buttons that make them (下载 PDF, 导出 Excel)
#   KB MB                             file sizes: Chinese software writes 10 MB, not 10 兆字节
#   Alt Enter                         key caps, as printed on the keyboard (Alt+S 提交, Enter 接听)
#   APP                               the channel as Chinese government documents name it
#                                     (政务服务APP, "网站、APP、小程序")
# Anything else is a word the page should say in Chinese (or not show at all: debug figures,
# internal codes, developer file paths).
ALLOWED_WORDS = frozenset(
    w.lower()
    for w in (
        "PDF",
        "DOCX",
        "XLSX",
        "Excel",
        "JPG",
        "JPEG",
        "PNG",
        "HTML",
        "KB",
        "MB",
        "Alt",
        "Enter",
        "APP",
    )
)
# A run of ASCII letters and digits is one token. Tokens with a digit are numbers and codes
# (JC202612060000042, DB202612060000215H, s01, v2, Open311), not words; single letters
# (the S of Alt+S, a grade A) are not words either.
_TOKEN = re.compile(r"[A-Za-z0-9]+")
# E-mail addresses are contact data, like phone numbers (a unit's or an API client's).
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

# Chromium's console line for every response >= 400 or network error; it duplicates what
# the response/requestfailed listeners record (with the status), so it is not counted twice.
_RESOURCE_ERROR = "Failed to load resource"
SHOTS = os.environ.get("HOTLINE_TEST_SCREENSHOTS")


def english_words(text: str, allow: Iterable[str] = ()) -> list[str]:
    """The English words in `text`, in order, each once; numbers, codes and `allowed` aside."""
    ok = ALLOWED_WORDS | {t.lower() for w in allow for t in _TOKEN.findall(w)}
    found: dict[str, None] = {}
    for token in _TOKEN.findall(_EMAIL.sub(" ", text)):
        if any(ch.isdigit() for ch in token) or len(token) < 2:
            continue
        if token.lower() not in ok:
            found.setdefault(token, None)
    return list(found)


@dataclass
class Expected:
    """A failed request the journey means to cause: its URL contains `url_part`."""

    url_part: str
    status: int | None = None  # None: any status, and network failures too
    seen: int = 0

    def matches(self, url: str, status: int | None) -> bool:
        return self.url_part in url and (self.status is None or self.status == status)


@dataclass(repr=False)
class PageWatcher:
    """Console errors, failed requests and English words of one person's pages."""

    who: str
    shots: Path
    # numbers the screenshots in the order the journey took them, whoever's page it was
    counter: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)
    problems: list[str] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    step: str = "（打开第一页之前）"
    _failed_urls: set[str] = field(default_factory=set)
    # Chromium's resource errors, settled once the response or failure events are in
    _resource_errors: list[tuple[str, str, str, str]] = field(default_factory=list)

    # ------------------------------------------------------------ listening

    def attach(self, page: Any) -> Any:
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self._note(page, f"脚本异常: {exc}"))
        page.on("requestfailed", lambda req: self._request_failed(page, req))
        page.on("response", lambda resp: self._response(page, resp))
        return page

    def expect(self, url_part: str, status: int | None = None) -> Expected:
        """Declare a failure the journey causes on purpose (from now to the journey's end)."""
        entry = Expected(url_part, status)
        self.expected.append(entry)
        return entry

    def _is_expected(self, url: str, status: int | None) -> bool:
        for entry in self.expected:
            if entry.matches(url, status):
                entry.seen += 1
                return True
        return False

    def _note(self, page: Any, text: str) -> None:
        self._add(self.step, _path(page.url), text)

    def _add(self, step: str, where: str, text: str) -> None:
        self.problems.append(f"[{self.who} · {step} · {where}] {text}")

    def _console(self, page: Any, msg: Any) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if msg.text.startswith(_RESOURCE_ERROR):
            self._resource_errors.append((self.step, _path(page.url), msg.text, where))
            return
        self._note(page, f"控制台错误: {msg.text} ({_path(where)})")

    def settle(self) -> None:
        """Count Chromium's resource errors that no response or failure event explains."""
        pending, self._resource_errors = self._resource_errors, []
        for step, page_path, text, where in pending:
            if where in self._failed_urls or self._is_expected(where, None):
                continue  # counted (or expected) as the response or request itself
            self._add(step, page_path, f"控制台错误: {text} ({_path(where)})")

    def _request_failed(self, page: Any, request: Any) -> None:
        error = request.failure or ""
        self._failed_urls.add(request.url)
        # ERR_ABORTED is the browser dropping a request itself: a page left while a fetch or
        # the live connection's poll was on its way, or a link that turned into a download.
        # No person sees it, and any real failure behind it shows as a response or an error.
        if "ERR_ABORTED" in error or self._is_expected(request.url, None):
            return
        self._note(page, f"请求失败: {request.method} {_path(request.url)} {error}")

    def _response(self, page: Any, response: Any) -> None:
        if response.status < 400:
            return
        self._failed_urls.add(response.url)
        if self._is_expected(response.url, response.status):
            return
        method = response.request.method
        self._note(page, f"请求失败: {method} {_path(response.url)} → {response.status}")

    # ------------------------------------------------------------ looking

    def seen(self, page: Any, name: str, allow: Iterable[str] = ()) -> None:
        """A page the journey looks at: screenshot it and check the words on it.

        :param allow: more words this page may show, each a value the journey itself typed
            or a datum (a user name), never an interface word.
        """
        self.settle()
        self.step = name
        page.wait_for_load_state("load")
        self.shots.mkdir(parents=True, exist_ok=True)
        stem = f"{self.counter():02d}-{self.who}-{name}"
        page.screenshot(path=str(self.shots / f"{stem}.png"))
        page.screenshot(path=str(self.shots / f"{stem}-full.png"), full_page=True)
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SHOTS) / f"journey-{name}.png"), full_page=True)
        text, raw = page.evaluate(
            """() => [document.body.innerText,
                     [...document.querySelectorAll('code, kbd')].map(e => e.innerText).join(' ')]"""
        )
        # <code> holds machine values shown for copying (an API key, a key's prefix).
        words = english_words(text, [*allow, raw])
        if words:
            self._note(page, f"英文词: {', '.join(words)}")

    def __repr__(self) -> str:
        return f"<PageWatcher {self.who}: {len(self.problems)} problems>"

    def report(self) -> str:
        self.settle()
        return "\n".join(self.problems)


def assert_clean(watchers: Iterable[PageWatcher], misses: Iterable[str] = ()) -> None:
    """Fail once with every missed check and every page problem the watchers noted."""
    missed = list(misses)
    problems = [p for w in watchers for p in w.report().splitlines() if p]
    lines = []
    if missed:
        lines += [f"{len(missed)} 项检查未通过:", *missed]
    if problems:
        lines += [f"{len(problems)} 个页面问题（控制台错误、失败的请求、英文词）:", *problems]
    if lines:
        raise AssertionError("\n".join(lines))


def _path(url: str) -> str:
    """A URL without scheme and host: the pages are all on the demo's own address."""
    return re.sub(r"^https?://[^/]+", "", url)
