"""A fake Facebook Graph API over real loopback HTTP, for the adapter, the connect flow and
the engine tests.

It answers like Graph API v21 on the routes Relais uses:

    GET  /oauth/access_token     code → short-lived user token; fb_exchange_token → long-lived
    GET  /me/accounts            the user's Pages (Page token, tasks, location), paged
    POST /{page}/feed            message, link, place, attached_media[i]={"media_fbid"} → {"id"}
    POST /{page}/photos          multipart source + caption (+ place); published=false →
                                 unpublished
    POST /{page}/videos          the chunked upload (tests/fakes/facebook_video.py)
    GET  /{page}/feed            since (unix time), limit (≤ 100), fields, after → paged,
                                 newest first
    POST /{post}/comments        message → {"id"} (a video's id works too)
    GET  /{post}                 reactions / comments summaries and shares; a video node
    GET  /{page}                 the Page node: followers_count, fan_count…

The routes are served by mixins beside this module: facebook_oauth.py (the code exchange,
``/me/accounts``), facebook_posts.py (feed, photos, comments, nodes) and facebook_video.py
(the chunked video upload); this module holds the server, the token and proof checks,
paging, the failure knobs and the fixture.

Paging is cursor-based as in "Paginated Results": ``{"data": [...], "paging": {"cursors":
{"before", "after"}, "next": <the same request with after=…>}}``, ``next`` only when more
remain. Errors have Graph's shape ``{"error": {"message", "type", "code", "error_subcode",
"error_data", "fbtrace_id"}}``. Tokens (``access_token`` parameter or ``Authorization:
Bearer``) are checked: unknown or revoked ones get code 190. The ``appsecret_proof`` of
"Securing Graph API Requests" (HMAC-SHA256 of the token keyed with ``app_secret``, hex) is
checked when sent, and required when ``require_proof`` is on (the app's "Require App
Secret"): a wrong one gets "Invalid appsecret_proof provided in the API argument", a
missing one "API calls from the server require an appsecret_proof argument" (both HTTP
400, ``GraphMethodException`` code 100). ``place`` must be a known place (a Page with a
location, or ``add_place``), else code 100.

Knobs:
- ``p_5xx``, ``p_429``, ``p_store_then_hang`` (probabilities, seeded with ``seed``): a 500
  (code 2); a rate-limit refusal (HTTP 400, code 4, ``X-App-Usage`` at 100 with
  ``estimated_time_to_regain_access``); a post stored then its answer held back
  ``hang_seconds`` (longer than the client's timeout).
- ``fail_next(status, code=..., count=..., path=..., phase=..., after_store=...)``: the
  next matching requests fail; with ``after_store`` the request is served (a post is
  stored) and its answer replaced by the error. ``hang_next(count, path=..., phase=...)``.
- ``revoke_token(token)``; ``usage`` (the ``X-App-Usage`` sent on every answer);
  ``accounts_page_size`` and ``feed_page_size`` (the most per page, whatever ``limit``).

One lock guards everything. ``posts`` is what it stored (``{"id", "page_id", "message",
"photos", "link", "place", "video_id", "created_time", "comments"}``); ``requests`` what
it was asked (with the files' names, types and sizes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.wrappers import Request, Response

from .facebook_oauth import FakeOAuth
from .facebook_posts import FakePosts
from .facebook_video import FakeVideos
from .server import LoopbackServer

APP_ID = "1234567890"
APP_SECRET = "fake-app-secret"


@dataclass
class FakePage:
    id: str
    name: str
    username: str
    token: str
    tasks: list[str] = field(default_factory=lambda: ["CREATE_CONTENT", "MODERATE",
                                                      "ADVERTISE", "ANALYZE"])
    location: dict | None = None  # Graph's Page ``location`` (street, zip, city…)
    followers_count: int = 0  # the Page node's audience, set by a test
    fan_count: int = 0


@dataclass
class _Failure:
    status: int
    code: int
    path: str
    message: str
    phase: str = ""
    after_store: bool = False


@dataclass
class _Hang:
    path: str = ""
    phase: str = ""


def _matches(rule: _Failure | _Hang, path: str, request: Request) -> bool:
    return rule.path in path and (not rule.phase
                                  or request.form.get("upload_phase") == rule.phase)


class FakeFacebook(FakeOAuth, FakePosts, FakeVideos, LoopbackServer):
    def __init__(self, *, seed: int = 0, p_5xx: float = 0.0, p_429: float = 0.0,
                 p_store_then_hang: float = 0.0, hang_seconds: float = 5.0,
                 regain_minutes: int = 2, require_proof: bool = True):
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._ids = itertools.count(100_000_001)
        self.p_5xx, self.p_429, self.p_store_then_hang = p_5xx, p_429, p_store_then_hang
        self.hang_seconds = hang_seconds
        self.regain_minutes = regain_minutes
        self.app_id, self.app_secret = APP_ID, APP_SECRET
        self.require_proof = require_proof
        self.accounts_page_size = 100
        self.feed_page_size = 100
        self.pages: dict[str, FakePage] = {}
        self.places: set[str] = set()
        self.user_pages: dict[str, list[str]] = {}  # user token → page ids
        self.codes: dict[str, dict] = {}  # code → {"user": token, "redirect_uri", ...}
        self.revoked: set[str] = set()
        self.posts: list[dict] = []
        self.photos: dict[str, dict] = {}
        self.videos: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.usage: dict[str, Any] | None = None
        self._failures: list[_Failure] = []
        self._hangs: list[_Hang] = []

    # --- setting up -----------------------------------------------------------------------

    def add_page(self, name: str, username: str = "", *, tasks: list[str] | None = None,
                 page_id: str | None = None, location: dict | None = None) -> FakePage:
        with self._lock:
            page = FakePage(page_id or str(next(self._ids)), name, username,
                            "EAAPage" + secrets.token_hex(8), location=location)
            if tasks is not None:
                page.tasks = tasks
            self.pages[page.id] = page
            if location:
                self.places.add(page.id)
            return page

    def add_place(self) -> str:
        """The id of another place's Page, taggable with ``place``."""
        with self._lock:
            place_id = str(next(self._ids))
            self.places.add(place_id)
            return place_id

    def add_user(self, *pages: FakePage) -> str:
        """A person's long-lived user token, administering ``pages``."""
        with self._lock:
            token = "EAAUser" + secrets.token_hex(8)
            self.user_pages[token] = [p.id for p in pages]
            return token

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.revoked.add(token)

    def fail_next(self, status: int, *, code: int = 2, count: int = 1, path: str = "",
                  message: str = "An unexpected error has occurred.", phase: str = "",
                  after_store: bool = False) -> None:
        with self._lock:
            self._failures.extend(_Failure(status, code, path, message, phase, after_store)
                                  for _ in range(count))

    def hang_next(self, count: int = 1, *, path: str = "", phase: str = "") -> None:
        """The next ``count`` matching POSTs are served, then answered too late."""
        with self._lock:
            self._hangs.extend(_Hang(path, phase) for _ in range(count))

    def posts_with_message(self, message: str) -> int:
        with self._lock:
            return sum(1 for p in self.posts if p["message"] == message)

    def proof(self, token: str) -> str:
        return hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()

    # --- answers --------------------------------------------------------------------------

    def _json(self, body: Any, status: int = 200, headers: dict | None = None) -> Response:
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        if self.usage is not None:
            response.headers["X-App-Usage"] = json.dumps(self.usage)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _error(self, status: int, code: int, message: str, *, subcode: int | None = None,
               kind: str = "OAuthException", headers: dict | None = None,
               data: dict | None = None) -> Response:
        error = {"message": message, "type": kind, "code": code,
                 "fbtrace_id": "A" + secrets.token_hex(5)}
        if subcode is not None:
            error["error_subcode"] = subcode
        if data is not None:
            error["error_data"] = data
        return self._json({"error": error}, status, headers)

    def _rate_limited(self) -> Response:
        usage = {"call_count": 100, "total_cputime": 12, "total_time": 40,
                 "estimated_time_to_regain_access": self.regain_minutes}
        return self._error(400, 4, "(#4) Application request limit reached",
                           headers={"X-App-Usage": json.dumps(usage)})

    def _token(self, request: Request) -> str:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith(("bearer ", "oauth ")):
            return auth.split(" ", 1)[1].strip()
        return request.values.get("access_token", "")

    def _invalid_token(self) -> Response:
        return self._error(400, 190, "Error validating access token: The session has been "
                           "invalidated because the user changed their password or Facebook "
                           "has changed the session for security reasons.", subcode=460)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._answer(request)
        finally:
            request.close()  # the uploads' spooled files
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        path = request.path
        if re.match(r"^/v\d+\.\d+/", path):  # the API version, as in the real URLs
            path = path[path.index("/", 1):]
        hang = False
        with self._lock:
            files = {}
            for name, upload in request.files.items():
                files[name] = (upload.filename, upload.mimetype, len(upload.read()))
                upload.seek(0)
            self.requests.append({"method": request.method, "path": path,
                                  "args": request.args.to_dict(flat=False),
                                  "form": request.form.to_dict(flat=False), "files": files})
            failure = next((f for f in self._failures if _matches(f, path, request)), None)
            if failure is not None:
                self._failures.remove(failure)
                refusal = self._error(failure.status, failure.code, failure.message)
                if not failure.after_store:
                    return refusal
                self._route(request, path)  # served, then its answer replaced
                return refusal
            creates = request.method == "POST"
            if creates and self.p_429 and self._random.random() < self.p_429:
                return self._rate_limited()
            if creates and self.p_5xx and self._random.random() < self.p_5xx:
                return self._error(500, 2, "An unexpected error has occurred. Please retry "
                                   "your request later.")
            held = next((h for h in self._hangs if _matches(h, path, request)), None)
            if creates and held is not None:
                self._hangs.remove(held)
                hang = True
            elif creates and self.p_store_then_hang and (
                    self._random.random() < self.p_store_then_hang):
                hang = True
            response = self._route(request, path)
        if hang and response.status_code < 300:
            self._stopping.wait(self.hang_seconds)  # stored; the answer comes too late
        return response

    def _proof_refusal(self, request: Request, token: str) -> Response | None:
        proof = request.values.get("appsecret_proof")
        if proof is not None and self.app_secret and not hmac.compare_digest(
                proof, self.proof(token)):
            return self._error(400, 100, "Invalid appsecret_proof provided in the API "
                               "argument", kind="GraphMethodException")
        if proof is None and self.require_proof:
            return self._error(400, 100, "API calls from the server require an "
                               "appsecret_proof argument", kind="GraphMethodException")
        return None

    def _route(self, request: Request, path: str) -> Response:
        parts = [p for p in path.split("/") if p]
        if parts == ["oauth", "access_token"]:
            return self._access_token(request)
        token = self._token(request)
        if not token or token in self.revoked or not (
                token in self.user_pages or any(p.token == token for p in self.pages.values())):
            return self._invalid_token()
        refused = self._proof_refusal(request, token)
        if refused is not None:
            return refused
        if parts == ["me", "accounts"] and request.method == "GET":
            return self._accounts(request, token)
        if len(parts) == 2 and parts[0] in self.pages:
            page = self.pages[parts[0]]
            if token != page.token:
                return self._error(403, 200, "(#200) The user hasn't authorized the "
                                   "application to perform this action")
            if parts[1] == "feed" and request.method == "POST":
                return self._publish(page, request)
            if parts[1] == "photos" and request.method == "POST":
                return self._photo(page, request)
            if parts[1] == "videos" and request.method == "POST":
                return self._page_videos(page, request)
            if parts[1] == "feed" and request.method == "GET":
                return self._feed(page, request)
        if len(parts) == 2 and parts[1] == "comments" and request.method == "POST":
            return self._comment(parts[0], token, request)
        if len(parts) == 1 and parts[0] in self.pages and request.method == "GET":
            return self._page_node(self.pages[parts[0]], token, request)
        if len(parts) == 1 and request.method == "GET":
            return self._node(parts[0], token)
        return self._unsupported("/".join(parts))

    def _unsupported(self, what: str) -> Response:
        return self._error(400, 100, f"Unsupported request - method type: get. Object with ID "
                           f"'{what}' does not exist, cannot be loaded due to missing "
                           "permissions, or does not support this operation.", subcode=33,
                           kind="GraphMethodException")

    def _paged(self, request: Request, items: list, page_size: int) -> Response:
        """``items`` cut at the ``after`` cursor, ``limit`` (capped) at a time."""
        try:
            start = int(base64.urlsafe_b64decode(request.args.get("after", "") + "==") or 0)
        except ValueError:
            return self._error(400, 100, "(#100) Invalid cursor")
        try:
            limit = min(int(request.args.get("limit") or 25), page_size)
        except ValueError:
            return self._error(400, 100, "(#100) limit must be an integer")
        chunk = items[start:start + limit]

        def cursor(n: int) -> str:
            return base64.urlsafe_b64encode(str(n).encode()).decode().rstrip("=")

        paging: dict[str, Any] = {"cursors": {"before": cursor(start),
                                              "after": cursor(start + len(chunk))}}
        if start + len(chunk) < len(items):
            query = {k: v for k, v in request.args.items() if k != "after"}
            query["after"] = cursor(start + len(chunk))
            paging["next"] = f"{self.url}{request.path}?{urlencode(query)}"
        return self._json({"data": chunk, "paging": paging})

@pytest.fixture
def fake_facebook(app, monkeypatch):
    """A running fake, with the app's Facebook settings pointed at it."""
    with FakeFacebook() as server:
        monkeypatch.setitem(app.config, "FACEBOOK_APP_ID", APP_ID)
        monkeypatch.setitem(app.config, "FACEBOOK_APP_SECRET", APP_SECRET)
        monkeypatch.setitem(app.config, "FACEBOOK_GRAPH_URL", server.url + "/v21.0")
        monkeypatch.setitem(app.config, "FACEBOOK_DIALOG_URL",
                            server.url + "/v21.0/dialog/oauth")
        monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 2)
        yield server
