"""The weekly brief's charts (周报图表), drawn with matplotlib as PNG bytes.

Each chart takes plain data from a `reports.brief.content.Brief` and returns a PNG at 150 dpi.
Figures are built with `matplotlib.figure.Figure` on the Agg canvas, never through pyplot, so
nothing is left in pyplot's global state and the web, CLI and rq worker can all call these. The
only global touched is `rcParams` (the CJK font), which is set inside `rc_context` under a lock.

The same data gives the same bytes: the PNG carries no software tag and no date.
"""

import datetime as dt
import functools
import io
import logging
import subprocess
import threading
import warnings
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from typing import Final

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.ticker import PercentFormatter
from matplotlib.typing import RcKeyType

from reports.brief.content import CategoryLine
from reports.brief.content import CountRow
from reports.brief.content import DayCount
from reports.brief.content import UnitLine

logger = logging.getLogger(__name__)

DPI: Final = 150
WIDTH_INCHES: Final = 6.3  # 16 cm: the text width of an A4 page with 2.5 cm margins
CJK_FAMILY: Final = "Noto Sans CJK SC"
_FONT_FILES: Final = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.otf",
)
WEEKDAYS: Final = "一二三四五六日"

BLUE: Final = "#2f5d8c"
LIGHT_BLUE: Final = "#9db6cf"
ORANGE: Final = "#d9822b"
RED: Final = "#c0392b"
GREY: Final = "#7f7f7f"

NO_DATA: Final = "暂无数据"

# rc_context writes the process-wide rcParams: one chart at a time.
_LOCK = threading.Lock()


# ---------------------------------------------------------------- fonts


def _has_family(name: str) -> bool:
    try:
        font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
    except ValueError:
        return False
    return True


def _fc_match(name: str) -> str | None:
    """The font file fontconfig picks for `name` (which may be another family altogether)."""
    try:
        done = subprocess.run(
            ["fc-match", "-f", "%{file}", name],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


@functools.cache
def cjk_font_family() -> str | None:
    """Make Noto Sans CJK SC known to matplotlib; None (and a warning) when it is not installed."""
    if _has_family(CJK_FAMILY):
        return CJK_FAMILY
    candidates = [_fc_match(CJK_FAMILY), *_FONT_FILES]
    for path in candidates:
        if path is None or not Path(path).is_file():
            continue
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            logger.debug("cannot load font file %s", path, exc_info=True)
            continue
        if _has_family(CJK_FAMILY):
            return CJK_FAMILY
    logger.warning(
        "font %s not found (install fonts-noto-cjk): chart labels in Chinese will not show",
        CJK_FAMILY,
    )
    return None


def _rc() -> dict[RcKeyType, Any]:
    family = cjk_font_family()
    # DejaVu Sans after the CJK font: matplotlib falls back per glyph along this list.
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    return {
        "font.family": "sans-serif",
        "font.sans-serif": families,
        "font.size": 9,
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "legend.frameon": False,
    }


@contextmanager
def _drawing() -> Iterator[None]:
    with _LOCK, matplotlib.rc_context(_rc()), warnings.catch_warnings():
        if cjk_font_family() is None:
            # Without a CJK font every Chinese glyph warns; the chart is still worth drawing
            # (the warning above already says why it shows boxes).
            warnings.filterwarnings(
                "ignore", message=r"Glyph \d+ .* missing from", category=UserWarning
            )
        yield


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _count_axis(ax: Axes, top: int) -> None:
    """A y axis of ticket counts with head room for the bar labels."""
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("件", rotation=0, labelpad=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#e0e0e0", zorder=0)


def _legend(fig: Figure) -> None:
    """One row of legend above the plot, where it cannot hide a bar."""
    fig.legend(loc="outside upper right", ncols=3, fontsize=8)


def _no_data(ax: Axes) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=12, color=GREY)


# ---------------------------------------------------------------- labels


def weekday(day: dt.date) -> str:
    """周一 … 周日 for a date."""
    return f"周{WEEKDAYS[day.weekday()]}"


def day_label(day: dt.date, *, sep: str = "") -> str:
    """11月16日（周一）: `sep` goes between the date and the weekday (a newline in charts)."""
    return f"{day.month}月{day.day}日{sep}（{weekday(day)}）"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def floor_text(floor: float) -> str:
    """85% rather than 85.0% for the satisfaction floor."""
    return f"{floor * 100:.1f}".rstrip("0").rstrip(".") + "%"


# ---------------------------------------------------------------- charts


def daily_trend_chart(days: Sequence[DayCount]) -> bytes:
    """Bars of tickets accepted each day, with a line of those dispatched."""
    with _drawing():
        fig = Figure(figsize=(WIDTH_INCHES, 3.0), layout="constrained")
        ax = fig.add_subplot()
        if not days:
            _no_data(ax)
            return _png(fig)
        xs = list(range(len(days)))
        accepted = [d.accepted for d in days]
        dispatched = [d.dispatched for d in days]
        bars = ax.bar(xs, accepted, width=0.6, color=BLUE, label="受理量", zorder=2)
        ax.bar_label(bars, padding=2, fontsize=8)
        (line,) = ax.plot(
            xs, dispatched, color=ORANGE, marker="o", linewidth=2, label="派单量", zorder=3
        )
        ax.set_xticks(xs, [day_label(d.day, sep="\n") for d in days])
        _count_axis(ax, max(1, *accepted, *dispatched))
        fig.legend(handles=[bars, line], loc="outside upper right", ncols=2, fontsize=8)
        return _png(fig)


def channels_chart(rows: Sequence[CountRow]) -> bytes:
    """Grouped bars: each channel's tickets this week beside last week's."""
    with _drawing():
        fig = Figure(figsize=(WIDTH_INCHES, 2.8), layout="constrained")
        ax = fig.add_subplot()
        if not rows:
            _no_data(ax)
            return _png(fig)
        xs = list(range(len(rows)))
        width = 0.38
        before = ax.bar(
            [x - width / 2 for x in xs],
            [r.before for r in rows],
            width,
            color=LIGHT_BLUE,
            label="上周",
            zorder=2,
        )
        now = ax.bar(
            [x + width / 2 for x in xs],
            [r.now for r in rows],
            width,
            color=BLUE,
            label="本周",
            zorder=2,
        )
        ax.bar_label(before, padding=2, fontsize=7, color=GREY)
        ax.bar_label(now, padding=2, fontsize=7)
        ax.set_xticks(xs, [r.label for r in rows])
        _count_axis(ax, max([1, *(r.now for r in rows), *(r.before for r in rows)]))
        _legend(fig)
        return _png(fig)


def _bar_height(n: int) -> float:
    return min(9.0, max(2.0, 0.32 * n + 0.8))


def categories_chart(lines: Sequence[CategoryLine]) -> bytes:
    """Horizontal bars of the top categories' shares of the week's tickets, largest on top."""
    with _drawing():
        fig = Figure(figsize=(WIDTH_INCHES, _bar_height(len(lines))), layout="constrained")
        ax = fig.add_subplot()
        if not lines:
            _no_data(ax)
            return _png(fig)
        ys = list(range(len(lines)))
        shares = [(c.share or 0.0) * 100 for c in lines]
        bars = ax.barh(ys, shares, height=0.6, color=BLUE, zorder=2)
        ax.bar_label(
            bars,
            labels=[f"{_percent(c.share)}（{c.count}件）" for c in lines],
            padding=3,
            fontsize=8,
        )
        ax.set_yticks(ys, [c.name for c in lines])
        ax.invert_yaxis()
        ax.set_xlim(0, max(10.0, *shares) * 1.3)
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.grid(axis="x", color="#e0e0e0", zorder=0)
        return _png(fig)


def satisfaction_chart(units: Sequence[UnitLine], floor: float) -> bytes:
    """Units' satisfaction rates, best on top; a dashed line at the floor, units below it red."""
    with _drawing():
        rated = sorted(
            (u for u in units if u.satisfaction_rate is not None),
            key=lambda u: (-(u.satisfaction_rate or 0.0), u.rank or len(units) + 1, u.unit),
        )
        fig = Figure(figsize=(WIDTH_INCHES, _bar_height(len(rated))), layout="constrained")
        ax = fig.add_subplot()
        if not rated:
            _no_data(ax)
            return _png(fig)
        ys = list(range(len(rated)))
        rates = [(u.satisfaction_rate or 0.0) * 100 for u in rated]
        colors = [RED if (u.satisfaction_rate or 0.0) < floor else BLUE for u in rated]
        bars = ax.barh(ys, rates, height=0.6, color=colors, zorder=2)
        ax.bar_label(
            bars,
            labels=[_percent(u.satisfaction_rate) for u in rated],
            padding=3,
            fontsize=8,
            # Drawn over the floor line when a bar ends just short of it.
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
            zorder=4,
        )
        ax.axvline(
            floor * 100,
            color=RED,
            linestyle="--",
            linewidth=1,
            zorder=3,
            label=f"满意率底线 {floor_text(floor)}",
        )
        # Each bar says how many follow-ups it rests on: 2 of 2 is not 200 of 200.
        ax.set_yticks(ys, [f"{u.unit}（{u.valid_follow_ups}件）" for u in rated])
        for tick, unit in zip(ax.get_yticklabels(), rated, strict=True):
            if (unit.satisfaction_rate or 0.0) < floor:
                tick.set_color(RED)
        ax.invert_yaxis()
        ax.set_xlim(0, 112)
        ax.set_xticks([0, 20, 40, 60, 80, 100])
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.grid(axis="x", color="#e0e0e0", zorder=0)
        _legend(fig)
        return _png(fig)


# ---------------------------------------------------------------- alt texts


def daily_trend_alt(days: Sequence[DayCount]) -> str:
    if not days:
        return "每日受理与派单趋势图：暂无数据。"
    parts = [f"{day_label(d.day)}受理{d.accepted}件、派单{d.dispatched}件" for d in days]
    return "每日受理与派单趋势图：" + "；".join(parts) + "。"


def channels_alt(rows: Sequence[CountRow]) -> str:
    if not rows:
        return "受理渠道对比图：暂无数据。"
    parts = [f"{r.label}本周{r.now}件、上周{r.before}件" for r in rows]
    return "受理渠道对比图：" + "；".join(parts) + "。"


def categories_alt(lines: Sequence[CategoryLine]) -> str:
    if not lines:
        return "诉求分类占比图：暂无数据。"
    parts = [f"{c.name}{c.count}件，占{_percent(c.share)}" for c in lines]
    return "诉求分类占比图：" + "；".join(parts) + "。"


def satisfaction_alt(units: Sequence[UnitLine], floor: float) -> str:
    rated = [u for u in units if u.satisfaction_rate is not None]
    if not rated:
        return "承办单位满意率图：暂无数据。"
    parts = [
        f"{u.unit}{_percent(u.satisfaction_rate)}（有效回访{u.valid_follow_ups}件）" for u in rated
    ]
    return f"承办单位满意率图（底线{floor_text(floor)}）：" + "；".join(parts) + "。"
