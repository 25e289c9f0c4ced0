"""The monthly report as PDF (WeasyPrint), from the same HTML as the page.

Rendering never touches the network. The HTML names its stylesheet
``relais-static:report.css``; images (the best posts' thumbnails, the agency's logo) are
already embedded as ``data:`` addresses read from Relais's own storage; the charts are
inline SVG. ``LocalFetcher`` serves exactly those two kinds of address and refuses
everything else (http, https, file, ftp…), so a text or an address in a post cannot
make the server fetch anything.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime
from pathlib import Path

from flask import current_app
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from agency.clients.models import Client

from .periods import Period
from .report import render_html

STATIC = "relais-static:"


class Refused(ValueError):
    """An address the report's renderer does not fetch."""


class LocalFetcher(URLFetcher):
    """Serves ``relais-static:<file>`` from the app's static folder and ``data:``
    addresses; refuses every other address (WeasyPrint then leaves the resource out)."""

    def __init__(self, static_folder: str | Path):
        super().__init__(allowed_protocols=("data", "relais-static"),
                         allow_redirects=False, timeout=1)
        self.root = Path(static_folder).resolve()

    def fetch(self, url: str, headers=None):
        if url.startswith("data:"):
            # Decoded by urllib's DataHandler, in memory.
            return super().fetch(url, headers)
        if url.startswith(STATIC):
            return self._static(url)
        raise Refused(f"the report does not fetch {url[:80]!r}")

    def _static(self, url: str) -> URLFetcherResponse:
        name = url.removeprefix(STATIC).split("?")[0].split("#")[0]
        path = (self.root / name).resolve()
        if not name or self.root not in path.parents or not path.is_file():
            raise Refused(f"no static file {name[:80]!r}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = {"Content-Type": f"{mime}; charset=utf-8" if mime.startswith("text/")
                   else mime}
        return URLFetcherResponse(url, path.read_bytes(), headers)


def fetcher() -> LocalFetcher:
    return LocalFetcher(current_app.static_folder)


def pdf_from_html(html: str) -> bytes:
    return HTML(string=html, base_url=None, url_fetcher=fetcher()).write_pdf()


def render_pdf(client: Client, period: Period, *, as_of: datetime | None = None) -> bytes:
    """The report of ``client`` for ``period`` as PDF bytes."""
    return pdf_from_html(render_html(client, period, pdf=True, as_of=as_of))


def filename(client: Client, period: Period) -> str:
    from werkzeug.utils import secure_filename

    stem = secure_filename(client.name) or "client"
    return f"{stem}-{period.slug}.pdf"
