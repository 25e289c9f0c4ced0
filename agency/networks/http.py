"""The HTTP client the network adapters share."""

from __future__ import annotations

from typing import Self

import httpx
from flask import current_app

USER_AGENT = "Relais (social media for agencies)"


class NetworkClient:
    """An httpx client with the network timeout, no redirects followed, and no proxy
    from the environment (a proxy meant for the browser must neither reroute the calls
    nor see the tokens). Use it in a ``with`` block: the connection is closed after."""

    def __init__(self, *, timeout: float | None = None):
        if timeout is None:
            timeout = float(current_app.config["NETWORK_TIMEOUT_SECONDS"])
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                                  headers={"User-Agent": USER_AGENT})

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self._http.close()
