"""XRPC over HTTP to a Bluesky PDS, and one account's session kept alive.

Bluesky limits sign-ins (``createSession``: 30 per 5 minutes and 300 — 100 at the
entryway — per day per account), so a session is made once, when the account is
connected, and then reused: each call carries the stored ``accessJwt``; when Bluesky says
it expired, ``refreshSession`` with the ``refreshJwt`` renews both tokens (refresh tokens
rotate: the new pair must be stored, see ``Session.renewed``) and the call is made once
more. Only when the refresh token itself is dead does the session sign in again with the
stored app password, and then at most once per ``BLUESKY_SESSION_MIN_INTERVAL`` seconds
per account (the time of the last sign-in is kept with the credentials).

Rate limits: every answer's ``ratelimit-remaining`` / ``ratelimit-reset`` headers are
read; when the budget is spent (remaining 0, or a 429), ``rate_limited_until`` holds the
reset time (epoch seconds) so the engine can hold the account's next publication.
"""

from __future__ import annotations

import base64
import functools
import json
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx
from flask import current_app
from flask_babel import gettext as _

from .base import AuthExpiredError, NetworkError, OutcomeUnknown, PermanentError, RetryableError

# Sign in again with the app password at most this often per account (seconds).
SESSION_MIN_INTERVAL = 600
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
ACCOUNT_ERRORS = frozenset({"AccountTakedown", "AccountDeactivated", "AccountSuspended"})
_EXPIRY_MARGIN = 30  # seconds: renew a token this close to its expiry before using it


class XrpcError(Exception):
    """A non-2xx XRPC answer: ``error`` and ``message`` from its JSON body."""

    def __init__(self, status: int, error: str, message: str, retry_after: float | None = None):
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.retry_after = retry_after


def classify(error: XrpcError) -> NetworkError:
    """What an XRPC refusal means for a publication."""
    detail = str(error)
    if error.status == 429:
        return RetryableError(_("Bluesky is limiting requests from this account for now. "
                                "Relais will try again when the limit resets."),
                              retry_after=error.retry_after, detail=detail)
    if error.status >= 500:
        return RetryableError(_("Bluesky is having trouble (error %(status)s). "
                                "Relais will try again.", status=error.status), detail=detail)
    if error.error in ACCOUNT_ERRORS:
        return AuthExpiredError(_("Bluesky says this account is suspended or deactivated "
                                  "(%(message)s).", message=error.message), detail=detail)
    if error.status == 401 or error.error in TOKEN_ERRORS:
        return AuthExpiredError(_("Bluesky no longer accepts this account's connection. "
                                  "Reconnect it with an app password."), detail=detail)
    if error.status == 413:
        return PermanentError(_("Bluesky refused a file as too large (%(message)s).",
                                message=error.message or error.error), detail=detail)
    return PermanentError(_("Bluesky refused the post: %(message)s",
                            message=error.message or error.error), detail=detail)


def _is_token_error(error: XrpcError) -> bool:
    if error.error in ACCOUNT_ERRORS:
        return False
    return error.error in TOKEN_ERRORS or error.status == 401


def _header_number(headers: httpx.Headers, name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


class Xrpc:
    """Calls to one PDS. Read timeouts after a write was sent become ``OutcomeUnknown``
    only where the caller says the write matters (``unknown_outcome=True``)."""

    def __init__(self, base_url: str | None = None, timeout: float | None = None):
        self.base_url = (base_url or current_app.config["BLUESKY_PDS_URL"]).rstrip("/")
        self.timeout = timeout or current_app.config["NETWORK_TIMEOUT_SECONDS"]
        self.rate_limited_until: float | None = None

    def query(self, nsid: str, params: dict[str, Any] | list | None = None, *,
              token: str | None = None) -> dict[str, Any]:
        return self._send("GET", nsid, token=token, params=params)

    def procedure(self, nsid: str, *, token: str | None = None, body: Any = None,
                  content: bytes | None = None, content_type: str | None = None,
                  unknown_outcome: bool = False) -> dict[str, Any]:
        return self._send("POST", nsid, token=token, body=body, content=content,
                          content_type=content_type, unknown_outcome=unknown_outcome)

    def _send(self, method: str, nsid: str, *, token=None, params=None, body=None,
              content=None, content_type=None, unknown_outcome=False) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"
        try:
            with httpx.Client(timeout=self.timeout, verify=_ssl_context()) as http:
                response = http.request(method, f"{self.base_url}/xrpc/{nsid}", params=params,
                                        json=body, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise RetryableError(_("Bluesky could not be reached. Relais will try again."),
                                 detail=f"{nsid}: {error!r}") from error
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
            if unknown_outcome:
                raise OutcomeUnknown(_("Bluesky did not answer in time: the post may or may "
                                       "not be online. Relais checks before trying again."),
                                     detail=f"{nsid}: {error!r}") from error
            raise RetryableError(_("Bluesky did not answer in time. Relais will try again."),
                                 detail=f"{nsid}: {error!r}") from error
        retry_after = self._note_rate_limit(response)
        if response.is_success:
            try:
                return response.json() if response.content else {}
            except ValueError:
                return {}
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        raise XrpcError(response.status_code, str(data.get("error") or ""),
                        str(data.get("message") or response.reason_phrase), retry_after)

    def _note_rate_limit(self, response: httpx.Response) -> float | None:
        """Remember when the budget resets if it is spent; the seconds to wait on a 429."""
        remaining = _header_number(response.headers, "ratelimit-remaining")
        reset = _header_number(response.headers, "ratelimit-reset")
        now = time.time()
        if reset is not None and (response.status_code == 429 or remaining == 0):
            self.rate_limited_until = max(self.rate_limited_until or 0, reset)
        if response.status_code != 429:
            return None
        if reset is not None:
            return max(1.0, reset - now)
        return _header_number(response.headers, "retry-after")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Made once: building one per client (what httpx does by default) costs ~30 ms.
    return httpx.create_ssl_context()


def _token_expires_at(token: str) -> float | None:
    """The ``exp`` of a JWT, read without verifying it (only to renew it in time)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(data["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


class Session:
    """One account's session on top of ``Xrpc``. Raises ``XrpcError`` for refusals the
    caller must interpret, and ``NetworkError``s for what is already decided (no session
    possible, a sign-in to wait for). ``credentials`` always holds the current tokens;
    ``renewed`` says they changed and must be stored."""

    def __init__(self, xrpc: Xrpc, credentials: dict[str, Any], *,
                 min_interval: float | None = None):
        self.xrpc = xrpc
        self.credentials = dict(credentials or {})
        self.renewed = False
        if min_interval is None:
            min_interval = current_app.config.get("BLUESKY_SESSION_MIN_INTERVAL",
                                                  SESSION_MIN_INTERVAL)
        self.min_interval = float(min_interval)

    @property
    def did(self) -> str:
        return str(self.credentials.get("did") or "")

    def query(self, nsid: str, params=None) -> dict[str, Any]:
        return self._authed(lambda token: self.xrpc.query(nsid, params, token=token))

    def procedure(self, nsid: str, **kwargs) -> dict[str, Any]:
        return self._authed(lambda token: self.xrpc.procedure(nsid, token=token, **kwargs))

    def _authed(self, send: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        token = str(self.credentials.get("accessJwt") or "")
        expires = _token_expires_at(token) if token else None
        if not token or (expires is not None and expires - _EXPIRY_MARGIN < time.time()):
            self._renew()
        try:
            return send(self.credentials["accessJwt"])
        except XrpcError as error:
            if not _is_token_error(error):
                raise
        self._renew()
        try:
            return send(self.credentials["accessJwt"])
        except XrpcError as error:
            if _is_token_error(error):
                raise classify(error) from error
            raise

    def _renew(self) -> None:
        refresh = self.credentials.get("refreshJwt")
        if refresh:
            try:
                data = self.xrpc.procedure("com.atproto.server.refreshSession", token=refresh)
            except XrpcError as error:
                if not _is_token_error(error):
                    raise
            else:
                self._take(data)
                return
        self._sign_in_again()

    def _sign_in_again(self) -> None:
        password = self.credentials.get("app_password")
        identifier = self.did or self.credentials.get("handle")
        if not password or not identifier:
            raise AuthExpiredError(_("Bluesky's session for this account has ended. "
                                     "Reconnect the account with an app password."))
        wait = float(self.credentials.get("session_created_at") or 0) + self.min_interval \
            - time.time()
        if wait > 0:
            raise RetryableError(
                _("Bluesky's session for this account has ended. Relais signs in again in "
                  "%(minutes)s min (Bluesky limits how often an account signs in).",
                  minutes=max(1, round(wait / 60))),
                retry_after=wait, detail="createSession held back by the minimum interval")
        # Counted as soon as it is tried: Bluesky's limit counts attempts too.
        self.credentials["session_created_at"] = time.time()
        self.renewed = True
        try:
            data = self.xrpc.procedure("com.atproto.server.createSession",
                                       body={"identifier": identifier, "password": password})
        except XrpcError as error:
            if error.status == 401 and error.error not in ACCOUNT_ERRORS:
                raise AuthExpiredError(
                    _("Bluesky refused the app password: it was probably revoked. Reconnect "
                      "the account with a new app password."), detail=str(error)) from error
            raise classify(error) from error
        self._take(data)

    def _take(self, data: dict[str, Any]) -> None:
        if not data.get("accessJwt") or not data.get("refreshJwt"):
            raise RetryableError(_("Bluesky answered without a session. Relais will try "
                                   "again."), detail=f"session keys: {sorted(data)}")
        for key in ("accessJwt", "refreshJwt", "did", "handle"):
            if data.get(key):
                self.credentials[key] = data[key]
        self.renewed = True
