"""Instagram professional accounts: posts published through the Instagram Graph API's
Content Publishing (the Facebook Login flavour, on ``FACEBOOK_GRAPH_URL``).

Each account is one Instagram professional account linked to a Facebook Page:
``settings["ig_user_id"]`` (with ``page_id`` and ``username``) and, sealed, that Page's
access token (``credentials["page_access_token"]``), chosen in the connect flow
(agency/networks/instagram_oauth.py). **Tokens do not expire**: Page tokens listed with a
long-lived user token have no expiry (they stop only if the person loses the Page or
revokes Relais), so the credentials carry no ``expires_at`` and there is nothing to
``refresh`` (the base class's None).

What the engine can rely on:

- **Media by address.** Instagram downloads the files itself: each ``OutgoingMedia.url``
  (signed, agency/media/public.py) goes as ``image_url``/``video_url``. Without
  ``PUBLIC_URL`` there is no such address, and publishing is refused plainly.
- **Publishing** goes through containers (``POST /{ig-user}/media``): one photo →
  ``image_url`` + ``caption`` (+ ``alt_text`` from the media's description); 2–10 files →
  one child each (``is_carousel_item=true``; videos ``media_type=VIDEO``), then a
  ``CAROUSEL`` container with ``children``; one video, or ``options["kind"] == "reel"`` →
  ``media_type=REELS`` with ``video_url`` (single feed videos are reels since 2023).
  Each container is polled until FINISHED for at most ``container_wait_seconds`` per
  attempt (instagram_graph.py says what the other states raise). Only
  ``POST /{ig-user}/media_publish`` makes the post visible: its lost answer is
  ``OutcomeUnknown``; everything before it is merely retryable.
- **Progress.** ``{"container_id", "children"}`` is saved as soon as a container exists
  and again just before ``media_publish`` (which also proves the lease is still ours), so
  a retry polls or publishes the same container rather than making another. A container
  is published at most once, which makes that reuse safe; a saved container found
  PUBLISHED is looked up, not published again.
- **find** reads the saved container's status: PUBLISHED → the account's media with the
  same caption, not older than the schedule (``GET /{ig-user}/media``); FINISHED,
  IN_PROGRESS, ERROR or EXPIRED → ``None``, and ``authoritative_find`` becomes True on
  this instance (that container never went out, and ``publish`` reuses it). Otherwise
  (no container saved, PUBLISHED but not found, the container unreadable) → ``None``, not
  authoritative: a person decides. So ``authoritative_find`` is False on the class and
  set by ``find`` itself; the engine (``_reconcile``) reads it after calling ``find``.
  ``idempotent_publish`` is False: the Graph API takes no idempotency key.
- **Options** read: ``kind`` ("feed", the default, or "reel") and ``location_id`` (the
  id of a place's Facebook Page, sent on the container); an invalid value of either is a
  ``PermanentError``.
- **First comment.** ``POST /{media}/comments``; its failure never fails the post: it is
  kept in ``first_comment_error`` (a reason fit to show).
- **Limits.** ``rate_limited_until`` (UTC) is set from the usage headers, from a spent
  publishing quota (read before anything is created:
  ``GET /{ig-user}/content_publishing_limit``, 100 posts per rolling 24 h by default) and
  from Instagram's own refusal for it (code 9): the last two are retryable after the
  window, so the account's other posts wait too.
- **Metrics** (``GET /{media}/insights``): views, reach, likes, comments, shares, saves,
  interactions; where insights are refused for the media (too few viewers, a metric it
  lacks), likes and comments from the media's own counters.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

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
from .instagram_graph import InstagramGraph, as_int

log = logging.getLogger(__name__)

MAX_CAROUSEL = 10
FIND_CLOCK_SKEW = timedelta(minutes=5)
# Instagram Media Insights, current names (impressions, plays, video_views are gone).
METRICS = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions")
METRIC_NAMES = {"saved": "saves", "total_interactions": "interactions"}
NO_CONTAINER: dict = {"container_id": "", "children": []}
# The IG User node's counters (Instagram Platform reference, "IG User"), and our names.
USER_COUNTS = (("followers_count", "followers"), ("follows_count", "following"),
               ("media_count", "posts"))


@dataclass(frozen=True)
class _Plan:
    kind: str  # "IMAGE" | "REELS" | "CAROUSEL"
    media: tuple[OutgoingMedia, ...]
    location_id: str


class InstagramNetwork(Network):
    key = "instagram"
    idempotent_publish = False  # the Graph API takes no idempotency key
    authoritative_find = False  # True on the instance when find read the container
    # How long one attempt waits for Instagram to process its containers, and how often
    # it asks (the interval grows to the maximum). Well inside the publishing lease.
    container_wait_seconds: ClassVar[float] = 60.0
    container_poll_seconds: ClassVar[float] = 2.0
    container_poll_max_seconds: ClassVar[float] = 10.0

    def __init__(self) -> None:
        self.rate_limited_until: datetime | None = None
        self.first_comment_error: str = ""
        self.first_comment_id: str = ""

    # --- publishing -----------------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        plan = self._plan(outgoing)
        ig_user = self._ig_user(outgoing)
        with self._graph(outgoing) as graph:
            try:
                return self._publish(graph, ig_user, outgoing, plan)
            except RetryableError as error:
                if getattr(error, "new_container", False):
                    outgoing.save_progress(dict(NO_CONTAINER))  # Instagram: start afresh
                raise
            finally:
                self.rate_limited_until = graph.rate_limited_until

    def _publish(self, graph: InstagramGraph, ig_user: str, outgoing: Outgoing,
                 plan: _Plan) -> Published:
        deadline = time.monotonic() + self.container_wait_seconds
        saved = outgoing.progress or {}
        progress = {"container_id": str(saved.get("container_id") or ""),
                    "children": [str(c) for c in saved.get("children") or []]}
        if progress["container_id"]:
            status = graph.readable_status(progress["container_id"])
            if status == "PUBLISHED":
                return self._already_published(graph, ig_user, outgoing)
            if status in (None, "EXPIRED"):
                # Never published (a published container says so): prepare it again.
                # ERROR is left to the wait, which says what Instagram's status means.
                progress = dict(NO_CONTAINER)
        graph.check_publishing_quota(ig_user)
        if not progress["container_id"]:
            progress = self._create(graph, ig_user, outgoing, plan, progress, deadline)
        self._wait(graph, progress["container_id"], deadline)
        # Saved again right before the visible step: the checkpoint refuses (and we stop)
        # if this attempt lost its lease while waiting.
        outgoing.save_progress(progress)
        body = graph.call("POST", f"/{ig_user}/media_publish", creates=True,
                          data={"creation_id": progress["container_id"]})
        media_id = str(body.get("id") or "") if isinstance(body, dict) else ""
        if not media_id:
            raise OutcomeUnknown(_("Instagram gave an unreadable answer: the post may or may "
                                   "not be out. Relais checks before trying again."),
                                 detail="media_publish: no id in the answer")
        published = Published(media_id, self._permalink(graph, media_id, outgoing))
        if outgoing.first_comment.strip():
            self._first_comment(graph, outgoing, media_id)
        return published

    def _create(self, graph: InstagramGraph, ig_user: str, outgoing: Outgoing, plan: _Plan,
                progress: dict, deadline: float) -> dict:
        caption = {"caption": outgoing.text} if outgoing.text else {}
        place = {"location_id": plan.location_id} if plan.location_id else {}
        children: list[str] = []
        if plan.kind == "CAROUSEL":
            children = list(progress["children"])  # an earlier attempt's, still usable
            for item in plan.media[len(children):]:
                source = ({"media_type": "VIDEO", "video_url": item.url}
                          if item.kind == "video" else {"image_url": item.url})
                children.append(graph.create_container(
                    ig_user, {**source, "is_carousel_item": "true"}))
                outgoing.save_progress({"container_id": "", "children": list(children)})
            for child in children:
                self._wait(graph, child, deadline)
            params = {"media_type": "CAROUSEL", "children": ",".join(children)}
        elif plan.kind == "REELS":
            params = {"media_type": "REELS", "video_url": plan.media[0].url,
                      "share_to_feed": "true"}
        else:
            params = {"image_url": plan.media[0].url}
            if plan.media[0].description.strip():
                params["alt_text"] = plan.media[0].description.strip()
        container = graph.create_container(ig_user, {**params, **caption, **place})
        progress = {"container_id": container, "children": children}
        outgoing.save_progress(progress)
        return progress

    def _wait(self, graph: InstagramGraph, container: str, deadline: float) -> None:
        graph.wait_until_finished(container, deadline, poll=self.container_poll_seconds,
                                  poll_max=self.container_poll_max_seconds)

    def _already_published(self, graph: InstagramGraph, ig_user: str,
                           outgoing: Outgoing) -> Published:
        found = self._search(graph, ig_user, outgoing)
        if found is None:
            raise OutcomeUnknown(_("Instagram says this post is out, but Relais could not "
                                   "find it on the account. Check the account."),
                                 detail="container PUBLISHED, media not found")
        if outgoing.first_comment.strip():  # an earlier attempt may have added it
            self.first_comment_error = _(
                "The post is out, but Relais cannot tell whether its first comment was "
                "added: check the post on Instagram and add it by hand if it is missing.")
        return found

    def _permalink(self, graph: InstagramGraph, media_id: str, outgoing: Outgoing) -> str:
        try:
            body = graph.call("GET", f"/{media_id}", params={"fields": "permalink"})
            if isinstance(body, dict) and body.get("permalink"):
                return str(body["permalink"])
        except NetworkError as error:  # the post is out: only its address is missing
            log.warning("instagram: no permalink for %s: %s", media_id, error.detail)
        username = str((outgoing.settings or {}).get("username") or "")
        return f"https://www.instagram.com/{username + '/' if username else ''}"

    def _first_comment(self, graph: InstagramGraph, outgoing: Outgoing, media_id: str) -> None:
        try:
            body = graph.call("POST", f"/{media_id}/comments", creates=True,
                              data={"message": outgoing.first_comment})
            self.first_comment_id = str((body or {}).get("id") or "")
        except NetworkError as error:
            self.note_first_comment_failure(outgoing, error, "Instagram")

    # --- reconciliation and results -------------------------------------------------------

    def find(self, outgoing: Outgoing) -> Published | None:
        self.authoritative_find = False
        container = str((outgoing.progress or {}).get("container_id") or "")
        if not container:
            # Not authoritative: a worker whose lease lapsed may still be between making
            # its container and saving it, and would publish a container of its own. A
            # saved container is safe to reuse: it can only be published once.
            return None
        ig_user = self._ig_user(outgoing)
        with self._graph(outgoing) as graph:
            try:
                status = graph.readable_status(container)
                if status == "PUBLISHED":
                    return self._search(graph, ig_user, outgoing)
            except PermanentError as error:  # the app's secret refused: nothing proven
                log.warning("instagram: find refused: %s", error.detail)
                return None
            finally:
                self.rate_limited_until = graph.rate_limited_until
        if status in ("FINISHED", "IN_PROGRESS", "ERROR", "EXPIRED"):
            self.authoritative_find = True  # this container never went out
        return None

    def _search(self, graph: InstagramGraph, ig_user: str,
                outgoing: Outgoing) -> Published | None:
        try:
            body = graph.call("GET", f"/{ig_user}/media", params={
                "fields": "id,caption,permalink,timestamp", "limit": 50})
        except PermanentError:
            return None
        since = None
        if outgoing.scheduled_at is not None:
            moment = outgoing.scheduled_at
            since = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - FIND_CLOCK_SKEW
        items = body.get("data") if isinstance(body, dict) else None
        for item in items if isinstance(items, list) else []:  # newest first
            if not isinstance(item, dict) or not item.get("id") or \
                    str(item.get("caption") or "").strip() != outgoing.text.strip():
                continue
            try:
                posted = datetime.strptime(str(item.get("timestamp")), "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                posted = None
            if since is not None and (posted is None or posted < since):
                continue
            return Published(str(item["id"]),
                             str(item.get("permalink") or "https://www.instagram.com/"))
        return None

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        with self._graph(outgoing) as graph:
            try:
                body = graph.call("GET", f"/{external_id}/insights",
                                  params={"metric": ",".join(METRICS)})
            except (PermanentError, AuthExpiredError) as error:
                # Code 10 "Not enough viewers" (or no insights permission) is no reason to
                # expire the account; code 100, a metric this kind of media lacks. The
                # media's own counters are always there.
                if isinstance(error, AuthExpiredError) and \
                        getattr(error, "graph_code", None) != 10:
                    raise
                body = graph.call("GET", f"/{external_id}",
                                  params={"fields": "like_count,comments_count"})
                body = body if isinstance(body, dict) else {}
                return {"likes": as_int(body.get("like_count")) or 0,
                        "comments": as_int(body.get("comments_count")) or 0}
            finally:
                self.rate_limited_until = graph.rate_limited_until
        metrics: dict[str, int] = {}
        for item in (body.get("data") if isinstance(body, dict) else None) or []:
            values = item.get("values") if isinstance(item, dict) else None
            if item.get("name") in METRICS and isinstance(values, list) and values:
                value = as_int((values[0] or {}).get("value"))
                if value is not None:
                    metrics[METRIC_NAMES.get(item["name"], item["name"])] = value
        return metrics

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        ig_user = self._ig_user(outgoing)
        with self._graph(outgoing) as graph:
            try:
                body = graph.call("GET", f"/{ig_user}",
                                  params={"fields": ",".join(n for n, _ in USER_COUNTS)})
            finally:
                self.rate_limited_until = graph.rate_limited_until
        return counts(body, USER_COUNTS)

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _plan(outgoing: Outgoing) -> _Plan:
        """What kind of post this is, with the options checked (before any call)."""
        options = outgoing.options or {}
        kind = options.get("kind") or "feed"
        if kind not in ("feed", "reel"):
            raise PermanentError(_("“%(kind)s” is not an Instagram post type Relais knows: "
                                   "choose a feed post or a reel.", kind=str(kind)[:40]),
                                 detail=f"options.kind={kind!r}")
        location = options.get("location_id")
        location = "" if location is None else str(location).strip()
        if location and not location.isdigit():
            raise PermanentError(_("The Instagram location must be the id of a place's "
                                   "Facebook Page (digits only). Edit the post."),
                                 detail=f"options.location_id={location[:40]!r}")
        media = tuple(outgoing.media)
        if not media:
            raise PermanentError(_("Instagram needs a photo or a video: add one to the post."),
                                 detail="no media")
        if len(media) > MAX_CAROUSEL:
            raise PermanentError(_("Instagram takes at most %(n)d photos or videos in one "
                                   "post.", n=MAX_CAROUSEL), detail=f"{len(media)} media")
        if kind == "reel" and (len(media) != 1 or media[0].kind != "video"):
            raise PermanentError(_("A reel is one video, alone: keep a single video in the "
                                   "post, or publish it as a feed post."), detail="reel media")
        if any(not m.url for m in media):
            raise PermanentError(_(
                "Instagram fetches photos and videos from Relais itself, which needs "
                "PUBLIC_URL (Relais's public address) to be set. Ask the administrator to "
                "set PUBLIC_URL, then retry the post."), detail="no public media url")
        if len(media) > 1:
            return _Plan("CAROUSEL", media, location)
        return _Plan("REELS" if media[0].kind == "video" else "IMAGE", media, location)

    @staticmethod
    def _ig_user(outgoing: Outgoing) -> str:
        ig_user = str((outgoing.settings or {}).get("ig_user_id") or "")
        if not ig_user:
            raise AuthExpiredError(_("This Instagram account is missing its id. Reconnect "
                                     "the account to publish again."), detail="no ig_user_id")
        return ig_user

    @staticmethod
    def _graph(outgoing: Outgoing) -> InstagramGraph:
        token = str((outgoing.credentials or {}).get("page_access_token") or "")
        if not token:
            raise AuthExpiredError(_("This Instagram account is missing its access token. "
                                     "Reconnect the account to publish again."),
                                   detail="no page_access_token")
        return InstagramGraph(token)


ADAPTER = InstagramNetwork
