"""LinkedIn's versioned REST API (``/rest/…``) as the LinkedIn adapter and provider use it:
one member access token, every failure turned into an adapter error of base.py.

Every call carries ``Authorization: Bearer``, ``LinkedIn-Version: {LINKEDIN_VERSION}``
(YYYYMM) and ``X-Restli-Protocol-Version: 2.0.0``, as the Posts API requires
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api);
finders (``?q=…``) add ``X-RestLi-Method: FINDER``. Query values and path keys are
Rest.li-encoded (URNs percent-encoded, lists as ``List(…)``), as LinkedIn's own client
does (linkedin-api-python-client, ``restli/utils/encoder.py``).

Errors (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling;
bodies ``{"status", "serviceErrorCode", "code", "message"}``):

- 401 → ``AuthExpiredError`` (expired, revoked or invalid token);
- 403 → ``AuthExpiredError`` saying what role or permission is missing;
- 429 → ``RetryableError``. LinkedIn sends no Retry-After: its limits are daily and "reset
  at midnight UTC" (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits),
  so a 429 naming the throttle limit pauses the account until then; any other 429 (the
  rare "infrastructure protection") for ``DEFAULT_RETRY_AFTER``. Either way
  ``rate_limited_until`` says when;
- 426 (the configured ``LinkedIn-Version`` is sunset) and 409 (write conflict) →
  ``RetryableError``; 5xx → ``RetryableError``, except a 504 on the call that makes a post
  visible, whose outcome is unknown (the gateway gave up, the post may exist);
- any other refusal (400, 404, 422…) → ``PermanentError`` quoting LinkedIn's ``message``.

Transport: a connect failure is retryable; a timeout or dropped answer is retryable too,
except on the creating call (``creates=True``), where it is ``OutcomeUnknown``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

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

DEFAULT_RETRY_AFTER = 15 * 60  # LinkedIn gives no Retry-After on a 429
# The documented message of a spent daily quota.
DAILY_LIMIT_MARKERS = ("throttle limit", "daily limit", "quota")


def encode(value: str) -> str:
    """A Rest.li string value or path key: percent-encoded, ':' and ',' included."""
    return quote(str(value), safe="")


def restli_list(values: list[str]) -> str:
    return "List(" + ",".join(encode(v) for v in values) + ")"


def query(params: dict[str, str]) -> str:
    """A query string of Rest.li-encoded values (``List(…)`` values already encoded)."""
    return "&".join(f"{k}={v if v.startswith('List(') else encode(v)}"
                    for k, v in params.items())


def error_of(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def message_of(response: httpx.Response) -> str:
    body = error_of(response)
    text = body.get("message") or body.get("error_description") or body.get("error") \
        or f"HTTP {response.status_code}"
    return " ".join(str(text).split())[:300]


def next_midnight_utc(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return datetime.combine(now.date() + timedelta(days=1), time(0, 5), tzinfo=UTC)


class LinkedInAPI(NetworkClient):
    """The REST API as one member (``token``). ``kind`` ("organization" or "member")
    only shapes what a 403 tells people."""

    def __init__(self, token: str, *, kind: str = "organization",
                 timeout: float | None = None):
        config = current_app.config
        self.base = config["LINKEDIN_API_URL"].rstrip("/")
        self.version = str(config["LINKEDIN_VERSION"])
        self.token = token
        self.kind = kind
        self.rate_limited_until: datetime | None = None
        super().__init__(timeout=timeout)

    def headers(self, *, finder: bool = False, versioned: bool = True,
                restli: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if restli:
            headers["X-Restli-Protocol-Version"] = "2.0.0"
        if restli and versioned:
            headers["LinkedIn-Version"] = self.version
        if finder:
            headers["X-RestLi-Method"] = "FINDER"
        return headers

    def call(self, method: str, path: str, *, creates: bool = False, finder: bool = False,
             versioned: bool = True, restli: bool = True, json: Any = None,
             content: bytes | None = None,
             extra_headers: dict[str, str] | None = None) -> httpx.Response:
        """The 2xx answer to ``method path`` (``path`` under LINKEDIN_API_URL, with its
        encoded query, or an absolute URL such as an upload address); raises the adapter
        error for anything else. ``versioned=False`` for the unversioned ``/v2`` routes,
        ``restli=False`` for plain uploads (the bearer token only)."""
        url = path if path.startswith(("http://", "https://")) else self.base + path
        headers = {**self.headers(finder=finder, versioned=versioned, restli=restli),
                   **(extra_headers or {})}
        where = f"{method} {urlsplit(url).path}"
        try:
            response = self._http.request(method, url, headers=headers, json=json,
                                          content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise RetryableError(_("Could not reach LinkedIn. Relais will try again."),
                                 detail=f"{where}: {error!r}") from None
        except httpx.TransportError as error:
            if creates:
                raise OutcomeUnknown(
                    _("LinkedIn did not answer in time: the post may or may not be out. "
                      "Relais checks before trying again."), detail=f"{where}: {error!r}") from None
            raise RetryableError(_("LinkedIn did not answer in time. Relais will try again."),
                                 detail=f"{where}: {error!r}") from None
        if response.status_code < 300:
            return response
        refusal = self.refusal(response, where, creates=creates)
        refusal.network_message = message_of(response)  # LinkedIn's own words
        refusal.status = response.status_code
        raise refusal

    def json(self, response: httpx.Response, *, creates: bool = False) -> Any:
        try:
            return response.json()
        except ValueError:
            if creates:
                raise OutcomeUnknown(
                    _("LinkedIn gave an unreadable answer: the post may or may not be out. "
                      "Relais checks before trying again."), detail="not JSON") from None
            raise RetryableError(_("LinkedIn gave an unreadable answer. Relais will try "
                                   "again."), detail="not JSON") from None

    def refusal(self, response: httpx.Response, where: str, *,
                creates: bool = False) -> NetworkError:
        status = response.status_code
        body = error_of(response)
        message = message_of(response)
        detail = (f"{where}: HTTP {status} code={body.get('code')} "
                  f"service={body.get('serviceErrorCode')} "
                  f"request={response.headers.get('x-li-request-id', '')}: {message}")
        if status == 401:
            return AuthExpiredError(
                _("LinkedIn no longer accepts this account's access (%(error)s). Reconnect "
                  "the account to publish again.", error=message), detail=detail)
        if status == 403:
            if self.kind == "member":
                reason = _("LinkedIn refused (%(error)s): Relais's access to this profile "
                           "does not allow this. Reconnect the account and allow Relais to "
                           "post on your behalf.", error=message)
            else:
                reason = _("LinkedIn refused (%(error)s): your role on this LinkedIn Page "
                           "must allow posting (Super admin or Content admin). Ask a Page "
                           "admin for that role, then reconnect the Page.", error=message)
            return AuthExpiredError(reason, detail=detail)
        if status == 429:
            return self._rate_limited(message, detail)
        if status == 426:
            return RetryableError(
                _("LinkedIn no longer accepts the API version this Relais uses (%(error)s): "
                  "the administrator must update LINKEDIN_VERSION. Relais will try again.",
                  error=message), retry_after=3600, detail=detail)
        if status == 504 and creates:
            return OutcomeUnknown(
                _("LinkedIn timed out while creating the post: it may or may not be out. "
                  "Relais checks before trying again."), detail=detail)
        if status >= 500 or status == 409:
            return RetryableError(
                _("LinkedIn has a temporary problem (%(error)s). Relais will try again.",
                  error=message), detail=detail)
        return PermanentError(_("LinkedIn refused the post: %(error)s", error=message),
                              detail=detail)

    def _rate_limited(self, message: str, detail: str) -> RetryableError:
        now = datetime.now(UTC)
        if any(marker in message.lower() for marker in DAILY_LIMIT_MARKERS):
            until = next_midnight_utc(now)
            reason = _("LinkedIn's daily limit for this account is reached. Relais publishes "
                       "again after midnight UTC, when LinkedIn resets it.")
        else:
            until = now + timedelta(seconds=DEFAULT_RETRY_AFTER)
            reason = _("LinkedIn asks Relais to slow down. Relais will try again later.")
        if self.rate_limited_until is None or until > self.rate_limited_until:
            self.rate_limited_until = until
        return RetryableError(reason, retry_after=(until - now).total_seconds(),
                              detail=detail)
