"""What the report's PDF renderer may read: Relais's static files and ``data:``
addresses, nothing else (see report_pdf.py). Imported only when a PDF is made."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from weasyprint.urls import URLFetcher, URLFetcherResponse

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
