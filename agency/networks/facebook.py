"""Facebook Pages: posts published on a Page through the Graph API.

Each account is one Page: ``settings["page_id"]`` and, sealed, the Page access token
(``credentials["page_access_token"]``), both chosen in the OAuth connect flow
(agency/networks/facebook_oauth.py, ``FacebookProvider``), which also records whether the
Page is a place (``settings["has_location"]``) and its one-line ``address``.

What the engine can rely on:

- **Publishing** (Graph API "Page Feed", "Page Photos", "Page Videos"). Text only →
  ``POST /{page}/feed`` with ``message``, and ``link`` = the first http(s) URL of the text
  when there is one, so Facebook shows its preview. One photo → ``POST /{page}/photos``
  (multipart ``source`` + ``caption``). Several photos → each uploaded unpublished
  (``published=false``), then ``POST /{page}/feed`` with
  ``attached_media[i]={"media_fbid": ...}``. One video → the chunked upload of
  agency/networks/facebook_video.py (the video id is the post id). A video with other
  media is refused (a Page post takes several photos or one video).
- **Location tag.** ``outgoing.options["place_id"]`` (the id of a place's Page) is sent as
  ``place`` on feed posts and photos, where the references document it; without it, no
  place (the composer offers a Page that is a place, ``has_location``, as the default:
  what goes out is what was approved). Videos take no ``place`` (none is documented).
- **Only the call that makes the post visible can end in ``OutcomeUnknown``**: a lost
  answer, an unreadable one, or a 5xx / code 1 or 2 there (the Graph API has no
  idempotency key: a blind retry could publish twice). Unpublished uploads, video chunks
  and reads are merely retryable. ``idempotent_publish`` is False.
- **find** reads the Page's feed since the scheduled time (less five minutes of clock
  skew), page after page (at most ``FIND_MAX_PAGES`` of 100), and matches the exact
  message; a video is looked up by the id its upload saved. Finding nothing proves
  nothing (the feed is eventually consistent): ``authoritative_find = False``.
- **First comment.** ``POST /{post}/comments``; its failure never fails the publication:
  it is kept in ``first_comment_error`` (a reason fit to show).
- **Errors, rate limits, appsecret_proof**: see agency/networks/facebook_graph.py.
  ``rate_limited_until`` (UTC datetime, else ``None``) says when the Page may call again.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from twitter_text import extract_urls_with_indices

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

# The Graph client lives in facebook_graph.py; it is imported from here by the other
# Facebook-family adapters (Instagram), so this path keeps working.
from .facebook_graph import (  # noqa: F401 (re-exported)
    AppSecretRefused,
    FacebookGraph,
    appsecret_proof,
    graph_error,
    regain_seconds,
)
from .facebook_video import VideoUpload, saved_upload, video_status, video_url

log = logging.getLogger(__name__)

FIND_CLOCK_SKEW = timedelta(minutes=5)
FIND_PAGE_SIZE = 100  # the feed's documented upper bound for ``limit``
FIND_MAX_PAGES = 10
# The Page node's audience (Graph API "Page" reference): the people following it, and
# those who like it (``fan_count``, Facebook's older measure).
PAGE_COUNTS = (("followers_count", "followers"), ("fan_count", "fans"))


def _since(scheduled_at: datetime) -> int:
    moment = scheduled_at if scheduled_at.tzinfo else scheduled_at.replace(tzinfo=UTC)
    return int((moment - FIND_CLOCK_SKEW).timestamp())


def first_link(text: str) -> str:
    """The first http(s) URL of the text ("" if none). Bare domains are left alone: a
    name like "pain.fr" may be a brand rather than an address to preview."""
    for found in extract_urls_with_indices(text or ""):
        url = str(found.get("url") or "")
        if url.lower().startswith(("http://", "https://")):
            return url
    return ""


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
        kinds = {m.kind for m in outgoing.media}
        if "video" in kinds and len(outgoing.media) > 1:
            raise PermanentError(_("A Facebook post takes several photos or one video, not "
                                   "both: keep one video, or only photos."),
                                 detail="video with other media")
        place = self._place(outgoing, page_id)
        with self._graph(outgoing) as graph:
            try:
                published = self._post(graph, page_id, outgoing, place)
                if outgoing.first_comment.strip():
                    self._first_comment(graph, outgoing, published.external_id)
                return published
            finally:
                self.rate_limited_until = graph.rate_limited_until

    def _post(self, graph: FacebookGraph, page_id: str, outgoing: Outgoing,
              place: str) -> Published:
        media = outgoing.media
        located = {"place": place} if place else {}
        if media and media[0].kind == "video":
            return VideoUpload(graph, page_id, outgoing, media[0]).publish()
        if len(media) == 1:
            body = graph.call("POST", f"/{page_id}/photos", creates=True,
                              data={"caption": outgoing.text, "published": "true", **located},
                              files={"source": self._file(media[0])})
            return self._published(self._id(body, "post_id", "id"))
        data: dict[str, Any] = {"message": outgoing.text, **located}
        if not media and (link := first_link(outgoing.text)):
            data["link"] = link
        for index, item in enumerate(media):
            uploaded = graph.call("POST", f"/{page_id}/photos",
                                  data={"published": "false"},
                                  files={"source": self._file(item)})
            photo_id = self._id(uploaded, "id", creates=False)
            data[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        body = graph.call("POST", f"/{page_id}/feed", creates=True, data=data)
        return self._published(self._id(body, "id"))

    def _first_comment(self, graph: FacebookGraph, outgoing: Outgoing, post_id: str) -> None:
        try:
            body = graph.call("POST", f"/{post_id}/comments", creates=True,
                              data={"message": outgoing.first_comment})
            self.first_comment_id = self._id(body, "id")
        except NetworkError as error:
            self.note_first_comment_failure(outgoing, error, "Facebook")

    # --- reconciliation and results -------------------------------------------------------

    def find(self, outgoing: Outgoing) -> Published | None:
        page_id = self._page_id(outgoing)
        is_video = any(m.kind == "video" for m in outgoing.media)
        if is_video and saved_upload(outgoing) is None:
            return None  # the upload never started: no video can be out
        if not is_video and outgoing.scheduled_at is None:
            return None  # nothing to bound the search by
        with self._graph(outgoing) as graph:
            try:
                if is_video:
                    return self._find_video(graph, page_id, saved_upload(outgoing))
                return self._find_in_feed(graph, page_id, outgoing)
            except PermanentError as error:
                # Facebook refuses the question itself: not found, a person will look.
                log.warning("facebook: find for publication %s refused: %s",
                            outgoing.publication_id, error.detail)
                return None
            finally:
                self.rate_limited_until = graph.rate_limited_until

    def _find_in_feed(self, graph: FacebookGraph, page_id: str,
                      outgoing: Outgoing) -> Published | None:
        wanted = outgoing.text.strip()
        for posts in graph.pages(f"/{page_id}/feed", max_pages=FIND_MAX_PAGES, params={
                "since": _since(outgoing.scheduled_at), "limit": FIND_PAGE_SIZE,
                "fields": "id,message,created_time,permalink_url"}):
            for post in posts:
                if post.get("id") and str(post.get("message") or "").strip() == wanted:
                    post_id = str(post["id"])
                    return Published(external_id=post_id, url=str(
                        post.get("permalink_url") or f"https://www.facebook.com/{post_id}"))
        return None

    @staticmethod
    def _find_video(graph: FacebookGraph, page_id: str, state: dict) -> Published | None:
        video = video_status(graph, state["video_id"])
        if video is None:
            return None
        link = str(video.get("permalink_url") or "")
        if link.startswith("/"):
            link = "https://www.facebook.com" + link
        return Published(external_id=state["video_id"],
                         url=link or video_url(page_id, state["video_id"]))

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        # A video node has no ``shares`` field (a feed post does).
        is_video = any(m.kind == "video" for m in outgoing.media)
        fields = ("reactions.summary(total_count).limit(0),"
                  "comments.summary(total_count).limit(0)" + ("" if is_video else ",shares"))
        with self._graph(outgoing) as graph:
            try:
                body = graph.call("GET", f"/{external_id}", params={"fields": fields})
            finally:
                self.rate_limited_until = graph.rate_limited_until
        if not isinstance(body, dict):
            return {}

        def total(edge: str) -> int:
            summary = (body.get(edge) or {}).get("summary") or {}
            return int(summary.get("total_count") or 0)

        metrics = {"reactions": total("reactions"), "comments": total("comments")}
        if not is_video:
            metrics["shares"] = int((body.get("shares") or {}).get("count") or 0)
        return metrics

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        page_id = self._page_id(outgoing)
        with self._graph(outgoing) as graph:
            try:
                body = graph.call("GET", f"/{page_id}",
                                  params={"fields": ",".join(n for n, _ in PAGE_COUNTS)})
            finally:
                self.rate_limited_until = graph.rate_limited_until
        return counts(body, PAGE_COUNTS)

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _page_id(outgoing: Outgoing) -> str:
        page_id = str((outgoing.settings or {}).get("page_id") or "")
        if not page_id:
            raise AuthExpiredError(_("This Facebook Page is missing its id. Reconnect the "
                                     "Page to publish again."), detail="no page_id")
        return page_id

    @staticmethod
    def _place(outgoing: Outgoing, page_id: str) -> str:
        """The place the post was approved with, or none. Never a default chosen here:
        what goes out is what was approved (the composer offers the Page's own place as
        the default, and a person may clear it)."""
        chosen = (outgoing.options or {}).get("place_id")
        if chosen not in (None, ""):
            place = str(chosen).strip()
            if not place.isdigit():
                raise PermanentError(_("The location tag of this post is not a Facebook "
                                       "place. Edit the post and choose the place again."),
                                     detail="place_id is not a Facebook id")
            return place
        return ""

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
    def _published(post_id: str) -> Published:
        return Published(external_id=post_id, url=f"https://www.facebook.com/{post_id}")

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
