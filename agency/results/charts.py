"""Charts as server-rendered SVG: readable without JavaScript, with a <title> and a text
alternative (<desc>) that says what the chart shows in numbers, and no styles or
scripts (the pages' CSP allows neither inline): presentation attributes only.

Pure functions from numbers to markup: every text is escaped, numbers are formatted for
the reader's language (``format_decimal``: "12 400" in French). The monthly report can
embed the same markup in its HTML and PDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from markupsafe import Markup, escape

CURRENT = "#2f5fd0"
PREVIOUS = "#8a8f98"
GRID = "#e3e5e8"
INK = "#30343b"
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 30  # room for the axis labels and the legend


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int | None]
    color: str = CURRENT
    dashed: bool = False
    area: bool = False


def number(value: int | float | None) -> str:
    return "—" if value is None else format_decimal(value)


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (the axis' top)."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop ends at 10


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(chart_id: str, title: str, description: str, height: int = HEIGHT) -> list[str]:
    chart_id = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="100%" '
        f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="sans-serif" font-size="12">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def _close(parts: list[str]) -> Markup:
    # Every text placed in ``parts`` went through ``escape``; the rest is our own markup.
    return Markup("".join(parts) + "</svg>")  # noqa: S704


def _empty(chart_id: str, title: str, height: int = HEIGHT) -> Markup:
    message = _("No figures for this period yet.")
    parts = _open(chart_id, title, message, height)
    parts.append(f'<text x="{WIDTH / 2:g}" y="{height / 2:g}" text-anchor="middle" '
                 f'fill="{PREVIOUS}">{escape(message)}</text>')
    return _close(parts)


def _legend(series: Sequence[Series]) -> list[str]:
    parts, x = [], LEFT
    for item in series:
        dash = ' stroke-dasharray="5 4"' if item.dashed else ""
        parts.append(f'<line x1="{x}" y1="12" x2="{x + 18}" y2="12" stroke="{item.color}" '
                     f'stroke-width="2.5"{dash}/>')
        parts.append(f'<text x="{x + 24}" y="16" fill="{INK}">{escape(item.label)}</text>')
        x += 40 + 7 * len(item.label)
    return parts


def line_chart(chart_id: str, title: str, description: str, labels: Sequence[str],
               series: Sequence[Series]) -> Markup:
    """Lines over ``labels`` (one point per label; a shorter series stops early and a
    ``None`` leaves a gap), the first and last labels under the axis, 0 and the top of
    the scale beside it."""
    values = [v for s in series for v in s.values if v is not None]
    if not labels or not values:
        return _empty(chart_id, title)
    low = min(0, min(values))
    top = nice_max(max(values) - low) + low if max(values) > low else low + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: float) -> float:
        return TOP + plot_h - (v - low) / (top - low) * plot_h

    parts = _open(chart_id, title, description)
    for value in (low, (low + top) / 2, top):
        parts.append(f'<line x1="{LEFT}" y1="{_f(y(value))}" x2="{WIDTH - RIGHT}" '
                     f'y2="{_f(y(value))}" stroke="{GRID}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{_f(y(value) + 4)}" text-anchor="end" '
                     f'fill="{INK}">{escape(number(value))}</text>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 8}" fill="{INK}">{escape(labels[0])}</text>')
    if len(labels) > 1:
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" '
                     f'fill="{INK}">{escape(labels[-1])}</text>')
    for item in reversed(series):  # the first series (this period) drawn last, on top
        for run in _runs(item.values[: len(labels)]):
            points = " ".join(f"{_f(x(i))},{_f(y(v))}" for i, v in run)
            if item.area and len(run) > 1:
                base = f"{_f(x(run[-1][0]))},{_f(y(low))} {_f(x(run[0][0]))},{_f(y(low))}"
                parts.append(f'<polygon points="{points} {base}" fill="{item.color}" '
                             f'fill-opacity="0.15" stroke="none"/>')
            dash = ' stroke-dasharray="5 4"' if item.dashed else ""
            if len(run) == 1:
                parts.append(f'<circle cx="{_f(x(run[0][0]))}" cy="{_f(y(run[0][1]))}" r="2.5" '
                             f'fill="{item.color}"/>')
            else:
                parts.append(f'<polyline points="{points}" fill="none" stroke="{item.color}" '
                             f'stroke-width="2" stroke-linejoin="round"{dash}/>')
    parts.extend(_legend(series))
    return _close(parts)


def _runs(values: Sequence[int | None]) -> list[list[tuple[int, int]]]:
    """The stretches of known values, each as (index, value) pairs."""
    runs: list[list[tuple[int, int]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((index, value))
    return [run for run in runs if run]


def bar_chart(chart_id: str, title: str, description: str,
              groups: Sequence[tuple[str, Sequence[int | None]]],
              series: Sequence[Series]) -> Markup:
    """Horizontal bars: one group per label (a network), one bar per series in it
    (this period, the previous one), each with its number written at its end."""
    values = [v for _label, vals in groups for v in vals if v is not None]
    if not groups or not values or max(values) <= 0:
        return _empty(chart_id, title, height=80)
    top = nice_max(max(values))
    bar, gap = 14, 10
    label_w = 110
    group_h = bar * len(series) + gap
    height = TOP + group_h * len(groups) + 8
    plot_w = WIDTH - label_w - RIGHT - 60
    parts = _open(chart_id, title, description, height)
    y = TOP
    for label, vals in groups:
        parts.append(f'<text x="{label_w - 8}" y="{y + bar * len(series) / 2 + 4:g}" '
                     f'text-anchor="end" fill="{INK}">{escape(label)}</text>')
        for item, value in zip(series, vals, strict=False):
            width = 0 if value is None else max(value, 0) / top * plot_w
            parts.append(f'<rect x="{label_w}" y="{y}" width="{_f(width)}" height="{bar - 2}" '
                         f'fill="{item.color}"/>')
            parts.append(f'<text x="{_f(label_w + width + 4)}" y="{y + bar - 4}" '
                         f'fill="{INK}">{escape(number(value))}</text>')
            y += bar
        y += gap
    parts.extend(_legend(series))
    return _close(parts)


# --- the dashboard's charts ------------------------------------------------------------------

def _day(day: date) -> str:
    return format_date(day, "d MMM")


def _peak(values: Sequence[int | None], days: Sequence[date]) -> str:
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    if not known:
        return ""
    value, index = max(known, key=lambda pair: (pair[0], -pair[1]))
    return _("highest: %(n)s on %(day)s", n=number(value), day=_day(days[index]))


def impressions_chart(days: Sequence[date], current: Sequence[int],
                      previous: Sequence[int], *, has_figures: bool = True,
                      chart_id: str = "impressions-chart") -> Markup:
    """Impressions of the posts published each day, this period against the previous
    one overlaid day by day."""
    title = _("Impressions per day of publication")
    if not has_figures:
        return _empty(chart_id, title)
    description = _("This period: %(total)s impressions (%(peak)s). Previous period: "
                    "%(before)s impressions.", total=number(sum(current)),
                    peak=_peak(current, days), before=number(sum(previous)))
    return line_chart(chart_id, title, description, [_day(d) for d in days], [
        Series(_("This period"), list(current), CURRENT, area=True),
        Series(_("Previous period"), list(previous), PREVIOUS, dashed=True),
    ])


def followers_chart(days: Sequence[date], followers: Sequence[int | None], *,
                    chart_id: str = "followers-chart") -> Markup:
    title = _("Followers")
    known = [v for v in followers if v is not None]
    if not known:
        return _empty(chart_id, title)
    first = next(i for i, v in enumerate(followers) if v is not None)
    description = _("%(start)s followers on %(first)s, %(end)s on %(last)s.",
                    start=number(followers[first]), first=_day(days[first]),
                    end=number(known[-1]), last=_day(days[len(followers) - 1]))
    return line_chart(chart_id, title, description, [_day(d) for d in days],
                      [Series(_("Followers"), list(followers), CURRENT)])


def network_chart(lines: Sequence, metric: str, title: str, *,
                  chart_id: str = "networks-chart") -> Markup:
    """Bars per network of ``metric`` (a ``Figures`` attribute), this period and the
    previous one. ``lines`` are ``queries.NetworkLine``."""
    groups = [(line.name, [getattr(line.current, metric), getattr(line.previous, metric)])
              for line in lines]
    description = "; ".join(
        _("%(network)s: %(now)s (previous period: %(before)s)", network=label,
          now=number(vals[0]), before=number(vals[1])) for label, vals in groups)
    return bar_chart(chart_id, title, description or _("No figures for this period yet."),
                     groups, [Series(_("This period"), [], CURRENT),
                              Series(_("Previous period"), [], PREVIOUS)])
