"""The media side of the fake X API (tests/fakes/x.py), as documented at
docs.x.com/x-api/media (checked 2025):

    POST /2/media/upload                simple upload: multipart ``media`` + ``media_category``
                                        (tweet_image, dm_image, subtitles) and ``media_type``
    POST /2/media/upload/initialize     JSON ``media_type``, ``total_bytes``, ``media_category``
    POST /2/media/upload/{id}/append    multipart ``segment_index`` + ``media``
    POST /2/media/upload/{id}/finalize  ``processing_info`` (``pending``) for videos and GIFs
    GET  /2/media/upload                ``command=STATUS&media_id=…`` → ``processing_info``
                                        (``in_progress`` for ``processing_polls`` polls, then
                                        ``succeeded``, or ``failed`` with ``processing_fails``)
    POST /2/media/metadata              ``{"id", "metadata": {"alt_text": {"text"}}}``

Answers are ``{"data": {"id", "media_key", "size", "expires_after_secs",
"processing_info"?}}``; a media id lasts a day. Mixed into ``FakeX``, whose lock is held
while these run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from .x import FakeUser

SIMPLE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff",
                "image/pjpeg")
PROCESSED = ("tweet_video", "tweet_gif", "amplify_video")


class FakeXMedia:
    """Needs from its host: ``media``, ``_ids``, ``processing_polls``,
    ``processing_fails``, ``check_after_secs``, ``_json`` and ``_invalid``."""

    def _new_media(self, user: FakeUser, category: str, mime: str, size: int) -> dict:
        item = {"id": str(next(self._ids)), "owner": user.id, "category": category,
                "type": mime, "total": size, "received": 0, "segments": set(),
                "state": "uploading", "expires": time.time() + 86400, "polls": 0, "alt": ""}
        self.media[item["id"]] = item
        return item

    def _media_answer(self, item: dict, info: dict | None = None) -> Response:
        data = {"id": item["id"], "media_key": f"3_{item['id']}", "size": item["total"],
                "expires_after_secs": max(0, int(item["expires"] - time.time()))}
        if info:
            data["processing_info"] = info
        return self._json({"data": data})

    def _upload(self, request: Request, rest: list[str], user: FakeUser,
                files: dict) -> Response:
        method, form = request.method, request.form
        if not rest and method == "POST":  # the simple upload
            category = form.get("media_category", "")
            _name, mime, data = files.get("media", ("", "", b""))
            if category not in ("tweet_image", "dm_image", "subtitles") or not data:
                return self._invalid("media and a media_category of tweet_image, dm_image "
                                     "or subtitles are required", "media_category")
            if (form.get("media_type") or mime) not in SIMPLE_TYPES:
                return self._invalid("Unsupported media_type.", "media_type")
            item = self._new_media(user, category, form.get("media_type") or mime, len(data))
            item["received"], item["state"] = len(data), "succeeded"
            return self._media_answer(item)
        if not rest and method == "GET":
            item = self.media.get(request.args.get("media_id", ""))
            if request.args.get("command") != "STATUS" or item is None:
                return self._invalid("Invalid media_id or command.", "media_id")
            if item["state"] == "in_progress":
                item["polls"] += 1
                if item["polls"] >= self.processing_polls:
                    item["state"] = "failed" if self.processing_fails else "succeeded"
            info: dict[str, Any] = {"state": item["state"]}
            if item["state"] == "in_progress":
                info |= {"check_after_secs": self.check_after_secs, "progress_percent": 50}
            if item["state"] == "failed":
                info["error"] = {"code": 1, "name": "InvalidMedia",
                                 "message": "Unsupported video format"}
            return self._media_answer(item, info)
        if rest == ["initialize"] and method == "POST":
            body = request.get_json(silent=True) or {}
            if body.get("media_category") not in ("tweet_video", "tweet_gif", "tweet_image",
                                                  "amplify_video") or not body.get("media_type"):
                return self._invalid("media_type and media_category are required.",
                                     "media_category")
            item = self._new_media(user, body["media_category"], body["media_type"],
                                   int(body.get("total_bytes") or 0))
            return self._media_answer(item)
        item = self.media.get(rest[0]) if rest else None
        if item is None or item["owner"] != user.id or method != "POST":
            return self._invalid("Invalid media_id.", "id")
        if rest[1:] == ["append"]:
            data = files.get("media", ("", "", b""))[2]
            item["segments"].add(int(form.get("segment_index", -1)))
            item["received"] += len(data)
            return self._json({"data": {"expires_at": int(item["expires"])}})
        if rest[1:] == ["finalize"]:
            if item["received"] != item["total"]:
                return self._invalid("Segments do not add up to provided total file size.",
                                     "id")
            if item["category"] in PROCESSED:
                item["state"] = "in_progress"
                return self._media_answer(item, {"state": "pending",
                                                 "check_after_secs": self.check_after_secs})
            item["state"] = "succeeded"
            return self._media_answer(item)
        return self._invalid("Unknown media command.", "id")

    def _metadata(self, body: dict, user: FakeUser) -> Response:
        item = self.media.get(str(body.get("id") or ""))
        text = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if item is None or item["owner"] != user.id or not isinstance(text, str):
            return self._invalid("Invalid media id or metadata.", "id")
        if len(text) > 1000:
            return self._invalid("Alt text must be 1000 characters or fewer.", "alt_text")
        item["alt"] = text
        return self._json({"data": {"id": item["id"],
                                    "associated_metadata": {"alt_text": {"text": text}}}})
