"""The Instagram Graph API as the Instagram adapter (instagram.py) speaks it: one Page
token, Instagram's error codes turned into the adapter errors of base.py, the usage
headers, and the media containers' primitives (create, read the status, wait until
FINISHED, read the publishing quota).

Its own client rather than facebook.py's: Instagram answers on the same host with the
same error shape, but some codes mean other things here (9 is the daily publishing
limit, 9007 "media not ready", the 2207xxx subcodes), and the reasons name Instagram.

Every call also sends ``appsecret_proof`` (HMAC-SHA256 of the token keyed with
``FACEBOOK_APP_SECRET``, Graph API → Securing Requests) when the secret is configured:
Instagram goes through the same Facebook app as the Pages, which may require it.

Sources: Instagram Platform → Error Codes, IG Container (``status_code`` EXPIRED / ERROR /
FINISHED / IN_PROGRESS / PUBLISHED; ``status`` carries the error subcode), IG User
Content Publishing Limit (``quota_usage``, ``config.quota_total``,
``config.quota_duration``), Graph API → Rate Limiting (``X-App-Usage``,
``X-Business-Use-Case-Usage`` with ``estimated_time_to_regain_access`` in minutes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta
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

AUTH_CODES = {190, 102, 10}  # token invalid/expired, session, permission denied
RATE_CODES = {4, 17, 32, 613, 80002}  # app, user, page, hourly; 80002: Instagram's BUC
TRANSIENT_CODES = {1, 2, -1, -2}
PUBLISHING_LIMIT_CODE, PUBLISHING_LIMIT_SUBCODE = 9, 2207042
NOT_READY_CODE, NOT_READY_SUBCODE = 9007, 2207027
SPAM_SUBCODE, RESTRICTED_SUBCODE = 2207051, 2207050
# The reference says "try again" (2207001 server error, 2207003 download timeout, 2207008
# temporary publishing error, 2207032 create failed) or "generate a new container"
# (2207020 expired, 2207053 unknown upload error).
RETRY_SUBCODES = {2207001, 2207003, 2207008, 2207032, 2207020, 2207053}
NEW_CONTAINER_SUBCODES = {2207020, 2207053}
SUBCODE_IN_STATUS = re.compile(r"\b(2207\d{3})\b")
DEFAULT_RETRY_AFTER = 60.0
PUBLISHING_WINDOW = 24 * 3600.0  # quota_duration when the answer does not say
DEFAULT_QUOTA = 100  # posts per rolling 24 h (Content Publishing guide)
USAGE_HEADERS = ("X-App-Usage", "X-Business-Use-Case-Usage")


class AppSecretRefused(PermanentError):
    """Facebook refused the app secret proof: FACEBOOK_APP_SECRET is not the app's. Never
    taken for "this object is unreadable": it would be so for every object."""


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _usages(response: httpx.Response) -> list[dict]:
    """Every usage record of the rate-limit headers (the business one nests per id)."""
    found: list[dict] = []
    for name in USAGE_HEADERS:
        try:
            value = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        if name == "X-Business-Use-Case-Usage":
            for records in value.values():
                found.extend(r for r in (records if isinstance(records, list) else [])
                             if isinstance(r, dict))
        else:
            found.append(value)
    return found


def _regain_seconds(response: httpx.Response) -> float | None:
    minutes = [r.get("estimated_time_to_regain_access") for r in _usages(response)]
    minutes = [float(m) for m in minutes if isinstance(m, int | float) and m > 0]
    return max(minutes) * 60 if minutes else None


def _spent(response: httpx.Response) -> bool:
    return any(isinstance(r.get(k), int | float) and r[k] >= 100
               for r in _usages(response) for k in ("call_count", "total_cputime", "total_time"))


def _mark(error: NetworkError, code: int | None = None, subcode: int | None = None, *,
          new_container: bool = False) -> NetworkError:
    """What the adapter reads besides the type: Graph's code and subcode, and whether
    the saved container is beyond use (Instagram says to make a new one)."""
    error.graph_code, error.graph_subcode = code, subcode
    error.new_container = new_container
    return error


class InstagramGraph(NetworkClient):
    """The Graph API with one Page token. Every failure comes out as an adapter error
    (see ``_mark`` for what it carries); ``creates=True`` marks the call that makes a post
    visible, whose lost answer is ``OutcomeUnknown`` rather than retryable.
    ``rate_limited_until`` (UTC) is set when a budget is spent."""

    def __init__(self, token: str, *, timeout: float | None = None):
        self.base = current_app.config["FACEBOOK_GRAPH_URL"].rstrip("/")
        self.token = token
        secret = str(current_app.config.get("FACEBOOK_APP_SECRET") or "")
        self._proof = (hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
                       if secret and token else "")
        self.rate_limited_until: datetime | None = None
        super().__init__(timeout=timeout)

    def pause(self, seconds: float) -> None:
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        if self.rate_limited_until is None or until > self.rate_limited_until:
            self.rate_limited_until = until

    def call(self, method: str, path: str, *, creates: bool = False,
             params: dict[str, Any] | None = None, data: dict[str, Any] | None = None) -> Any:
        """The JSON of a 2xx answer; raises the adapter error for anything else."""
        params = {**(params or {}), "access_token": self.token}
        if self._proof:
            params["appsecret_proof"] = self._proof
        where = f"{method} {path}"
        try:
            response = self._http.request(method, self.base + path, params=params, data=data)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise _mark(RetryableError(_("Could not reach Instagram. Relais will try again."),
                                       detail=f"{where}: {error!r}")) from None
        except httpx.TransportError as error:
            if creates:
                raise _mark(OutcomeUnknown(_(
                    "Instagram did not answer in time: the post may or may not be out. "
                    "Relais checks before trying again."), detail=f"{where}: {error!r}")) from None
            raise _mark(RetryableError(_("Instagram did not answer in time. Relais will try "
                                         "again."), detail=f"{where}: {error!r}")) from None
        regain = _regain_seconds(response)
        if response.status_code == 429 or _spent(response):
            self.pause(regain or DEFAULT_RETRY_AFTER)
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code < 300 and not error:
            if body is not None:
                return body
            if creates:
                raise _mark(OutcomeUnknown(_(
                    "Instagram gave an unreadable answer: the post may or may not be out. "
                    "Relais checks before trying again."), detail=f"{where}: not JSON"))
            raise _mark(RetryableError(_("Instagram gave an unreadable answer. Relais will "
                                         "try again."), detail=f"{where}: not JSON"))
        raise self._refusal(response.status_code, error if isinstance(error, dict) else {},
                            where, regain)

    def _refusal(self, status: int, error: dict, where: str,
                 regain: float | None) -> NetworkError:
        code, subcode = as_int(error.get("code")), as_int(error.get("error_subcode"))
        # error_user_msg is the sentence Instagram writes for people, when there is one.
        words = error.get("error_user_msg") or error.get("message") or f"HTTP {status}"
        message = " ".join(str(words).split())[:300]
        detail = (f"{where}: HTTP {status} code={code} subcode={subcode} "
                  f"trace={error.get('fbtrace_id')}: {message}")
        refusal: NetworkError
        if code == PUBLISHING_LIMIT_CODE or subcode == PUBLISHING_LIMIT_SUBCODE:
            self.pause(PUBLISHING_WINDOW)
            refusal = RetryableError(_(
                "This Instagram account reached its limit of posts published through apps "
                "in 24 hours. Relais will try again once the limit allows."),
                retry_after=PUBLISHING_WINDOW, detail=detail)
        elif subcode == SPAM_SUBCODE:  # Instagram says so: trying again would make it worse
            refusal = PermanentError(_("Instagram restricted this post as possible spam "
                                       "(%(error)s).", error=message), detail=detail)
        elif code in RATE_CODES or status == 429:
            refusal = RetryableError(_(
                "Instagram's rate limit for this account is reached. Relais will try again "
                "later."), retry_after=regain or DEFAULT_RETRY_AFTER, detail=detail)
        elif code == NOT_READY_CODE or subcode == NOT_READY_SUBCODE:
            refusal = RetryableError(_("Instagram is still processing the media. Relais will "
                                       "try again."), retry_after=DEFAULT_RETRY_AFTER,
                                     detail=detail)
        elif subcode == RESTRICTED_SUBCODE:
            refusal = AuthExpiredError(_(
                "Instagram has restricted or disabled this account (%(error)s). Sign in to "
                "the Instagram app, complete what it asks, then reconnect the account.",
                error=message), detail=detail)
        elif code in AUTH_CODES or (code is not None and 200 <= code <= 299):
            refusal = AuthExpiredError(_(
                "Instagram no longer accepts this account's access (%(error)s). Reconnect "
                "the account to publish again.", error=message), detail=detail)
        elif code == 100 and "appsecret_proof" in message:
            refusal = AppSecretRefused(_(
                "Facebook refused Relais's app secret proof (%(error)s). The administrator "
                "must check that FACEBOOK_APP_SECRET is the secret of the Facebook app.",
                error=message), detail=detail)
        elif (status >= 500 or code in TRANSIENT_CODES or subcode in RETRY_SUBCODES
              or error.get("is_transient") is True):
            # Safe even on media_publish: the retry reads the saved container first, and a
            # container that went out says PUBLISHED (it is never published twice).
            refusal = RetryableError(_("Instagram has a temporary problem (%(error)s). Relais "
                                       "will try again.", error=message), detail=detail)
        else:
            refusal = PermanentError(_("Instagram refused the post: %(error)s", error=message),
                                     detail=detail)
        return _mark(refusal, code, subcode, new_container=subcode in NEW_CONTAINER_SUBCODES)

    # --- containers -----------------------------------------------------------------------

    def create_container(self, ig_user: str, data: dict[str, Any]) -> str:
        """``POST /{ig-user}/media``: a container, invisible until published."""
        body = self.call("POST", f"/{ig_user}/media", data=data)
        container = str(body.get("id") or "") if isinstance(body, dict) else ""
        if not container:
            raise _mark(RetryableError(_("Instagram gave an unreadable answer. Relais will "
                                         "try again."), detail="media: no id in the answer"))
        return container

    def status(self, container: str) -> tuple[str, str]:
        """``(status_code, status)`` of a container."""
        body = self.call("GET", f"/{container}", params={"fields": "status_code,status"})
        body = body if isinstance(body, dict) else {}
        return str(body.get("status_code") or ""), str(body.get("status") or "")

    def readable_status(self, container: str) -> str | None:
        """The status code, or None when Instagram no longer knows the container."""
        try:
            return self.status(container)[0]
        except AppSecretRefused:
            raise
        except PermanentError:
            return None

    def wait_until_finished(self, container: str, deadline: float, *, poll: float,
                            poll_max: float) -> None:
        """Poll until FINISHED (``deadline`` on ``time.monotonic()``); raises what the
        other states mean: ERROR → permanent (or retryable with a new container where
        Instagram says to try again), EXPIRED → retryable with a new container, still
        processing at the deadline → retryable (the container stays usable)."""
        interval = poll
        while True:
            code, status = self.status(container)
            if code == "FINISHED":
                return
            if code == "ERROR":
                raise processing_error(container, status)
            if code == "EXPIRED":
                raise _mark(RetryableError(_("Instagram let the prepared post expire. Relais "
                                             "will prepare it again."),
                                           detail=f"{container} EXPIRED"), new_container=True)
            if code == "PUBLISHED":
                raise _mark(OutcomeUnknown(_("Instagram says this post is already out. "
                                             "Relais checks before going on."),
                                           detail=f"{container} PUBLISHED while waiting"))
            if time.monotonic() + interval > deadline:
                raise _mark(RetryableError(
                    _("Instagram is still processing the media. Relais will check again "
                      "shortly."), retry_after=poll_max,
                    detail=f"{container} {code or 'no status'} after the wait"))
            time.sleep(interval)
            interval = min(interval * 1.5, poll_max)

    def check_publishing_quota(self, ig_user: str) -> None:
        """``GET /{ig-user}/content_publishing_limit``: a spent quota is retryable after
        the window (and pauses the account); an unreadable one is left to media_publish,
        which refuses with code 9 when it is spent."""
        try:
            body = self.call("GET", f"/{ig_user}/content_publishing_limit",
                             params={"fields": "quota_usage,config"})
        except AppSecretRefused:
            raise
        except PermanentError:
            return
        records = body.get("data") if isinstance(body, dict) else None
        record = records[0] if isinstance(records, list) and records else {}
        record = record if isinstance(record, dict) else {}
        config = record.get("config") if isinstance(record.get("config"), dict) else {}
        usage = as_int(record.get("quota_usage"))
        total = as_int(config.get("quota_total")) or DEFAULT_QUOTA
        window = float(as_int(config.get("quota_duration")) or PUBLISHING_WINDOW)
        if usage is not None and usage >= total:
            # The window rolls: a slot frees when the oldest post leaves it, at the latest
            # one window from now. Waiting the whole window is the certain answer.
            self.pause(window)
            raise _mark(RetryableError(_(
                "This Instagram account reached its limit of %(n)d posts published through "
                "apps in 24 hours. Relais will try again once the limit allows.", n=total),
                retry_after=window, detail=f"content_publishing_limit {usage}/{total}"))


def processing_error(container: str, status: str) -> NetworkError:
    """What a container in ERROR means; its ``status`` names the subcode."""
    text = " ".join(status.split())[:300] or "ERROR"
    detail = f"{container} ERROR: {text}"
    # A container in ERROR never recovers: where Instagram says "try again", a new one.
    if any(int(code) in RETRY_SUBCODES for code in SUBCODE_IN_STATUS.findall(text)):
        return _mark(RetryableError(_("Instagram could not fetch or process the media this "
                                      "time (%(status)s). Relais will try again.",
                                      status=text), detail=detail), new_container=True)
    return _mark(PermanentError(_("Instagram could not process the media: %(status)s. Check "
                                  "the photo or video against Instagram's requirements.",
                                  status=text), detail=detail))
