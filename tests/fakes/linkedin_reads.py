"""The fake LinkedIn's reading side (mixed into FakeLinkedIn): an author's posts (the
``q=author`` finder), a post's social actions, a Page's share statistics, and a Page's
followers (``networkSizes``, Organization Lookup API)."""

from __future__ import annotations

from werkzeug.wrappers import Response


class FakeLinkedInReads:
    """Needs from the fake: ``posts``, ``organizations``, ``now``, ``_ids``, ``_may``,
    ``_denied``, ``_json``, ``_error``."""

    def _find_posts(self, grant: dict, args) -> Response:
        author = args.get("author", "")
        if not self._may(grant, author, write=False):
            return self._denied("partnerApiPostsExternal", "FINDER")
        count = int(args.get("count", 10))
        if count > 100:
            return self._error(400, "count must be at most 100", "INVALID_VALUE_FOR_FIELD")
        mine = [p for p in reversed(self.posts) if p["author"] == author][:count]
        return self._json({"paging": {"start": 0, "count": count, "links": []}, "elements": [
            {"id": p["id"], "author": p["author"], "commentary": p["commentary"],
             "visibility": p["body"]["visibility"], "lifecycleState": p["body"]["lifecycleState"],
             "distribution": p["body"]["distribution"], "createdAt": p["createdAt"],
             "publishedAt": p["createdAt"], "lastModifiedAt": p["createdAt"],
             "isReshareDisabledByAuthor": False,
             **({"content": p["content"]} if p["content"] else {})}
            for p in mine]})

    def _social_actions(self, grant: dict, post_urn: str) -> Response:
        post = next((p for p in self.posts if p["id"] == post_urn), None)
        if post is None:
            return self._error(404, "Could not find entity", "NOT_FOUND")
        if not self._may(grant, post["author"], write=False):
            return self._denied("socialActions", "GET")
        comments = len(post["comments"])
        return self._json({"target": post_urn, "likesSummary": {
            "totalLikes": post["likes"], "aggregatedTotalLikes": post["likes"],
            "likedByCurrentUser": False, "selectedLikes": []},
            "commentsSummary": {"totalFirstLevelComments": comments,
                                "aggregatedTotalComments": comments, "selectedComments": []}})

    def _statistics(self, grant: dict, args) -> Response:
        entity = args.get("organizationalEntity", "")
        organization = self.organizations.get(entity.rsplit(":", 1)[-1])
        if args.get("q") != "organizationalEntity" or organization is None:
            return self._error(400, "organizationalEntity is required", "MISSING_FIELD")
        if organization.roles.get(grant["sub"]) != "ADMINISTRATOR" \
                or "rw_organization_admin" not in grant["scopes"]:
            return self._denied("organizationalEntityShareStatistics", "FINDER")
        elements = []
        for key, field_name in (("shares", "share"), ("ugcPosts", "ugcPost")):
            raw = args.get(key, "")
            for urn in (raw[5:-1].split(",") if raw.startswith("List(") else []):
                post = next((p for p in self.posts if p["id"] == urn), None)
                if post is None or post["author"] != organization.urn:
                    continue
                stats = {"uniqueImpressionsCount": 0, "shareCount": 0, "engagement": 0.0,
                         "clickCount": 0, "likeCount": post["likes"], "impressionCount": 0,
                         "commentCount": len(post["comments"]), **post["stats"]}
                elements.append({"organizationalEntity": organization.urn, field_name: urn,
                                 "totalShareStatistics": stats})
        return self._json({"paging": {"start": 0, "count": 10, "links": []},
                           "elements": elements})

    def _network_size(self, grant: dict, urn: str, args) -> Response:
        organization = self.organizations.get(urn.rsplit(":", 1)[-1])
        if not urn.startswith("urn:li:organization:") or organization is None:
            return self._error(404, "Could not find entity", "NOT_FOUND")
        edge = args.get("edgeType")
        if not edge:
            return self._error(400, "edgeType is required", "MISSING_FIELD")
        if edge != "COMPANY_FOLLOWED_BY_MEMBER":  # CompanyFollowedByMember before 202305
            return self._error(400, f"Invalid value {edge} for edgeType",
                               "INVALID_VALUE_FOR_FIELD")
        if not self._may(grant, organization.urn, write=False):
            return self._denied("networkSizes", "GET")
        return self._json({"firstDegreeSize": organization.followers})
