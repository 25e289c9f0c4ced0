"""Mastodon: statuses published on the account's own instance (docs.joinmastodon.org).

Each account carries its instance (``settings["instance_url"]``, checked when it was
connected, see connect_mastodon.py) and its access token (``credentials["access_token"]``).

What the engine can rely on:

- **Idempotency.** Every ``POST /api/v1/statuses`` carries ``Idempotency-Key:
  <outgoing.idempotency_key>``, on every attempt. Mastodon remembers a key per account for
  one hour (``PostStatusService``: ``setex(..., 3_600, status.id)``) and answers a repeat
  with the status the first request made. So a retry after a lost answer is safe only
  within ``idempotency_window_seconds`` of the first send; later, the engine must settle
  the outcome another way (``find``, or a person).
- **find** searches the account's latest statuses (one page, 40) for one created since
  the publication was scheduled, that is not a reply, has as many media, and whose source
  text (``GET /api/v1/statuses/:id/source``) is exactly the approved text. A match is
  positive evidence; not finding one proves nothing (the post may be older than the page,
  deleted, or the instance slow to index), hence ``authoritative_find = False``.
- **Rate limits.** Mastodon sends ``X-RateLimit-Limit / -Remaining / -Reset`` (ISO 8601).
  A 429 is a ``RetryableError`` whose ``retry_after`` is the time to the reset. When a call
  succeeds with no budget left, ``rate_limited_until`` (UTC datetime, else ``None``) says
  when the account may call again; the engine may delay the account's next publication
  until then.
- **First comment.** Posted as a reply to the new status, with its own idempotency key
  (``<key>:c``). Its failure does not fail the publication (the status is out): it is
  logged and kept in ``first_comment_error`` (a reason fit to show) for the engine.
- **Errors.** Connect failures before sending → ``RetryableError``; a timeout or dropped
  connection while the status was being posted (or a 504 from the instance's proxy, which
  means the same) → ``OutcomeUnknown``; other 5xx → ``RetryableError``; 401/403 →
  ``AuthExpiredError``; 422 and other refusals → ``PermanentError`` quoting Mastodon.
  Reads (media polling, find, metrics) never create anything, so their timeouts are
  merely retryable.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from flask import current_app
from flask_babel import gettext as _

from .base import (
    AuthExpiredError,
    Network,
    NetworkError,
    OutcomeUnknown,
    Outgoing,
    OutgoingMedia,
    PermanentError,
    Published,
    RetryableError,
    counts,
)
from .http import NetworkClient

log = logging.getLogger(__name__)

VISIBILITIES = ("public", "unlisted", "private")
DEFAULT_VISIBILITY = "public"
DEFAULT_MAX_CHARACTERS = 500
FIRST_COMMENT_SUFFIX = ":c"
# find() allows for clocks that disagree a little between Relais and the instance.
FIND_CLOCK_SKEW = timedelta(minutes=5)
FIND_PAGE = 40  # Mastodon's largest page of an account's statuses
FIND_MAX_SOURCES = 10  # source look-ups per find, so a busy account stays cheap


# The account's counters as Mastodon names them (verify_credentials), and ours.
ACCOUNT_COUNTS = (("followers_count", "followers"), ("following_count", "following"),
                  ("statuses_count", "posts"))


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 instant from Mastodon (``2024-05-01T12:00:00.123Z``), in UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _error_text(response: httpx.Response) -> str:
    """Mastodon's own words for a refusal: ``{"error": "..."}`` (OAuth adds
    ``error_description``), else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        text = str(body.get("error_description") or body.get("error") or "")
    else:
        text = response.text.strip()
    return " ".join(text.split())[:300] or f"HTTP {response.status_code}"


class MastodonAPI(NetworkClient):
    """One instance's REST API with one (optional) token. Every failure comes out as one
    of the adapter errors of base.py, classified by whether the request may have had an
    effect (``creates=True``: the status posts)."""

    def __init__(self, instance_url: str, token: str = "", *, timeout: float | None = None):
        self.base = instance_url.rstrip("/")
        self.host = urlsplit(self.base).netloc or self.base
        self.token = token
        self.rate_limited_until: datetime | None = None
        super().__init__(timeout=timeout)

    def call(self, method: str, path: str, *, creates: bool = False, auth: bool = True,
             headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """The response of a 2xx answer; raises the adapter error for anything else."""
        headers = dict(headers or {})
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._http.request(method, self.base + path, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise RetryableError(
                _("Could not reach the Mastodon instance %(host)s. Relais will try again.",
                  host=self.host), detail=f"{method} {path}: {error!r}") from None
        except httpx.TransportError as error:
            if creates:
                raise OutcomeUnknown(
                    _("The Mastodon instance %(host)s did not answer in time: the post may "
                      "or may not be out. Relais checks before trying again.", host=self.host),
                    detail=f"{method} {path}: {error!r}") from None
            raise RetryableError(
                _("The Mastodon instance %(host)s did not answer in time. Relais will try "
                  "again.", host=self.host), detail=f"{method} {path}: {error!r}") from None
        self._note_rate_limit(response)
        if response.status_code < 300:
            return response
        refusal = self._refusal(response, method, path, creates)
        refusal.network_message = _error_text(response)  # the instance's own words
        raise refusal

    def json(self, response: httpx.Response, *, creates: bool = False) -> Any:
        try:
            return response.json()
        except ValueError:
            detail = f"{response.request.method} {response.request.url.path}: not JSON"
            if creates:
                raise OutcomeUnknown(
                    _("The Mastodon instance %(host)s gave an unreadable answer: the post may "
                      "or may not be out. Relais checks before trying again.", host=self.host),
                    detail=detail) from None
            raise RetryableError(
                _("The Mastodon instance %(host)s gave an unreadable answer. Relais will "
                  "try again.", host=self.host), detail=detail) from None

    def _refusal(self, response: httpx.Response, method: str, path: str,
                 creates: bool) -> NetworkError:
        status = response.status_code
        error = _error_text(response)
        detail = f"{method} {path}: HTTP {status}: {error}"
        if status == 429:
            return RetryableError(
                _("Mastodon's rate limit for this account is reached. Relais will try again "
                  "when it resets."), retry_after=self.retry_after(response), detail=detail)
        if status in (401, 403):
            return AuthExpiredError(
                _("Mastodon no longer accepts this account's access (%(error)s). Reconnect "
                  "the account to publish again.", error=error), detail=detail)
        if status == 504 and creates:
            # The instance's proxy gave up waiting for it: the status may have been made.
            return OutcomeUnknown(
                _("The Mastodon instance %(host)s did not answer in time: the post may or "
                  "may not be out. Relais checks before trying again.", host=self.host),
                detail=detail)
        if status >= 500 or status == 408:
            return RetryableError(
                _("The Mastodon instance %(host)s has a problem (error %(code)s). Relais will "
                  "try again.", host=self.host, code=status),
                retry_after=self.retry_after(response), detail=detail)
        if status == 404 and not creates:
            return PermanentError(_("Mastodon does not have it any more (%(error)s).",
                                    error=error), detail=detail)
        return PermanentError(_("Mastodon refused the post: %(error)s", error=error),
                              detail=detail)

    def _note_rate_limit(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = parse_time(response.headers.get("X-RateLimit-Reset"))
        try:
            exhausted = remaining is not None and int(remaining) <= 0
        except ValueError:
            exhausted = False
        if ((exhausted or response.status_code == 429) and reset is not None
                and (self.rate_limited_until is None or reset > self.rate_limited_until)):
            self.rate_limited_until = reset

    @staticmethod
    def retry_after(response: httpx.Response) -> float | None:
        """Seconds until the budget resets (``X-RateLimit-Reset``), else ``Retry-After``."""
        now = datetime.now(UTC)
        reset = parse_time(response.headers.get("X-RateLimit-Reset"))
        if reset is not None:
            return max(1.0, (reset - now).total_seconds())
        raw = (response.headers.get("Retry-After") or "").strip()
        if not raw:
            return None
        if raw.isdigit():
            return max(1.0, float(raw))
        try:
            return max(1.0, (parsedate_to_datetime(raw) - now).total_seconds())
        except (TypeError, ValueError):
            return None


class _Text(HTMLParser):
    """A status's HTML content back to plain text (paragraphs and line breaks kept)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data):
        self.parts.append(data)


def plain_text(html: str) -> str:
    parser = _Text()
    parser.feed(html or "")
    parser.close()
    return "".join(parser.parts)


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


class MastodonNetwork(Network):
    key = "mastodon"
    idempotent_publish = True  # Idempotency-Key, within idempotency_window_seconds
    authoritative_find = False  # find only ever proves presence
    # How long Mastodon remembers an Idempotency-Key (per account, from the first send).
    idempotency_window_seconds: ClassVar[int] = 3600

    def __init__(self) -> None:
        # When the account's API budget runs out (UTC), as the last call reported it.
        self.rate_limited_until: datetime | None = None
        # Why the first comment could not be posted (the publication itself succeeded).
        self.first_comment_error: str = ""
        self.first_comment_id: str = ""

    # --- publishing -----------------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        with self._api(outgoing) as api:
            try:
                media_ids = [self._upload(api, media) for media in outgoing.media]
                visibility = self._visibility(outgoing)
                status = self._post_status(api, outgoing.text, outgoing.idempotency_key,
                                           visibility=visibility, media_ids=media_ids)
                published = self._published(api, status)
                if outgoing.first_comment.strip():
                    self._post_first_comment(api, outgoing, published.external_id, visibility)
                return published
            finally:
                self.rate_limited_until = api.rate_limited_until

    def _post_status(self, api: MastodonAPI, text: str, key: str, *, visibility: str,
                     media_ids: list[str], in_reply_to_id: str = "") -> dict:
        data: dict[str, Any] = {"status": text, "visibility": visibility}
        if media_ids:
            data["media_ids[]"] = media_ids
        if in_reply_to_id:
            data["in_reply_to_id"] = in_reply_to_id
        response = api.call("POST", "/api/v1/statuses", data=data, creates=True,
                            headers={"Idempotency-Key": key})
        status = api.json(response, creates=True)
        if not isinstance(status, dict) or not status.get("id"):
            raise OutcomeUnknown(
                _("The Mastodon instance %(host)s gave an unreadable answer: the post may or "
                  "may not be out. Relais checks before trying again.", host=api.host),
                detail="POST /api/v1/statuses: no status id in the answer")
        return status

    def _post_first_comment(self, api: MastodonAPI, outgoing: Outgoing, status_id: str,
                            visibility: str) -> None:
        try:
            reply = self._post_status(api, outgoing.first_comment,
                                      outgoing.idempotency_key + FIRST_COMMENT_SUFFIX,
                                      visibility=visibility, media_ids=[],
                                      in_reply_to_id=status_id)
        except NetworkError as error:
            self.note_first_comment_failure(outgoing, error, "Mastodon")
            return
        self.first_comment_id = str(reply["id"])

    def _upload(self, api: MastodonAPI, media: OutgoingMedia) -> str:
        """Upload one file (``POST /api/v2/media``) and wait until the instance has
        processed it: a status cannot attach media still processing."""
        data = {"description": media.description} if media.description else {}
        response = api.call("POST", "/api/v2/media", data=data,
                            files={"file": (media.filename or "media", media.data, media.mime)})
        body = api.json(response)
        if not isinstance(body, dict) or not body.get("id"):
            raise RetryableError(
                _("The Mastodon instance %(host)s gave an unreadable answer. Relais will "
                  "try again.", host=api.host), detail="POST /api/v2/media: no id")
        media_id = str(body["id"])
        if response.status_code == 202 or not body.get("url"):
            self._wait_until_processed(api, media_id)
        return media_id

    def _wait_until_processed(self, api: MastodonAPI, media_id: str) -> None:
        config = current_app.config
        wait = float(config.get("MASTODON_MEDIA_WAIT_SECONDS", 60))
        poll = float(config.get("MASTODON_MEDIA_POLL_SECONDS", 1))
        deadline = time.monotonic() + wait
        while True:
            time.sleep(poll)
            response = api.call("GET", f"/api/v1/media/{media_id}")
            body = api.json(response)
            if response.status_code == 200 and isinstance(body, dict) and body.get("url"):
                return
            if time.monotonic() + poll > deadline:
                raise RetryableError(
                    _("Mastodon is still processing a picture or video of this post. Relais "
                      "will try again shortly."), retry_after=max(wait, 30.0),
                    detail=f"media {media_id} not processed after {wait:.0f}s")

    # --- reconciliation and results -------------------------------------------------------

    def find(self, outgoing: Outgoing) -> Published | None:
        settings = outgoing.settings or {}
        account_id = str(settings.get("account_id") or "")
        if outgoing.scheduled_at is None or not account_id:
            return None  # nothing to bound the search by: no positive match is possible
        since = outgoing.scheduled_at
        since = (since if since.tzinfo else since.replace(tzinfo=UTC)) - FIND_CLOCK_SKEW
        with self._api(outgoing) as api:
            try:
                response = api.call("GET", f"/api/v1/accounts/{account_id}/statuses",
                                    params={"limit": FIND_PAGE, "exclude_reblogs": "true"})
                statuses = api.json(response)
                candidates = [
                    s for s in (statuses if isinstance(statuses, list) else [])
                    if isinstance(s, dict) and not s.get("in_reply_to_id")
                    and (parse_time(s.get("created_at")) or since) >= since
                    and len(s.get("media_attachments") or []) == len(outgoing.media)
                ]
                for status in candidates[:FIND_MAX_SOURCES]:
                    if self._has_text(api, status, outgoing.text):
                        return self._published(api, status)
                return None
            finally:
                self.rate_limited_until = api.rate_limited_until

    def _has_text(self, api: MastodonAPI, status: dict, text: str) -> bool:
        """Whether the status was written with exactly ``text`` (its source, Mastodon
        3.5+); on an older instance, its HTML content read back as text, whitespace
        aside."""
        try:
            response = api.call("GET", f"/api/v1/statuses/{status['id']}/source")
        except PermanentError:  # 404: no source endpoint on this instance
            return _same_text(plain_text(str(status.get("content") or "")), text)
        body = api.json(response)
        source = str(body.get("text") or "") if isinstance(body, dict) else ""
        return source.strip() == text.strip()

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        with self._api(outgoing) as api:
            try:
                status = api.json(api.call("GET", f"/api/v1/statuses/{external_id}"))
            finally:
                self.rate_limited_until = api.rate_limited_until
        if not isinstance(status, dict):
            return {}
        return {"likes": int(status.get("favourites_count") or 0),
                "reposts": int(status.get("reblogs_count") or 0),
                "replies": int(status.get("replies_count") or 0)}

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        # verify_credentials is the token's own account, whatever its instance calls it.
        with self._api(outgoing) as api:
            try:
                account = api.json(api.call("GET", "/api/v1/accounts/verify_credentials"))
            finally:
                self.rate_limited_until = api.rate_limited_until
        return counts(account, ACCOUNT_COUNTS)

    # --- helpers --------------------------------------------------------------------------

    def _api(self, outgoing: Outgoing) -> MastodonAPI:
        instance = str((outgoing.settings or {}).get("instance_url") or "")
        token = str((outgoing.credentials or {}).get("access_token") or "")
        if not instance or not token:
            raise AuthExpiredError(
                _("This Mastodon account is missing its instance or access token. Reconnect "
                  "the account to publish again."), detail="no instance_url or access_token")
        return MastodonAPI(instance, token)

    @staticmethod
    def _visibility(outgoing: Outgoing) -> str:
        chosen = (outgoing.settings or {}).get("visibility")
        return chosen if chosen in VISIBILITIES else DEFAULT_VISIBILITY

    @staticmethod
    def _published(api: MastodonAPI, status: dict) -> Published:
        status_id = str(status["id"])
        url = status.get("url") or status.get("uri") or f"{api.base}/web/statuses/{status_id}"
        return Published(external_id=status_id, url=str(url))


ADAPTER = MastodonNetwork
