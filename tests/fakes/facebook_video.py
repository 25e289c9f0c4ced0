"""The fake Graph API's Page videos (mixed into FakeFacebook): the chunked upload of
``POST /{page}/videos`` and the video node, as the Graph API reference "Page Videos" and
the Video API error codes describe them.

    POST /{page}/videos upload_phase=start, file_size
         → {"video_id", "upload_session_id", "start_offset", "end_offset"} (numeric strings)
    POST /{page}/videos upload_phase=transfer, upload_session_id, start_offset,
         multipart video_file_chunk (the bytes start_offset..end_offset)
         → {"start_offset", "end_offset"} (the next chunk; equal when all is received)
    POST /{page}/videos upload_phase=finish, upload_session_id, description
         → {"success": true}; the post appears on the Page
    GET  /{video}      fields id, description, permalink_url, status
         (status.video_status, status.uploading_phase.status "in_progress" → "complete")

Refusals: a size over ``max_video_bytes`` (default 2 GB) or under 1 KB at start (code 6000,
subcodes 1363023 / 1363022); a chunk at the wrong offset, or a finish before every byte
arrived (code 6001, subcode 1363037, ``error_data`` with the expected offsets); an unknown
session (code 100). Chunks are ``chunk_size`` bytes, Facebook's choice, not the client's.
The one-request ``source`` upload is not served: Relais does not use it.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

MAX_VIDEO_BYTES = 2_000_000_000
MIN_VIDEO_BYTES = 1_024


class FakeVideos:
    """Needs from the fake: ``_lock`` held by the caller, ``_ids``, ``_error``, ``_json``,
    ``_store``; keeps ``videos`` (video id → its upload and post)."""

    chunk_size = 4_096
    max_video_bytes = MAX_VIDEO_BYTES
    videos: dict[str, dict]

    def _page_videos(self, page, request: Request) -> Response:
        phase = request.form.get("upload_phase", "")
        if phase == "start":
            return self._video_start(page, request)
        if phase in ("transfer", "finish"):
            video = next((v for v in self.videos.values()
                          if v["session"] == request.form.get("upload_session_id")
                          and v["page_id"] == page.id), None)
            if video is None:
                return self._error(400, 100, "(#100) Invalid upload_session_id",
                                   kind="GraphMethodException")
            if phase == "transfer":
                return self._video_transfer(video, request)
            return self._video_finish(page, video, request)
        return self._error(400, 100, "(#100) This upload protocol is not supported by the "
                           "fake: use upload_phase", kind="GraphMethodException")

    def _video_start(self, page, request: Request) -> Response:
        try:
            size = int(request.form.get("file_size", ""))
        except ValueError:
            return self._error(400, 100, "(#100) file_size must be an integer")
        if size > self.max_video_bytes:
            return self._error(400, 6000, "The video you tried to upload is too large. The "
                               "maximum size for a video is 2 GB. Please try again with a "
                               "smaller file.", subcode=1363023, kind="CodedException")
        if size < MIN_VIDEO_BYTES:
            return self._error(400, 6000, "The video you tried to upload is too small. The "
                               "minimum size for a video is 1 KB. Please try again with a "
                               "larger file.", subcode=1363022, kind="CodedException")
        video_id, session = str(next(self._ids)), str(next(self._ids))
        self.videos[video_id] = {"id": video_id, "page_id": page.id, "session": session,
                                 "size": size, "data": bytearray(), "finished": False,
                                 "post_id": None, "description": ""}
        return self._json({"video_id": video_id, "upload_session_id": session,
                           **self._next_chunk(self.videos[video_id])})

    def _next_chunk(self, video: dict) -> dict[str, str]:
        start = len(video["data"])
        return {"start_offset": str(start),
                "end_offset": str(min(start + self.chunk_size, video["size"]))}

    def _offset_refusal(self, video: dict) -> Response:
        expected = self._next_chunk(video)
        return self._error(400, 6001, "There was a problem uploading your video. Please try "
                           "again.", subcode=1363037, data={
                               k: int(v) for k, v in expected.items()})

    def _video_transfer(self, video: dict, request: Request) -> Response:
        chunk = request.files.get("video_file_chunk")
        if chunk is None:
            return self._error(400, 100, "(#100) video_file_chunk is required during the "
                               "transfer upload phase")
        expected = self._next_chunk(video)
        data = chunk.read()
        if (request.form.get("start_offset") != expected["start_offset"]
                or len(data) != int(expected["end_offset"]) - int(expected["start_offset"])):
            return self._offset_refusal(video)
        video["data"].extend(data)
        return self._json(self._next_chunk(video))

    def _video_finish(self, page, video: dict, request: Request) -> Response:
        if len(video["data"]) != video["size"]:
            return self._offset_refusal(video)
        if not video["finished"]:
            video["finished"] = True
            video["description"] = request.form.get("description", "")
            post = self._store(page, video["description"], [], video_id=video["id"])
            video["post_id"] = post["id"]
        return self._json({"success": True})

    def _video_node(self, video: dict) -> dict[str, Any]:
        done = video["finished"]
        return {"id": video["id"], "description": video["description"],
                "permalink_url": f"/{video['page_id']}/videos/{video['id']}/",
                "status": {"video_status": "ready" if done else "upload",
                           "uploading_phase": {"status": "complete" if done
                                               else "in_progress"},
                           "processing_phase": {"status": "complete" if done
                                                else "not_started"},
                           "publishing_phase": {"status": "complete" if done
                                                else "not_started",
                                                **({"publish_status": "published"}
                                                   if done else {})}}}
