"""The fake Instagram's reading side (mixed into FakeInstagram): an account's own fields
(its audience), its media, a media's fields, and its insights with the metrics the
current API knows (and the deprecated ones it refuses, as Instagram does)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

METRICS = {"views", "reach", "likes", "comments", "shares", "saved", "total_interactions",
           "follows", "profile_visits", "profile_activity", "ig_reels_avg_watch_time"}
GONE_METRICS = {"impressions", "plays", "video_views", "clips_replays_count"}


class FakeInstagramReads:
    """Needs from the fake: ``media``, ``insights_refused``, ``_json``, ``_error``."""

    def _user_fields(self, account, request: Request) -> Response:
        known = {"id": account.id, "username": account.username, "name": account.name,
                 "followers_count": account.followers_count,
                 "follows_count": account.follows_count,
                 "media_count": sum(1 for m in self.media if m["ig_user"] == account.id)}
        fields = (request.args.get("fields") or "id").split(",")
        unknown = [f for f in fields if f not in known]
        if unknown:
            return self._error(400, 100, f"(#100) Tried accessing nonexisting field "
                               f"({unknown[0]}) on node type (IGUser)")
        return self._json({f: known[f] for f in fields} | {"id": account.id})

    def _list(self, account) -> Response:
        rows = [m for m in reversed(self.media) if m["ig_user"] == account.id]
        return self._json({"data": [
            {"id": m["id"], "timestamp": m["timestamp"], "permalink": m["permalink"],
             **({"caption": m["caption"]} if m["caption"] else {})} for m in rows]})

    def _media_fields(self, media: dict, request: Request) -> dict:
        known = {"id": media["id"], "permalink": media["permalink"],
                 "timestamp": media["timestamp"], "media_type": media["media_type"],
                 "like_count": media["like_count"], "comments_count": len(media["comments"]),
                 **({"caption": media["caption"]} if media["caption"] else {})}
        fields = (request.args.get("fields") or "id").split(",")
        return {name: known[name] for name in fields if name in known} | {"id": media["id"]}

    def _insights(self, media: dict, request: Request) -> Response:
        names = [n for n in request.args.get("metric", "").split(",") if n]
        for index, name in enumerate(names):
            if name in GONE_METRICS or name not in METRICS:
                return self._error(400, 100, f"(#100) metric[{index}] must be one of the "
                                   f"following values: {', '.join(sorted(METRICS))}")
        if self.insights_refused:
            return self._error(400, 10, "(#10) Not enough viewers for the media to show "
                               "insights")
        return self._json({"data": [
            {"name": name, "period": "lifetime",
             "values": [{"value": media["insights"].get(name, 0)}],
             "title": name.replace("_", " ").title(), "description": "",
             "id": f"{media['id']}/insights/{name}/lifetime"} for name in names]})
