"""The monthly report as PDF (WeasyPrint), from the same HTML as the page.

Rendering never touches the network. The HTML names its stylesheet
``relais-static:report.css``; images (the best posts' thumbnails, the agency's logo) are
already embedded as ``data:`` addresses read from Relais's own storage; the charts are
inline SVG. ``LocalFetcher`` serves exactly those two kinds of address and refuses
everything else (http, https, file, ftp…), so a text or an address in a post cannot
make the server fetch anything.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from agency.clients.models import Client

from .periods import Period
from .report import render_html


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot run here (Pango missing): the PDF cannot be made."""


def _weasyprint():
    # Imported on use: WeasyPrint loads Pango, and the app must start without it.
    try:
        import weasyprint
    except (ImportError, OSError) as error:
        raise PdfUnavailable(str(error)) from error
    return weasyprint


def fetcher():
    from .report_fetch import LocalFetcher

    return LocalFetcher(current_app.static_folder)


def pdf_from_html(html: str) -> bytes:
    return _weasyprint().HTML(string=html, base_url=None, url_fetcher=fetcher()).write_pdf()


def render_pdf(client: Client, period: Period, *, as_of: datetime | None = None) -> bytes:
    """The report of ``client`` for ``period`` as PDF bytes (``PdfUnavailable`` where
    WeasyPrint cannot run)."""
    return pdf_from_html(render_html(client, period, pdf=True, as_of=as_of))


def filename(client: Client, period: Period) -> str:
    from werkzeug.utils import secure_filename

    stem = secure_filename(client.name) or "client"
    return f"{stem}-{period.slug}.pdf"
