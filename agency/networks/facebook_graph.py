"""The Facebook Graph API client the Facebook adapters share (Pages here; Instagram imports
it through agency.networks.facebook): one token, every answer turned into an adapter
error of base.py, the rate-limit headers read, paging followed.

What a caller can rely on:

- **appsecret_proof.** Every call made with an access token also sends
  ``appsecret_proof`` = HMAC-SHA256(key=FACEBOOK_APP_SECRET, message=the token), hex, as
  "Securing Graph API Requests" documents
  (https://developers.facebook.com/docs/graph-api/guides/secure-requests), whenever the
  app secret is configured, so the app can turn on "Require App Secret". Facebook's
  refusal of a missing or wrong proof (HTTP 400, ``GraphMethodException`` code 100,
  "API calls from the server require an appsecret_proof argument" / "Invalid
  appsecret_proof provided in the API argument") comes out as ``AppSecretRefused``, a
  ``PermanentError`` that tells the administrator what to check.
- **Errors** (Graph's ``{"error": {"message", "type", "code", "error_subcode",
  "error_data", "fbtrace_id"}}``): codes 190, 102, 10 and 200–299 → ``AuthExpiredError``;
  codes 4, 17, 32, 613 and HTTP 429 → ``RetryableError`` (``retry_after`` from the usage
  headers' ``estimated_time_to_regain_access``, else 60 s); 5xx and codes 1, 2 →
  ``RetryableError`` on an invisible call, but ``OutcomeUnknown`` on the call that makes
  a post visible (``creates=True``): the Graph API takes no idempotency key, so a 500
  after the post was stored would duplicate it on a blind retry; ``find`` settles it
  first. Any other refusal → ``PermanentError`` quoting Facebook. Every refusal carries
  ``graph_error`` (Facebook's error object, which holds no token; ``error_data`` included)
  and ``network_message`` (Facebook's own words).
- **Transport.** Connect failures before sending → retryable; a read timeout or dropped
  answer → ``OutcomeUnknown`` on a ``creates=True`` call, retryable otherwise.
- **Rate limits.** ``X-App-Usage``, ``X-Page-Usage`` and ``X-Business-Use-Case-Usage``
  report percentages of the budget used; when one reaches 100 on any answer,
  ``rate_limited_until`` (UTC) says when the app may call again.
- **Paging** (``pages``): cursor-paginated edges are followed through ``paging.next``
  ("If not included, this is the last page of data", Graph API "Paginated Results"),
  re-asked on our own base URL with the next link's query (its ``after`` cursor…), never
  by fetching the link itself, and bounded by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from flask import current_app
from flask_babel import gettext as _

from .base import AuthExpiredError, NetworkError, OutcomeUnknown, PermanentError, RetryableError
from .http import NetworkClient

AUTH_CODES = {190, 102, 10}  # token invalid/expired, session, permission denied
RATE_CODES = {4, 17, 32, 613}  # app, user, page and "calls within one hour" limits
TRANSIENT_CODES = {1, 2}  # unknown error, service temporarily unavailable
DEFAULT_RETRY_AFTER = 60.0
USAGE_HEADERS = ("X-App-Usage", "X-Page-Usage", "X-Business-Use-Case-Usage")
# Parameters of a ``paging.next`` link that are ours to set, never to copy.
_OWN_PARAMS = {"access_token", "appsecret_proof"}


class AppSecretRefused(PermanentError):
    """Facebook refused the app secret proof: Relais's FACEBOOK_APP_SECRET does not match
    the app, or the app requires a proof Relais cannot make. Nothing a retry fixes."""


def appsecret_proof(token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the access token keyed with the app secret, in hex."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def graph_error(response: httpx.Response) -> dict:
    """The ``error`` object of a Graph answer (empty if there is none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_code(error: dict) -> int | None:
    try:
        return int(error.get("code"))
    except (TypeError, ValueError):
        return None


def _usages(response: httpx.Response) -> list[dict]:
    """Every usage record in the rate-limit headers (the business one nests per id)."""
    found: list[dict] = []
    for name in USAGE_HEADERS:
        raw = response.headers.get(name)
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict) and name == "X-Business-Use-Case-Usage":
            for records in value.values():
                found.extend(r for r in (records if isinstance(records, list) else [])
                             if isinstance(r, dict))
        elif isinstance(value, dict):
            found.append(value)
    return found


def regain_seconds(response: httpx.Response) -> float | None:
    """Seconds until Facebook lets the app call again, when the headers say."""
    minutes = [r.get("estimated_time_to_regain_access") for r in _usages(response)]
    minutes = [float(m) for m in minutes if isinstance(m, int | float) and m > 0]
    return max(minutes) * 60 if minutes else None


def _exhausted(response: httpx.Response) -> bool:
    for record in _usages(response):
        for key in ("call_count", "total_cputime", "total_time"):
            value = record.get(key)
            if isinstance(value, int | float) and value >= 100:
                return True
    return False


def next_query(body: Any) -> dict[str, str] | None:
    """The query of the answer's ``paging.next`` link (without the token and proof,
    which are ours to add), or None on the last page."""
    paging = body.get("paging") if isinstance(body, dict) else None
    link = paging.get("next") if isinstance(paging, dict) else None
    if not isinstance(link, str) or not link:
        return None
    query = {k: v for k, v in parse_qsl(urlsplit(link).query) if k not in _OWN_PARAMS}
    return query or None


class FacebookGraph(NetworkClient):
    """The Graph API with one (optional) token. Every failure comes out as one of the
    adapter errors of base.py; ``creates=True`` marks the call that makes a post visible,
    whose lost or failed answer is ``OutcomeUnknown`` rather than retryable."""

    def __init__(self, token: str = "", *, base: str | None = None,
                 timeout: float | None = None, app_secret: str | None = None):
        config = current_app.config
        self.base = (base or config["FACEBOOK_GRAPH_URL"]).rstrip("/")
        self.token = token
        self._app_secret = (config.get("FACEBOOK_APP_SECRET", "") if app_secret is None
                            else app_secret)
        self.rate_limited_until: datetime | None = None
        super().__init__(timeout=timeout)

    def call(self, method: str, path: str, *, creates: bool = False,
             params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """The JSON of a 2xx answer; raises the adapter error for anything else."""
        params = dict(params or {})
        if self.token and "access_token" not in params:
            params["access_token"] = self.token
        token = str(params.get("access_token") or "")
        if token and self._app_secret:
            params["appsecret_proof"] = appsecret_proof(token, self._app_secret)
        try:
            response = self._http.request(method, self.base + path, params=params, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise RetryableError(_("Could not reach Facebook. Relais will try again."),
                                 detail=f"{method} {path}: {error!r}") from None
        except httpx.TransportError as error:
            if creates:
                raise OutcomeUnknown(
                    _("Facebook did not answer in time: the post may or may not be out. "
                      "Relais checks before trying again."),
                    detail=f"{method} {path}: {error!r}") from None
            raise RetryableError(_("Facebook did not answer in time. Relais will try again."),
                                 detail=f"{method} {path}: {error!r}") from None
        self._note_rate_limit(response)
        error = graph_error(response)
        if response.status_code < 300 and not error:
            try:
                return response.json()
            except ValueError:
                if creates:
                    raise OutcomeUnknown(
                        _("Facebook gave an unreadable answer: the post may or may not be "
                          "out. Relais checks before trying again."),
                        detail=f"{method} {path}: not JSON") from None
                raise RetryableError(_("Facebook gave an unreadable answer. Relais will try "
                                       "again."), detail=f"{method} {path}: not JSON") from None
        refusal = self._refusal(response, error, method, path, creates)
        refusal.network_message = str(error.get("message") or "")  # Facebook's own words
        refusal.graph_error = error
        raise refusal

    def pages(self, path: str, *, params: dict[str, Any], max_pages: int) -> Iterator[list]:
        """The ``data`` of each page of a paginated edge, at most ``max_pages`` pages
        (lazily: a caller that stops early asks for no more)."""
        query = dict(params)
        for _page in range(max_pages):
            body = self.call("GET", path, params=query)
            data = body.get("data") if isinstance(body, dict) else None
            yield [item for item in data if isinstance(item, dict)] if isinstance(
                data, list) else []
            following = next_query(body)
            if following is None or following == query:
                return
            query = following

    def _refusal(self, response: httpx.Response, error: dict, method: str, path: str,
                 creates: bool) -> NetworkError:
        status = response.status_code
        code = error_code(error)
        message = " ".join(str(error.get("message") or f"HTTP {status}").split())[:300]
        detail = (f"{method} {path}: HTTP {status} code={code} "
                  f"subcode={error.get('error_subcode')} trace={error.get('fbtrace_id')}: "
                  f"{message}")
        if code in RATE_CODES or status == 429:
            return RetryableError(
                _("Facebook's rate limit for this Page is reached. Relais will try again "
                  "later."), retry_after=regain_seconds(response) or DEFAULT_RETRY_AFTER,
                detail=detail)
        if code in AUTH_CODES or (code is not None and 200 <= code <= 299):
            return AuthExpiredError(
                _("Facebook no longer accepts this Page's access (%(error)s). Reconnect the "
                  "Page to publish again.", error=message), detail=detail)
        if status >= 500 or code in TRANSIENT_CODES:
            if creates:
                # The post may have been stored before the failure: retrying blindly could
                # publish it twice. The engine looks for it (find) before anything else.
                return OutcomeUnknown(
                    _("Facebook had a problem while publishing (%(error)s): the post may or "
                      "may not be out. Relais checks before trying again.", error=message),
                    detail=detail)
            return RetryableError(
                _("Facebook has a temporary problem (%(error)s). Relais will try again.",
                  error=message), detail=detail)
        if code == 100 and "appsecret_proof" in message:
            return AppSecretRefused(
                _("Facebook refused Relais's app secret proof (%(error)s). The administrator "
                  "must check that FACEBOOK_APP_SECRET is the secret of the Facebook app.",
                  error=message), detail=detail)
        return PermanentError(_("Facebook refused the post: %(error)s", error=message),
                              detail=detail)

    def _note_rate_limit(self, response: httpx.Response) -> None:
        if not (_exhausted(response) or response.status_code == 429):
            return
        until = datetime.now(UTC) + timedelta(
            seconds=regain_seconds(response) or DEFAULT_RETRY_AFTER)
        if self.rate_limited_until is None or until > self.rate_limited_until:
            self.rate_limited_until = until
