"""A fake Facebook Graph API over real loopback HTTP, for the adapter, the connect flow and
the chaos test.

It answers like Graph API v21 on the routes Relais uses:

    GET  /oauth/access_token     code → short-lived user token; fb_exchange_token → long-lived
    GET  /me/accounts            the user's Pages, each with its Page access token and tasks
    POST /{page}/feed            message (+ attached_media[i]={"media_fbid": ...}) → {"id"}
    POST /{page}/photos          multipart source + caption; published=false → unpublished
    GET  /{page}/feed            since (unix time), fields → {"data": [...]} newest first
    POST /{post}/comments        message → {"id"}
    GET  /{post}                 reactions / comments summaries and shares

Errors have Graph's shape ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``. Tokens (``access_token`` parameter or ``Authorization: Bearer``) are
checked: unknown or revoked ones get code 190. Knobs:

- ``p_5xx``, ``p_429``, ``p_store_then_hang`` (probabilities, seeded with ``seed``): a 500
  (code 2); a rate-limit refusal (HTTP 400, code 4, ``X-App-Usage`` at 100 with
  ``estimated_time_to_regain_access``); a post stored then its answer held back
  ``hang_seconds`` (longer than the client's timeout).
- ``fail_next(status, code=..., count=..., path=...)``, ``hang_next(count)``.
- ``revoke_token(token)``; ``usage`` (the ``X-App-Usage`` sent on every answer).

One lock guards everything. ``posts`` is what it stored (``{"id", "page_id", "message",
"photos", "created_time", "comments"}``); ``requests`` what it was asked.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

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


@dataclass
class _Failure:
    status: int
    code: int
    path: str
    message: str


class FakeFacebook(LoopbackServer):
    def __init__(self, *, seed: int = 0, p_5xx: float = 0.0, p_429: float = 0.0,
                 p_store_then_hang: float = 0.0, hang_seconds: float = 5.0,
                 regain_minutes: int = 2):
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._ids = itertools.count(100_000_001)
        self.p_5xx, self.p_429, self.p_store_then_hang = p_5xx, p_429, p_store_then_hang
        self.hang_seconds = hang_seconds
        self.regain_minutes = regain_minutes
        self.app_id, self.app_secret = APP_ID, APP_SECRET
        self.pages: dict[str, FakePage] = {}
        self.user_pages: dict[str, list[str]] = {}  # user token → page ids
        self.codes: dict[str, dict] = {}  # code → {"user": token, "redirect_uri", ...}
        self.revoked: set[str] = set()
        self.posts: list[dict] = []
        self.photos: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.usage: dict[str, Any] | None = None
        self._failures: list[_Failure] = []
        self._hangs = 0

    # --- setting up -----------------------------------------------------------------------

    def add_page(self, name: str, username: str = "", *, tasks: list[str] | None = None,
                 page_id: str | None = None) -> FakePage:
        with self._lock:
            page = FakePage(page_id or str(next(self._ids)), name, username,
                            "EAAPage" + secrets.token_hex(8))
            if tasks is not None:
                page.tasks = tasks
            self.pages[page.id] = page
            return page

    def add_user(self, *pages: FakePage) -> str:
        """A person's long-lived user token, administering ``pages``."""
        with self._lock:
            token = "EAAUser" + secrets.token_hex(8)
            self.user_pages[token] = [p.id for p in pages]
            return token

    def issue_code(self, user_token: str, redirect_uri: str,
                   code_challenge: str | None = None) -> str:
        """What the dialog would send back after the person approved."""
        with self._lock:
            code = "AQ" + secrets.token_hex(12)
            self.codes[code] = {"user": user_token, "redirect_uri": redirect_uri,
                                "challenge": code_challenge}
            return code

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.revoked.add(token)

    def fail_next(self, status: int, *, code: int = 2, count: int = 1, path: str = "",
                  message: str = "An unexpected error has occurred.") -> None:
        with self._lock:
            self._failures.extend(_Failure(status, code, path, message) for _ in range(count))

    def hang_next(self, count: int = 1) -> None:
        with self._lock:
            self._hangs += count

    def posts_with_message(self, message: str) -> int:
        with self._lock:
            return sum(1 for p in self.posts if p["message"] == message)

    # --- answers --------------------------------------------------------------------------

    def _json(self, body: Any, status: int = 200, headers: dict | None = None) -> Response:
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        if self.usage is not None:
            response.headers["X-App-Usage"] = json.dumps(self.usage)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _error(self, status: int, code: int, message: str, *, subcode: int | None = None,
               kind: str = "OAuthException", headers: dict | None = None) -> Response:
        error = {"message": message, "type": kind, "code": code,
                 "fbtrace_id": "A" + secrets.token_hex(5)}
        if subcode is not None:
            error["error_subcode"] = subcode
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
            self.requests.append({"method": request.method, "path": path,
                                  "args": request.args.to_dict(flat=False),
                                  "form": request.form.to_dict(flat=False),
                                  "files": {k: (f.filename, f.mimetype, len(f.read()))
                                            for k, f in request.files.items()}})
            failure = next((f for f in self._failures if f.path in path), None)
            if failure is not None:
                self._failures.remove(failure)
                return self._error(failure.status, failure.code, failure.message)
            creates = request.method == "POST"
            if creates and self.p_429 and self._random.random() < self.p_429:
                return self._rate_limited()
            if creates and self.p_5xx and self._random.random() < self.p_5xx:
                return self._error(500, 2, "An unexpected error has occurred. Please retry "
                                   "your request later.")
            if creates and (self._hangs or (self.p_store_then_hang
                                            and self._random.random() < self.p_store_then_hang)):
                self._hangs = max(0, self._hangs - 1)
                hang = True
            response = self._route(request, path)
        if hang and response.status_code < 300:
            self._stopping.wait(self.hang_seconds)  # stored; the answer comes too late
        return response

    def _route(self, request: Request, path: str) -> Response:
        parts = [p for p in path.split("/") if p]
        if parts == ["oauth", "access_token"]:
            return self._access_token(request)
        token = self._token(request)
        if not token or token in self.revoked or not (
                token in self.user_pages or any(p.token == token for p in self.pages.values())):
            return self._invalid_token()
        if parts == ["me", "accounts"] and request.method == "GET":
            if token not in self.user_pages:
                return self._error(400, 100, "(#100) Tried accessing nonexisting field "
                                   "(accounts) on node type (Page)", kind="GraphMethodException")
            return self._json({"data": [
                {"id": p.id, "name": p.name, "access_token": p.token, "tasks": p.tasks,
                 "category": "Bakery", **({"username": p.username} if p.username else {}),
                 "link": f"https://www.facebook.com/{p.id}"}
                for p in (self.pages[i] for i in self.user_pages[token])],
                "paging": {"cursors": {"before": "x", "after": "y"}}})
        if len(parts) == 2 and parts[0] in self.pages:
            page = self.pages[parts[0]]
            if token != page.token:
                return self._error(403, 200, "(#200) The user hasn't authorized the "
                                   "application to perform this action")
            if parts[1] == "feed" and request.method == "POST":
                return self._publish(page, request)
            if parts[1] == "photos" and request.method == "POST":
                return self._photo(page, request)
            if parts[1] == "feed" and request.method == "GET":
                return self._feed(page, request)
        if len(parts) == 2 and parts[1] == "comments" and request.method == "POST":
            post = self._post(parts[0], token)
            if post is None:
                return self._unsupported(parts[0])
            message = request.form.get("message", "")
            if not message:
                return self._error(400, 100, "(#100) Missing message or attachment")
            comment_id = f"{parts[0]}_{next(self._ids)}"
            post["comments"].append({"id": comment_id, "message": message})
            return self._json({"id": comment_id})
        if len(parts) == 1 and request.method == "GET":
            post = self._post(parts[0], token)
            if post is None:
                return self._unsupported(parts[0])
            return self._json({"id": post["id"],
                               "reactions": {"data": [], "summary": {
                                   "total_count": post["reactions"]}},
                               "comments": {"data": [], "summary": {
                                   "total_count": len(post["comments"])}},
                               **({"shares": {"count": post["shares"]}} if post["shares"] else {})})
        return self._unsupported("/".join(parts))

    def _unsupported(self, what: str) -> Response:
        return self._error(400, 100, f"Unsupported request - method type: get. Object with ID "
                           f"'{what}' does not exist, cannot be loaded due to missing "
                           "permissions, or does not support this operation.", subcode=33,
                           kind="GraphMethodException")

    def _post(self, post_id: str, token: str) -> dict | None:
        post = next((p for p in self.posts if p["id"] == post_id), None)
        if post is None or self.pages[post["page_id"]].token != token:
            return None
        return post

    def _access_token(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.app_id or args.get("client_secret") != self.app_secret:
            return self._error(400, 101, "Error validating application. Invalid application ID.")
        if args.get("grant_type") == "fb_exchange_token":
            short = args.get("fb_exchange_token", "")
            if short not in self.user_pages or short in self.revoked:
                return self._invalid_token()
            return self._json({"access_token": short, "token_type": "bearer",
                               "expires_in": 5_183_944})
        grant = self.codes.pop(args.get("code", ""), None)
        if grant is None:
            return self._error(400, 100, "This authorization code has been used.",
                               subcode=36009)
        if grant["redirect_uri"] != args.get("redirect_uri"):
            return self._error(400, 100, "Error validating verification code. Please make "
                               "sure your redirect_uri is identical to the one you used in "
                               "the OAuth dialog request", subcode=36008)
        if grant["challenge"]:
            from agency.networks.oauth import code_challenge

            if code_challenge(args.get("code_verifier", "")) != grant["challenge"]:
                return self._error(400, 100, "Invalid code verifier.", subcode=36007)
        return self._json({"access_token": grant["user"], "token_type": "bearer",
                           "expires_in": 5_183_944})

    def _store(self, page: FakePage, message: str, photos: list[str]) -> dict:
        post = {"id": f"{page.id}_{next(self._ids)}", "page_id": page.id, "message": message,
                "photos": photos, "created_time": datetime.now(UTC), "comments": [],
                "reactions": 0, "shares": 0}
        self.posts.append(post)
        return post

    def _publish(self, page: FakePage, request: Request) -> Response:
        message = request.form.get("message", "")
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
        if not message and not photos:
            return self._error(400, 100, "(#100) Missing message or attachment")
        return self._json({"id": self._store(page, message, photos)["id"]})

    def _photo(self, page: FakePage, request: Request) -> Response:
        source = request.files.get("source")
        if source is None or not source.mimetype.startswith("image/"):
            return self._error(400, 324, "(#324) Requires upload file")
        photo_id = str(next(self._ids))
        self.photos[photo_id] = {"page_id": page.id, "filename": source.filename}
        if request.form.get("published", "true") == "false":
            return self._json({"id": photo_id})
        post = self._store(page, request.form.get("caption", ""), [photo_id])
        return self._json({"id": photo_id, "post_id": post["id"]})

    def _feed(self, page: FakePage, request: Request) -> Response:
        since = int(request.args.get("since") or 0)
        posts = [p for p in reversed(self.posts)
                 if p["page_id"] == page.id and p["created_time"].timestamp() >= since]
        return self._json({"data": [{
            "id": p["id"], "message": p["message"],
            "created_time": p["created_time"].strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink_url": f"https://www.facebook.com/{p['id'].replace('_', '/posts/')}"}
            for p in posts if p["message"]]})


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
