"""X: posts with images or a video, threads and a first comment, through the v2 API.

Each account is one X user, connected through OAuth 2.0 with PKCE (x_oauth.py,
``XProvider``): ``settings["user_id"]``/``["username"]`` and, sealed, ``credentials``
(``access_token``, ``refresh_token``, ``expires_at``, ``refreshable``).

What the engine can rely on:

- **Publishing.** The media are uploaded first (x_media.py), then ``POST /2/tweets``
  ``{"text", "media": {"media_ids": [...]}}`` makes the post; then each part of
  ``options["thread"]`` (a list of texts, x_thread.py) and the first comment are posted
  in turn as replies, ``{"text", "reply": {"in_reply_to_tweet_id": <the previous>}}``
  (docs.x.com/x-api/posts/create-or-edit-post). The publication's id and link are the
  first post's: ``https://x.com/{username}/status/{id}``.
- **Progress.** ``started_at``; ``media`` (x_media.py); ``posted``, the ids posted so
  far, saved after **each** post; ``sending`` ``{"part", "at"}``, saved before each.
  A retry (or a person's Retry after "needs attention") continues after the last post
  saved and never posts a part twice: a part that an attempt may have sent
  (``sending`` names it) is first looked for on the timeline, and if X then refuses it
  as a duplicate (403 "…duplicate content."), that refusal means it is out: it is looked
  for again rather than failed (and the attempt retried until it shows).
- **No idempotency.** X has no idempotency key (``idempotent_publish = False``): a lost
  answer on a post is ``OutcomeUnknown``; uploads are invisible, merely retryable.
- **find** reads the account's timeline since the attempt started (x_thread.py) and
  follows the chain of posts: the first post's text, then each part as a reply to the
  one before. It answers the first post only when the text and the whole thread are
  there (a thread cut short must be continued, not called done: None, so a person sees
  it and Retry continues it); the first comment is not required, as elsewhere. Finding
  nothing proves nothing: ``authoritative_find = False``.
- **Failures mid-thread.** A part refused for good is a ``PermanentError`` saying which
  posts are out (Retry continues from that part); retryable and token failures keep the
  progress for the next attempt. The first comment never fails the publication: its
  failure is kept in ``first_comment_error``.
- **Errors and rate limits**: x_api.py (401 → ``AuthExpiredError``; 429 →
  ``RetryableError`` after ``x-rate-limit-reset``; 5xx → ``RetryableError``; other
  refusals → ``PermanentError`` quoting X). ``rate_limited_until`` (UTC datetime) when
  an answer said a budget is spent.
- **Tokens** last two hours. ``refresh`` renews them for token_health; an access token
  that expires by publish time is renewed once inline, under token_health's lock, and
  handed to the engine by ``credentials_after_use`` (x_tokens.py says how a rotated
  refresh token is never lost). ``find`` and ``fetch_metrics`` never renew (their
  callers store no credentials): an expired token there is an ``AuthExpiredError``.
- **fetch_metrics**: ``GET /2/tweets/{id}`` with ``public_metrics`` and
  ``non_public_metrics`` (the latter for the account's own posts of the last 30 days;
  without them when X refuses): impressions, likes, replies, reposts, quotes,
  bookmarks, url_link_clicks, profile_clicks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _

from .base import (
    AuthExpiredError,
    Network,
    NetworkError,
    OutcomeUnknown,
    Outgoing,
    PermanentError,
    Published,
    RetryableError,
    counts,
)
from .x_api import DuplicateContent, XApi
from .x_media import MediaUpload
from .x_thread import chain, parts, thread_problems, timeline
from .x_tokens import expiring, fingerprint, refresh_credentials, renew_while_publishing

log = logging.getLogger(__name__)

DUPLICATE_RETRY_SECONDS = 60.0
REFUSED_REFRESH_RETRY_SECONDS = 60.0
METRICS = (  # (our name, where X puts it, its name there); the first found wins
    ("impressions", "non_public_metrics", "impression_count"),
    ("impressions", "public_metrics", "impression_count"),
    ("likes", "public_metrics", "like_count"),
    ("replies", "public_metrics", "reply_count"),
    ("reposts", "public_metrics", "retweet_count"),
    ("quotes", "public_metrics", "quote_count"),
    ("bookmarks", "public_metrics", "bookmark_count"),
    ("url_link_clicks", "non_public_metrics", "url_link_clicks"),
    ("profile_clicks", "non_public_metrics", "user_profile_clicks"),
)


# A user's public_metrics (X API v2 "User object"), and our names for them.
USER_COUNTS = (("followers_count", "followers"), ("following_count", "following"),
               ("tweet_count", "posts"), ("listed_count", "listed"))


def _said(refusal: NetworkError) -> str:
    return str(getattr(refusal, "network_message", "") or refusal.reason)


def post_url(username: str, post_id: str) -> str:
    # x.com/i/status/{id} opens any post when the username is unknown.
    return f"https://x.com/{username or 'i'}/status/{post_id}"


class XNetwork(Network):
    key = "x"
    idempotent_publish = False
    authoritative_find = False
    reads_share_limits = False  # X limits each endpoint apart (see x_api.py)

    def __init__(self) -> None:
        self.first_comment_error = ""
        self.first_comment_id = ""
        self._api: XApi | None = None
        self._limited: datetime | None = None
        self._renewed: dict[str, Any] | None = None
        self._may_renew = False
        self._outgoing: Outgoing | None = None
        self._progress: dict[str, Any] = {}

    # --- the engine's interface -------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        problems = thread_problems(outgoing.options)
        if problems:
            raise PermanentError(problems[0], detail="invalid options.thread")
        texts = parts(outgoing)
        has_comment = bool((outgoing.first_comment or "").strip())
        self._outgoing, self._progress = outgoing, dict(outgoing.progress or {})
        self._progress.setdefault("started_at", int(time.time()))
        credentials = self._credentials(outgoing)
        self._may_renew = True
        with self._client(str(credentials["access_token"])):
            if expiring(credentials):
                self._renew()
            posted = [str(i) for i in self._progress.get("posted") or []]
            media_ids: list[str] = []
            if not posted and outgoing.media:
                media_ids = MediaUpload(self._call, self._progress,
                                        self._save).media_ids(outgoing.media)
            for index in range(len(posted), len(texts)):
                if has_comment and index == len(texts) - 1:
                    self._first_comment(texts, posted)
                    break
                self._post(index, texts, posted, media_ids)
        return Published(posted[0], self._url(outgoing, posted[0]))

    def find(self, outgoing: Outgoing) -> Published | None:
        self._may_renew = False
        texts = parts(outgoing)
        if (outgoing.first_comment or "").strip():
            texts = texts[:-1]  # never required: its failure never failed a publication
        posted = [str(i) for i in (outgoing.progress or {}).get("posted") or []]
        if posted and len(posted) >= len(texts):
            return Published(posted[0], self._url(outgoing, posted[0]))
        user_id = self._user_id(outgoing)
        progress = outgoing.progress or {}
        since = (datetime.fromtimestamp(float(progress["started_at"]), UTC)
                 if progress.get("started_at") else
                 outgoing.scheduled_at or datetime.now(UTC) - timedelta(days=1))
        with self._client(str(self._credentials(outgoing)["access_token"])):
            ids = chain(timeline(self._call, user_id, since), texts, posted)
        if ids and len(ids) >= len(texts):
            return Published(ids[0], self._url(outgoing, ids[0]))
        return None

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        self._may_renew = False
        with self._client(str(self._credentials(outgoing)["access_token"])):
            try:
                answer = self._call("GET", f"/2/tweets/{external_id}", params={
                    "tweet.fields": "public_metrics,non_public_metrics"})
            except PermanentError:
                # Private metrics exist for the account's posts of the last 30 days only.
                answer = self._call("GET", f"/2/tweets/{external_id}", params={
                    "tweet.fields": "public_metrics"})
        data = answer.get("data") if isinstance(answer, dict) else None
        metrics: dict[str, int] = {}
        for name, group, field in METRICS:
            value = ((data or {}).get(group) or {}).get(field)
            if name not in metrics and isinstance(value, int) and not isinstance(value, bool):
                metrics[name] = value
        return metrics

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        self._may_renew = False  # a read never renews (see fetch_metrics)
        with self._client(str(self._credentials(outgoing)["access_token"])):
            answer = self._call("GET", "/2/users/me", params={"user.fields": "public_metrics"})
        data = answer.get("data") if isinstance(answer, dict) else None
        return counts((data or {}).get("public_metrics"), USER_COUNTS)

    def refresh(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        # token_health calls this holding the account's lock.
        return refresh_credentials(credentials)

    def credentials_after_use(self) -> dict[str, Any] | None:
        return dict(self._renewed) if self._renewed is not None else None

    @property
    def rate_limited_until(self) -> datetime | None:
        return self._limited

    # --- posting ------------------------------------------------------------------------

    def _post(self, index: int, texts: list[str], posted: list[str],
              media_ids: list[str]) -> str:
        """Post ``texts[index]`` (as a reply to the last of ``posted`` after the first),
        append its id to ``posted`` and save; an earlier attempt's copy is reused."""
        text = texts[index]
        body: dict[str, Any] = {"text": text} if text.strip() or not media_ids else {}
        if index == 0 and media_ids:
            body["media"] = {"media_ids": media_ids}
        if index > 0:
            body["reply"] = {"in_reply_to_tweet_id": posted[-1]}
        marker = self._progress.get("sending")
        maybe_out = isinstance(marker, dict) and marker.get("part") == index
        if maybe_out and (found := self._look_for(texts, posted, index, marker)):
            return self._posted(posted, found)
        # Kept from the first try of this part: the search must reach back to it.
        sent_at = marker.get("at") if maybe_out else int(time.time())
        self._progress["sending"] = {"part": index, "at": sent_at}
        self._save()
        try:
            answer = self._call("POST", "/2/tweets", creates=True, json=body)
        except DuplicateContent as refusal:
            if not maybe_out:
                raise self._refused(index, posted, PermanentError(
                    _("X refused this post: %(error)s X refuses a text this account posted "
                      "recently: change the text.", error=_said(refusal)),
                    detail=refusal.detail)) from None
            if found := self._look_for(texts, posted, index, self._progress["sending"]):
                return self._posted(posted, found)
            raise RetryableError(
                _("X says post %(number)d is already out, but does not show it yet. Relais "
                  "looks for it again shortly.", number=index + 1),
                retry_after=DUPLICATE_RETRY_SECONDS, detail=refusal.detail) from None
        except OutcomeUnknown as lost:
            if index == 0:
                raise
            raise OutcomeUnknown(
                _("X did not answer while posting post %(number)d of %(total)d: it may or "
                  "may not be out. Relais checks before going on.", number=index + 1,
                  total=len(texts)), detail=lost.detail) from None
        except PermanentError as refusal:
            raise self._refused(index, posted, refusal) from None
        post_id = str(((answer or {}).get("data") or {}).get("id") or "")
        if not post_id:
            raise OutcomeUnknown(_("X gave an unreadable answer: the post may or may not be "
                                   "out. Relais checks before trying again."),
                                 detail="POST /2/tweets: no data.id")
        return self._posted(posted, post_id)

    def _posted(self, posted: list[str], post_id: str) -> str:
        posted.append(post_id)
        self._progress["posted"] = list(posted)
        self._progress.pop("sending", None)
        self._save()
        return post_id

    def _refused(self, index: int, posted: list[str], refusal: PermanentError) -> PermanentError:
        if index == 0:
            return refusal
        return PermanentError(
            _("X refused post %(number)d of the thread (%(error)s). The posts before it are "
              "out: %(url)s. Retry to continue the thread from there, or mark the "
              "publication as published.", number=index + 1,
              error=_said(refusal),
              url=self._url(self._outgoing, posted[0])), detail=refusal.detail)

    def _first_comment(self, texts: list[str], posted: list[str]) -> None:
        try:
            self.first_comment_id = self._post(len(texts) - 1, texts, posted, [])
        except OutcomeUnknown as lost:
            self.first_comment_error = _("X did not answer: the first comment may or may "
                                         "not be out.")
            log.warning("first comment of %s: %s", self._outgoing.publication_id, lost.detail)
        except NetworkError as error:
            self.first_comment_error = error.reason

    def _look_for(self, texts: list[str], posted: list[str], index: int,
                  marker: dict) -> str | None:
        """The id of ``texts[index]`` if an earlier attempt posted it (timeline since
        ``marker["at"]``); None when not seen (yet)."""
        user_id = str((self._outgoing.settings or {}).get("user_id") or "")
        if not user_id:
            return None  # cannot look: the duplicate refusal still guards a resend
        try:
            since = datetime.fromtimestamp(float(marker.get("at")), UTC)
        except (TypeError, ValueError):
            since = datetime.now(UTC) - timedelta(days=1)
        ids = chain(timeline(self._call, user_id, since), texts[:index + 1], posted)
        return ids[index] if len(ids) > index else None

    # --- calls and tokens -----------------------------------------------------------------

    @contextmanager
    def _client(self, token: str) -> Iterator[XApi]:
        api = XApi(token)
        self._api = api
        try:
            with api:
                yield api
        finally:
            if api.rate_limited_until and (self._limited is None
                                           or api.rate_limited_until > self._limited):
                self._limited = api.rate_limited_until
            self._api = None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; while publishing, an access token refused (401) is renewed once and
        the call repeated (a 401 means X did nothing)."""
        try:
            return self._api.call(method, path, **kwargs)
        except AuthExpiredError:
            if not self._may_renew or self._renewed is not None:
                raise
            self._renew()
            return self._api.call(method, path, **kwargs)

    def _renew(self) -> None:
        outgoing = self._outgoing
        credentials = dict(outgoing.credentials or {})
        if not credentials.get("refresh_token") or credentials.get("refreshable") is False:
            raise AuthExpiredError(_("This X account's access has expired. Reconnect the X "
                                     "account to publish again."), detail="not refreshable")
        try:
            renewed = renew_while_publishing(outgoing.account_id, credentials)
        except AuthExpiredError as refused:
            # Refused: either X revoked it, or another worker renewed it since this
            # attempt read it (the new one is stored). The next attempt reads the stored
            # token: if it is this same refused one, nobody renewed it: truly refused.
            mark = fingerprint(str(credentials["refresh_token"]))
            if self._progress.get("refused_refresh") == mark:
                raise
            self._progress["refused_refresh"] = mark
            self._save()
            raise RetryableError(
                _("X refused to renew this account's access. Relais checks again in a "
                  "minute, in case it was renewed meanwhile."),
                retry_after=REFUSED_REFRESH_RETRY_SECONDS, detail=refused.detail) from None
        self._renewed = renewed
        self._api.token = str(renewed["access_token"])

    def _save(self) -> None:
        self._outgoing.save_progress(dict(self._progress))

    # --- account ------------------------------------------------------------------------

    @staticmethod
    def _credentials(outgoing: Outgoing) -> dict[str, Any]:
        credentials = dict(outgoing.credentials or {})
        if not credentials.get("access_token"):
            raise AuthExpiredError(_("This X account is missing its access. Reconnect the X "
                                     "account to publish again."), detail="no access_token")
        return credentials

    @staticmethod
    def _user_id(outgoing: Outgoing) -> str:
        user_id = str((outgoing.settings or {}).get("user_id") or "")
        if not user_id:
            raise AuthExpiredError(_("This X account is missing its user id. Reconnect the X "
                                     "account."), detail="no user_id")
        return user_id

    @staticmethod
    def _url(outgoing: Outgoing, post_id: str) -> str:
        settings = outgoing.settings or {}
        username = str(settings.get("username") or (outgoing.handle or "").lstrip("@"))
        return post_url(username, post_id)


ADAPTER = XNetwork
