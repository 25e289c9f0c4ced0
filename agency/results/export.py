"""The CSV export of a client's publications and their figures for a period.

UTF-8 with a byte-order mark (Excel then reads accents right), one row per publication,
dates in the client's timezone, empty cells where a network does not report a counter.
A cell that a spreadsheet would read as a formula (starting with = + - @, or a tab or
carriage return) is prefixed with ``'``: a post's text is written by people outside
the agency's control, and must never run in someone's spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable

from flask_babel import gettext as _

from agency.clients.models import Client
from agency.content.forms import network_name

from .periods import Period
from .readings import COUNTERS, PostFigure

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """A cell as text, defused if a spreadsheet would take it for a formula."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def slugify(text: str) -> str:
    """"Boulangerie Émile & Fils" → "boulangerie-emile-fils" (for file names)."""
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", flat.lower()).strip("-") or "client"


def filename(client: Client, period: Period) -> str:
    return f"{slugify(client.name)}-{slugify(_('results'))}-{period.slug}.csv"


def header() -> list[str]:
    return [_("Published (client's time)"), _("Network"), _("Text"), _("Link"),
            _("Impressions"), _("Reach"), _("Reactions"), _("Comments"), _("Shares"),
            _("Clicks"), _("Saves"), _("Engagement"), _("Engagement rate"),
            _("Figures as of (UTC)")]


def row(figure: PostFigure, period: Period) -> list[str]:
    local = figure.published_at.astimezone(period.zone)
    rate = figure.engagement_rate
    return [safe_cell(v) for v in (
        local.strftime("%Y-%m-%d %H:%M"), network_name(figure.network), figure.text,
        figure.external_url, *(figure.counters[c] for c in COUNTERS), figure.engagement,
        None if rate is None else f"{rate:.4f}",
        figure.measured_at.strftime("%Y-%m-%d %H:%M") if figure.measured_at else None,
    )]


def to_csv(figures: Iterable[PostFigure], period: Period) -> str:
    """The whole file as text, BOM first. Numbers are plain (no thousands separator, a
    dot for decimals, the rate as a fraction) so every spreadsheet reads them as numbers."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header()])
    for figure in figures:
        writer.writerow(row(figure, period))
    return out.getvalue()
