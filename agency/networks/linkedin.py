"""LinkedIn: posts published as an organisation (a LinkedIn Page) or as a member, through the
Posts API (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api).

Each account is one author: ``settings["author_urn"]`` (``urn:li:organization:…`` or
``urn:li:person:…``) and ``settings["kind"]`` ("organization" | "member"), chosen in the
OAuth connect flow (linkedin_oauth.py); sealed, the member's access token and, for apps
approved for it, a refresh token (linkedin_tokens.py). Posts read no per-post options.

What the engine can rely on:

- **Publishing.** ``POST /rest/posts`` with the author, the text as ``commentary`` in the
  little text format (linkedin_text.py), ``visibility: PUBLIC``, the main feed
  distribution, ``lifecycleState: PUBLISHED``. Images go through the Images API first
  (``POST /rest/images?action=initializeUpload`` owned by the author, then the bytes PUT
  to the ``uploadUrl`` it gives); one image is ``content.media``, 2 to 20 are
  ``content.multiImage`` (MultiImage API). Each uploaded image's URN is saved in the
  publication's progress at once, so a retry does not upload it again. Videos are not
  supported yet (``PermanentError``). The post's URN comes back in the ``x-restli-id``
  header of the ``201 Created``; its link is ``https://www.linkedin.com/feed/update/{urn}``.
- **No idempotency.** LinkedIn takes no idempotency key: ``idempotent_publish`` is False.
  Only the ``POST /rest/posts`` can end in ``OutcomeUnknown`` (a lost answer, a 504).
- **find** lists the author's latest posts (``GET /rest/posts?q=author``, a FINDER) and
  matches the exact text, from the scheduled time less five minutes. Not authoritative.
  Reading a member's posts needs ``r_member_social``, which LinkedIn grants only to
  select apps: refused, ``find`` answers None (it cannot tell).
- **First comment.** ``POST /rest/socialActions/{post}/comments`` as the author; its
  failure never fails the publication: it is kept in ``first_comment_error``.
- **Errors and rate limits**: see linkedin_api.py (``rate_limited_until`` after a 429).
- **Metrics.** An organisation's post: ``organizationalEntityShareStatistics`` (lifetime
  impressions, unique impressions as reach, clicks, likes, comments, shares, and the
  engagement rate in basis points). A member's post: ``socialActions/{post}`` (likes,
  comments), when LinkedIn lets the app read them ({} otherwise). Followers: an
  organisation's through ``networkSizes`` (edge ``COMPANY_FOLLOWED_BY_MEMBER``, its
  ``firstDegreeSize``); a member's connections need a partner program
  (``r_1st_connections_size``), so a member reports none.
- **refresh** renews the member's token with the refresh token (linkedin_tokens.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app
from flask_babel import gettext as _

from . import linkedin_tokens
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
from .linkedin_api import LinkedInAPI, encode, query, restli_list
from .linkedin_text import commentary, plain

log = logging.getLogger(__name__)

MAX_IMAGES = 20  # MultiImage API: 2 to 20 images
ALT_TEXT_MAX = 4086  # Posts API media altText
FIND_CLOCK_SKEW = timedelta(minutes=5)
FIND_COUNT = 50
POST_URL = "https://www.linkedin.com/feed/update/{urn}"


def post_url(urn: str) -> str:
    return POST_URL.format(urn=urn)


def kind_of(author_urn: str) -> str:
    return "member" if author_urn.startswith("urn:li:person:") else "organization"


class LinkedInNetwork(Network):
    key = "linkedin"
    idempotent_publish = False  # the Posts API takes no idempotency key
    authoritative_find = False  # the author's feed only ever proves presence
    reads_share_limits = False  # LinkedIn limits each endpoint apart, per day

    def __init__(self) -> None:
        # When the account may call LinkedIn again (UTC), after a 429.
        self.rate_limited_until: datetime | None = None
        # Why the first comment could not be posted (the publication itself succeeded).
        self.first_comment_error: str = ""
        self.first_comment_id: str = ""

    # --- publishing -----------------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        author = self._author(outgoing)
        media = outgoing.media
        if any(m.kind != "image" for m in media):
            raise PermanentError(_("Relais cannot publish videos to LinkedIn yet: publish "
                                   "this one by hand, or remove the video."),
                                 detail="video on linkedin")
        if len(media) > MAX_IMAGES:
            raise PermanentError(_("LinkedIn takes at most %(n)d images in a post.",
                                   n=MAX_IMAGES), detail=f"{len(media)} images")
        with self._api(outgoing) as api:
            try:
                images, reused = self._images(api, outgoing, author)
                post_urn = self._create(api, outgoing, author, images, reused)
                if outgoing.first_comment.strip():
                    self._first_comment(api, outgoing, author, post_urn)
                return Published(external_id=post_urn, url=post_url(post_urn))
            finally:
                self.rate_limited_until = api.rate_limited_until

    def _images(self, api: LinkedInAPI, outgoing: Outgoing,
                author: str) -> tuple[list[str], bool]:
        """The image URNs of the post, in order: those a previous attempt uploaded (the
        progress says), then the others, each saved as soon as LinkedIn has its bytes."""
        saved = [i for i in (outgoing.progress or {}).get("images") or []
                 if isinstance(i, dict) and i.get("urn")]
        urns: list[str] = []
        reused = False
        for index, item in enumerate(outgoing.media):
            if index < len(saved) and saved[index].get("sha256") == item.sha256:
                urns.append(str(saved[index]["urn"]))
                reused = True
                continue
            urns.append(self._upload(api, author, item))
            uploaded = [{"sha256": m.sha256, "urn": u}
                        for m, u in zip(outgoing.media, urns, strict=False)]
            outgoing.save_progress({**(outgoing.progress or {}), "images": uploaded})
        return urns, reused

    def _upload(self, api: LinkedInAPI, author: str, item: OutgoingMedia) -> str:
        answer = api.json(api.call("POST", "/rest/images?action=initializeUpload", json={
            "initializeUploadRequest": {"owner": author}}))
        value = answer.get("value") if isinstance(answer, dict) else None
        upload_url = str((value or {}).get("uploadUrl") or "")
        image = str((value or {}).get("image") or "")
        if not upload_url or not image.startswith("urn:li:image:"):
            raise RetryableError(_("LinkedIn gave an unreadable answer. Relais will try "
                                   "again."), detail=f"initializeUpload: {answer!r}"[:300])
        if not self._upload_allowed(upload_url):
            # The token goes with the bytes: never to a host that is not LinkedIn's.
            raise RetryableError(_("LinkedIn gave an unexpected upload address. Relais will "
                                   "try again."),
                                 detail=f"upload host {urlsplit(upload_url).netloc}")
        api.call("PUT", upload_url, restli=False, content=item.data,
                 extra_headers={"Content-Type": "application/octet-stream"})
        return image

    @staticmethod
    def _upload_allowed(url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" and (host == "linkedin.com" or host.endswith(".linkedin.com")):
            return True
        api = urlsplit(current_app.config["LINKEDIN_API_URL"])
        return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)

    def _create(self, api: LinkedInAPI, outgoing: Outgoing, author: str, images: list[str],
                reused: bool) -> str:
        body: dict[str, Any] = {
            "author": author, "commentary": commentary(outgoing.text),
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
        described = [self._image(urn, m) for urn, m in zip(images, outgoing.media,
                                                                   strict=True)]
        if len(described) == 1:
            body["content"] = {"media": described[0]}
        elif described:
            body["content"] = {"multiImage": {"images": described}}
        try:
            response = api.call("POST", "/rest/posts", creates=True, json=body)
        except PermanentError as error:
            if reused and any(w in str(getattr(error, "network_message", "")).lower()
                              for w in ("image", "media")):
                # Images uploaded by an earlier attempt that LinkedIn no longer takes:
                # forget them, so that the next attempt uploads them again.
                outgoing.save_progress({**(outgoing.progress or {}), "images": []})
                raise RetryableError(_("LinkedIn no longer had this post's images. Relais "
                                       "will upload them again."), detail=error.detail) from None
            raise
        urn = unquote(response.headers.get("x-restli-id", "")).strip()
        if not urn.startswith("urn:li:"):
            raise OutcomeUnknown(_("LinkedIn gave an unreadable answer: the post may or may "
                                   "not be out. Relais checks before trying again."),
                                 detail=f"no x-restli-id (HTTP {response.status_code})")
        return urn

    @staticmethod
    def _image(urn: str, media: OutgoingMedia) -> dict[str, str]:
        described = {"id": urn}
        if media.description.strip():
            described["altText"] = media.description.strip()[:ALT_TEXT_MAX]
        return described

    def _first_comment(self, api: LinkedInAPI, outgoing: Outgoing, author: str,
                       post_urn: str) -> None:
        try:
            response = api.call(
                "POST", f"/rest/socialActions/{encode(post_urn)}/comments", creates=True,
                json={"actor": author, "object": post_urn,
                      "message": {"text": outgoing.first_comment}})
            try:
                body = response.json() if response.content else {}
            except ValueError:
                body = {}  # the comment is there: its id is a nicety
            body = body if isinstance(body, dict) else {}
            self.first_comment_id = unquote(response.headers.get("x-restli-id", "")) or str(
                body.get("$URN") or body.get("id") or "")
        except NetworkError as error:
            self.note_first_comment_failure(outgoing, error, "LinkedIn")

    # --- reconciliation, results, tokens --------------------------------------------------

    def find(self, outgoing: Outgoing) -> Published | None:
        if outgoing.scheduled_at is None:
            return None  # nothing to bound the search by
        author = self._author(outgoing)
        moment = outgoing.scheduled_at
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        since_ms = (moment - FIND_CLOCK_SKEW).timestamp() * 1000
        path = "/rest/posts?" + query({"author": author, "q": "author",
                                       "count": str(FIND_COUNT), "sortBy": "LAST_MODIFIED"})
        with self._api(outgoing) as api:
            try:
                body = api.json(api.call("GET", path, finder=True))
            except AuthExpiredError as error:
                if kind_of(author) == "member" and getattr(error, "status", None) == 403:
                    log.info("linkedin: the app may not read member %s's posts", author)
                    return None
                raise
            except PermanentError as error:
                raise RetryableError(_("LinkedIn could not list the account's posts now. "
                                       "Relais will try again."), detail=error.detail) from None
            finally:
                self.rate_limited_until = api.rate_limited_until
        wanted = outgoing.text.strip()
        for post in (body or {}).get("elements") or []:
            if not isinstance(post, dict) or not str(post.get("id") or "").startswith("urn:li:"):
                continue
            created = post.get("publishedAt") or post.get("createdAt") or 0
            if not isinstance(created, int | float) or created < since_ms:
                continue
            if post.get("lifecycleState", "PUBLISHED") != "PUBLISHED":
                continue
            if plain(str(post.get("commentary") or "")).strip() == wanted:
                return Published(external_id=str(post["id"]), url=post_url(str(post["id"])))
        return None

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        author = self._author(outgoing)
        with self._api(outgoing) as api:
            try:
                if kind_of(author) == "organization":
                    return self._share_statistics(api, author, external_id)
                return self._social_actions(api, external_id)
            except AuthExpiredError as error:
                if kind_of(author) == "member" and getattr(error, "status", None) == 403:
                    return {}  # the app may not read a member's counters (r_member_social)
                raise
            finally:
                self.rate_limited_until = api.rate_limited_until

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        author = self._author(outgoing)
        if kind_of(author) != "organization":
            return {}  # a member's network size needs a partner program (see above)
        with self._api(outgoing) as api:
            try:
                body = api.json(api.call("GET", f"/rest/networkSizes/{encode(author)}?"
                                         "edgeType=COMPANY_FOLLOWED_BY_MEMBER"))
            finally:
                self.rate_limited_until = api.rate_limited_until
        return counts(body, (("firstDegreeSize", "followers"),))

    @staticmethod
    def _share_statistics(api: LinkedInAPI, organization: str, urn: str) -> dict[str, int]:
        which = "ugcPosts" if urn.startswith("urn:li:ugcPost:") else "shares"
        path = "/rest/organizationalEntityShareStatistics?" + query({
            "q": "organizationalEntity", "organizationalEntity": organization,
            which: restli_list([urn])})
        body = api.json(api.call("GET", path, finder=True))
        elements = (body or {}).get("elements") or [{}]
        stats = (elements[0] if isinstance(elements[0], dict) else {}).get(
            "totalShareStatistics") or {}

        def count(name: str) -> int:
            value = stats.get(name)
            return int(value) if isinstance(value, int | float) else 0

        engagement = stats.get("engagement")
        return {"impressions": count("impressionCount"),
                "reach": count("uniqueImpressionsCount"), "clicks": count("clickCount"),
                "likes": count("likeCount"), "comments": count("commentCount"),
                "shares": count("shareCount"),
                "engagement_rate_bp": round(float(engagement) * 10_000)
                if isinstance(engagement, int | float) else 0}

    @staticmethod
    def _social_actions(api: LinkedInAPI, urn: str) -> dict[str, int]:
        body = api.json(api.call("GET", f"/rest/socialActions/{encode(urn)}")) or {}
        likes = body.get("likesSummary") or {}
        comments = body.get("commentsSummary") or {}
        return {"likes": int(likes.get("aggregatedTotalLikes") or likes.get("totalLikes") or 0),
                "comments": int(comments.get("aggregatedTotalComments")
                                or comments.get("totalFirstLevelComments") or 0)}

    def refresh(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        return linkedin_tokens.refresh(credentials)

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _author(outgoing: Outgoing) -> str:
        author = str((outgoing.settings or {}).get("author_urn") or "")
        if not author.startswith(("urn:li:organization:", "urn:li:person:")):
            raise AuthExpiredError(_("This LinkedIn account is missing its id. Reconnect the "
                                     "account to publish again."), detail="no author_urn")
        return author

    def _api(self, outgoing: Outgoing) -> LinkedInAPI:
        token = str((outgoing.credentials or {}).get("access_token") or "")
        if not token:
            raise AuthExpiredError(_("This LinkedIn account is missing its access token. "
                                     "Reconnect the account to publish again."),
                                   detail="no access_token")
        return LinkedInAPI(token, kind=kind_of(self._author(outgoing)))


ADAPTER = LinkedInNetwork
