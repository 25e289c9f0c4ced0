"""The fake Graph API's posts (mixed into FakeFacebook), as the Graph API references
"Page Feed", "Page Photos", "Post" and "Comments" describe them:

    POST /{page}/feed       message, link (an http(s) URL), place, attached_media[i] → {"id"}
    POST /{page}/photos     multipart source (an image) + caption + place; published=false
                            → an unpublished photo {"id"}; else {"id", "post_id"}
    GET  /{page}/feed       since, limit, fields, after → paged, newest first
    POST /{object}/comments message → {"id"} (a post's id, or its video's)
    GET  /{object}          reactions and comments summaries, shares; a video node

``place`` must be a known place (a Page with a location, or ``add_place``), else code 100.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from werkzeug.wrappers import Request, Response


class FakePosts:
    """Needs from the fake: ``_lock`` held by the caller, ``_ids``, ``_error``, ``_json``,
    ``_paged``, ``_unsupported``, ``pages``, ``places``, ``photos``, ``posts``,
    ``videos``, ``_video_node``, ``feed_page_size``."""

    def _node(self, object_id: str, token: str) -> Response:
        video = self.videos.get(object_id)
        if video is not None and self.pages[video["page_id"]].token == token:
            node = self._video_node(video)
            post = self._post(object_id, token)
            if post is not None:
                node |= self._counters(post, shares=False)
            return self._json(node)
        post = self._post(object_id, token)
        if post is None:
            return self._unsupported(object_id)
        return self._json({"id": post["id"], **self._counters(post, shares=True)})

    @staticmethod
    def _counters(post: dict, *, shares: bool) -> dict:
        counters = {"reactions": {"data": [], "summary": {"total_count": post["reactions"]}},
                    "comments": {"data": [], "summary": {
                        "total_count": len(post["comments"])}}}
        if shares and post["shares"]:
            counters["shares"] = {"count": post["shares"]}
        return counters

    def _post(self, post_id: str, token: str) -> dict | None:
        """A post by its id, or by the id of the video it shows."""
        post = next((p for p in self.posts if post_id in (p["id"], p["video_id"])), None)
        if post is None or self.pages[post["page_id"]].token != token:
            return None
        return post

    def _comment(self, object_id: str, token: str, request: Request) -> Response:
        post = self._post(object_id, token)
        if post is None:
            return self._unsupported(object_id)
        message = request.form.get("message", "")
        if not message:
            return self._error(400, 100, "(#100) Missing message or attachment")
        comment_id = f"{post['id']}_{next(self._ids)}"
        post["comments"].append({"id": comment_id, "message": message})
        return self._json({"id": comment_id})

    def _store(self, page, message: str, photos: list[str], *, link: str = "",
               place: str = "", video_id: str | None = None) -> dict:
        post = {"id": f"{page.id}_{next(self._ids)}", "page_id": page.id, "message": message,
                "photos": photos, "link": link, "place": place, "video_id": video_id,
                "created_time": datetime.now(UTC), "comments": [], "reactions": 0,
                "shares": 0}
        self.posts.append(post)
        return post

    def _place_refusal(self, request: Request) -> Response | None:
        place = request.form.get("place")
        if place is not None and place not in self.places:
            return self._error(400, 100, "(#100) Param place must be a valid place tag ID",
                               kind="GraphMethodException")
        return None

    def _publish(self, page, request: Request) -> Response:
        message = request.form.get("message", "")
        if (refused := self._place_refusal(request)) is not None:
            return refused
        photos = []
        for key in sorted(k for k in request.form if k.startswith("attached_media[")):
            try:
                fbid = str(json.loads(request.form[key])["media_fbid"])
            except (ValueError, KeyError, TypeError):
                return self._error(400, 100, "(#100) param attached_media must be an array "
                                   "of objects with media_fbid")
            if fbid not in self.photos or self.photos[fbid]["page_id"] != page.id:
                return self._error(400, 100, f"(#100) The media {fbid} is not valid")
            photos.append(fbid)
        link = request.form.get("link", "")
        if link and not re.match(r"^https?://", link):
            return self._error(400, 100, "(#100) The parameter link is not a valid URL")
        if not message and not photos and not link:
            return self._error(400, 100, "(#100) Missing message or attachment")
        post = self._store(page, message, photos, link=link,
                           place=request.form.get("place", ""))
        return self._json({"id": post["id"]})

    def _photo(self, page, request: Request) -> Response:
        source = request.files.get("source")
        if source is None or not source.mimetype.startswith("image/"):
            return self._error(400, 324, "(#324) Requires upload file")
        if (refused := self._place_refusal(request)) is not None:
            return refused
        photo_id = str(next(self._ids))
        self.photos[photo_id] = {"page_id": page.id, "filename": source.filename}
        if request.form.get("published", "true") == "false":
            return self._json({"id": photo_id})
        post = self._store(page, request.form.get("caption", ""), [photo_id],
                           place=request.form.get("place", ""))
        return self._json({"id": photo_id, "post_id": post["id"]})

    def _feed(self, page, request: Request) -> Response:
        since = int(request.args.get("since") or 0)
        posts = [p for p in reversed(self.posts)
                 if p["page_id"] == page.id and p["created_time"].timestamp() >= since]
        return self._paged(request, [{
            "id": p["id"], "message": p["message"],
            "created_time": p["created_time"].strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink_url": f"https://www.facebook.com/{p['id'].replace('_', '/posts/')}"}
            for p in posts if p["message"]], self.feed_page_size)
