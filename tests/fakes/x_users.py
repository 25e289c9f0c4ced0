"""The fake X API's users (mixed into FakeX): the signed-in user, and with
``user.fields=public_metrics`` the counters the User object documents (followers_count,
following_count, tweet_count, listed_count, like_count, media_count)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response


class FakeXUsers:
    """Needs from the fake: ``tweets``, ``_json``."""

    def _me(self, request: Request, user) -> Response:
        data = {"id": user.id, "name": user.name, "username": user.username}
        if "public_metrics" in (request.args.get("user.fields") or "").split(","):
            data["public_metrics"] = {
                "followers_count": user.followers_count,
                "following_count": user.following_count,
                "tweet_count": sum(1 for t in self.tweets if t["author"] == user.id),
                "listed_count": 0, "like_count": 0, "media_count": 0}
        return self._json({"data": data})
