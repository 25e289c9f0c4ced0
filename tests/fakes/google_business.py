"""A fake Google (OAuth token endpoint and the Business Profile APIs) over real loopback
HTTP, for the adapter, the connect flow and token health.

It answers like Google on the routes Relais uses, each under a prefix standing for its
host (the app's ``GOOGLE_*_URL`` settings point at them):

    POST /token                                 OAuth 2.0 for web server applications:
         grant_type=authorization_code (code, redirect_uri, code_verifier, client id and
         secret in the body) → {access_token, expires_in: 3599, refresh_token, scope,
         token_type: "Bearer"}; grant_type=refresh_token → the same without a
         refresh_token (Google does not rotate it). Refusals: 400 {"error":
         "invalid_grant", "error_description"}, 401 {"error": "invalid_client"}.
    GET  /accountmanagement/v1/accounts         accounts.list: pageSize (max 20),
         pageToken → {"accounts": [{name, accountName, type, role, …}], "nextPageToken"}
    GET  /businessinformation/v1/{account}/locations   accounts.locations.list: readMask
         (required: 400 INVALID_ARGUMENT without it), pageSize (max 100), pageToken →
         {"locations": [only the masked fields], "nextPageToken"}
    POST /v4/{account}/{location}/localPosts    localPosts.create: a LocalPost → the
         LocalPost with name, createTime, updateTime, state, searchUrl
    GET  /v4/{account}/{location}/localPosts    localPosts.list: pageSize (max 100),
         pageToken → {"localPosts": [newest first], "nextPageToken"}

(References: developers.google.com/my-business/reference/accountmanagement/rest/v1/
accounts/list, …/businessinformation/rest/v1/accounts.locations/list,
…/rest/v4/accounts.locations.localPosts, and identity/protocols/oauth2/web-server.)

API errors have Google's shape (cloud.google.com/apis/design/errors) ``{"error": {"code",
"message", "status", "details"}}``. The bearer token is checked: unknown, expired or
revoked → 401 UNAUTHENTICATED; a location the person does not manage → 403
PERMISSION_DENIED. Knobs:

- ``p_5xx``, ``p_429``, ``p_store_then_hang`` (probabilities, seeded with ``seed``) on the
  API's POSTs: a 503 UNAVAILABLE; a 429 RESOURCE_EXHAUSTED (no Retry-After, as Google
  usually sends); a post stored then its answer held back ``hang_seconds``.
- ``fail_next(status, kind, message=, count=, path=, headers=, details=)``,
  ``hang_next(count)``, ``expire_access_tokens()``, ``revoke(user)`` (every token of that
  person: the refresh then answers invalid_grant), ``token_failure`` (an OAuth error code
  the token endpoint answers with next), ``new_post_state`` (e.g. "REJECTED"),
  ``rotate_refresh_tokens`` (a refresh answers a new refresh token, which Google does not).

One lock guards everything. ``posts`` is what it stored; ``requests`` what it was asked
(``headers`` holds only ``Authorization``).
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from .server import LoopbackServer

CLIENT_ID = "1234-relais.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-fake-secret"
SCOPE = "https://www.googleapis.com/auth/business.manage"
ACCESS_LIFETIME = 3599


@dataclass
class FakeLocation:
    name: str  # "locations/…"
    title: str
    address: dict | None = None
    website: str = ""
    maps_uri: str = ""
    can_post: bool = True

    def resource(self) -> dict:
        metadata = {"canOperateLocalPost": self.can_post, "hasVoiceOfMerchant": True,
                    "placeId": "ChIJ" + self.name.split("/")[1]}
        if self.maps_uri:
            metadata["mapsUri"] = self.maps_uri
        return {"name": self.name, "title": self.title,
                **({"storefrontAddress": self.address} if self.address else {}),
                **({"websiteUri": self.website} if self.website else {}),
                "metadata": metadata, "languageCode": "fr", "storeCode": "S1"}


@dataclass
class FakeAccount:
    name: str  # "accounts/…"
    account_name: str
    type: str = "PERSONAL"
    locations: list[str] = field(default_factory=list)


@dataclass
class _Failure:
    status: int
    kind: str
    message: str
    path: str
    headers: dict
    details: list


class FakeGoogle(LoopbackServer):
    def __init__(self, *, seed: int = 0, p_5xx: float = 0.0, p_429: float = 0.0,
                 p_store_then_hang: float = 0.0, hang_seconds: float = 5.0):
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._ids = itertools.count(1_000_001)
        self.p_5xx, self.p_429, self.p_store_then_hang = p_5xx, p_429, p_store_then_hang
        self.hang_seconds = hang_seconds
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.accounts: dict[str, FakeAccount] = {}
        self.locations: dict[str, FakeLocation] = {}
        self.user_accounts: dict[str, list[str]] = {}  # user → account names
        self.refresh_tokens: dict[str, str] = {}  # refresh token → user
        self.access_tokens: dict[str, dict] = {}  # access token → {"user", "expires"}
        self.codes: dict[str, dict] = {}
        self.revoked_users: set[str] = set()
        self.posts: list[dict] = []
        self.requests: list[dict] = []
        self.token_failure: str = ""
        self.new_post_state = "LIVE"  # "REJECTED" as Google's content review may answer
        self.rotate_refresh_tokens = False  # Google does not; a knob to test keeping one
        self._failures: list[_Failure] = []
        self._hangs = 0

    # --- setting up -----------------------------------------------------------------------

    def add_location(self, title: str, *, locality: str = "", lines: tuple[str, ...] = (),
                     postal_code: str = "", website: str = "", maps: bool = True,
                     can_post: bool = True) -> FakeLocation:
        with self._lock:
            name = f"locations/{next(self._ids)}"
            address = ({"regionCode": "FR", "languageCode": "fr", "postalCode": postal_code,
                        "locality": locality, "addressLines": list(lines)}
                       if locality or lines else None)
            location = FakeLocation(name, title, address, website,
                                    f"https://maps.google.com/maps?cid={name[10:]}" if maps
                                    else "", can_post)
            self.locations[name] = location
            return location

    def add_account(self, account_name: str, *locations: FakeLocation,
                    kind: str = "PERSONAL") -> FakeAccount:
        with self._lock:
            account = FakeAccount(f"accounts/{next(self._ids)}", account_name, kind,
                                  [loc.name for loc in locations])
            self.accounts[account.name] = account
            return account

    def add_user(self, *accounts: FakeAccount) -> str:
        """A Google person managing ``accounts``; returns their id."""
        with self._lock:
            user = f"user-{next(self._ids)}"
            self.user_accounts[user] = [a.name for a in accounts]
            return user

    def tokens_for(self, user: str, *, lifetime: int = ACCESS_LIFETIME) -> dict:
        """Tokens as if the person had connected already (for adapter tests)."""
        with self._lock:
            return self._grant(user, refresh=True, lifetime=lifetime)

    def issue_code(self, user: str, redirect_uri: str, code_challenge: str | None = None,
                   *, scope: str = SCOPE, offline: bool = True) -> str:
        """What Google sends back to the redirect URI after the person approved."""
        with self._lock:
            code = "4/0A" + secrets.token_urlsafe(16)
            self.codes[code] = {"user": user, "redirect_uri": redirect_uri,
                                "challenge": code_challenge, "scope": scope,
                                "offline": offline}
            return code

    def expire_access_tokens(self) -> None:
        with self._lock:
            for grant in self.access_tokens.values():
                grant["expires"] = 0

    def revoke(self, user: str) -> None:
        with self._lock:
            self.revoked_users.add(user)

    def fail_next(self, status: int, kind: str, *, message: str = "", count: int = 1,
                  path: str = "", headers: dict | None = None,
                  details: list | None = None) -> None:
        with self._lock:
            self._failures.extend(
                _Failure(status, kind, message or f"Failure {kind}", path, headers or {},
                         details or []) for _ in range(count))

    def hang_next(self, count: int = 1) -> None:
        with self._lock:
            self._hangs += count

    def posts_with_summary(self, summary: str) -> int:
        with self._lock:
            return sum(1 for p in self.posts if p.get("summary") == summary)

    # --- answers --------------------------------------------------------------------------

    def _grant(self, user: str, *, refresh: bool, lifetime: int = ACCESS_LIFETIME) -> dict:
        access = "ya29.a0" + secrets.token_urlsafe(24)
        self.access_tokens[access] = {"user": user, "expires": time.time() + lifetime}
        answer = {"access_token": access, "expires_in": lifetime, "scope": SCOPE,
                  "token_type": "Bearer"}
        if refresh:
            token = "1//0g" + secrets.token_urlsafe(24)
            self.refresh_tokens[token] = user
            answer["refresh_token"] = token
        return answer

    @staticmethod
    def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
        response = Response(json.dumps(body), status=status,
                            mimetype="application/json; charset=UTF-8")
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _error(self, status: int, kind: str, message: str, *, details: list | None = None,
               headers: dict | None = None) -> Response:
        error: dict[str, Any] = {"code": status, "message": message, "status": kind}
        if details:
            error["details"] = details
        return self._json({"error": error}, status, headers)

    def _oauth_error(self, error: str, description: str, status: int = 400) -> Response:
        return self._json({"error": error, "error_description": description}, status)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._answer(request)
        finally:
            request.close()
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        path = request.path
        hang = False
        with self._lock:
            body = request.get_json(silent=True) if request.is_json else None
            self.requests.append({
                "method": request.method, "path": path,
                "args": request.args.to_dict(flat=False),
                "form": request.form.to_dict(flat=False), "json": body,
                "content_type": request.content_type or "",
                "headers": {"Authorization": request.headers.get("Authorization", "")}})
            if path == "/token":
                return self._token(request)
            failure = next((f for f in self._failures if f.path in path), None)
            if failure is not None:
                self._failures.remove(failure)
                return self._error(failure.status, failure.kind, failure.message,
                                   details=failure.details, headers=failure.headers)
            creates = request.method == "POST"
            if creates and self.p_429 and self._random.random() < self.p_429:
                return self._error(429, "RESOURCE_EXHAUSTED", (
                    "Quota exceeded for quota metric 'Requests' and limit 'Requests per "
                    "minute' of service 'mybusiness.googleapis.com' for consumer "
                    "'project_number:1234'."), details=[{
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com"}])
            if creates and self.p_5xx and self._random.random() < self.p_5xx:
                return self._error(503, "UNAVAILABLE", "The service is currently "
                                   "unavailable.")
            if creates and (self._hangs or (self.p_store_then_hang
                                            and self._random.random() < self.p_store_then_hang)):
                self._hangs = max(0, self._hangs - 1)
                hang = True
            response = self._route(request, path, body)
        if hang and response.status_code < 300:
            self._stopping.wait(self.hang_seconds)  # stored; the answer comes too late
        return response

    def _token(self, request: Request) -> Response:
        form = request.form
        if self.token_failure:
            error, self.token_failure = self.token_failure, ""
            return self._oauth_error(error, "Bad Request",
                                     401 if error == "invalid_client" else 400)
        if (form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret):
            return self._oauth_error("invalid_client", "Unauthorized", 401)
        if form.get("grant_type") == "refresh_token":
            user = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user is None or user in self.revoked_users:
                return self._oauth_error("invalid_grant", "Token has been expired or revoked.")
            return self._json(self._grant(user, refresh=self.rotate_refresh_tokens))
        if form.get("grant_type") != "authorization_code":
            return self._oauth_error("unsupported_grant_type",
                                     "Invalid grant_type: " + form.get("grant_type", ""))
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None:
            return self._oauth_error("invalid_grant", "Malformed auth code.")
        if grant["redirect_uri"] != form.get("redirect_uri"):
            return self._oauth_error("redirect_uri_mismatch", "Bad Request")
        if grant["challenge"]:
            from agency.networks.oauth import code_challenge

            if code_challenge(form.get("code_verifier", "")) != grant["challenge"]:
                return self._oauth_error("invalid_grant", "Invalid code verifier.")
        answer = self._grant(grant["user"], refresh=grant["offline"])
        answer["scope"] = grant["scope"]
        return self._json(answer)

    def _user(self, request: Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        grant = self.access_tokens.get(token)
        if grant is None or grant["expires"] < time.time() or grant["user"] in self.revoked_users:
            return None
        return grant["user"]

    def _route(self, request: Request, path: str, body: Any) -> Response:
        user = self._user(request)
        if user is None:
            return self._error(401, "UNAUTHENTICATED", (
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project."))
        parts = [p for p in path.split("/") if p]
        if parts[:3] == ["accountmanagement", "v1", "accounts"] and len(parts) == 3:
            names = self.user_accounts.get(user, [])
            return self._page(request, [self._account(n) for n in names], "accounts", 20)
        if parts[:2] == ["businessinformation", "v1"] and len(parts) == 5 \
                and parts[2] == "accounts" and parts[4] == "locations":
            return self._locations(request, user, f"accounts/{parts[3]}")
        if parts[:1] == ["v4"] and len(parts) == 6 and parts[5] == "localPosts":
            account, location = f"accounts/{parts[2]}", f"locations/{parts[4]}"
            if account not in self.accounts or location not in self.accounts[account].locations:
                return self._error(404, "NOT_FOUND", "Requested entity was not found.")
            if account not in self.user_accounts.get(user, []):
                return self._error(403, "PERMISSION_DENIED",
                                   "The caller does not have permission")
            if request.method == "POST":
                return self._create(account, location, body)
            return self._list_posts(request, account, location)
        return self._error(404, "NOT_FOUND", "Requested entity was not found.")

    def _account(self, name: str) -> dict:
        account = self.accounts[name]
        return {"name": name, "accountName": account.account_name, "type": account.type,
                "role": "PRIMARY_OWNER", "verificationState": "VERIFIED",
                "vettedState": "NOT_VETTED", "permissionLevel": "OWNER_LEVEL"}

    def _page(self, request: Request, items: list, key: str, largest: int) -> Response:
        try:
            size = min(largest, max(1, int(request.args.get("pageSize") or 10)))
            start = int(request.args.get("pageToken") or 0)
        except ValueError:
            return self._error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
        answer: dict[str, Any] = {key: items[start:start + size]} if items[start:] else {}
        if start + size < len(items):
            answer["nextPageToken"] = str(start + size)
        return self._json(answer)

    def _locations(self, request: Request, user: str, account: str) -> Response:
        if account not in self.user_accounts.get(user, []):
            return self._error(403, "PERMISSION_DENIED", "The caller does not have permission")
        mask = [m.strip() for m in (request.args.get("readMask") or "").split(",") if m.strip()]
        if not mask:
            return self._error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                               details=[{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                         "fieldViolations": [{"field": "read_mask",
                                                              "description": "Field is "
                                                              "required"}]}])
        items = [{k: v for k, v in self.locations[n].resource().items() if k in mask}
                 for n in self.accounts[account].locations]
        return self._page(request, items, "locations", 100)

    def _invalid(self, field_name: str, description: str) -> Response:
        return self._error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                           details=[{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                     "fieldViolations": [{"field": field_name,
                                                          "description": description}]}])

    def _create(self, account: str, location: str, body: Any) -> Response:
        if not isinstance(body, dict):
            return self._invalid("local_post", "Invalid JSON payload received.")
        topic = body.get("topicType")
        if topic not in ("STANDARD", "EVENT", "OFFER", "ALERT"):
            return self._invalid("local_post.topic_type", "Topic type is required.")
        if len(str(body.get("summary") or "")) > 1500:
            return self._invalid("local_post.summary", "Summary is too long.")
        if topic in ("EVENT", "OFFER"):
            schedule = (body.get("event") or {}).get("schedule") or {}
            if not (body.get("event") or {}).get("title") or not all(
                    k in schedule for k in ("startDate", "startTime", "endDate", "endTime")):
                return self._invalid("local_post.event", "Event is required for topic types "
                                     "EVENT and OFFER.")
        if "offer" in body and topic != "OFFER":
            return self._invalid("local_post.offer", "Offer is only allowed for OFFER posts.")
        cta = body.get("callToAction")
        if cta is not None:
            if cta.get("actionType") == "CALL" and "url" in cta:
                return self._invalid("local_post.call_to_action.url",
                                     "URL must be unset for CALL.")
            if cta.get("actionType") != "CALL" and not str(cta.get("url") or "").startswith(
                    ("http://", "https://")):
                return self._invalid("local_post.call_to_action.url", "Invalid URL.")
        for item in body.get("media") or []:
            if item.get("mediaFormat") != "PHOTO" or not item.get("sourceUrl"):
                return self._invalid("local_post.media", "Invalid media.")
        post_id = str(next(self._ids))
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds
        post = {**body, "name": f"{account}/{location}/localPosts/{post_id}",
                "createTime": now, "updateTime": now, "state": self.new_post_state,
                "searchUrl": f"https://local.google.com/place?id={location[10:]}"
                             f"&use=posts&lpsid={post_id}"}
        self.posts.append(post)
        return self._json(post)

    def _list_posts(self, request: Request, account: str, location: str) -> Response:
        parent = f"{account}/{location}/"
        posts = [p for p in reversed(self.posts) if p["name"].startswith(parent)]
        return self._page(request, posts, "localPosts", 100)


@pytest.fixture
def fake_google(app, monkeypatch):
    """A running fake, with the app's Google settings pointed at it."""
    with FakeGoogle() as server:
        for key, value in {
            "GOOGLE_CLIENT_ID": CLIENT_ID, "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
            "GOOGLE_AUTH_URL": server.url + "/o/oauth2/v2/auth",
            "GOOGLE_TOKEN_URL": server.url + "/token",
            "GOOGLE_ACCOUNTS_URL": server.url + "/accountmanagement/v1",
            "GOOGLE_BUSINESS_INFO_URL": server.url + "/businessinformation/v1",
            "GOOGLE_LOCAL_POSTS_URL": server.url + "/v4",
            "NETWORK_TIMEOUT_SECONDS": 2,
        }.items():
            monkeypatch.setitem(app.config, key, value)
        yield server
