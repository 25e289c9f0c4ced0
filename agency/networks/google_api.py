"""Talking to Google's Business Profile APIs and its OAuth token endpoint, with every
failure turned into one of the adapter errors of base.py.

Shared by the adapter (google_business.py) and the connect flow (google_oauth.py).

- **API errors** follow Google's error model (https://cloud.google.com/apis/design/errors):
  ``{"error": {"code", "message", "status", "details"}}``. 401 / ``UNAUTHENTICATED``
  → ``AuthExpiredError``, after one refresh of the access token when the credentials
  are refreshable (``GoogleApi.renewed`` then holds the new credentials); 403 /
  ``PERMISSION_DENIED`` → ``AuthExpiredError`` (the Google account lost access to the
  location), except ``SERVICE_DISABLED`` (Relais's Google project cannot use the API: a
  ``PermanentError`` for the administrator); 404 / ``NOT_FOUND`` → ``AuthExpiredError``
  (the location is gone from that account); 429 / ``RESOURCE_EXHAUSTED`` →
  ``RetryableError`` after ``Retry-After``, else the ``google.rpc.RetryInfo`` delay, else
  60 seconds, and ``rate_limited_until``; 5xx, ``UNAVAILABLE``, ``INTERNAL``,
  ``ABORTED`` → ``RetryableError``; a 504 / ``DEADLINE_EXCEEDED`` on the call that
  creates a post → ``OutcomeUnknown`` (the error model says such an operation "may have
  completed"); anything else (400 ``INVALID_ARGUMENT``, ``FAILED_PRECONDITION``…) →
  ``PermanentError`` quoting Google's message and field violations.
- **Transport**: a connection that could not be made → ``RetryableError``; an answer lost
  after sending → ``OutcomeUnknown`` on the creating call, ``RetryableError`` otherwise.
- **Token endpoint** (OAuth 2.0 for web server applications,
  https://developers.google.com/identity/protocols/oauth2/web-server): form-encoded POST
  with the client id and secret in the body; refusals are ``{"error": "invalid_grant",
  "error_description": …}`` and come out as ``TokenRefused``.

Tokens travel only in the ``Authorization`` header and the token request's body: never
in a URL, a log line or an error's text.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
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

DEFAULT_RETRY_AFTER = 60.0
# An access token this close to its end is renewed before use rather than after a 401.
EXPIRY_MARGIN_SECONDS = 60
RETRYABLE_STATUSES = {"UNAVAILABLE", "INTERNAL", "ABORTED", "DEADLINE_EXCEEDED", "UNKNOWN"}


class TokenRefused(Exception):
    """Google's token endpoint refused a grant (``error`` is the OAuth error code)."""

    def __init__(self, error: str, description: str = ""):
        super().__init__(error)
        self.error = error
        self.description = description


def api_error(response: httpx.Response) -> dict:
    """The ``error`` object of a Google API answer (empty if there is none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: dict, kind: str) -> list[dict]:
    details = error.get("details")
    return [d for d in (details if isinstance(details, list) else [])
            if isinstance(d, dict) and str(d.get("@type", "")).endswith(kind)]


def _reasons(error: dict) -> set[str]:
    return {str(d.get("reason") or "") for d in _details(error, "google.rpc.ErrorInfo")}


def _message(error: dict, status: int) -> str:
    """Google's message and its field violations, on one line, fit to quote."""
    message = str(error.get("message") or f"HTTP {status}")
    for detail in _details(error, "google.rpc.BadRequest"):
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("description"):
                message += f" ({violation.get('field') or '?'}: {violation['description']})"
    return " ".join(message.split())[:400]


def retry_after_seconds(response: httpx.Response, error: dict) -> float | None:
    """When Google said to come back: ``Retry-After`` (seconds or an HTTP date), else the
    ``google.rpc.RetryInfo`` detail's ``retryDelay`` ("30s", "1.5s")."""
    header = response.headers.get("Retry-After", "").strip()
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    for detail in _details(error, "google.rpc.RetryInfo"):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(detail.get("retryDelay") or ""))
        if match:
            return float(match.group(1))
    return None


# --- the token endpoint -------------------------------------------------------------------

def token_request(client: NetworkClient, data: dict[str, str]) -> dict:
    """POST a grant to ``GOOGLE_TOKEN_URL`` with Relais's client id and secret. The JSON
    answer; ``TokenRefused`` for an OAuth refusal; ``RetryableError`` when Google cannot
    answer now (a token request creates nothing visible, so a lost answer is harmless)."""
    config = current_app.config
    form = {"client_id": config["GOOGLE_CLIENT_ID"],
            "client_secret": config["GOOGLE_CLIENT_SECRET"], **data}
    try:
        response = client._http.post(config["GOOGLE_TOKEN_URL"], data=form,
                                     headers={"Accept": "application/json"})
    except httpx.TransportError as error:
        raise RetryableError(_("Could not reach Google. Relais will try again."),
                             detail=f"token endpoint: {type(error).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code < 300 and isinstance(body, dict) and body.get("access_token"):
        return body
    if (response.status_code < 500 and isinstance(body, dict)
            and isinstance(body.get("error"), str)):
        raise TokenRefused(body["error"], str(body.get("error_description") or ""))
    raise RetryableError(_("Google's sign-in service has a temporary problem. Relais will "
                           "try again."), detail=f"token endpoint: HTTP {response.status_code}")


def credentials_from(body: dict, previous: dict | None = None) -> dict:
    """The credentials Relais stores from a token answer. Google does not rotate refresh
    tokens: the previous one is kept unless the answer carries a new one."""
    previous = dict(previous or {})
    refresh_token = str(body.get("refresh_token") or previous.get("refresh_token") or "")
    try:
        lifetime = int(body.get("expires_in") or 3600)
    except (TypeError, ValueError):
        lifetime = 3600
    return {**previous, "access_token": str(body["access_token"]),
            "refresh_token": refresh_token, "expires_at": int(time.time()) + lifetime,
            "refreshable": bool(refresh_token)}


def refresh_credentials(client: NetworkClient, credentials: dict) -> dict:
    """New credentials from the refresh token; ``AuthExpiredError`` when Google refuses it
    (revoked, expired, the person removed Relais's access)."""
    refresh_token = str(credentials.get("refresh_token") or "")
    if not refresh_token:
        raise AuthExpiredError(_("This Google connection cannot be renewed. Reconnect the "
                                 "location to publish again."), detail="no refresh_token")
    try:
        body = token_request(client, {"grant_type": "refresh_token",
                                      "refresh_token": refresh_token})
    except TokenRefused as refused:
        if refused.error in ("invalid_client", "unauthorized_client"):
            # Relais's own OAuth client is wrong: no reconnecting fixes that.
            raise RetryableError(
                _("Google refused Relais's app credentials: the administrator must check "
                  "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET."),
                detail=f"refresh: {refused.error}") from None
        raise AuthExpiredError(
            _("Google no longer lets Relais renew this connection (it was revoked or has "
              "expired). Reconnect the location to publish again."),
            detail=f"refresh: {refused.error}: {refused.description[:200]}") from None
    return credentials_from(body, credentials)


# --- the APIs -----------------------------------------------------------------------------

class GoogleApi(NetworkClient):
    """The Business Profile APIs with one person's credentials. ``renewed`` holds the new
    credentials when the access token was refreshed on the way (to be stored);
    ``rate_limited_until`` when Google said its quota is spent."""

    def __init__(self, credentials: dict, *, timeout: float | None = None):
        self.credentials = dict(credentials)
        self.renewed: dict | None = None
        self.rate_limited_until: datetime | None = None
        super().__init__(timeout=timeout)

    @property
    def refreshable(self) -> bool:
        return (self.credentials.get("refreshable") is True
                and bool(self.credentials.get("refresh_token")))

    def refresh(self) -> None:
        self.credentials = refresh_credentials(self, self.credentials)
        self.renewed = dict(self.credentials)

    def _expiring(self) -> bool:
        try:
            expires_at = float(self.credentials.get("expires_at"))
        except (TypeError, ValueError):
            return False
        return expires_at - time.time() < EXPIRY_MARGIN_SECONDS

    def call(self, method: str, url: str, *, creates: bool = False,
             params: dict[str, Any] | None = None, json: Any = None) -> dict:
        """The JSON of a 2xx answer; raises the adapter error for anything else. An
        access token at its end is renewed first; a 401 renews it once and tries again
        (nothing was created by a refused call, so the retry cannot duplicate)."""
        if self.refreshable and (self._expiring() or not self.credentials.get("access_token")):
            self.refresh()
        response = self._send(method, url, creates, params, json)
        if response.status_code == 401 and self.refreshable and self.renewed is None:
            self.refresh()
            response = self._send(method, url, creates, params, json)
        self._note_rate_limit(response)
        error = api_error(response)
        if response.status_code < 300 and not error:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                return body
            detail = f"{method} {_path(url)}: not JSON"
            if creates:
                raise OutcomeUnknown(_("Google gave an unreadable answer: the post may or may "
                                       "not be out. Relais checks before trying again."),
                                     detail=detail)
            raise RetryableError(_("Google gave an unreadable answer. Relais will try again."),
                                 detail=detail)
        refusal = refusal_for(response, error, method, url, creates=creates)
        refusal.network_message = str(error.get("message") or "")  # Google's own words
        raise refusal

    def _send(self, method: str, url: str, creates: bool, params, json) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.credentials.get('access_token') or ''}"}
        try:
            return self._http.request(method, url, params=params, json=json, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise RetryableError(_("Could not reach Google. Relais will try again."),
                                 detail=f"{method} {_path(url)}: {error!r}") from None
        except httpx.TransportError as error:
            if creates:
                raise OutcomeUnknown(
                    _("Google did not answer in time: the post may or may not be out. "
                      "Relais checks before trying again."),
                    detail=f"{method} {_path(url)}: {error!r}") from None
            raise RetryableError(_("Google did not answer in time. Relais will try again."),
                                 detail=f"{method} {_path(url)}: {error!r}") from None

    def _note_rate_limit(self, response: httpx.Response) -> None:
        if response.status_code != 429 and api_error(response).get("status") != \
                "RESOURCE_EXHAUSTED":
            return
        wait = retry_after_seconds(response, api_error(response)) or DEFAULT_RETRY_AFTER
        until = datetime.now(UTC) + timedelta(seconds=wait)
        if self.rate_limited_until is None or until > self.rate_limited_until:
            self.rate_limited_until = until


def _path(url: str) -> str:
    return httpx.URL(url).path  # for logs: never the query


def refusal_for(response: httpx.Response, error: dict, method: str, url: str, *,
                creates: bool) -> NetworkError:
    """The adapter error for a non-2xx answer (see the module's docstring)."""
    status = response.status_code
    kind = str(error.get("status") or "")
    message = _message(error, status)
    detail = f"{method} {_path(url)}: HTTP {status} {kind}: {message}"
    if status == 429 or kind == "RESOURCE_EXHAUSTED":
        return RetryableError(
            _("Google's quota for Business Profile calls is used up for now. Relais will "
              "try again later."),
            retry_after=retry_after_seconds(response, error) or DEFAULT_RETRY_AFTER,
            detail=detail)
    if status == 401 or kind == "UNAUTHENTICATED":
        return AuthExpiredError(
            _("Google no longer accepts this location's connection (%(error)s). Reconnect "
              "the location to publish again.", error=message), detail=detail)
    if "SERVICE_DISABLED" in _reasons(error):
        return PermanentError(
            _("Relais's Google project cannot use the Business Profile APIs yet (%(error)s): "
              "the administrator must enable them in the Google Cloud console.",
              error=message), detail=detail)
    if status == 403 or kind == "PERMISSION_DENIED":
        return AuthExpiredError(
            _("The Google account that connected this location has lost access to it "
              "(%(error)s). Reconnect the location with an account that manages it.",
              error=message), detail=detail)
    if status == 404 or kind == "NOT_FOUND":
        return AuthExpiredError(
            _("Google no longer finds this location under the connected account "
              "(%(error)s). Reconnect the location.", error=message), detail=detail)
    if creates and (status == 504 or kind == "DEADLINE_EXCEEDED"):
        return OutcomeUnknown(
            _("Google ran out of time while making the post: it may or may not be out. "
              "Relais checks before trying again."), detail=detail)
    if status >= 500 or kind in RETRYABLE_STATUSES or status in (408, 409):
        return RetryableError(
            _("Google has a temporary problem (%(error)s). Relais will try again.",
              error=message), detail=detail)
    if creates:
        return PermanentError(_("Google refused the post: %(error)s", error=message),
                              detail=detail)
    return PermanentError(_("Google refused Relais's request: %(error)s", error=message),
                          detail=detail)
