"""The Bluesky adapter: posts (with facets, images or a video, and a first comment as a
reply) through the account's PDS, exactly once.

Exactly once: every post is created with a record key derived from the publication
(``bluesky_text.record_key``), so a retry asks for the same key and cannot make a second
post. Bluesky answers a create on an existing key with a bare 500 "InternalServerError"
(bluesky-social/atproto#3718; an explicit error is being added upstream), so after any
5xx or conflict on ``createRecord`` the adapter reads the record back (``getRecord``)
and, if it is there with this publication's text, returns it as the success it was.
``find`` reads the same key: absent means never published (``authoritative_find``).

Sessions, token renewal and rate limits: ``bluesky_session``. After a call, the engine
stores ``credentials_after_use()`` (renewed tokens) and pauses the account until
``rate_limited_until`` (epoch seconds, set when Bluesky's budget is spent).
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _

from .base import (
    AuthExpiredError,
    Network,
    NetworkError,
    Outgoing,
    OutgoingMedia,
    PermanentError,
    Published,
    RetryableError,
    counts,
)
from .bluesky_session import Session, Xrpc, XrpcError, classify
from .bluesky_text import facets, record_key

log = logging.getLogger(__name__)

POST = "app.bsky.feed.post"
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images: maxSize 1000000 per image
MAX_VIDEO_BYTES = 100_000_000  # app.bsky.embed.video
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
VIDEO_TYPES = frozenset({"video/mp4"})
# app.bsky.actor.defs#profileViewDetailed's counters, and our names for them.
PROFILE_COUNTS = (("followersCount", "followers"), ("followsCount", "following"),
                  ("postsCount", "posts"))


def post_url(handle_or_did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle_or_did}/post/{rkey}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _aspect_ratio(data: bytes) -> dict[str, int] | None:
    # Optional in the record; it lets the apps lay the image out before loading it.
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # any unreadable image simply goes without it
        return None
    return {"width": width, "height": height} if width and height else None


def check_media(media: tuple[OutgoingMedia, ...]) -> None:
    """Refuse, before anything is uploaded, what Bluesky would refuse."""
    images = [m for m in media if m.kind == "image"]
    videos = [m for m in media if m.kind == "video"]
    if images and videos:
        raise PermanentError(_("Bluesky cannot show images and a video in the same post."))
    if len(videos) > 1:
        raise PermanentError(_("Bluesky accepts one video per post."))
    if len(images) > MAX_IMAGES:
        raise PermanentError(_("Bluesky accepts at most %(count)s images per post.",
                               count=MAX_IMAGES))
    for item in images:
        if item.mime not in IMAGE_TYPES:
            raise PermanentError(_("Bluesky does not accept images of type %(type)s.",
                                   type=item.mime))
        if len(item.data) > MAX_IMAGE_BYTES:
            raise PermanentError(_(
                "The image %(name)s weighs %(size)s bytes; Bluesky accepts images up to "
                "1,000,000 bytes (about 1 MB). Use a smaller image.",
                name=item.filename, size=f"{len(item.data):,}"))
    for item in videos:
        if item.mime not in VIDEO_TYPES:
            raise PermanentError(_("Bluesky only accepts MP4 videos."))
        if len(item.data) > MAX_VIDEO_BYTES:
            raise PermanentError(_("The video %(name)s is larger than Bluesky's 100 MB limit.",
                                   name=item.filename))


class BlueskyNetwork(Network):
    key = "bluesky"
    idempotent_publish = True  # the record key is derived from the publication
    authoritative_find = True  # getRecord on that key: absent means never created

    def __init__(self) -> None:
        self._session: Session | None = None
        self._xrpc: Xrpc | None = None
        # The first comment's failure never fails the post; it is kept here for the record.
        self.first_comment_error: str | None = None

    # -- the engine's interface -------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        check_media(outgoing.media)
        session = self._open(outgoing)
        rkey = record_key(outgoing.publication_id)
        try:
            record = self._post_record(session, outgoing.text, outgoing)
            embed = self._embed(session, outgoing.media)
            if embed:
                record["embed"] = embed
            uri, cid = self._create(session, rkey, record)
            published = Published(external_id=uri, url=post_url(self._handle(outgoing), rkey))
            if outgoing.first_comment.strip():
                self._first_comment(session, outgoing, uri, cid)
            return published
        except XrpcError as error:
            raise classify(error) from error

    def find(self, outgoing: Outgoing) -> Published | None:
        did = self._did(outgoing)
        if not did:
            raise AuthExpiredError(_("This Bluesky account is not connected."))
        rkey = record_key(outgoing.publication_id)
        self._xrpc = Xrpc()
        # Without a token: reading a public record needs none, so reconciling works even
        # while the account's connection is broken.
        try:
            data = self._xrpc.query("com.atproto.repo.getRecord",
                                    {"repo": did, "collection": POST, "rkey": rkey})
        except XrpcError as error:
            if error.error == "RecordNotFound":
                return None
            raise RetryableError(_("Bluesky could not say whether the post exists "
                                   "(%(message)s). Relais will ask again.",
                                   message=error.message or error.status),
                                 detail=str(error)) from error
        if (data.get("value") or {}).get("text") != outgoing.text:
            return None  # another record under this key (see bluesky_text): not ours
        return Published(external_id=str(data["uri"]), url=post_url(self._handle(outgoing), rkey))

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        session = self._open(outgoing)
        try:
            data = session.query("app.bsky.feed.getPosts", {"uris": [external_id]})
        except XrpcError as error:
            raise classify(error) from error
        for post in data.get("posts") or []:
            if post.get("uri") == external_id:
                return {"likes": int(post.get("likeCount") or 0),
                        "reposts": int(post.get("repostCount") or 0),
                        "replies": int(post.get("replyCount") or 0),
                        "quotes": int(post.get("quoteCount") or 0)}
        return {}

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        session = self._open(outgoing)
        try:
            profile = session.query("app.bsky.actor.getProfile", {"actor": session.did})
        except XrpcError as error:
            raise classify(error) from error
        return counts(profile, PROFILE_COUNTS)

    def credentials_after_use(self) -> dict[str, Any] | None:
        if self._session is not None and self._session.renewed:
            return dict(self._session.credentials)
        return None

    @property
    def rate_limited_until(self) -> float | None:
        """When Bluesky's budget for this account resets (epoch seconds), if the last calls
        spent it; the engine pauses the account until then."""
        return self._xrpc.rate_limited_until if self._xrpc else None

    # -- steps --------------------------------------------------------------------------------

    def _open(self, outgoing: Outgoing) -> Session:
        credentials = dict(outgoing.credentials or {})
        credentials.setdefault("did", (outgoing.settings or {}).get("did", ""))
        if not credentials.get("did"):
            raise AuthExpiredError(_("This Bluesky account is not connected. Connect it with "
                                     "an app password."))
        self._xrpc = Xrpc()
        self._session = Session(self._xrpc, credentials)
        return self._session

    @staticmethod
    def _did(outgoing: Outgoing) -> str:
        return str((outgoing.settings or {}).get("did") or
                   (outgoing.credentials or {}).get("did") or "")

    def _handle(self, outgoing: Outgoing) -> str:
        if self._session is not None and self._session.credentials.get("handle"):
            return str(self._session.credentials["handle"])
        return str((outgoing.settings or {}).get("handle") or self._did(outgoing))

    def _post_record(self, session: Session, text: str, outgoing: Outgoing) -> dict[str, Any]:
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": _now()}
        langs = (outgoing.settings or {}).get("langs")
        if langs:
            record["langs"] = list(langs)[:3]
        found = facets(text, lambda handle: self._resolve(session, handle))
        if found:
            record["facets"] = found
        return record

    def _resolve(self, session: Session, handle: str) -> str | None:
        try:
            data = session.xrpc.query("com.atproto.identity.resolveHandle", {"handle": handle})
        except XrpcError as error:
            if error.status == 400:  # "Unable to resolve handle": the mention stays text
                return None
            raise
        return data.get("did") or None

    def _embed(self, session: Session, media: tuple[OutgoingMedia, ...]) -> dict | None:
        if not media:
            return None
        blobs = [(item, self._upload(session, item)) for item in media]
        if media[0].kind == "video":
            item, blob = blobs[0]
            embed = {"$type": "app.bsky.embed.video", "video": blob}
            if item.description:
                embed["alt"] = item.description
            return embed
        images = []
        for item, blob in blobs:
            image: dict[str, Any] = {"alt": item.description or "", "image": blob}
            if ratio := _aspect_ratio(item.data):
                image["aspectRatio"] = ratio
            images.append(image)
        return {"$type": "app.bsky.embed.images", "images": images}

    @staticmethod
    def _upload(session: Session, item: OutgoingMedia) -> dict[str, Any]:
        # A repeated upload is harmless (blobs are content-addressed), so a timeout here is
        # retryable rather than an unknown outcome.
        data = session.procedure("com.atproto.repo.uploadBlob", content=item.data,
                                 content_type=item.mime)
        return data["blob"]

    def _create(self, session: Session, rkey: str, record: dict[str, Any]) -> tuple[str, str]:
        try:
            data = session.procedure(
                "com.atproto.repo.createRecord", unknown_outcome=True,
                body={"repo": session.did, "collection": POST, "rkey": rkey, "record": record})
        except XrpcError as error:
            if not _may_already_exist(error):
                raise
            existing = self._existing(session, rkey, record["text"])
            if existing is None:
                raise
            log.info("bluesky: record %s already existed; taken as published", rkey)
            return existing
        return str(data["uri"]), str(data["cid"])

    def _existing(self, session: Session, rkey: str, text: str) -> tuple[str, str] | None:
        try:
            data = session.query("com.atproto.repo.getRecord",
                                 {"repo": session.did, "collection": POST, "rkey": rkey})
        except XrpcError as error:
            if error.error == "RecordNotFound":
                return None
            raise
        if (data.get("value") or {}).get("text") != text:
            raise PermanentError(_("Bluesky already holds a different post under this "
                                   "publication's record key; nothing was published."),
                                 detail=f"rkey {rkey}")
        return str(data["uri"]), str(data["cid"])

    def _first_comment(self, session: Session, outgoing: Outgoing, uri: str, cid: str) -> None:
        text = outgoing.first_comment.strip()
        try:
            record = self._post_record(session, text, outgoing)
            ref = {"uri": uri, "cid": cid}
            record["reply"] = {"root": ref, "parent": ref}
            self._create(session, record_key(outgoing.publication_id, reply=True), record)
        except (NetworkError, XrpcError) as error:
            reason = error.reason if isinstance(error, NetworkError) else \
                classify(error).reason
            self.first_comment_error = reason
            log.warning("bluesky: the first comment of publication %s failed: %s",
                        outgoing.publication_id, getattr(error, "detail", "") or error)


def _may_already_exist(error: XrpcError) -> bool:
    if error.status >= 500 or error.status == 409:
        return True
    # An explicit "already exists" error (being added upstream) rather than a 500.
    return error.status == 400 and ("exist" in f"{error.error} {error.message}".lower()
                                    or error.error == "InvalidSwap")


ADAPTER = BlueskyNetwork
