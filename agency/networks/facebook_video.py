"""A video post on a Facebook Page, through the chunked ("resumable") upload of
``POST /{page-id}/videos`` (Graph API reference "Page Videos": ``upload_phase`` start,
transfer, finish; ``file_size``, ``upload_session_id``, ``start_offset``,
``video_file_chunk``).

Why this path rather than the one-request ``source`` upload or the newer Resumable Upload
API: a single ``source`` request sends the whole file (up to 200 MB in Relais) in the call
that also makes the post visible, so any timeout there is an unknown outcome and every
retry sends it all again; the app-level ``/{app-id}/uploads`` API needs a *user* token of
someone with a role on the app, and Relais keeps only the Page's token. With the chunked
upload, ``start`` and ``transfer`` are invisible (nothing is on the Page until
``finish``), so they are merely retryable, and the session is checkpointed
(``outgoing.save_progress``) after each step: a retry continues from the last offset
Facebook acknowledged instead of starting over. Only ``finish`` can end in
``OutcomeUnknown``; the video id is known from ``start``, so ``find`` then asks for that
video itself.

What it promises:
- The size is checked before anything is sent, against the documented bounds (Video API
  error codes 1363023 "The maximum size for a video is 2 GB" and 1363022 "The minimum size
  for a video is 1 KB"; read the safe way: 2,000,000,000 and 1,024 bytes).
- The description is the post's text; no ``place`` is sent: the Page Videos reference
  documents no location parameter (it exists on feed posts and photos only).
- Offsets come from Facebook: each answer says which bytes to send next. A chunk whose
  answer was lost is refused on resend with subcode 1363037 and the expected offsets in
  ``error_data``; the upload follows them (a few times at most).
- Progress is kept under ``progress["facebook_video"]``: the media's checksum, the
  session and video ids, the next offsets, and ``finishing`` once ``finish`` may have been
  sent (a later attempt then first asks whether the video already went through).
"""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import gettext as _

from .base import (
    NetworkError,
    OutcomeUnknown,
    Outgoing,
    OutgoingMedia,
    PermanentError,
    Published,
    RetryableError,
)
from .facebook_graph import FacebookGraph, error_code

log = logging.getLogger(__name__)

MAX_VIDEO_BYTES = 2_000_000_000
MIN_VIDEO_BYTES = 1_024
PROGRESS_KEY = "facebook_video"
OFFSET_MISMATCH = 1363037  # "There was a problem uploading your video" + error_data offsets
UPLOAD_RETRY_CODE = 6001  # "There was a problem uploading your video. Please try again."
MAX_RESYNCS = 3
MAX_TRANSFERS = 10_000  # far above 2 GB in Facebook's smallest chunks; a runaway guard


def video_url(page_id: str, video_id: str) -> str:
    return f"https://www.facebook.com/{page_id}/videos/{video_id}/"


def saved_upload(outgoing: Outgoing, media: OutgoingMedia | None = None) -> dict | None:
    """The upload session an earlier attempt saved for this video, if any (and only if it
    was for this very file)."""
    state = (outgoing.progress or {}).get(PROGRESS_KEY)
    if not isinstance(state, dict) or not state.get("session") or not state.get("video_id"):
        return None
    if media is not None and (state.get("sha256") != media.sha256
                              or state.get("file_size") != len(media.data)):
        return None
    return state


def check_size(media: OutgoingMedia) -> None:
    size = len(media.data)
    if size > MAX_VIDEO_BYTES:
        raise PermanentError(
            _("This video is too large for Facebook (%(mb)d MB; Facebook takes up to 2 GB). "
              "Use a shorter or more compressed video.", mb=size // 1_000_000),
            detail=f"video of {size} bytes")
    if size < MIN_VIDEO_BYTES:
        raise PermanentError(
            _("This video file is too small for Facebook (under 1 KB): it is probably "
              "damaged. Upload it again."), detail=f"video of {size} bytes")


class VideoUpload:
    """One video post: ``publish()`` returns its ``Published`` (the video id is the post
    id). Raises the adapter errors of base.py."""

    def __init__(self, graph: FacebookGraph, page_id: str, outgoing: Outgoing,
                 media: OutgoingMedia):
        self.graph, self.page_id, self.outgoing, self.media = graph, page_id, outgoing, media
        self.path = f"/{page_id}/videos"
        self.progress = dict(outgoing.progress or {})

    def publish(self) -> Published:
        check_size(self.media)
        state = saved_upload(self.outgoing, self.media)
        resumed = state is not None
        if state is None:
            state = self._start()
        elif state.get("finishing") and self._went_through(state):
            return Published(state["video_id"], video_url(self.page_id, state["video_id"]))
        try:
            self._transfer(state)
        except PermanentError as error:
            if not resumed:
                raise
            # The saved session may have lapsed on Facebook's side: start afresh next time.
            self._save(None)
            raise RetryableError(
                _("Facebook no longer accepts the upload started earlier; Relais starts it "
                  "again."), detail=f"resumed transfer refused: {error.detail}") from None
        self._save({**state, "finishing": True})  # from here the post may become visible
        body = self.graph.call("POST", self.path, creates=True, data={
            "upload_phase": "finish", "upload_session_id": state["session"],
            "description": self.outgoing.text})
        if not (isinstance(body, dict) and body.get("success") is True):
            raise OutcomeUnknown(
                _("Facebook gave an unreadable answer: the post may or may not be out. "
                  "Relais checks before trying again."), detail="finish without success")
        return Published(state["video_id"], video_url(self.page_id, state["video_id"]))

    # --- the phases -----------------------------------------------------------------------

    def _start(self) -> dict:
        body = self.graph.call("POST", self.path, data={
            "upload_phase": "start", "file_size": str(len(self.media.data))})
        try:
            state = {"sha256": self.media.sha256, "file_size": len(self.media.data),
                     "session": str(body["upload_session_id"]),
                     "video_id": str(body["video_id"]),
                     "start": int(body["start_offset"]), "end": int(body["end_offset"])}
        except (KeyError, TypeError, ValueError):
            raise RetryableError(_("Facebook gave an unreadable answer. Relais will try "
                                   "again."), detail="video start: no session") from None
        self._save(state)
        return state

    def _transfer(self, state: dict) -> None:
        data, resyncs = self.media.data, 0
        for _n in range(MAX_TRANSFERS):
            start, end = state["start"], state["end"]
            if start >= end:
                return
            try:
                body = self.graph.call("POST", self.path, data={
                    "upload_phase": "transfer", "upload_session_id": state["session"],
                    "start_offset": str(start)}, files={"video_file_chunk": (
                        self.media.filename or "video", data[start:end], self.media.mime)})
            except NetworkError as error:
                expected = _expected_offsets(error)
                if expected is not None and resyncs < MAX_RESYNCS:
                    resyncs += 1  # the chunk arrived before, its answer did not
                    state.update(start=expected[0], end=expected[1])
                    self._save(state)
                    continue
                if isinstance(error, PermanentError) and _code(error) == UPLOAD_RETRY_CODE:
                    raise RetryableError(_("Facebook had a problem receiving the video. "
                                           "Relais will go on where it stopped."),
                                         detail=error.detail) from None
                raise
            offsets = _offsets(body)
            if (offsets is None or offsets[0] <= start or offsets[1] < offsets[0]
                    or offsets[1] > len(data)):
                raise RetryableError(_("Facebook gave an unreadable answer. Relais will try "
                                       "again."), detail=f"video transfer: offsets {body!r}")
            state.update(start=offsets[0], end=offsets[1])
            self._save(state)
        raise RetryableError(_("Facebook kept asking for more of the video. Relais will try "
                               "again."), detail="video transfer: too many chunks")

    def _went_through(self, state: dict) -> bool:
        """Whether an earlier ``finish`` reached Facebook (asked before sending another)."""
        return video_status(self.graph, state["video_id"]) is not None

    def _save(self, state: dict | None) -> None:
        progress = {k: v for k, v in self.progress.items() if k != PROGRESS_KEY}
        if state is not None:
            progress[PROGRESS_KEY] = dict(state)
        self.progress = progress
        self.outgoing.save_progress(progress)


def video_status(graph: FacebookGraph, video_id: str) -> dict | None:
    """The video node if its upload was finished (the post exists, perhaps still being
    processed), else None. Video node ``status.uploading_phase.status`` is "complete" once
    Facebook received ``finish``."""
    try:
        body = graph.call("GET", f"/{video_id}", params={
            "fields": "id,description,permalink_url,status"})
    except PermanentError:
        return None  # no such video (never started, or removed)
    status = body.get("status") if isinstance(body, dict) else None
    uploading = status.get("uploading_phase") if isinstance(status, dict) else None
    if isinstance(uploading, dict) and uploading.get("status") == "complete":
        return body
    return None


def _code(error: NetworkError) -> int | None:
    return error_code(getattr(error, "graph_error", None) or {})


def _offsets(body: Any) -> tuple[int, int] | None:
    try:
        return int(body["start_offset"]), int(body["end_offset"])
    except (KeyError, TypeError, ValueError):
        return None


def _expected_offsets(error: NetworkError) -> tuple[int, int] | None:
    graph_error = getattr(error, "graph_error", None) or {}
    if str(graph_error.get("error_subcode")) != str(OFFSET_MISMATCH):
        return None
    return _offsets(graph_error.get("error_data"))
