"""A fake Bluesky PDS over real loopback HTTP, for the adapter, the connect flow and the
chaos test.

It answers XRPC like the reference PDS (bluesky-social/atproto, packages/pds) on the
methods Relais uses, with the same error bodies ``{"error": Name, "message": ...}``:

    POST com.atproto.server.createSession   401 AuthenticationRequired on a bad password;
                                            ``session_limit`` per ``session_window`` per
                                            account (Bluesky: 30 per 5 minutes), then 429
    POST com.atproto.server.refreshSession  rotates the refresh token (the old one stays
                                            usable ``refresh_grace`` seconds, like the PDS);
                                            400 ExpiredToken "Token has been revoked"
    GET  com.atproto.server.getSession
    GET  com.atproto.identity.resolveHandle 400 InvalidRequest "Unable to resolve handle"
    GET  app.bsky.actor.getProfile
    POST com.atproto.repo.uploadBlob        raw bytes; the Content-Type is the blob's mime
    POST com.atproto.repo.createRecord      validates posts like the lexicon (300 graphemes,
                                            facets, images ≤ 1,000,000 bytes, TID keys); an
                                            existing key answers 500 InternalServerError,
                                            as Bluesky does today (atproto issue #3718)
    GET  com.atproto.repo.getRecord         400 RecordNotFound
    GET  app.bsky.feed.getPosts             counts set with ``set_counts``

Access tokens are JWT-shaped (``exp`` readable) and opaque to the client: an expired one
answers 400 ExpiredToken "Token has expired", an unknown one 400 InvalidToken.
``expire_access_tokens()`` / ``expire_refresh_tokens()`` force expiry now;
``revoke_app_password(handle)`` deletes the app password and every session made with it.

Every answer carries ``ratelimit-limit/-remaining/-reset/-policy`` (a per-client budget of
``budget`` calls per ``window_seconds``; createSession its own). Knobs (thread-safe, seeded
with ``seed``): ``p_5xx`` (a 503 before anything is done), ``p_429`` (a 429 whose reset is
``throttle_seconds`` away), ``p_store_then_hang`` (a post stored, then its answer held
back ``hang_seconds``, longer than the client's timeout); ``fail_next(status, ...)`` and
``hang_next(count)`` do the same exactly. Random failures touch the publishing calls
(``CHAOS_METHODS``), not sign-in.

``records`` / ``posts`` are what it stored; ``created_sessions(handle)`` how many
sign-ins an account made (the "session reused" assertion).

    with FakeBluesky() as fake:
        did = fake.add_account("boulangerie.bsky.social", app_password="abcd-efgh-ijkl-mnop")
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import regex
from werkzeug.wrappers import Request, Response

from .bluesky_sessions import (
    FakeAccount,
    FakeToken,
    SessionEndpoints,
    _error,
    _json,
    _limit_headers,
)
from .server import LoopbackServer

POST = "app.bsky.feed.post"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
MAIN_PASSWORD = "main password of the account"
TID = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
CHAOS_METHODS = frozenset({"com.atproto.repo.uploadBlob", "com.atproto.repo.createRecord",
                           "com.atproto.repo.getRecord", "app.bsky.feed.getPosts",
                           "com.atproto.identity.resolveHandle"})
FACET_TYPES = frozenset({"app.bsky.richtext.facet#link", "app.bsky.richtext.facet#mention",
                         "app.bsky.richtext.facet#tag"})


def _cid(data: bytes) -> str:
    return "bafyrei" + base64.b32encode(hashlib.sha256(data).digest()).decode().lower()[:52]


@dataclass
class _Failure:
    status: int
    nsid: str
    count: int
    error: str
    message: str


@dataclass
class FakeBluesky(SessionEndpoints, LoopbackServer):
    budget: int = 3000  # calls per client and window (Bluesky: 3000 per 5 minutes per IP)
    window_seconds: int = 300
    session_limit: int = 30  # createSession per account and session_window
    session_window: int = 300
    access_ttl: int = 7200  # the PDS's: 2 hours
    refresh_ttl: int = 90 * 86400
    refresh_grace: int = 7200
    throttle_seconds: int = 2
    blob_limit: int = 100_000_000
    p_5xx: float = 0.0
    p_429: float = 0.0
    p_store_then_hang: float = 0.0
    hang_seconds: float = 2.0
    seed: int | None = None

    accounts: dict[str, FakeAccount] = field(default_factory=dict, init=False)
    calls: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._random = random.Random(self.seed)
        self._tokens: dict[str, FakeToken] = {}
        self._records: dict[str, dict] = {}  # at-uri → record
        self._blobs: dict[tuple[str, str], dict] = {}  # (did, cid) → blob
        self._counts: dict[str, dict[str, int]] = {}
        self._sign_ins: dict[str, list[float]] = {}
        self._budget_start = time.time()
        self._budget_used = 0
        self._failures: list[_Failure] = []
        self._hangs = 0
        self._seq = itertools.count(1)


    # --- test controls --------------------------------------------------------------------

    def add_account(self, handle: str, *, app_password: str = APP_PASSWORD,
                    password: str = MAIN_PASSWORD, display_name: str = "") -> str:
        """A new account (and one app password); its DID."""
        digest = base64.b32encode(hashlib.sha256(handle.encode()).digest()).decode().lower()
        did = f"did:plc:{digest[:24]}"
        with self._lock:
            self.accounts[did] = FakeAccount(did, handle.lower(), password, display_name,
                                             {app_password} if app_password else set())
        return did

    def session_for(self, handle: str, app_password: str = APP_PASSWORD) -> dict[str, Any]:
        """Credentials as Relais stores them after connecting (one sign-in, counted)."""
        with self._lock:
            account = self._account(handle)
            assert account is not None and app_password in account.app_passwords
            self._sign_ins.setdefault(account.did, []).append(time.time())
            access, refresh = self._issue(account.did, app_password)
        return {"did": account.did, "handle": account.handle, "accessJwt": access,
                "refreshJwt": refresh, "app_password": app_password,
                "session_created_at": time.time()}

    def created_sessions(self, handle: str) -> int:
        with self._lock:
            account = self._account(handle)
            return len(self._sign_ins.get(account.did, [])) if account else 0

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                if token.kind == "access":
                    token.expired = True

    def expire_refresh_tokens(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                if token.kind == "refresh":
                    token.expired = True

    def revoke_app_password(self, handle: str, app_password: str = APP_PASSWORD) -> None:
        with self._lock:
            account = self._account(handle)
            assert account is not None
            account.app_passwords.discard(app_password)
            for token in self._tokens.values():
                if token.did == account.did and token.app_password == app_password:
                    token.revoked = True

    def fail_next(self, status: int, *, count: int = 1, nsid: str = "",
                  error: str = "", message: str = "") -> None:
        """The next ``count`` calls (of ``nsid``, or any) answer ``status``, doing nothing."""
        with self._lock:
            self._failures.append(_Failure(status, nsid, count, error, message))

    def hang_next(self, count: int = 1) -> None:
        """The next ``count`` posts are stored, then answered too late."""
        with self._lock:
            self._hangs += count

    def set_counts(self, uri: str, *, likes: int = 0, reposts: int = 0, replies: int = 0,
                   quotes: int = 0) -> None:
        with self._lock:
            self._counts[uri] = {"likeCount": likes, "repostCount": reposts,
                                 "replyCount": replies, "quoteCount": quotes}

    @property
    def records(self) -> list[dict]:
        """Every record stored: {uri, cid, did, collection, rkey, value}."""
        with self._lock:
            return [dict(r) for r in self._records.values()]

    @property
    def posts(self) -> list[dict]:
        return [r for r in self.records if r["collection"] == POST]

    @property
    def blobs(self) -> list[dict]:
        with self._lock:
            return [dict(b) for b in self._blobs.values()]

    def calls_to(self, nsid: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c == nsid)

    # --- HTTP -----------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        nsid = request.path.removeprefix("/xrpc/")
        with self._lock:
            self.calls.append(nsid)
        handler = _ROUTES.get((request.method, nsid))
        if handler is None:
            return _error(501, "MethodNotImplemented", "Method Not Implemented")
        injected = self._injected_failure(nsid)
        if injected is not None:
            return injected
        if nsid == "com.atproto.server.createSession":
            return handler(self, request)
        throttled, headers = self._spend()
        if throttled is not None:
            return throttled
        response = handler(self, request)
        response.headers.extend(headers)
        return response

    def _injected_failure(self, nsid: str) -> Response | None:
        with self._lock:
            for failure in self._failures:
                if failure.count > 0 and failure.nsid in ("", nsid):
                    failure.count -= 1
                    status, error, message = failure.status, failure.error, failure.message
                    break
            else:
                status, error, message = 0, "", ""
                if nsid in CHAOS_METHODS:
                    if self._random.random() < self.p_5xx:
                        status = 503
                    elif self._random.random() < self.p_429:
                        status = 429
        if status == 429:
            reset = int(time.time() + self.throttle_seconds) + 1
            response = _error(429, error or "RateLimitExceeded", message or "Rate Limit Exceeded")
            response.headers.extend(_limit_headers(self.budget, 0, reset, self.window_seconds))
            return response
        if status:
            return _error(status, error or "InternalServerError",
                          message or "Internal Server Error")
        return None

    def _spend(self) -> tuple[Response | None, dict]:
        now = time.time()
        with self._lock:
            if now - self._budget_start >= self.window_seconds:
                self._budget_start, self._budget_used = now, 0
            reset = int(self._budget_start + self.window_seconds)
            if self._budget_used >= self.budget:
                response = _error(429, "RateLimitExceeded", "Rate Limit Exceeded")
                response.headers.extend(_limit_headers(self.budget, 0, reset,
                                                       self.window_seconds))
                return response, {}
            self._budget_used += 1
            remaining = self.budget - self._budget_used
        return None, _limit_headers(self.budget, remaining, reset, self.window_seconds)

    # --- identity and profiles ------------------------------------------------------------

    def _resolve_handle(self, request: Request) -> Response:
        account = self._account(request.args.get("handle", ""))
        if account is None:
            return _error(400, "InvalidRequest", "Unable to resolve handle")
        return _json({"did": account.did})

    def _get_profile(self, request: Request) -> Response:
        _, refusal = self._token(request)
        if refusal is not None:
            return refusal
        account = self._account(request.args.get("actor", ""))
        if account is None:
            return _error(400, "InvalidRequest", "Profile not found")
        profile = {"did": account.did, "handle": account.handle,
                   "followersCount": account.followers_count,
                   "followsCount": account.follows_count, "postsCount": len(self.posts)}
        if account.display_name:
            profile["displayName"] = account.display_name
        return _json(profile)

    # --- repository -----------------------------------------------------------------------

    def _upload_blob(self, request: Request) -> Response:
        token, refusal = self._token(request)
        if refusal is not None:
            return refusal
        data = request.get_data()
        if len(data) > self.blob_limit:
            return _error(413, "PayloadTooLarge", "request entity too large")
        mime = request.headers.get("Content-Type") or "application/octet-stream"
        cid = _cid(data)
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}
        with self._lock:
            self._blobs[(token.did, cid)] = {"did": token.did, **blob}
        return _json({"blob": blob})

    def _create_record(self, request: Request) -> Response:
        token, refusal = self._token(request)
        if refusal is not None:
            return refusal
        body = request.get_json(silent=True) or {}
        repo, collection = str(body.get("repo", "")), str(body.get("collection", ""))
        record = body.get("record")
        account = self._account(repo)
        if account is None or account.did != token.did:
            return _error(401, "AuthenticationRequired", "Authentication Required")
        if not collection or not isinstance(record, dict):
            return _error(400, "InvalidRequest", "Input must have the properties "
                          '"repo", "collection", "record"')
        rkey = str(body.get("rkey") or "")
        if collection == POST and rkey and not TID.match(rkey):
            return _error(400, "InvalidRequest", f"Invalid record key: {rkey}")
        problem = self._invalid_post(record, token.did) if collection == POST else None
        if problem:
            return _error(400, "InvalidRequest", f"Invalid {collection} record: {problem}")
        with self._lock:
            rkey = rkey or _next_tid(next(self._seq))
            uri = f"at://{account.did}/{collection}/{rkey}"
            if uri in self._records:
                # What Bluesky answers today for a create on an existing key.
                return _error(500, "InternalServerError", "Internal Server Error")
            cid = _cid(json.dumps(record, sort_keys=True).encode())
            self._records[uri] = {"uri": uri, "cid": cid, "did": account.did,
                                  "collection": collection, "rkey": rkey, "value": record,
                                  "indexedAt": datetime.now(UTC).isoformat()}
            hang = self._hangs > 0 or self._random.random() < self.p_store_then_hang
            if self._hangs > 0:
                self._hangs -= 1
        if hang:
            self._stopping.wait(self.hang_seconds)
        return _json({"uri": uri, "cid": cid, "validationStatus": "valid",
                      "commit": {"cid": _cid(uri.encode()), "rev": rkey}})

    def _invalid_post(self, record: dict, did: str) -> str | None:
        if record.get("$type") != POST:
            return f"Invalid $type: expected {POST}, got {record.get('$type')}"
        text = record.get("text")
        if not isinstance(text, str):
            return 'Record must have the property "text"'
        if len(regex.findall(r"\X", text)) > 300:
            return "Record/text must not be longer than 300 graphemes"
        if len(text.encode()) > 3000:
            return "Record/text must not be longer than 3000 characters"
        if not isinstance(record.get("createdAt"), str):
            return 'Record must have the property "createdAt"'
        size = len(text.encode())
        for i, facet in enumerate(record.get("facets") or []):
            index = facet.get("index") or {}
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= size):
                return f"Record/facets/{i}/index is out of range"
            for feature in facet.get("features") or []:
                if feature.get("$type") not in FACET_TYPES:
                    return f"Record/facets/{i}/features has an unknown type"
        embed = record.get("embed")
        if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.images":
            images = embed.get("images") or []
            if len(images) > 4:
                return "Record/embed/images must not have more than 4 elements"
            for i, image in enumerate(images):
                if not isinstance(image.get("alt"), str):
                    return f'Record/embed/images/{i} must have the property "alt"'
                ref = ((image.get("image") or {}).get("ref") or {}).get("$link", "")
                with self._lock:
                    blob = self._blobs.get((did, ref))
                if blob is None:
                    return f"Could not find blob: {ref}"
                if blob["size"] > 1_000_000:
                    return (f"Record/embed/images/{i}/image file too large. {blob['size']} "
                            "bytes (maximum 1000000)")
        return None

    def _get_record(self, request: Request) -> Response:
        if request.headers.get("Authorization"):
            _, refusal = self._token(request)
            if refusal is not None:
                return refusal
        account = self._account(request.args.get("repo", ""))
        collection, rkey = request.args.get("collection", ""), request.args.get("rkey", "")
        if account is None:
            return _error(400, "InvalidRequest", f"Could not find repo: {request.args.get('repo')}")
        uri = f"at://{account.did}/{collection}/{rkey}"
        with self._lock:
            record = self._records.get(uri)
        if record is None:
            return _error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return _json({"uri": uri, "cid": record["cid"], "value": record["value"]})

    def _get_posts(self, request: Request) -> Response:
        _, refusal = self._token(request)
        if refusal is not None:
            return refusal
        posts = []
        with self._lock:
            for uri in request.args.getlist("uris"):
                record = self._records.get(uri)
                if record is None or record["collection"] != POST:
                    continue
                account = self.accounts[record["did"]]
                posts.append({
                    "uri": uri, "cid": record["cid"], "record": record["value"],
                    "author": {"did": account.did, "handle": account.handle},
                    "indexedAt": record["indexedAt"],
                    **self._counts.get(uri, {"likeCount": 0, "repostCount": 0,
                                             "replyCount": 0, "quoteCount": 0})})
        return _json({"posts": posts})


_ROUTES = {
    ("POST", "com.atproto.server.createSession"): FakeBluesky._create_session,
    ("POST", "com.atproto.server.refreshSession"): FakeBluesky._refresh_session,
    ("GET", "com.atproto.server.getSession"): FakeBluesky._get_session,
    ("GET", "com.atproto.identity.resolveHandle"): FakeBluesky._resolve_handle,
    ("GET", "app.bsky.actor.getProfile"): FakeBluesky._get_profile,
    ("POST", "com.atproto.repo.uploadBlob"): FakeBluesky._upload_blob,
    ("POST", "com.atproto.repo.createRecord"): FakeBluesky._create_record,
    ("GET", "com.atproto.repo.getRecord"): FakeBluesky._get_record,
    ("GET", "app.bsky.feed.getPosts"): FakeBluesky._get_posts,
}


def _next_tid(n: int) -> str:
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = (int(time.time() * 1_000_000) << 10) | (n & 0x3FF)
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(13)))


@contextmanager
def serving(app, *, timeout: float = 1.0, **knobs):
    """A started fake that the app's Bluesky adapter talks to (``BLUESKY_PDS_URL``),
    with a short ``NETWORK_TIMEOUT_SECONDS``; both restored afterwards."""
    saved = {k: app.config.get(k) for k in ("BLUESKY_PDS_URL", "NETWORK_TIMEOUT_SECONDS")}
    with FakeBluesky(**knobs) as fake:
        app.config.update(BLUESKY_PDS_URL=fake.url, NETWORK_TIMEOUT_SECONDS=timeout)
        try:
            yield fake
        finally:
            app.config.update(saved)


@pytest.fixture
def fake_bluesky(app):
    """A started fake PDS the app points at, stopped after the test."""
    with serving(app) as fake:
        yield fake
