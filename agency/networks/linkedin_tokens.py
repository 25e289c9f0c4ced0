"""LinkedIn's OAuth 2.0 token endpoint ({LINKEDIN_OAUTH_URL}/accessToken): exchanging an
authorization code, renewing with a refresh token, and the credentials Relais stores.

- The exchange and the renewal are form-encoded POSTs carrying the client secret in the
  body (https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow).
  The answer: ``access_token``, ``expires_in`` (60 days) and, for apps approved for
  programmatic refresh tokens, ``refresh_token`` and ``refresh_token_expires_in``
  (365 days).
- A renewal gives a new 60-day access token but does not extend the refresh token: it
  keeps the lifetime of the first sign-in, and the access token never outlives it
  (https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens).
  So the credentials are ``refreshable`` only while the refresh token outlives the access
  token by more than ``TOKEN_EXPIRY_WARNING_DAYS``: the last access token is not renewed
  but announced, so that a person signs in again before the year is over.
- Refusals use OAuth's ``{"error", "error_description"}``. A refused grant (400/401
  ``invalid_grant``, or ``invalid_request`` as LinkedIn answers an expired or revoked
  refresh token: "The provided authorization grant or refresh token is invalid, expired or
  revoked") → ``AuthExpiredError``; refused app credentials (``invalid_client``) →
  ``PermanentError`` naming the settings (never the account's fault); 429 and 5xx and a
  silent network → ``RetryableError``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from flask import current_app
from flask_babel import gettext as _

from .base import AuthExpiredError, PermanentError, RetryableError
from .http import NetworkClient
from .linkedin_api import error_of, message_of

DAY = 24 * 3600
ACCESS_TOKEN_DAYS = 60  # when LinkedIn does not say


class TokenEndpoint(NetworkClient):
    def post(self, form: dict[str, str]) -> httpx.Response:
        config = current_app.config
        url = config["LINKEDIN_OAUTH_URL"].rstrip("/") + "/accessToken"
        data = {**form, "client_id": config["LINKEDIN_CLIENT_ID"],
                "client_secret": config["LINKEDIN_CLIENT_SECRET"]}
        return self._http.post(url, data=data, headers={
            "Content-Type": "application/x-www-form-urlencoded"})


def token_request(form: dict[str, str]) -> dict[str, Any]:
    """POST ``form`` (plus the app's credentials) to the token endpoint; its JSON."""
    grant = form.get("grant_type", "")
    with TokenEndpoint() as endpoint:
        try:
            response = endpoint.post(form)
        except httpx.TransportError as error:
            raise RetryableError(_("Could not reach LinkedIn. Relais will try again."),
                                 detail=f"token {grant}: {error!r}") from None
    body = error_of(response)
    detail = (f"token {grant}: HTTP {response.status_code} error={body.get('error')}: "
              f"{message_of(response)}")
    if response.status_code == 200 and body.get("access_token"):
        return body
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableError(_("LinkedIn could not renew the access now. Relais will try "
                               "again."), detail=detail)
    if body.get("error") == "invalid_client":
        raise PermanentError(_("LinkedIn refused Relais's app credentials: the administrator "
                               "must check LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET."),
                             detail=detail)
    if response.status_code in (400, 401):
        raise AuthExpiredError(_("LinkedIn refused to renew the access (%(error)s). Reconnect "
                                 "the account to publish again.", error=message_of(response)),
                               detail=detail)
    raise RetryableError(_("LinkedIn gave an unexpected answer. Relais will try again."),
                         detail=detail)


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def credentials(body: dict[str, Any], *, now: float | None = None,
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The credentials to store from a token answer (``previous``: those it renews)."""
    now = time.time() if now is None else now
    previous = previous or {}
    expires_at = now + (_seconds(body.get("expires_in")) or ACCESS_TOKEN_DAYS * DAY)
    refresh_token = str(body.get("refresh_token") or previous.get("refresh_token") or "")
    refresh_in = _seconds(body.get("refresh_token_expires_in"))
    refresh_expires_at = (now + refresh_in if refresh_in is not None
                          else previous.get("refresh_token_expires_at"))
    if refresh_expires_at is not None:
        expires_at = min(expires_at, float(refresh_expires_at))
    warning = float(current_app.config["TOKEN_EXPIRY_WARNING_DAYS"]) * DAY
    refreshable = bool(refresh_token) and (
        refresh_expires_at is None or float(refresh_expires_at) - expires_at > warning)
    return {"access_token": str(body["access_token"]), "expires_at": int(expires_at),
            "refresh_token": refresh_token,
            "refresh_token_expires_at": (int(refresh_expires_at)
                                         if refresh_expires_at is not None else None),
            "refreshable": refreshable}


def refresh(previous: dict[str, Any]) -> dict[str, Any] | None:
    """Renewed credentials, or None when there is no refresh token to renew with."""
    refresh_token = str(previous.get("refresh_token") or "")
    if not refresh_token:
        return None
    body = token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
    return credentials(body, previous=previous)
