"""Facebook Pages: posts published on a Page through the Graph API.

Each account is one Page: ``settings["page_id"]`` and, sealed, the Page access token
(``credentials["page_access_token"]``), both chosen in the OAuth connect flow
(agency/networks/facebook_oauth.py, ``FacebookProvider``).

What the engine can rely on:

- **Publishing.** Text only → ``POST /{page}/feed`` (``message``). One photo →
  ``POST /{page}/photos`` (multipart ``source`` + ``caption``). Several photos → each
  uploaded unpublished (``published=false``), then ``POST /{page}/feed`` with
  ``attached_media[i]={"media_fbid": ...}``. Unpublished uploads are invisible, so their
  timeouts are merely retryable; only the call that makes the post visible can end in
  ``OutcomeUnknown``. Videos are not supported yet (refused as a ``PermanentError``).
- **No idempotency.** The Graph API has no idempotency key: ``idempotent_publish`` is
  False, so a lost answer is settled by ``find`` or by a person.
- **find** reads the Page's feed since the scheduled time (less five minutes of clock
  skew) and matches the exact message. Finding nothing proves nothing (the feed is paged
  and eventually consistent): ``authoritative_find = False``.
- **First comment.** ``POST /{post}/comments``; its failure never fails the publication:
  it is kept in ``first_comment_error`` (a reason fit to show).
- **Errors** (Graph's ``{"error": {"message", "type", "code", "error_subcode"}}``): codes
  190, 102, 10 and 200–299 (token or permission problems) → ``AuthExpiredError``; codes
  4, 17, 32, 613 and HTTP 429 (rate limits) → ``RetryableError`` with ``retry_after`` from
  the usage headers' ``estimated_time_to_regain_access`` or 60 seconds; 5xx and codes 1, 2
  → ``RetryableError``; any other refusal → ``PermanentError`` quoting Facebook. Connect
  failures before sending → retryable; a read timeout on the publishing call →
  ``OutcomeUnknown``.
- **Rate limits.** ``X-App-Usage``, ``X-Page-Usage`` and ``X-Business-Use-Case-Usage``
  report percentages of the budget used. When one reaches 100 on any answer,
  ``rate_limited_until`` (UTC datetime, else ``None``) says when the Page may call again
  (the regain estimate, else one minute); the engine may delay the account's next
  publication until then.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

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
)
from .http import NetworkClient

log = logging.getLogger(__name__)

AUTH_CODES = {190, 102, 10}  # token invalid/expired, session, permission denied
RATE_CODES = {4, 17, 32, 613}  # app, user, page and "calls within one hour" limits
TRANSIENT_CODES = {1, 2}  # unknown error, service temporarily unavailable
DEFAULT_RETRY_AFTER = 60.0
FIND_CLOCK_SKEW = timedelta(minutes=5)
USAGE_HEADERS = ("X-App-Usage", "X-Page-Usage", "X-Business-Use-Case-Usage")


def graph_error(response: httpx.Response) -> dict:
    """The ``error`` object of a Graph answer (empty if there is none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _code(error: dict) -> int | None:
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


class FacebookGraph(NetworkClient):
    """The Graph API with one (optional) token. Every failure comes out as one of the
    adapter errors of base.py; ``creates=True`` marks the call that makes a post visible,
    whose lost answer is ``OutcomeUnknown`` rather than retryable."""

    def __init__(self, token: str = "", *, base: str | None = None,
                 timeout: float | None = None):
        self.base = (base or current_app.config["FACEBOOK_GRAPH_URL"]).rstrip("/")
        self.token = token
        self.rate_limited_until: datetime | None = None
        super().__init__(timeout=timeout)

    def call(self, method: str, path: str, *, creates: bool = False,
             params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """The JSON of a 2xx answer; raises the adapter error for anything else."""
        params = dict(params or {})
        if self.token and "access_token" not in params:
            params["access_token"] = self.token
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
        refusal = self._refusal(response, error, method, path)
        refusal.network_message = str(error.get("message") or "")  # Facebook's own words
        raise refusal

    def _refusal(self, response: httpx.Response, error: dict, method: str,
                 path: str) -> NetworkError:
        status = response.status_code
        code = _code(error)
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
            return RetryableError(
                _("Facebook has a temporary problem (%(error)s). Relais will try again.",
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


def _since(scheduled_at: datetime) -> int:
    moment = scheduled_at if scheduled_at.tzinfo else scheduled_at.replace(tzinfo=UTC)
    return int((moment - FIND_CLOCK_SKEW).timestamp())


class FacebookNetwork(Network):
    key = "facebook"
    idempotent_publish = False  # the Graph API takes no idempotency key
    authoritative_find = False  # the feed only ever proves presence

    def __init__(self) -> None:
        # When the Page's API budget runs out (UTC), as the last answer's headers said.
        self.rate_limited_until: datetime | None = None
        # Why the first comment could not be posted (the publication itself succeeded).
        self.first_comment_error: str = ""
        self.first_comment_id: str = ""

    # --- publishing -----------------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        page_id = self._page_id(outgoing)
        if any(m.kind != "image" for m in outgoing.media):
            raise PermanentError(_("Relais cannot publish videos to Facebook yet: publish "
                                   "this one by hand, or remove the video."),
                                 detail="video on facebook")
        with self._graph(outgoing) as graph:
            try:
                post_id = self._post(graph, page_id, outgoing)
                if outgoing.first_comment.strip():
                    self._first_comment(graph, outgoing, post_id)
                return Published(external_id=post_id, url=f"https://www.facebook.com/{post_id}")
            finally:
                self.rate_limited_until = graph.rate_limited_until

    def _post(self, graph: FacebookGraph, page_id: str, outgoing: Outgoing) -> str:
        media = outgoing.media
        if len(media) == 1:
            body = graph.call("POST", f"/{page_id}/photos", creates=True,
                              data={"caption": outgoing.text, "published": "true"},
                              files={"source": self._file(media[0])})
            return self._id(body, "post_id", "id")
        data: dict[str, Any] = {"message": outgoing.text}
        for index, item in enumerate(media):
            uploaded = graph.call("POST", f"/{page_id}/photos",
                                  data={"published": "false"},
                                  files={"source": self._file(item)})
            photo_id = self._id(uploaded, "id", creates=False)
            data[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        return self._id(graph.call("POST", f"/{page_id}/feed", creates=True, data=data), "id")

    def _first_comment(self, graph: FacebookGraph, outgoing: Outgoing, post_id: str) -> None:
        try:
            body = graph.call("POST", f"/{post_id}/comments", creates=True,
                              data={"message": outgoing.first_comment})
            self.first_comment_id = self._id(body, "id")
        except NetworkError as error:
            if isinstance(error, OutcomeUnknown):
                self.first_comment_error = _(
                    "The post is out, but Facebook did not confirm its first comment: check "
                    "the post on Facebook and add the comment by hand if it is missing.")
            else:
                self.first_comment_error = _(
                    "The post is out, but its first comment could not be added: %(reason)s",
                    reason=error.reason)
            log.warning("facebook: first comment of publication %s not posted: %s (%s)",
                        outgoing.publication_id, error.reason, error.detail)

    # --- reconciliation and results -------------------------------------------------------

    def find(self, outgoing: Outgoing) -> Published | None:
        if outgoing.scheduled_at is None:
            return None  # nothing to bound the search by
        page_id = self._page_id(outgoing)
        with self._graph(outgoing) as graph:
            try:
                body = graph.call("GET", f"/{page_id}/feed", params={
                    "since": _since(outgoing.scheduled_at), "limit": 100,
                    "fields": "id,message,created_time,permalink_url"})
            finally:
                self.rate_limited_until = graph.rate_limited_until
        posts = body.get("data") if isinstance(body, dict) else None
        for post in posts if isinstance(posts, list) else []:
            if (isinstance(post, dict) and post.get("id")
                    and str(post.get("message") or "").strip() == outgoing.text.strip()):
                post_id = str(post["id"])
                return Published(external_id=post_id, url=str(
                    post.get("permalink_url") or f"https://www.facebook.com/{post_id}"))
        return None

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        with self._graph(outgoing) as graph:
            try:
                body = graph.call("GET", f"/{external_id}", params={"fields": (
                    "reactions.summary(total_count).limit(0),"
                    "comments.summary(total_count).limit(0),shares")})
            finally:
                self.rate_limited_until = graph.rate_limited_until
        if not isinstance(body, dict):
            return {}

        def total(edge: str) -> int:
            summary = (body.get(edge) or {}).get("summary") or {}
            return int(summary.get("total_count") or 0)

        return {"reactions": total("reactions"), "comments": total("comments"),
                "shares": int((body.get("shares") or {}).get("count") or 0)}

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _page_id(outgoing: Outgoing) -> str:
        page_id = str((outgoing.settings or {}).get("page_id") or "")
        if not page_id:
            raise AuthExpiredError(_("This Facebook Page is missing its id. Reconnect the "
                                     "Page to publish again."), detail="no page_id")
        return page_id

    @staticmethod
    def _graph(outgoing: Outgoing) -> FacebookGraph:
        token = str((outgoing.credentials or {}).get("page_access_token") or "")
        if not token:
            raise AuthExpiredError(_("This Facebook Page is missing its access token. "
                                     "Reconnect the Page to publish again."),
                                   detail="no page_access_token")
        return FacebookGraph(token)

    @staticmethod
    def _file(media: OutgoingMedia) -> tuple[str, bytes, str]:
        return (media.filename or "photo", media.data, media.mime)

    @staticmethod
    def _id(body: Any, *keys: str, creates: bool = True) -> str:
        for key in keys:
            if isinstance(body, dict) and body.get(key):
                return str(body[key])
        if creates:
            raise OutcomeUnknown(
                _("Facebook gave an unreadable answer: the post may or may not be out. "
                  "Relais checks before trying again."), detail="no id in the answer")
        raise RetryableError(_("Facebook gave an unreadable answer. Relais will try again."),
                             detail="no id in the answer")


ADAPTER = FacebookNetwork
