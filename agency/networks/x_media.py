"""Uploading a post's images and video to X (the v2 media upload), resumable from the
publication's progress.

As documented (docs.x.com/x-api/media, checked 2025):

- Images (JPEG, PNG, WebP): the simple upload, ``POST /2/media/upload`` as multipart
  with ``media`` (the file), ``media_category=tweet_image`` and ``media_type``.
- Videos (``tweet_video``) and GIFs (``tweet_gif``; the simple upload does not take
  ``image/gif``): the chunked upload — ``POST /2/media/upload/initialize`` (JSON
  ``media_type``, ``total_bytes``, ``media_category``), ``POST
  /2/media/upload/{id}/append`` (multipart ``segment_index`` and ``media``, 4 MiB
  segments as X's own client xurl sends), ``POST /2/media/upload/{id}/finalize``, then
  while ``processing_info.state`` is ``pending``/``in_progress``, ``GET
  /2/media/upload?command=STATUS&media_id=…`` after ``check_after_secs``, until
  ``succeeded`` or ``failed``.
- Alt text: ``POST /2/media/metadata`` ``{"id", "metadata": {"alt_text": {"text"}}}``
  (at most 1,000 characters; images and GIFs only).
- Answers: ``{"data": {"id", "media_key", "expires_after_secs", "processing_info"?}}``.
  A media id is usable for ``expires_after_secs`` (a day for tweet media).

Every upload is invisible, so a lost answer is merely retryable. Each media id is saved
in the progress (``progress["media"]``: one entry per file, in order, with its
``sha256``, ``id``, ``expires_at``, ``ready`` and ``alt``), so a retry reuses it rather
than uploading again, unless it is stale; a video still processing after
``PROCESSING_WAIT_SECONDS`` is resumed by the next attempt from its saved id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _

from .base import OutgoingMedia, PermanentError, RetryableError

log = logging.getLogger(__name__)

CHUNK_BYTES = 4 * 1024 * 1024
MAX_SEGMENTS = 1000  # segment_index is 0..999
MEDIA_LIFETIME = 24 * 3600  # used when X does not say, and as a ceiling
STALE_MARGIN = 3600  # re-upload an hour before X would forget the id
PROCESSING_WAIT_SECONDS = 30.0  # within one attempt (the lease is 120 s by default)
ALT_TEXT_MAX = 1000
SIMPLE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/bmp",
                          "image/tiff", "image/pjpeg"})

Call = Callable[..., Any]


def category(media: OutgoingMedia) -> str:
    if media.kind == "video":
        return "tweet_video"
    return "tweet_gif" if media.mime.lower() == "image/gif" else "tweet_image"


def _data(answer: Any) -> dict:
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, dict) else {}


class MediaUpload:
    """Uploads ``media`` through ``call`` (the adapter's authenticated call), keeping
    ``progress["media"]`` up to date and saving it with ``save`` after each file."""

    processing_wait = PROCESSING_WAIT_SECONDS
    sleep = staticmethod(time.sleep)

    def __init__(self, call: Call, progress: dict, save: Callable[[], None]):
        self.call, self.progress, self.save = call, progress, save

    def media_ids(self, media: tuple[OutgoingMedia, ...]) -> list[str]:
        saved = list(self.progress.get("media") or [])
        entries: list[dict] = []
        for index, item in enumerate(media):
            entry = saved[index] if index < len(saved) else None
            if not self._reusable(entry, item):
                entry = self._upload(item)
                entries.append(entry)
                self._store(entries, saved)
            else:
                entries.append(entry)
            if not entry.get("ready"):
                self._wait(entry, item, entries, saved)
            if item.description.strip() and not entry.get("alt") and item.kind == "image":
                self._alt_text(entry, item)
                self._store(entries, saved)
        return [str(e["id"]) for e in entries]

    # --- steps --------------------------------------------------------------------------

    @staticmethod
    def _reusable(entry: dict | None, item: OutgoingMedia) -> bool:
        if not isinstance(entry, dict) or entry.get("sha256") != item.sha256 or not entry.get("id"):
            return False
        try:
            return float(entry.get("expires_at")) - STALE_MARGIN > time.time()
        except (TypeError, ValueError):
            return False

    def _store(self, entries: list[dict], saved: list) -> None:
        # Later entries of an earlier attempt stay until replaced (still reusable then).
        self.progress["media"] = entries + saved[len(entries):]
        self.save()

    def _upload(self, item: OutgoingMedia) -> dict:
        kind = category(item)
        if kind == "tweet_image" and item.mime.lower() in SIMPLE_TYPES:
            data = _data(self.call(
                "POST", "/2/media/upload",
                files={"media": (item.filename or "image", item.data, item.mime)},
                data={"media_category": kind, "media_type": item.mime}))
            return self._entry(item, data)
        return self._chunked(item, kind)

    def _chunked(self, item: OutgoingMedia, kind: str) -> dict:
        segments = max(1, -(-len(item.data) // CHUNK_BYTES))
        if segments > MAX_SEGMENTS:
            raise PermanentError(_("%(file)s is too large for X.", file=item.filename))
        started = _data(self.call("POST", "/2/media/upload/initialize", json={
            "media_type": item.mime, "total_bytes": len(item.data), "media_category": kind}))
        media_id = str(started.get("id") or "")
        if not media_id:
            raise RetryableError(_("X gave an unreadable answer. Relais will try again."),
                                 detail="initialize: no id")
        for index in range(segments):
            chunk = item.data[index * CHUNK_BYTES:(index + 1) * CHUNK_BYTES]
            self.call("POST", f"/2/media/upload/{media_id}/append",
                      files={"media": (item.filename or "media", chunk,
                                       "application/octet-stream")},
                      data={"segment_index": str(index)})
        finished = _data(self.call("POST", f"/2/media/upload/{media_id}/finalize"))
        return self._entry(item, {**started, **finished, "id": media_id})

    @staticmethod
    def _entry(item: OutgoingMedia, data: dict) -> dict:
        media_id = str(data.get("id") or data.get("media_id_string") or "")
        if not media_id:
            raise RetryableError(_("X gave an unreadable answer. Relais will try again."),
                                 detail="upload: no id")
        try:
            lasts = min(float(data.get("expires_after_secs") or MEDIA_LIFETIME), MEDIA_LIFETIME)
        except (TypeError, ValueError):
            lasts = MEDIA_LIFETIME
        state = (data.get("processing_info") or {}).get("state")
        return {"sha256": item.sha256, "id": media_id, "expires_at": int(time.time() + lasts),
                "ready": state in (None, "succeeded"), "alt": False}

    def _wait(self, entry: dict, item: OutgoingMedia, entries: list, saved: list) -> None:
        """Poll STATUS until X has processed the file, within this attempt's budget."""
        deadline = time.monotonic() + self.processing_wait
        while True:
            info = _data(self.call("GET", "/2/media/upload", params={
                "command": "STATUS", "media_id": entry["id"]})).get("processing_info") or {}
            state = info.get("state") or "succeeded"
            if state == "succeeded":
                entry["ready"] = True
                self._store(entries, saved)
                return
            if state == "failed":
                error = info.get("error") if isinstance(info.get("error"), dict) else {}
                reason = str(error.get("message") or error.get("name") or "")
                raise PermanentError(
                    _("X could not process %(file)s (%(error)s). Use another file.",
                      file=item.filename or "media", error=reason or "failed"),
                    detail=f"media {entry['id']} processing failed: {reason}")
            try:
                wait = max(0.0, float(info.get("check_after_secs") or 1))
            except (TypeError, ValueError):
                wait = 1.0
            left = deadline - time.monotonic()
            if left <= 0:
                self._store(entries, saved)  # resumed by the next attempt
                raise RetryableError(
                    _("X is still processing the video. Relais will try again shortly."),
                    retry_after=max(wait, 5.0), detail=f"media {entry['id']}: {state}")
            self.sleep(min(wait, left))

    def _alt_text(self, entry: dict, item: OutgoingMedia) -> None:
        try:
            self.call("POST", "/2/media/metadata", json={
                "id": entry["id"],
                "metadata": {"alt_text": {"text": item.description.strip()[:ALT_TEXT_MAX]}}})
        except PermanentError as error:
            # A refused description is no reason to refuse the post: it goes out without.
            log.warning("media %s: X refused the alt text: %s", entry["id"], error.detail)
        entry["alt"] = True
