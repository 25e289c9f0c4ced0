"""A fake X API v2 over real loopback HTTP, for the X adapter, its connect flow and the
engine tests. It answers like the documented API (docs.x.com, checked 2025) on the routes
Relais uses:

    POST /2/oauth2/token            HTTP Basic client_id:client_secret; authorization_code
                                    (code, redirect_uri, code_verifier checked against the
                                    S256 challenge) or refresh_token (ROTATED: the old one
                                    stops working) → {"token_type": "bearer", "expires_in":
                                    7200, "access_token", "scope", "refresh_token"?};
                                    refusals {"error", "error_description"}
    GET  /2/users/me                {"data": {"id", "name", "username"}} (x_users.py)
    POST /2/tweets                  JSON {"text", "media": {"media_ids"}, "reply":
                                    {"in_reply_to_tweet_id"}} → 201 {"data": {"id", "text"}}
    GET  /2/users/{id}/tweets       start_time, max_results, tweet.fields, pagination_token
                                    → {"data": [...], "meta": {"result_count", ...}}
    GET  /2/tweets/{id}             tweet.fields=public_metrics,non_public_metrics
    …/2/media/…                     the media upload and alt text: tests/fakes/x_media.py

Errors are problem details (``{"title", "type", "detail", "status"}``, ``errors[]`` with
``message`` for invalid requests); a refused token is the documented 401; a text this
user already posted is the 403 "You are not allowed to create a Tweet with duplicate
content.". Every answer carries ``x-rate-limit-limit/-remaining/-reset`` for its route
(``limits`` per route, default 900 per 15 minutes); ``daily_tweet_limit`` adds the
``x-user-limit-24hour-*`` headers to ``POST /2/tweets``. The timeline gives texts back as
X does: links as t.co, an attached media's t.co link appended, ``&<>`` as entities.

Knobs: ``fail_next(status, path=..., method=..., body=..., headers=..., skip=...)``,
``hang_next(count, path=..., skip=...)`` (a post or upload done, its answer held back
``hang_seconds``), ``p_5xx``, ``p_429`` (seeded), ``revoke_token``, ``expire_access``,
``processing_polls`` / ``processing_fails`` (STATUS polls before a video is ready, or
fails). ``tweets``, ``media``, ``requests`` are what it stored and was asked; one lock
guards all.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from twitter_text import parse_tweet
from werkzeug.wrappers import Request, Response

from .server import LoopbackServer
from .x_media import FakeXMedia
from .x_users import FakeXUsers

CLIENT_ID = "fake-x-client-id"
CLIENT_SECRET = "fake-x-client-secret"
WINDOW = 15 * 60
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
_URL = re.compile(r"https?://\S+")


@dataclass
class FakeUser:
    id: str
    name: str
    username: str
    followers_count: int = 0  # the user's public_metrics, set by a test
    following_count: int = 0


class FakeX(FakeXMedia, FakeXUsers, LoopbackServer):
    def __init__(self, *, seed: int = 0, p_5xx: float = 0.0, p_429: float = 0.0,
                 hang_seconds: float = 5.0):
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._ids = itertools.count(1_880_000_000_000_000_001)
        self.p_5xx, self.p_429, self.hang_seconds = p_5xx, p_429, hang_seconds
        self.users: dict[str, FakeUser] = {}
        self.codes: dict[str, dict] = {}
        self.access: dict[str, dict] = {}  # token → {"user", "expires"}
        self.refresh: dict[str, str] = {}  # live refresh token → user id
        self.rotated: set[str] = set()  # refresh tokens used once (dead)
        self.tweets: list[dict] = []
        self.media: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.limits: dict[str, int] = {}
        self.daily_tweet_limit: int | None = None
        self.processing_polls, self.processing_fails, self.check_after_secs = 1, False, 0
        self._used: dict[tuple[str, str], list[float]] = {}
        self._failures: list[dict] = []
        self._hangs: dict[str, tuple[int, int]] = {}  # path → (skip, count)

    # --- setting up -----------------------------------------------------------------------

    def add_user(self, name: str, username: str) -> FakeUser:
        with self._lock:
            user = FakeUser(str(next(self._ids)), name, username)
            self.users[user.id] = user
            return user

    def issue_code(self, user: FakeUser, redirect_uri: str, challenge: str,
                   scope: str = "tweet.read tweet.write users.read media.write offline.access"
                   ) -> str:
        """What X's consent page would send back after the person approved."""
        with self._lock:
            code = "x-code-" + secrets.token_urlsafe(12)
            self.codes[code] = {"user": user.id, "redirect_uri": redirect_uri,
                                "challenge": challenge, "scope": scope}
            return code

    def issue_tokens(self, user: FakeUser, *, lasts: int = 7200) -> dict:
        """Tokens as a finished sign-in leaves them (for tests that skip the flow)."""
        with self._lock:
            return self._tokens(user.id, "tweet.read tweet.write users.read media.write "
                                "offline.access", lasts)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.access.pop(token, None)
            self.refresh.pop(token, None)

    def expire_access(self, token: str) -> None:
        with self._lock:
            self.access[token]["expires"] = time.time() - 1

    def fail_next(self, status: int, *, path: str = "/2/tweets", method: str = "POST",
                  body: dict | None = None, headers: dict | None = None, count: int = 1,
                  skip: int = 0) -> None:
        """The next ``count`` calls to ``method path`` (after ``skip`` that pass) answer
        ``status`` with ``body`` (a 503 problem by default)."""
        with self._lock:
            self._failures += [{"status": status, "path": path, "method": method,
                                "body": body, "headers": headers or {}, "skip": skip}
                               for _ in range(count)]

    def hang_next(self, count: int = 1, *, path: str = "/2/tweets", skip: int = 0) -> None:
        """The next ``count`` POSTs to ``path`` (after ``skip`` that answer in time) are
        done, their answers held back."""
        with self._lock:
            self._hangs[path] = (skip, self._hangs.get(path, (0, 0))[1] + count)

    def texts(self, user: FakeUser | None = None) -> list[str]:
        with self._lock:
            return [t["text"] for t in self.tweets if user is None or t["author"] == user.id]

    # --- plumbing -------------------------------------------------------------------------

    def _tokens(self, user_id: str, scope: str, lasts: int = 7200) -> dict:
        access = "x-at-" + secrets.token_urlsafe(16)
        self.access[access] = {"user": user_id, "expires": time.time() + lasts}
        answer = {"token_type": "bearer", "expires_in": lasts, "access_token": access,
                  "scope": scope}
        if "offline.access" in scope.split():
            answer["refresh_token"] = "x-rt-" + secrets.token_urlsafe(16)
            self.refresh[answer["refresh_token"]] = user_id
        return answer

    def _json(self, body: Any, status: int = 200, headers: dict | None = None) -> Response:
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        for name, value in (headers or {}).items():
            response.headers[name] = str(value)
        return response

    def _problem(self, status: int, title: str, detail: str, **extra: Any) -> Response:
        return self._json({"title": title, "type": extra.pop("type", "about:blank"),
                           "status": status, "detail": detail, **extra}, status)

    def _invalid(self, message: str, parameter: str = "") -> Response:
        return self._json({"errors": [{"parameters": {parameter: []} if parameter else {},
                                       "message": message}],
                           "title": "Invalid Request",
                           "detail": "One or more parameters to your request was invalid.",
                           "type": "https://api.twitter.com/2/problems/invalid-request"}, 400)

    def _oauth_error(self, status: int, error: str, description: str) -> Response:
        return self._json({"error": error, "error_description": description}, status)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._answer(request)
        finally:
            request.close()
        return response(environ, start_response)

    def _bucket(self, method: str, path: str) -> str:
        return f"{method} " + re.sub(r"/\d{5,}", "/:id", path)  # ids, not the "/2"

    def _answer(self, request: Request) -> Response:
        path, method = request.path, request.method
        files = {k: (f.filename, f.mimetype, f.read()) for k, f in request.files.items()}
        hang = False
        with self._lock:
            self.requests.append({
                "method": method, "path": path, "args": request.args.to_dict(),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "json": request.get_json(silent=True), "form": request.form.to_dict(),
                "files": {k: (n, m, len(d)) for k, (n, m, d) in files.items()}})
            failure = next((f for f in self._failures if f["method"] == method
                            and f["path"] == path), None)
            if failure is not None and failure["skip"]:
                for waiting in self._failures:  # the queued failures wait together
                    if waiting["method"] == method and waiting["path"] == path:
                        waiting["skip"] -= 1
                failure = None
            if failure is not None:
                self._failures.remove(failure)
                body = failure["body"] or {"title": "Service Unavailable", "type": "about:blank",
                                           "status": failure["status"],
                                           "detail": "Service Unavailable"}
                return self._json(body, failure["status"], failure["headers"])
            if path == "/2/oauth2/token":
                return self._token_endpoint(request)
            user = self._user(request)
            if user is None:
                return self._problem(401, "Unauthorized", "Unauthorized")
            limit_headers, over = self._count(self._bucket(method, path), user.id)
            creates = method == "POST" and path == "/2/tweets"
            if over or (creates and self.p_429 and self._random.random() < self.p_429):
                return self._json({"title": "Too Many Requests", "detail": "Too Many Requests",
                                   "type": "about:blank", "status": 429}, 429,
                                  {**limit_headers, "x-rate-limit-remaining": 0})
            if creates and self.p_5xx and self._random.random() < self.p_5xx:
                return self._problem(503, "Service Unavailable", "Service Unavailable")
            response = self._route(request, path, user, files)
            for name, value in limit_headers.items():
                response.headers.setdefault(name, str(value))
            skip, hangs = self._hangs.get(path, (0, 0))
            if method == "POST" and response.status_code < 300 and hangs:
                hang = not skip
                self._hangs[path] = (max(0, skip - 1), hangs - (not skip))
        if hang:
            self._stopping.wait(self.hang_seconds)  # stored; its answer comes too late
        return response

    def _count(self, bucket: str, user_id: str) -> tuple[dict, bool]:
        now = time.time()
        used = [t for t in self._used.get((bucket, user_id), []) if t > now - WINDOW]
        used.append(now)
        self._used[(bucket, user_id)] = used
        limit = self.limits.get(bucket, 900)
        headers = {"x-rate-limit-limit": limit,
                   "x-rate-limit-remaining": max(0, limit - len(used)),
                   "x-rate-limit-reset": int(used[0] + WINDOW)}
        if bucket == "POST /2/tweets" and self.daily_tweet_limit is not None:
            today = sum(1 for t in self.tweets if t["author"] == user_id
                        and t["created"] > now - 86400)
            headers |= {"x-user-limit-24hour-limit": self.daily_tweet_limit,
                        "x-user-limit-24hour-remaining": max(0, self.daily_tweet_limit
                                                             - today - 1),
                        "x-user-limit-24hour-reset": int(now + 86400)}
        return headers, len(used) > limit

    def _user(self, request: Request) -> FakeUser | None:
        auth = request.headers.get("Authorization", "")
        grant = self.access.get(auth[7:] if auth.startswith("Bearer ") else "")
        if grant is None or grant["expires"] < time.time():
            return None
        return self.users.get(grant["user"])

    # --- OAuth 2.0 ------------------------------------------------------------------------

    def _token_endpoint(self, request: Request) -> Response:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return self._oauth_error(401, "unauthorized_client",
                                     "Missing valid authorization header")
        form = request.form
        if form.get("grant_type") == "refresh_token":
            token = form.get("refresh_token", "")
            user_id = self.refresh.pop(token, None)
            if user_id is None:
                return self._oauth_error(400, "invalid_request",
                                         "Value passed for the token was invalid.")
            self.rotated.add(token)
            return self._json(self._tokens(user_id, "tweet.read tweet.write users.read "
                                                    "media.write offline.access"))
        if form.get("grant_type") != "authorization_code":
            return self._oauth_error(400, "invalid_request", "Missing required parameter "
                                     "[grant_type].")
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return self._oauth_error(400, "invalid_request",
                                     "Value passed for the authorization code was invalid.")
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return self._oauth_error(400, "invalid_request",
                                     "Value passed for the code verifier was invalid.")
        return self._json(self._tokens(grant["user"], grant["scope"]))

    # --- the API --------------------------------------------------------------------------

    def _route(self, request: Request, path: str, user: FakeUser, files: dict) -> Response:
        method = request.method
        parts = [p for p in path.split("/") if p]
        if path == "/2/users/me" and method == "GET":
            return self._me(request, user)
        if path == "/2/tweets" and method == "POST":
            return self._create(request.get_json(silent=True) or {}, user)
        if len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "tweets":
            return self._timeline(request, parts[2])
        if len(parts) == 3 and parts[:2] == ["2", "tweets"] and method == "GET":
            return self._lookup(request, parts[2], user)
        if path == "/2/media/metadata" and method == "POST":
            return self._metadata(request.get_json(silent=True) or {}, user)
        if parts[:3] == ["2", "media", "upload"]:
            return self._upload(request, parts[3:], user, files)
        return self._problem(404, "Not Found Error", f"Unknown route {method} {path}")

    def _create(self, body: dict, user: FakeUser) -> Response:
        text = body.get("text") or ""
        media_ids = [str(m) for m in (body.get("media") or {}).get("media_ids") or []]
        if not text and not media_ids:
            return self._invalid("$.text or $.media is required", "text")
        if parse_tweet(text).weightedLength > 280:
            return self._invalid("Tweet text is too long.", "text")
        for media_id in media_ids:
            item = self.media.get(media_id)
            if (item is None or item["owner"] != user.id or item["expires"] < time.time()
                    or item["state"] != "succeeded"):
                return self._invalid("Your media IDs are invalid.", "media.media_ids")
        reply_to = str((body.get("reply") or {}).get("in_reply_to_tweet_id") or "")
        if reply_to and not any(t["id"] == reply_to for t in self.tweets):
            return self._problem(403, "Forbidden", "You attempted to reply to a Tweet that "
                                 "is deleted or not visible to you.")
        if text and any(t["author"] == user.id and t["text"] == text for t in self.tweets):
            return self._problem(403, "Forbidden", DUPLICATE)
        shown = html.escape(_URL.sub(lambda _m: "https://t.co/" + secrets.token_hex(5), text),
                            quote=False)
        if media_ids:
            shown = (shown + " https://t.co/" + secrets.token_hex(5)).strip()
        tweet = {"id": str(next(self._ids)), "author": user.id, "text": text, "shown": shown,
                 "media_ids": media_ids, "reply_to": reply_to, "created": time.time(),
                 "metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                             "quote_count": 0, "bookmark_count": 0, "impression_count": 0},
                 "private": {"impression_count": 0, "url_link_clicks": 0,
                             "user_profile_clicks": 0}}
        self.tweets.append(tweet)
        return self._json({"data": {"id": tweet["id"], "text": shown,
                                    "edit_history_tweet_ids": [tweet["id"]]}}, 201)

    @staticmethod
    def _shape(tweet: dict, fields: set[str]) -> dict:
        out = {"id": tweet["id"], "text": tweet["shown"],
               "edit_history_tweet_ids": [tweet["id"]]}
        if "created_at" in fields:
            out["created_at"] = datetime.fromtimestamp(tweet["created"], UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if "referenced_tweets" in fields and tweet["reply_to"]:
            out["referenced_tweets"] = [{"type": "replied_to", "id": tweet["reply_to"]}]
        if "public_metrics" in fields:
            out["public_metrics"] = dict(tweet["metrics"])
        if "non_public_metrics" in fields:
            out["non_public_metrics"] = dict(tweet["private"])
        return out

    def _timeline(self, request: Request, user_id: str) -> Response:
        args = request.args
        start = args.get("start_time")
        since = 0.0
        if start:
            try:
                since = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=UTC).timestamp()
            except ValueError:
                return self._invalid(f"Invalid 'start_time':'{start}'.", "start_time")
        size = int(args.get("max_results") or 10)
        if not 5 <= size <= 100:
            return self._invalid("The `max_results` query parameter value is not between "
                                 "5 and 100", "max_results")
        fields = set((args.get("tweet.fields") or "").split(","))
        posts = [t for t in reversed(self.tweets)
                 if t["author"] == user_id and int(t["created"]) >= since]
        offset = int(args.get("pagination_token") or 0)
        page = posts[offset:offset + size]
        if not page:
            return self._json({"meta": {"result_count": 0}})
        meta: dict[str, Any] = {"result_count": len(page), "newest_id": page[0]["id"],
                                "oldest_id": page[-1]["id"]}
        if offset + size < len(posts):
            meta["next_token"] = str(offset + size)
        return self._json({"data": [self._shape(t, fields) for t in page], "meta": meta})

    def _lookup(self, request: Request, tweet_id: str, user: FakeUser) -> Response:
        tweet = next((t for t in self.tweets if t["id"] == tweet_id), None)
        if tweet is None:
            return self._json({"errors": [{
                "value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].",
                "title": "Not Found Error", "resource_type": "tweet", "parameter": "id",
                "resource_id": tweet_id,
                "type": "https://api.twitter.com/2/problems/resource-not-found"}]})
        fields = set((request.args.get("tweet.fields") or "").split(","))
        if "non_public_metrics" in fields and (tweet["author"] != user.id or
                                               tweet["created"] < time.time() - 30 * 86400):
            return self._invalid("non_public_metrics is only available for your own Posts "
                                 "of the last 30 days.", "tweet.fields")
        return self._json({"data": self._shape(tweet, fields)})


@pytest.fixture
def fake_x(app, monkeypatch):
    """A running fake, with the app's X settings pointed at it."""
    with FakeX() as server:
        monkeypatch.setitem(app.config, "X_CLIENT_ID", CLIENT_ID)
        monkeypatch.setitem(app.config, "X_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setitem(app.config, "X_API_URL", server.url)
        monkeypatch.setitem(app.config, "X_AUTHORIZE_URL", server.url + "/i/oauth2/authorize")
        monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 2)
        yield server
