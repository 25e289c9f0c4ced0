"""A fake Instagram Graph API (Content Publishing, Facebook Login flavour) over real
loopback HTTP, for the adapter, the connect flow and the engine tests.

It answers like the Graph API v21 on the routes Relais uses (Instagram Platform reference:
IG User Media, IG Container, IG User Media Publish, IG User Content Publishing Limit, IG
Media Comments, Instagram Media Insights, Error Codes; Facebook Login for the sign-in):

    GET  /oauth/access_token          code → short-lived user token; fb_exchange_token → long
    GET  /me/accounts                 the person's Pages, ``page_size`` per page (``limit``,
                                      ``after``; ``paging.next`` until the last), each with
                                      access_token, tasks and instagram_business_account{...}
    POST /{ig-user}/media             a container: image_url (+ alt_text) | media_type=REELS
                                      + video_url | is_carousel_item=true (+ media_type=VIDEO)
                                      | media_type=CAROUSEL + children; caption, location_id
    GET  /{container}                 fields=status_code,status
    POST /{ig-user}/media_publish     creation_id → {"id": media id}
    GET  /{ig-user}/media             fields=id,caption,permalink,timestamp, newest first
    GET  /{ig-user}/content_publishing_limit  {"data": [{"quota_usage", "config":
                                      {"quota_total", "quota_duration"}}]}
    GET  /{media}                     fields among permalink, like_count, comments_count…
    GET  /{ig-user}                   fields among username, followers_count, media_count…
    POST /{media}/comments            message → {"id"}
    GET  /{media}/insights            metric=… → {"data": [{"name", "period", "values":
                                      [{"value"}], "title", "id"}]}

Containers are processed as the real ones are, seen through polling: a new container
answers IN_PROGRESS to its first ``image_polls`` (images) or ``video_polls`` (videos,
reels, carousels) status reads, then FINISHED; or ERROR with a status naming the subcode
("Error: Media upload has failed with error code 2207026") when its URL contains a part
given to ``fail_fetch``. ``expire(container)`` makes one EXPIRED (24 h in real life).
Publishing a container that is not FINISHED answers code 9007 / subcode 2207027 ("Media
ID is not available"); an expired one -2 / 2207020; a spent quota 9 / 2207042; a
container already published (undocumented) code 100.

Errors have Graph's shape ``{"error": {"message", "type", "code", "error_subcode",
"is_transient", "error_user_msg", "fbtrace_id"}}``. Tokens (``access_token`` parameter)
are checked: unknown or revoked ones get code 190; an Instagram account answers only to
the token of its Page. An ``appsecret_proof`` sent must be HMAC-SHA256(app secret,
token); with ``require_appsecret_proof`` a call without one is refused (Graph API →
Securing Requests: code 100, GraphMethodException). Knobs:

- ``p_5xx``, ``p_429``, ``p_store_then_hang`` (probabilities on POSTs, seeded with
  ``seed``): a 500 (code 2); Instagram's rate-limit refusal (code 80002 with
  ``X-Business-Use-Case-Usage`` at 100 and ``estimated_time_to_regain_access``); a POST
  stored then its answer held back ``hang_seconds``.
- ``fail_next(status, code=..., subcode=..., path=..., method=..., skip=..., fields=...)``,
  ``hang_next(count, path=..., acted=...)``, ``fail_fetch(url_part, subcode)``,
  ``expire(id)``.
- ``revoke_token(token)``; ``usage`` (an ``X-Business-Use-Case-Usage`` record sent on
  every answer); ``quota_total``/``quota_duration``/``quota_used_elsewhere``;
  ``insights_refused`` (code 10, "Not enough viewers").

One lock guards everything. ``containers``, ``media`` (published, with ``comments``
and ``insights``) and ``requests`` (what it was asked) are there to assert on.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from .instagram_oauth import FakeInstagramOAuth
from .instagram_reads import FakeInstagramReads
from .server import LoopbackServer

APP_ID = "1234567890"
APP_SECRET = "fake-app-secret"
PLACE_ID = "110774245616525"  # a Facebook Page of a place, usable as location_id
@dataclass
class FakeAccount:
    id: str
    username: str
    name: str
    followers_count: int = 0  # the IG User node's audience, set by a test
    follows_count: int = 0


@dataclass
class FakePage:
    id: str
    name: str
    token: str
    instagram: FakeAccount | None = None
    tasks: list[str] = field(default_factory=lambda: ["CREATE_CONTENT", "MODERATE",
                                                      "ADVERTISE", "ANALYZE", "MANAGE"])


@dataclass
class _Failure:
    status: int
    code: int
    subcode: int | None
    path: str
    method: str
    message: str
    transient: bool
    skip: int  # matching requests let through first
    fields: str  # only requests whose ``fields`` name this
    user_msg: str

    def matches(self, request: Request, path: str) -> bool:
        return (self.path in path and self.method in ("", request.method)
                and self.fields in (request.args.get("fields") or ""))


class FakeInstagram(FakeInstagramOAuth, FakeInstagramReads, LoopbackServer):
    def __init__(self, *, seed: int = 0, p_5xx: float = 0.0, p_429: float = 0.0,
                 p_store_then_hang: float = 0.0, hang_seconds: float = 5.0,
                 regain_minutes: int = 2, page_size: int = 25):
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._ids = itertools.count(17_841_400_000_000_001)
        self.p_5xx, self.p_429, self.p_store_then_hang = p_5xx, p_429, p_store_then_hang
        self.hang_seconds, self.regain_minutes, self.page_size = (hang_seconds,
                                                                  regain_minutes, page_size)
        self.app_id, self.app_secret = APP_ID, APP_SECRET
        self.pages: dict[str, FakePage] = {}
        self.user_pages: dict[str, list[str]] = {}
        self.codes: dict[str, dict] = {}
        self.revoked: set[str] = set()
        self.places = {PLACE_ID}
        self.containers: dict[str, dict] = {}
        self.media: list[dict] = []
        self.requests: list[dict] = []
        self.usage: dict[str, Any] | None = None
        self.image_polls, self.video_polls = 0, 1
        self.quota_total, self.quota_duration, self.quota_used_elsewhere = 100, 86400, 0
        self.insights_refused = False
        self.require_appsecret_proof = False
        self._failures: list[_Failure] = []
        self._hangs: list[tuple[str, bool]] = []
        self._fetch_failures: dict[str, int] = {}

    # --- setting up -----------------------------------------------------------------------

    def add_page(self, name: str, username: str = "", *, ig_name: str = "",
                 tasks: list[str] | None = None) -> FakePage:
        """A Facebook Page; with ``username``, linked to an Instagram professional account."""
        with self._lock:
            page = FakePage(str(next(self._ids)), name, "EAAPage" + secrets.token_hex(8))
            if username:
                page.instagram = FakeAccount(str(next(self._ids)), username, ig_name or name)
            if tasks is not None:
                page.tasks = tasks
            self.pages[page.id] = page
            return page

    def add_user(self, *pages: FakePage) -> str:
        with self._lock:
            token = "EAAUser" + secrets.token_hex(8)
            self.user_pages[token] = [p.id for p in pages]
            return token

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.revoked.add(token)

    def fail_next(self, status: int, *, code: int = 2, subcode: int | None = None,
                  count: int = 1, path: str = "", method: str = "", transient: bool = False,
                  skip: int = 0, fields: str = "", user_msg: str = "",
                  message: str = "An unexpected error has occurred.") -> None:
        """The next ``count`` requests matching ``path`` (a part of it), ``method`` and
        ``fields`` (a part of the ``fields`` parameter), after ``skip`` of them, fail."""
        with self._lock:
            self._failures.extend(_Failure(status, code, subcode, path, method, message,
                                           transient, skip, fields, user_msg)
                                  for _ in range(count))

    def hang_next(self, count: int = 1, *, path: str = "", acted: bool = True) -> None:
        """The next POSTs (to ``path``) are done, then their answer held back; with
        ``acted=False`` they are lost before Instagram acts on them (nothing is done)."""
        with self._lock:
            self._hangs.extend([(path, acted)] * count)

    def fail_fetch(self, url_part: str, subcode: int = 2207026) -> None:
        """Containers whose media URL contains ``url_part`` end in ERROR."""
        with self._lock:
            self._fetch_failures[url_part] = subcode

    def expire(self, container_id: str) -> None:
        with self._lock:
            self.containers[container_id]["expired"] = True

    def published(self, caption: str | None = None) -> list[dict]:
        with self._lock:
            return [m for m in self.media if caption is None or m["caption"] == caption]

    def posts_to(self, suffix: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests
                    if r["method"] == "POST" and r["path"].endswith(suffix)]

    # --- answers --------------------------------------------------------------------------

    def _json(self, body: Any, status: int = 200, headers: dict | None = None) -> Response:
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        if self.usage is not None:
            response.headers["X-Business-Use-Case-Usage"] = json.dumps(
                {"17841400000000000": [{"type": "instagram", **self.usage}]})
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _error(self, status: int, code: int, message: str, *, subcode: int | None = None,
               user_msg: str = "", transient: bool = False, kind: str = "OAuthException",
               headers: dict | None = None) -> Response:
        error: dict[str, Any] = {"message": message, "type": kind, "code": code,
                                 "is_transient": transient,
                                 "fbtrace_id": "A" + secrets.token_hex(5)}
        if subcode is not None:
            error["error_subcode"] = subcode
        if user_msg:
            error["error_user_msg"] = user_msg
        return self._json({"error": error}, status, headers)

    def _rate_limited(self, ig_user: str) -> Response:
        usage = {ig_user: [{"type": "instagram", "call_count": 100, "total_cputime": 12,
                            "total_time": 40,
                            "estimated_time_to_regain_access": self.regain_minutes}]}
        return self._error(400, 80002, "There have been too many calls to this Instagram "
                           "account. Wait a bit and try again.",
                           headers={"X-Business-Use-Case-Usage": json.dumps(usage)})

    def _invalid_token(self) -> Response:
        return self._error(400, 190, "Error validating access token: The session has been "
                           "invalidated because the user changed their password or Facebook "
                           "has changed the session for security reasons.", subcode=460)

    def _unsupported(self, what: str, method: str) -> Response:
        return self._error(400, 100, f"Unsupported {method.lower()} request. Object with ID "
                           f"'{what}' does not exist, cannot be loaded due to missing "
                           "permissions, or does not support this operation.", subcode=33,
                           kind="GraphMethodException")

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._answer(request)
        finally:
            request.close()
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        path = request.path
        if re.match(r"^/v\d+\.\d+/", path):  # the API version, as in the real URLs
            path = path[path.index("/", 1):]
        hang, acted = False, True
        with self._lock:
            self.requests.append({"method": request.method, "path": path,
                                  "args": request.args.to_dict(flat=False),
                                  "form": request.form.to_dict(flat=False)})
            failure = next((f for f in self._failures if f.matches(request, path)), None)
            if failure is not None and failure.skip > 0:
                failure.skip -= 1
                failure = None
            if failure is not None:
                self._failures.remove(failure)
                return self._error(failure.status, failure.code, failure.message,
                                   subcode=failure.subcode, transient=failure.transient,
                                   user_msg=failure.user_msg)
            if request.method == "POST":
                if self.p_429 and self._random.random() < self.p_429:
                    return self._rate_limited(path.strip("/").split("/")[0])
                if self.p_5xx and self._random.random() < self.p_5xx:
                    return self._error(500, 2, "An unexpected error has occurred. Please "
                                       "retry your request later.", transient=True)
                hang_at = next((h for h in self._hangs if h[0] in path), None)
                if hang_at is not None:
                    self._hangs.remove(hang_at)
                    hang, acted = True, hang_at[1]
                elif self.p_store_then_hang and self._random.random() < self.p_store_then_hang:
                    hang = True
            response = (self._route(request, path) if acted else
                        self._error(503, 2, "Service temporarily unavailable", transient=True))
        if hang and (response.status_code < 300 or not acted):
            self._stopping.wait(self.hang_seconds)  # done; the answer comes too late
        return response

    def _route(self, request: Request, path: str) -> Response:
        parts = [p for p in path.split("/") if p]
        method = request.method
        if parts == ["oauth", "access_token"]:
            return self._access_token(request)
        token = request.values.get("access_token", "")
        known = token in self.user_pages or any(p.token == token for p in self.pages.values())
        if not token or token in self.revoked or not known:
            return self._invalid_token()
        proof = request.values.get("appsecret_proof", "")
        if proof and not hmac.compare_digest(proof, hmac.new(
                self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()):
            return self._error(400, 100, "Invalid appsecret_proof provided in the API "
                               "argument", kind="GraphMethodException")
        if not proof and self.require_appsecret_proof:
            return self._error(400, 100, "API calls from the server require an "
                               "appsecret_proof argument", kind="GraphMethodException")
        if parts == ["me", "accounts"] and method == "GET":
            return self._accounts(request, token)
        if not parts:
            return self._unsupported("", method)
        account = self._account(parts[0])
        if account is not None:
            page = self._page_of(account.id)
            if token != page.token:
                return self._error(403, 200, "(#200) The user hasn't authorized the "
                                   "application to perform this action")
            edge = parts[1] if len(parts) == 2 else ""
            if len(parts) == 1 and method == "GET":
                return self._user_fields(account, request)
            if edge == "media" and method == "POST":
                return self._create(account, request)
            if edge == "media" and method == "GET":
                return self._list(account)
            if edge == "media_publish" and method == "POST":
                return self._publish(account, request.values.get("creation_id", ""))
            if edge == "content_publishing_limit" and method == "GET":
                return self._json({"data": [{"quota_usage": self._usage(account),
                                             "config": {"quota_total": self.quota_total,
                                                        "quota_duration": self.quota_duration}}]})
            return self._unsupported("/".join(parts), method)
        if parts[0] in self.containers and len(parts) == 1 and method == "GET":
            container = self.containers[parts[0]]
            if token != self._page_of(container["ig_user"]).token:
                return self._unsupported(parts[0], method)
            return self._json(self._container_fields(container, request))
        media = next((m for m in self.media if m["id"] == parts[0]), None)
        if media is None or token != self._page_of(media["ig_user"]).token:
            return self._unsupported(parts[0], method)
        if len(parts) == 1 and method == "GET":
            return self._json(self._media_fields(media, request))
        if parts[1:] == ["comments"] and method == "POST":
            message = request.values.get("message", "")
            if not message:
                return self._error(400, 100, "(#100) The parameter message is required")
            comment_id = str(next(self._ids))
            media["comments"].append({"id": comment_id, "text": message})
            return self._json({"id": comment_id})
        if parts[1:] == ["insights"] and method == "GET":
            return self._insights(media, request)
        return self._unsupported("/".join(parts), method)

    def _account(self, ig_id: str) -> FakeAccount | None:
        return next((p.instagram for p in self.pages.values()
                     if p.instagram is not None and p.instagram.id == ig_id), None)

    def _page_of(self, ig_id: str) -> FakePage:
        return next(p for p in self.pages.values()
                    if p.instagram is not None and p.instagram.id == ig_id)

    # --- containers and publishing --------------------------------------------------------

    def _create(self, account: FakeAccount, request: Request) -> Response:
        values = request.values
        media_type = values.get("media_type", "")
        item = values.get("is_carousel_item") == "true"
        caption = values.get("caption", "")
        if len(caption) > 2200:
            return self._error(400, 100, "(#100) The caption is too long", subcode=2207010)
        if values.get("location_id") and values["location_id"] not in self.places:
            return self._error(400, 100, "Invalid parameter",
                               user_msg="INSTAGRAM_PLATFORM_API__INVALID_LOCATION_ID")
        children: list[str] = []
        if media_type == "CAROUSEL":
            children = [c for c in values.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 10 or any(
                    self.containers.get(c, {}).get("ig_user") != account.id
                    or not self.containers[c]["is_carousel_item"] for c in children):
                return self._error(400, 100, "(#100) Param children must be 2 to 10 carousel "
                                   "item containers of this account")
            if any(self._status(self.containers[c])[0] != "FINISHED" for c in children):
                return self._error(400, 9007, "Media ID is not available", subcode=2207027,
                                   user_msg="The media is not ready for publishing, please "
                                   "wait for a moment")
            url = ""
        elif media_type in ("REELS", "VIDEO"):
            if media_type == "VIDEO" and not item:
                return self._error(400, 100, "(#100) The media type VIDEO is no longer "
                                   "supported for single posts: use REELS")
            url = values.get("video_url", "")
        elif media_type in ("", "IMAGE"):
            url = values.get("image_url", "")
        else:
            return self._error(400, 100, f"(#100) Invalid media_type {media_type}")
        if media_type != "CAROUSEL" and not re.match(r"^https?://", url):
            return self._error(400, 9004, "Only photo or video can be accepted as media type.",
                               subcode=2207052, user_msg="The media could not be fetched "
                               f"from this URI: {url}")
        container = {"id": str(next(self._ids)), "ig_user": account.id,
                     "media_type": media_type or "IMAGE", "is_carousel_item": item,
                     "url": url, "caption": caption, "children": children,
                     "location_id": values.get("location_id", ""),
                     "alt_text": values.get("alt_text", ""),
                     "share_to_feed": values.get("share_to_feed", ""),
                     "polls_left": self.image_polls if media_type in ("", "IMAGE")
                     else self.video_polls,
                     "fails_with": next((s for part, s in self._fetch_failures.items()
                                         if url and part in url), None),
                     "expired": False, "published": False}
        self.containers[container["id"]] = container
        return self._json({"id": container["id"]})

    def _status(self, container: dict, *, read: bool = False) -> tuple[str, str]:
        if container["published"]:
            return "PUBLISHED", "Published: Media has been successfully published."
        if container["expired"]:
            return "EXPIRED", "Expired: Media was not published within 24 hours."
        if container["polls_left"] > 0:
            if read:
                container["polls_left"] -= 1
            return "IN_PROGRESS", "In Progress: Media is still being processed."
        if container["fails_with"]:
            return "ERROR", f"Error: Media upload has failed with error code " \
                            f"{container['fails_with']}"
        return "FINISHED", "Finished: Media has been uploaded and it is complete."

    def _container_fields(self, container: dict, request: Request) -> dict:
        code, status = self._status(container, read=True)
        fields = (request.args.get("fields") or "id").split(",")
        known = {"id": container["id"], "status_code": code, "status": status}
        return {name: known[name] for name in fields if name in known} | {"id": container["id"]}

    def _usage(self, account: FakeAccount) -> int:
        since = datetime.now(UTC) - timedelta(seconds=self.quota_duration)
        return self.quota_used_elsewhere + sum(
            1 for m in self.media if m["ig_user"] == account.id and m["created"] >= since)

    def _publish(self, account: FakeAccount, creation_id: str) -> Response:
        container = self.containers.get(creation_id)
        if container is None or container["ig_user"] != account.id \
                or container["is_carousel_item"]:
            return self._error(400, 100, "(#100) Param creation_id is not a container of "
                               "this account")
        code, _status = self._status(container)
        if code == "PUBLISHED":
            return self._error(400, 100, "(#100) This container has already been published")
        if code == "EXPIRED":
            return self._error(400, -2, "The media you are trying to access has expired. "
                               "Please try to upload again.", subcode=2207020)
        if code != "FINISHED":
            return self._error(400, 9007, "Media ID is not available", subcode=2207027,
                               user_msg="The media is not ready for publishing, please wait "
                               "for a moment")
        if self._usage(account) >= self.quota_total:
            return self._error(400, 9, "Application request limit reached", subcode=2207042,
                               user_msg="You reached maximum number of posts that is allowed "
                               "to be published by Content Publishing API.")
        container["published"] = True
        now = datetime.now(UTC)
        media = {"id": str(next(self._ids)), "ig_user": account.id,
                 "container": container["id"], "caption": container["caption"],
                 "media_type": {"": "IMAGE", "IMAGE": "IMAGE", "REELS": "VIDEO",
                                "CAROUSEL": "CAROUSEL_ALBUM"}[container["media_type"]],
                 "location_id": container["location_id"], "created": now,
                 "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                 "permalink": f"https://www.instagram.com/p/{secrets.token_urlsafe(8)}/",
                 "comments": [], "insights": {}, "like_count": 0}
        self.media.append(media)
        return self._json({"id": media["id"]})


@pytest.fixture
def fake_instagram(app, monkeypatch):
    """A running fake, with the app's Facebook settings pointed at it."""
    with FakeInstagram() as server:
        monkeypatch.setitem(app.config, "FACEBOOK_APP_ID", APP_ID)
        monkeypatch.setitem(app.config, "FACEBOOK_APP_SECRET", APP_SECRET)
        monkeypatch.setitem(app.config, "FACEBOOK_GRAPH_URL", server.url + "/v21.0")
        monkeypatch.setitem(app.config, "FACEBOOK_DIALOG_URL",
                            server.url + "/v21.0/dialog/oauth")
        # Long enough for a loaded CI machine (a 2 s read timed out once on a video
        # upload); the tests of a timeout make the fake hang past it.
        monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 5)
        yield server
