"""X API v2 over HTTP: one user token, every failure as an adapter error (base.py), and
X's rate-limit headers read on every answer. Used by the X adapter (x.py), its media
upload (x_media.py), its token renewal (x_tokens.py) and its connect flow (x_oauth.py).

What it relies on, as documented (docs.x.com, checked 2025):

- Errors are RFC 7807 problem details at the top level of the body — a 401 is
  ``{"title": "Unauthorized", "type": "about:blank", "status": 401, "detail":
  "Unauthorized"}``, the duplicate refusal ``{"detail": "You are not allowed to create a
  Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status":
  403}`` — and invalid requests add an ``errors`` list whose items carry ``message``
  (x-api/fundamentals/response-codes-and-errors). The reason shown quotes the items'
  ``message`` when there are some, else ``detail``.
- Every answer carries ``x-rate-limit-limit``/``-remaining``/``-reset`` (the reset in
  epoch seconds; fundamentals/rate-limits); ``POST /2/tweets`` adds the 24-hour caps
  ``x-user-limit-24hour-*`` and ``x-app-limit-24hour-*``. When any of them says 0
  remaining on a POST (a post or an upload), ``rate_limited_until`` (UTC datetime) is its
  reset; a 429 is retried after it (60 seconds when no header says).
- The token endpoint ``POST /2/oauth2/token`` takes form fields and, for a confidential
  client, HTTP Basic ``client_id:client_secret``
  (fundamentals/authentication/oauth-2-0/user-access-token); it refuses with
  ``{"error", "error_description"}`` (X answers ``invalid_request`` "Value passed for the
  token was invalid." for a refresh token that was rotated or revoked).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from flask import current_app
from flask_babel import gettext as _

from .base import (
    AuthExpiredError,
    NetworkError,
    OutcomeUnknown,
    PermanentError,
    RetryableError,
)
from .http import NetworkClient

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 60.0
# The limit families X reports; any of them at 0 stops the account until its reset.
LIMIT_HEADERS = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")
DUPLICATE_MARK = "duplicate content"
# Access tokens from the authorization code flow last two hours (oauth-2-0/authorization-code).
DEFAULT_TOKEN_SECONDS = 7200
TOKEN_PATH = "/2/oauth2/token"


class DuplicateContent(PermanentError):
    """X refused a post whose text this account posted recently. After an attempt whose
    outcome is unknown it means the post is out: the adapter looks for it."""


class AppCredentialsRefused(RetryableError):
    """X refused Relais's own client id and secret: a configuration problem of this
    Relais, not of the account (which must not be expired for it)."""


def problem_message(body: Any) -> str:
    """X's own words for a refusal: the ``errors[].message`` items, else ``detail``."""
    if not isinstance(body, dict):
        return ""
    items = body.get("errors") if isinstance(body.get("errors"), list) else []
    messages = [str(i.get("message") or i.get("detail") or "") for i in items
                if isinstance(i, dict)]
    messages = [m for m in messages if m]
    text = "; ".join(messages) or str(body.get("detail") or body.get("title") or "")
    return " ".join(text.split())[:300]


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def exhausted_until(response: httpx.Response) -> float | None:
    """When the spent budget resets (epoch seconds), if an answer says one is spent."""
    resets = []
    for prefix in LIMIT_HEADERS:
        remaining = _number(response.headers.get(f"{prefix}-remaining"))
        reset = _number(response.headers.get(f"{prefix}-reset"))
        if remaining is not None and remaining <= 0 and reset:
            resets.append(reset)
    return max(resets) if resets else None


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class XApi(NetworkClient):
    """The API with one user access token (swappable: ``token`` is read at each call).
    ``creates=True`` marks a call that makes a post visible, whose lost answer is
    ``OutcomeUnknown`` rather than retryable."""

    def __init__(self, token: str = "", *, base: str | None = None,
                 timeout: float | None = None):
        self.base = (base or current_app.config["X_API_URL"]).rstrip("/")
        self.token = token
        self.rate_limited_until: datetime | None = None
        super().__init__(timeout=timeout)

    def call(self, method: str, path: str, *, creates: bool = False, **kwargs: Any) -> Any:
        """The JSON of a 2xx answer ({} when empty); the adapter error otherwise."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self._send(method, path, creates=creates, headers=headers, **kwargs)
        if response.status_code < 300:
            if not response.content:
                return {}
            body = _body(response)
            if body is None:
                self._unreadable(method, path, creates)
            return body
        raise self._refusal(response, method, path)

    def token_call(self, form: dict[str, str]) -> dict:
        """``POST /2/oauth2/token`` as the confidential client (HTTP Basic); the token
        answer, or: ``AuthExpiredError`` when the code or refresh token is refused,
        ``AppCredentialsRefused`` when Relais's own credentials are, ``RetryableError``
        when X cannot answer now, ``OutcomeUnknown`` when the answer was lost (a refresh
        token may then have been rotated without Relais getting the new one)."""
        config = current_app.config
        auth = (config["X_CLIENT_ID"], config["X_CLIENT_SECRET"])
        lost = _("X did not answer while renewing the access: it may have renewed it "
                 "without Relais getting the new one. Relais will try again; if X refuses, "
                 "reconnect the X account.")
        try:
            response = self._send("POST", TOKEN_PATH, creates=True, data=form, auth=auth)
        except OutcomeUnknown as error:
            raise OutcomeUnknown(lost, detail=error.detail) from None
        body = _body(response)
        if response.status_code < 300 and isinstance(body, dict) and body.get("access_token"):
            return body
        if response.status_code < 300:
            raise OutcomeUnknown(lost, detail=f"POST {TOKEN_PATH}: no access token in the answer")
        error = str((body or {}).get("error") or "") if isinstance(body, dict) else ""
        description = str((body or {}).get("error_description") or "") \
            if isinstance(body, dict) else ""
        detail = f"POST {TOKEN_PATH}: HTTP {response.status_code} {error}: {description}"
        if error in ("unauthorized_client", "invalid_client") or (
                response.status_code == 401 and not error):
            log.error("X refused Relais's client credentials (X_CLIENT_ID/X_CLIENT_SECRET): %s",
                      detail)
            raise AppCredentialsRefused(
                _("X refused Relais's own app credentials: the administrator must check "
                  "X_CLIENT_ID and X_CLIENT_SECRET. Relais will try again."), detail=detail)
        if response.status_code in (400, 401) and error in ("invalid_grant", "invalid_request"):
            raise AuthExpiredError(
                _("X no longer accepts this account's access (%(error)s). Reconnect the X "
                  "account to publish again.", error=description or error), detail=detail)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(_("X could not renew the access right now. Relais will try "
                                   "again."), retry_after=self._retry_after(response),
                                 detail=detail)
        raise PermanentError(_("X refused the sign-in (%(error)s).",
                               error=description or error or response.status_code),
                             detail=detail)

    # --- internals ----------------------------------------------------------------------

    def _send(self, method: str, path: str, *, creates: bool, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, self.base + path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise RetryableError(_("Could not reach X. Relais will try again."),
                                 detail=f"{method} {path}: {error!r}") from None
        except httpx.TransportError as error:
            if creates:
                raise OutcomeUnknown(
                    _("X did not answer in time: the post may or may not be out. Relais "
                      "checks before trying again."), detail=f"{method} {path}: {error!r}"
                ) from None
            raise RetryableError(_("X did not answer in time. Relais will try again."),
                                 detail=f"{method} {path}: {error!r}") from None
        reset = exhausted_until(response)
        # Only the budgets of the calls that publish (posts, uploads) pause the account:
        # a spent read budget (the timeline allows very few calls on some plans) must not
        # stop its posts; a read refused for it is retried after its own reset.
        if reset is not None and method == "POST":
            until = datetime.fromtimestamp(reset, UTC)
            if self.rate_limited_until is None or until > self.rate_limited_until:
                self.rate_limited_until = until
        return response

    @staticmethod
    def _unreadable(method: str, path: str, creates: bool) -> None:
        if creates:
            raise OutcomeUnknown(_("X gave an unreadable answer: the post may or may not be "
                                   "out. Relais checks before trying again."),
                                 detail=f"{method} {path}: not JSON")
        raise RetryableError(_("X gave an unreadable answer. Relais will try again."),
                             detail=f"{method} {path}: not JSON")

    @staticmethod
    def _retry_after(response: httpx.Response) -> float:
        reset = exhausted_until(response) or _number(response.headers.get("x-rate-limit-reset"))
        if reset:
            return max(1.0, reset - time.time())
        return DEFAULT_RETRY_AFTER

    def _refusal(self, response: httpx.Response, method: str, path: str) -> NetworkError:
        status = response.status_code
        message = problem_message(_body(response)) or f"HTTP {status}"
        detail = f"{method} {path}: HTTP {status}: {message}"
        if status == 401:
            return AuthExpiredError(_("X no longer accepts this account's access (%(error)s). "
                                      "Reconnect the X account to publish again.",
                                      error=message), detail=detail)
        if status == 429:
            return RetryableError(_("X's rate limit for this account is reached. Relais will "
                                    "try again later."),
                                  retry_after=self._retry_after(response), detail=detail)
        if status >= 500:
            return RetryableError(_("X is having trouble (%(error)s). Relais will try again.",
                                    error=message), detail=detail)
        kind = DuplicateContent if status == 403 and DUPLICATE_MARK in message.lower() \
            else PermanentError
        refusal = kind(_("X refused this post: %(error)s", error=message), detail=detail)
        refusal.network_message = message  # X's own words, for the adapter's reasons
        return refusal


def credentials_from(answer: dict, *, previous_refresh: str = "",
                     now: float | None = None) -> dict:
    """The credentials Relais stores from a token answer: ``expires_at`` (epoch seconds)
    and ``refreshable`` (X gives a refresh token only with ``offline.access``; a refresh
    answer without one leaves the previous one in use)."""
    now = time.time() if now is None else now
    try:
        lasts = int(answer.get("expires_in") or DEFAULT_TOKEN_SECONDS)
    except (TypeError, ValueError):
        lasts = DEFAULT_TOKEN_SECONDS
    refresh = str(answer.get("refresh_token") or previous_refresh or "")
    credentials: dict[str, Any] = {"access_token": str(answer["access_token"]),
                                   "expires_at": int(now + lasts),
                                   "refreshable": bool(refresh)}
    if refresh:
        credentials["refresh_token"] = refresh
    return credentials
