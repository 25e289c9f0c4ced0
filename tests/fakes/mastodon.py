"""A fake Mastodon instance over real loopback HTTP, for the adapter, the connect flow
and the chaos test.

It answers like Mastodon 4.x (docs.joinmastodon.org) on the routes Relais uses:

    POST /api/v1/apps                      register an OAuth app
    GET  /oauth/authorize                  auto-approves as ``authorize_as`` (302 back)
    POST /oauth/token                      authorization_code → access token
    GET  /api/v1/accounts/verify_credentials
    GET  /api/v2/instance, /api/v1/instance
    POST /api/v2/media                     202, processed after ``media_processing_polls``
    GET  /api/v1/media/:id                 206 (url null) while processing, then 200
    POST /api/v1/statuses                  Idempotency-Key per account, like Mastodon
    GET  /api/v1/statuses/:id, /api/v1/statuses/:id/source
    GET  /api/v1/accounts/:id/statuses

Bearer tokens are checked (revoked ones get ``{"error": "The access token is invalid"}``),
authenticated calls carry ``X-RateLimit-*`` headers against a per-account ``budget`` per
``window_seconds``, and knobs inject failures:

- ``p_5xx``, ``p_429``, ``p_store_then_hang`` (probabilities, seeded with ``seed``): a 503;
  a 429 with a reset ``throttle_seconds`` away; a status stored and then an answer held
  back ``hang_seconds`` (longer than the client's timeout).
- ``fail_next(status, count=..., path=...)`` and ``hang_next(count)``: the same, exactly.
- ``revoke_token(token)``.

Everything is guarded by one lock, so the chaos test may hammer it from many threads.
``posts`` is what it stored; ``statuses_with_key(key)`` how many statuses one
Idempotency-Key made (the "exactly once" assertion).

    with FakeMastodon() as fake:
        token = fake.add_account("boulangerie", "Boulangerie Martin")
        ...
"""

from __future__ import annotations

import itertools
import random
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.wrappers import Request, Response

from .mastodon_oauth import (
    FakeAccount,
    FakeApp,
    FakeToken,
    OAuthEndpoints,
    _error,
    _html,
    _iso,
    _json,
    _params,
)
from .server import LoopbackServer

INVALID_TOKEN = "The access token is invalid"
SCOPES_ALL = ("read", "write", "write:statuses", "write:media")


@dataclass
class _Failure:
    status: int
    path: str
    count: int


@dataclass
class _Budget:
    reset: datetime
    used: int = 0


@dataclass
class FakeMastodon(OAuthEndpoints, LoopbackServer):
    domain: str = "fake.social"
    max_characters: int = 500
    v2_instance: bool = True  # False: an older server with only /api/v1/instance
    source_endpoint: bool = True  # False: no /api/v1/statuses/:id/source (before 3.5)
    media_processing_polls: int = 1  # GETs answering 206 before the media is ready
    budget: int = 300  # authenticated calls per account and window
    window_seconds: int = 300
    throttle_seconds: int = 2  # reset distance of an injected 429
    p_5xx: float = 0.0
    p_429: float = 0.0
    p_store_then_hang: float = 0.0
    hang_seconds: float = 2.0
    seed: int | None = None
    authorize_as: str = ""  # username /oauth/authorize approves as (default: the first)
    deny_authorization: bool = False  # /oauth/authorize answers error=access_denied

    accounts: dict[str, FakeAccount] = field(default_factory=dict, init=False)
    apps: dict[str, FakeApp] = field(default_factory=dict, init=False)
    requests: list[dict] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._random = random.Random(self.seed)
        self._ids = itertools.count(110_000_000_000_000_001)
        self._tokens: dict[str, FakeToken] = {}
        self._codes: dict[str, dict] = {}
        self._statuses: dict[str, dict] = {}
        self._media: dict[str, dict] = {}
        self._keys: dict[tuple[str, str], str] = {}  # (account, Idempotency-Key) → status
        self._key_counts: dict[str, int] = {}
        self._budgets: dict[str, _Budget] = {}
        self._failures: list[_Failure] = []
        self._hangs = 0


    # --- test controls --------------------------------------------------------------------

    def add_account(self, username: str, display_name: str = "",
                    scopes: tuple[str, ...] = SCOPES_ALL) -> str:
        """A new account on the instance, and an access token for it."""
        with self._lock:
            account = FakeAccount(str(next(self._ids)), username, display_name or username)
            self.accounts[account.id] = account
            return self.issue_token(username, scopes)

    def issue_token(self, username: str, scopes: tuple[str, ...] = SCOPES_ALL,
                    client_id: str = "") -> str:
        with self._lock:
            account = self._by_username(username)
            token = secrets.token_urlsafe(32)
            self._tokens[token] = FakeToken(account.id, set(scopes), client_id)
            return token

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens[token].revoked = True

    def fail_next(self, status: int, *, count: int = 1, path: str = "/api/") -> None:
        """The next ``count`` requests whose path starts with ``path`` answer ``status``
        (nothing stored; a 429 comes with rate-limit headers)."""
        with self._lock:
            self._failures.append(_Failure(status, path, count))

    def hang_next(self, count: int = 1) -> None:
        """The next ``count`` status posts are stored, then answered too late."""
        with self._lock:
            self._hangs += count

    @property
    def posts(self) -> list[dict]:
        """Every status stored (replies included), oldest first; copies."""
        with self._lock:
            return [dict(s) for s in self._statuses.values()]

    def statuses_with_key(self, key: str) -> int:
        with self._lock:
            return self._key_counts.get(key, 0)

    def requests_to(self, method: str, path: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["method"] == method and r["path"] == path]

    def set_status_counts(self, status_id: str, *, favourites: int = 0, reblogs: int = 0,
                          replies: int = 0) -> None:
        with self._lock:
            self._statuses[status_id].update(favourites_count=favourites,
                                             reblogs_count=reblogs, replies_count=replies)

    # --- the WSGI app ---------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._handle(request)
        finally:
            request.close()  # uploaded files' temporary storage
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append({"method": request.method, "path": request.path,
                                  "headers": dict(request.headers),
                                  "form": request.form.to_dict(flat=False)})
        path, method = request.path, request.method
        if path == "/oauth/authorize" and method == "GET":
            return self._authorize(request)
        if path == "/oauth/token" and method == "POST":
            return self._token(request)
        if path == "/api/v1/apps" and method == "POST":
            return self._register_app(request)
        if path == "/api/v2/instance" and method == "GET":
            return self._instance_v2() if self.v2_instance else _error(404, "Record not found")
        if path == "/api/v1/instance" and method == "GET":
            return self._instance_v1()

        token, refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        assert token is not None
        injected = self._injected_failure(path, token.account_id)
        if injected is not None:
            return injected
        throttled, headers = self._spend(token.account_id)
        if throttled is not None:
            return throttled
        response = self._route(request, token)
        response.headers.extend(headers)
        return response

    def _route(self, request: Request, token: FakeToken) -> Response:
        path, method = request.path, request.method
        parts = path.strip("/").split("/")
        if path == "/api/v1/accounts/verify_credentials" and method == "GET":
            return self._verify_credentials(token)
        if path == "/api/v2/media" and method == "POST":
            return self._scoped(token, "write:media") or self._upload(request, token)
        if parts[:3] == ["api", "v1", "media"] and len(parts) == 4 and method == "GET":
            return self._scoped(token, "write:media") or self._media_status(parts[3], token)
        if path == "/api/v1/statuses" and method == "POST":
            return self._scoped(token, "write:statuses") or self._create_status(request, token)
        if parts[:3] == ["api", "v1", "statuses"] and len(parts) == 4 and method == "GET":
            return self._show_status(parts[3])
        if (parts[:3] == ["api", "v1", "statuses"] and len(parts) == 5
                and parts[4] == "source" and method == "GET" and self.source_endpoint):
            return self._source(parts[3], token)
        if (parts[:3] == ["api", "v1", "accounts"] and len(parts) == 5
                and parts[4] == "statuses" and method == "GET"):
            return self._account_statuses(parts[3], request)
        return _error(404, "Record not found")

    # --- auth, limits, failures -----------------------------------------------------------

    def _authenticate(self, request: Request) -> tuple[FakeToken | None, Response | None]:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None, _error(401, "This method requires an authenticated user")
        with self._lock:
            token = self._tokens.get(header[len("Bearer "):])
        if token is None or token.revoked:
            return None, _error(401, INVALID_TOKEN)
        return token, None

    @staticmethod
    def _scoped(token: FakeToken, scope: str) -> Response | None:
        if scope in token.scopes or scope.split(":")[0] in token.scopes:
            return None
        return _error(403, "This action is outside the authorized scopes")

    def _injected_failure(self, path: str, account_id: str) -> Response | None:
        with self._lock:
            for failure in self._failures:
                if failure.count > 0 and path.startswith(failure.path):
                    failure.count -= 1
                    status = failure.status
                    break
            else:
                status = 0
                if self._random.random() < self.p_5xx:
                    status = 503
                elif self._random.random() < self.p_429:
                    status = 429
        if status == 429:
            reset = datetime.now(UTC) + timedelta(seconds=self.throttle_seconds)
            response = _error(429, "Too many requests")
            response.headers.extend(self._limit_headers(0, reset))
            return response
        if status:
            return _error(status, "Service Unavailable" if status >= 500 else "Refused")
        return None

    def _spend(self, account_id: str) -> tuple[Response | None, dict]:
        now = datetime.now(UTC)
        with self._lock:
            budget = self._budgets.get(account_id)
            if budget is None or budget.reset <= now:
                budget = self._budgets[account_id] = _Budget(
                    reset=now + timedelta(seconds=self.window_seconds))
            if budget.used >= self.budget:
                response = _error(429, "Too many requests")
                response.headers.extend(self._limit_headers(0, budget.reset))
                return response, {}
            budget.used += 1
            return None, self._limit_headers(self.budget - budget.used, budget.reset)

    def _limit_headers(self, remaining: int, reset: datetime) -> dict:
        return {"X-RateLimit-Limit": str(self.budget), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": reset.isoformat(timespec="microseconds")
                .replace("+00:00", "Z")}

    # --- media ----------------------------------------------------------------------------

    def _upload(self, request: Request, token: FakeToken) -> Response:
        upload = request.files.get("file")
        if upload is None:
            return _error(422, "Validation failed: File can't be blank")
        mime = upload.mimetype or ""
        if not mime.startswith(("image/", "video/")):
            return _error(422, "File type of uploaded media could not be verified")
        with self._lock:
            media_id = str(next(self._ids))
            media = {"id": media_id, "type": "video" if mime.startswith("video/") else "image",
                     "url": None, "preview_url": None, "description":
                     request.form.get("description") or None, "account_id": token.account_id,
                     "size": len(upload.read()), "pending_polls": self.media_processing_polls}
            self._media[media_id] = media
            if media["pending_polls"] <= 0:
                media["url"] = f"{self.url}/system/media/{media_id}.bin"
            answer = self._media_json(media)
        return _json(answer, 202 if answer["url"] is None else 200)

    def _media_status(self, media_id: str, token: FakeToken) -> Response:
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media["account_id"] != token.account_id:
                return _error(404, "Record not found")
            if media["pending_polls"] > 0:
                media["pending_polls"] -= 1
                return _json(self._media_json(media), 206)
            media["url"] = f"{self.url}/system/media/{media_id}.bin"
            return _json(self._media_json(media))

    @staticmethod
    def _media_json(media: dict) -> dict:
        return {k: media[k] for k in ("id", "type", "url", "preview_url", "description")}

    # --- statuses -------------------------------------------------------------------------

    def _create_status(self, request: Request, token: FakeToken) -> Response:
        params = _params(request, lists=("media_ids[]", "media_ids"))
        text = params.get("status") or ""
        media_ids = params.get("media_ids[]") or params.get("media_ids") or []
        visibility = params.get("visibility") or "public"
        reply_to = params.get("in_reply_to_id") or None
        key = request.headers.get("Idempotency-Key", "")
        with self._lock:
            if key and (token.account_id, key) in self._keys:
                existing = self._statuses[self._keys[(token.account_id, key)]]
                return _json(self._status_json(existing))
            refusal = self._validate(text, media_ids, visibility, reply_to, token)
            if refusal is not None:
                return refusal
            status_id = str(next(self._ids))
            account = self.accounts[token.account_id]
            status = {"id": status_id, "account_id": account.id, "text": text,
                      "visibility": visibility, "in_reply_to_id": reply_to,
                      "media_ids": list(media_ids), "idempotency_key": key,
                      "created_at": datetime.now(UTC), "favourites_count": 0,
                      "reblogs_count": 0, "replies_count": 0}
            self._statuses[status_id] = status
            for media_id in media_ids:
                self._media[media_id]["status_id"] = status_id
            if reply_to:
                self._statuses[reply_to]["replies_count"] += 1
            if key:
                self._keys[(token.account_id, key)] = status_id
                self._key_counts[key] = self._key_counts.get(key, 0) + 1
            answer = self._status_json(status)
            hang = self._hangs > 0 or self._random.random() < self.p_store_then_hang
            if self._hangs > 0:
                self._hangs -= 1
        if hang:
            self._stopping.wait(self.hang_seconds)
        return _json(answer)

    def _validate(self, text, media_ids, visibility, reply_to, token) -> Response | None:
        if not text.strip() and not media_ids:
            return _error(422, "Validation failed: Text can't be blank")
        if len(text) > self.max_characters:
            return _error(422, "Validation failed: Text character limit of "
                               f"{self.max_characters} exceeded")
        if visibility not in ("public", "unlisted", "private", "direct"):
            return _error(422, "Validation failed: Visibility is not included in the list")
        for media_id in media_ids:
            media = self._media.get(media_id)
            if media is None or media["account_id"] != token.account_id:
                return _error(422, "Validation failed: Media attachments are invalid")
            if media["url"] is None:
                return _error(422, "Cannot attach files that have not finished processing. "
                                   "Try again in a moment!")
        if reply_to and reply_to not in self._statuses:
            return _error(404, "Record not found")
        return None

    def _status_json(self, status: dict) -> dict:
        account = self.accounts[status["account_id"]]
        return {
            "id": status["id"], "created_at": _iso(status["created_at"]),
            "in_reply_to_id": status["in_reply_to_id"],
            "in_reply_to_account_id": account.id if status["in_reply_to_id"] else None,
            "sensitive": False, "spoiler_text": "", "visibility": status["visibility"],
            "language": "fr", "uri": f"{self.url}/users/{account.username}/statuses/"
                                     f"{status['id']}",
            "url": f"{self.url}/@{account.username}/{status['id']}",
            "replies_count": status["replies_count"], "reblogs_count": status["reblogs_count"],
            "favourites_count": status["favourites_count"], "edited_at": None,
            "content": _html(status["text"]), "reblog": None,
            "account": self._account_json(account),
            "media_attachments": [self._media_json(self._media[m])
                                  for m in status["media_ids"]],
            "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
        }

    def _show_status(self, status_id: str) -> Response:
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None:
                return _error(404, "Record not found")
            return _json(self._status_json(status))

    def _source(self, status_id: str, token: FakeToken) -> Response:
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None or status["account_id"] != token.account_id:
                return _error(404, "Record not found")
            return _json({"id": status_id, "text": status["text"], "spoiler_text": ""})

    def _account_statuses(self, account_id: str, request: Request) -> Response:
        limit = min(int(request.args.get("limit") or 20), 40)
        with self._lock:
            if account_id not in self.accounts:
                return _error(404, "Record not found")
            mine = [s for s in self._statuses.values() if s["account_id"] == account_id]
            if request.args.get("exclude_replies") == "true":
                mine = [s for s in mine if not s["in_reply_to_id"]]
            newest = sorted(mine, key=lambda s: int(s["id"]), reverse=True)[:limit]
            return _json([self._status_json(s) for s in newest])

    def _by_username(self, username: str) -> FakeAccount:
        return next(a for a in self.accounts.values() if a.username == username)


@pytest.fixture
def fake_mastodon():
    """A started fake instance, stopped after the test."""
    with FakeMastodon() as fake:
        yield fake
