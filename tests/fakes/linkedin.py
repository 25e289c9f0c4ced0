"""A fake LinkedIn (its OAuth endpoints and its versioned REST API) over real loopback HTTP,
for the adapter, the connect flow and token refresh.

It answers like the documented API (learn.microsoft.com/linkedin, Marketing 2024–2025):

    POST /oauth/v2/accessToken      form: authorization_code → access_token, expires_in
                                    (60 days), refresh_token, refresh_token_expires_in
                                    (365 days, when refresh tokens are on); refresh_token →
                                    a new access token, the refresh token's TTL unchanged
                                    (programmatic-refresh-tokens)
    GET  /v2/userinfo               OpenID Connect: sub, name, given_name, family_name
    GET  /rest/organizationAcls     q=roleAssignee (state, role, start, count): the member's
                                    roles {"roleAssignee", "state", "role", "organization"}
    GET  /rest/organizations/{id}   localizedName, vanityName
    POST /rest/images?action=initializeUpload   {"initializeUploadRequest": {"owner"}} →
                                    {"value": {"uploadUrlExpiresAt", "uploadUrl", "image"}}
    PUT  /dms-uploads/{key}         the image bytes, bearer token only → 201
    POST /rest/posts                → 201 Created, the post URN in ``x-restli-id``
    GET  /rest/posts                q=author&author=…&count&sortBy (FINDER): newest first
    POST /rest/socialActions/{post}/comments   {"actor", "object", "message": {"text"}}
    GET  /rest/socialActions/{post} likesSummary, commentsSummary
    GET  /rest/organizationalEntityShareStatistics   q=organizationalEntity,
                                    shares=List(…) / ugcPosts=List(…) → totalShareStatistics
    GET  /rest/networkSizes/{organization}   edgeType=COMPANY_FOLLOWED_BY_MEMBER →
                                    {"firstDegreeSize"} (the Page's followers)

``/rest`` wants ``LinkedIn-Version`` (missing → 400 VERSION_MISSING; in ``sunset`` → 426
NONEXISTENT_VERSION) and ``X-Restli-Protocol-Version: 2.0.0``; finders want
``X-RestLi-Method: FINDER``. Errors have LinkedIn's shape ``{"status", "serviceErrorCode",
"code", "message"}``; the OAuth endpoint's are ``{"error", "error_description"}``. Tokens
are checked (unknown 401 65600, revoked 401 65601, expired 401), and so are scopes and
Page roles (403 ACCESS_DENIED). Commentary is read as the little text format: an
unescaped reserved character cuts what the post shows there, silently, as LinkedIn does.
The same text by the same author within ten minutes is refused (422 "Content is a
duplicate of …").

Knobs: ``p_5xx``, ``p_429``, ``p_store_then_hang`` (seeded with ``seed``) on writes;
``fail_next(status, code=, message=, path=, method=, count=)``; ``hang_next(count, path=)``
(stored, then the answer held back past the client's timeout); ``revoke_token``;
``member_social_read`` (the app holds r_member_social); ``refresh_tokens`` (the app is
approved for them); ``sunset``; ``now`` (the clock, epoch seconds).

One lock guards everything. ``posts`` is what it stored; ``requests`` what it was asked.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import pytest
from werkzeug.wrappers import Request, Response

from agency.networks.base import Outgoing, OutgoingMedia

from .linkedin_oauth import ACCESS_TTL as ACCESS_TTL  # the tests read them here
from .linkedin_oauth import ALL_SCOPES as ALL_SCOPES
from .linkedin_oauth import REFRESH_TTL as REFRESH_TTL
from .linkedin_oauth import FakeLinkedInOAuth
from .linkedin_reads import FakeLinkedInReads
from .linkedin_text import shown
from .server import LoopbackServer

CLIENT_ID = "78fakeclientid"
CLIENT_SECRET = "fake-linkedin-secret"
VERSION = "202410"
POSTING_ROLES = {"ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER"}
READING_ROLES = POSTING_ROLES | {"ANALYST"}
THROTTLED = "Resource level throttle limit for calls to this resource is reached."


@dataclass(eq=False)  # hashable: tests key Page roles by member
class FakeMember:
    sub: str
    name: str
    token: str = ""  # an access token with every scope, ready for adapter tests


@dataclass
class FakeOrganization:
    id: str
    name: str
    vanity: str
    roles: dict[str, str] = field(default_factory=dict)  # member sub → role
    followers: int = 0  # networkSizes' firstDegreeSize, set by a test

    @property
    def urn(self) -> str:
        return f"urn:li:organization:{self.id}"


@dataclass
class _Failure:
    status: int
    code: str
    message: str
    path: str
    method: str


class FakeLinkedIn(FakeLinkedInOAuth, FakeLinkedInReads, LoopbackServer):
    def __init__(self, *, seed: int = 0, p_5xx: float = 0.0, p_429: float = 0.0,
                 p_store_then_hang: float = 0.0, hang_seconds: float = 5.0):
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._ids = itertools.count(7_100_000_000_000_000_001)
        self.p_5xx, self.p_429, self.p_store_then_hang = p_5xx, p_429, p_store_then_hang
        self.hang_seconds = hang_seconds
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.now = time.time
        self.member_social_read = False
        self.refresh_tokens = True
        self.sunset: set[str] = set()
        self.members: dict[str, FakeMember] = {}
        self.organizations: dict[str, FakeOrganization] = {}
        self.tokens: dict[str, dict] = {}  # access token → {"sub", "scopes", "expires_at"}
        self.refreshes: dict[str, dict] = {}  # refresh token → {"sub", "scopes", "expires_at"}
        self.codes: dict[str, dict] = {}
        self.revoked: set[str] = set()
        self.images: dict[str, dict] = {}
        self.uploads: dict[str, str] = {}  # upload key → image URN
        self.posts: list[dict] = []
        self.requests: list[dict] = []
        self._failures: list[_Failure] = []
        self._hangs: list[str] = []

    # --- setting up -----------------------------------------------------------------------

    def add_member(self, name: str, *, scopes: tuple[str, ...] = ALL_SCOPES) -> FakeMember:
        with self._lock:
            member = FakeMember(secrets.token_urlsafe(7), name)
            self.members[member.sub] = member
        member.token = self.grant(member, scopes)["access_token"]
        return member

    def add_organization(self, name: str, vanity: str = "",
                         roles: dict[FakeMember, str] | None = None) -> FakeOrganization:
        with self._lock:
            organization = FakeOrganization(str(next(self._ids) % 100_000_000), name, vanity,
                                            {m.sub: r for m, r in (roles or {}).items()})
            self.organizations[organization.id] = organization
            return organization

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.revoked.add(token)

    def fail_next(self, status: int, *, code: str = "", message: str = "",
                  path: str = "", method: str = "", count: int = 1) -> None:
        with self._lock:
            self._failures.extend(_Failure(status, code, message or f"HTTP {status}", path,
                                           method) for _ in range(count))

    def hang_next(self, count: int = 1, *, path: str = "") -> None:
        with self._lock:
            self._hangs.extend([path] * count)

    def posts_showing(self, text: str) -> int:
        with self._lock:
            return sum(1 for p in self.posts if p["shown"] == text)

    # --- plumbing -------------------------------------------------------------------------

    def _json(self, body: Any, status: int = 200, headers: dict | None = None) -> Response:
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _error(self, status: int, message: str, code: str = "",
               service: int | None = None) -> Response:
        body: dict[str, Any] = {"status": status, "message": message}
        if code:
            body["code"] = code
        if service is not None:
            body["serviceErrorCode"] = service
        return self._json(body, status)

    def _oauth_error(self, status: int, error: str, description: str) -> Response:
        return self._json({"error": error, "error_description": description}, status)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._answer(request, environ)
        finally:
            request.close()
        return response(environ, start_response)

    def _answer(self, request: Request, environ) -> Response:
        path, method = request.path, request.method
        hang = False
        with self._lock:
            data = request.get_data()
            self.requests.append({
                "method": method, "path": path,
                "raw_path": environ.get("RAW_URI") or environ.get("REQUEST_URI") or path,
                "query": environ.get("QUERY_STRING", ""), "args": request.args.to_dict(),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "form": request.form.to_dict(), "body": data})
            failure = next((f for f in self._failures if f.path in path
                            and f.method in ("", method)), None)
            if failure is not None:
                self._failures.remove(failure)
                if path.startswith("/oauth/"):
                    return self._oauth_error(failure.status, failure.code or "invalid_request",
                                             failure.message)
                return self._error(failure.status, failure.message, failure.code)
            writes = method in ("POST", "PUT") and not path.startswith("/oauth/")
            if writes and self.p_429 and self._random.random() < self.p_429:
                return self._error(429, THROTTLED, "TOO_MANY_REQUESTS")
            if writes and self.p_5xx and self._random.random() < self.p_5xx:
                return self._error(500, "Internal Server Error", "INTERNAL_SERVER_ERROR")
            waiting = next((h for h in self._hangs if h in path), None)
            if writes and waiting is not None:
                self._hangs.remove(waiting)
                hang = True
            elif (writes and self.p_store_then_hang
                  and self._random.random() < self.p_store_then_hang):
                hang = True
            response = self._route(request, path, data)
        if hang and response.status_code < 300:
            self._stopping.wait(self.hang_seconds)  # stored; the answer comes too late
        return response

    def _member(self, request: Request) -> tuple[dict | None, Response | None]:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not token:
            return None, self._error(401, "Empty oauth2_access_token", "EMPTY_ACCESS_TOKEN",
                                     401)
        if token in self.revoked:
            return None, self._error(401, "The token used in the request has been revoked "
                                     "by the user", "REVOKED_ACCESS_TOKEN", 65601)
        grant = self.tokens.get(token)
        if grant is None:
            return None, self._error(401, "Invalid access token", service=65600)
        if grant["expires_at"] <= self.now():
            return None, self._error(401, "The token used in the request has expired",
                                     "EXPIRED_ACCESS_TOKEN")
        return grant, None

    def _denied(self, resource: str, method: str) -> Response:
        return self._error(403, f"Not enough permissions to access: {resource}.{method}."
                           f"{VERSION}01", "ACCESS_DENIED", 100)

    def _may(self, grant: dict, author: str, *, write: bool) -> bool:
        """Whether the member may post (or read) as ``author``."""
        if author == f"urn:li:person:{grant['sub']}":
            return ("w_member_social" in grant["scopes"] if write
                    else self.member_social_read)
        organization = self.organizations.get(author.rsplit(":", 1)[-1])
        if organization is None or not author.startswith("urn:li:organization:"):
            return False
        role = organization.roles.get(grant["sub"])
        if write:
            return role in POSTING_ROLES and "w_organization_social" in grant["scopes"]
        return role in READING_ROLES and "r_organization_social" in grant["scopes"]

    # --- routes ---------------------------------------------------------------------------

    def _route(self, request: Request, path: str, data: bytes) -> Response:
        method = request.method
        if path == "/oauth/v2/accessToken" and method == "POST":
            return self._access_token(request)
        grant, refusal = self._member(request)
        if refusal is not None:
            return refusal
        if path == "/v2/userinfo" and method == "GET":
            member = self.members[grant["sub"]]
            if "openid" not in grant["scopes"]:
                return self._denied("userinfo", "GET")
            given, _, family = member.name.partition(" ")
            return self._json({"sub": member.sub, "name": member.name, "given_name": given,
                               "family_name": family, "email_verified": True,
                               "locale": {"country": "FR", "language": "fr"}})
        if path.startswith("/dms-uploads/") and method == "PUT":
            return self._upload(grant, path.rsplit("/", 1)[-1], data)
        if not path.startswith("/rest/"):
            return self._error(404, f"No resource found for {path}", "NOT_FOUND")
        version = request.headers.get("LinkedIn-Version", "")
        if not version:
            return self._error(400, "A version must be present. Please specify a version by "
                               "adding the LinkedIn-Version header.", "VERSION_MISSING")
        if version in self.sunset or not re.fullmatch(r"20\d{4}", version):
            return self._error(426, f"Requested version {version} is not active",
                               "NONEXISTENT_VERSION")
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return self._error(400, "Invalid Rest.li protocol version: the request header "
                               "X-Restli-Protocol-Version: 2.0.0 is required", "BAD_REQUEST")
        if "q" in request.args and request.headers.get("X-RestLi-Method", "").upper() != "FINDER":
            return self._error(400, "A finder needs the header X-RestLi-Method: FINDER",
                               "BAD_REQUEST")
        parts = [unquote(p) for p in path.split("/")[2:]]
        return self._rest(request, grant, parts, data)

    def _rest(self, request: Request, grant: dict, parts: list[str], data: bytes) -> Response:
        method, args = request.method, request.args
        if parts == ["organizationAcls"] and method == "GET":
            return self._acls(grant, args)
        if len(parts) == 2 and parts[0] == "organizations" and method == "GET":
            organization = self.organizations.get(parts[1])
            if organization is None:
                return self._error(404, "Could not find entity", "NOT_FOUND")
            return self._json({"id": int(organization.id), "localizedName": organization.name,
                               "vanityName": organization.vanity,
                               "name": {"localized": {"fr_FR": organization.name}}})
        try:
            body = json.loads(data) if data else {}
        except ValueError:
            return self._error(400, "Malformed JSON", "BAD_REQUEST")
        if parts == ["images"] and method == "POST" and args.get("action") == "initializeUpload":
            return self._initialize(grant, body)
        if parts == ["posts"] and method == "POST":
            return self._create_post(grant, body)
        if parts == ["posts"] and method == "GET" and args.get("q") == "author":
            return self._find_posts(grant, args)
        if len(parts) == 3 and parts[0] == "socialActions" and parts[2] == "comments" \
                and method == "POST":
            return self._comment(grant, parts[1], body)
        if len(parts) == 2 and parts[0] == "socialActions" and method == "GET":
            return self._social_actions(grant, parts[1])
        if len(parts) == 2 and parts[0] == "networkSizes" and method == "GET":
            return self._network_size(grant, parts[1], args)
        if parts == ["organizationalEntityShareStatistics"] and method == "GET":
            return self._statistics(grant, args)
        return self._error(404, f"No resource found for {'/'.join(parts)}", "NOT_FOUND")

    def _acls(self, grant: dict, args) -> Response:
        if args.get("q") != "roleAssignee":
            return self._error(400, "Unsupported finder", "BAD_REQUEST")
        if not {"rw_organization_admin", "r_organization_social",
                "w_organization_social"} & grant["scopes"]:
            return self._denied("organizationAcls", "FINDER")
        person = f"urn:li:person:{grant['sub']}"
        found = [{"roleAssignee": person, "state": "APPROVED", "role": role,
                  "organization": o.urn}
                 for o in self.organizations.values()
                 for sub, role in o.roles.items() if sub == grant["sub"]]
        found = [a for a in found if args.get("state") in (None, a["state"])
                 and args.get("role") in (None, a["role"])]
        start, count = int(args.get("start", 0)), int(args.get("count", 10))
        return self._json({"paging": {"start": start, "count": count, "total": len(found)},
                           "elements": found[start:start + count]})

    def _initialize(self, grant: dict, body: dict) -> Response:
        owner = str((body.get("initializeUploadRequest") or {}).get("owner") or "")
        if not owner:
            return self._error(400, "initializeUploadRequest/owner is required but missing",
                               "MISSING_FIELD")
        if not self._may(grant, owner, write=True):
            return self._denied("images", "ACTION")
        image = "urn:li:image:C4E10AQ" + secrets.token_urlsafe(9)
        key = secrets.token_urlsafe(12)
        self.images[image] = {"owner": owner, "status": "WAITING_UPLOAD", "bytes": 0}
        self.uploads[key] = image
        return self._json({"value": {
            "uploadUrlExpiresAt": int((self.now() + 3600) * 1000),
            "uploadUrl": f"{self.url}/dms-uploads/{key}?ca=vector_feedshare&cn=uploads",
            "image": image}})

    def _upload(self, grant: dict, key: str, data: bytes) -> Response:
        image = self.images.get(self.uploads.get(key, ""))
        if image is None:
            return self._error(400, "The upload URL is invalid or expired", "EXPIRED_UPLOAD_URL")
        if not self._may(grant, image["owner"], write=True):
            return self._denied("dmsUploads", "PUT")
        if not data:
            return self._error(400, "The uploaded file is empty", "BAD_REQUEST")
        image.update(status="AVAILABLE", bytes=len(data))
        return Response(status=201)

    def _check_image(self, urn: str, author: str) -> Response | None:
        image = self.images.get(urn)
        if image is None:
            return self._error(400, "This Image ID is invalid", "INVALID_IMAGE_ID")
        if image["owner"] != author:
            return self._error(403, "Accessing this image resource is forbidden. Please check "
                               "your permissions for this resource", "ACCESS_DENIED")
        if image["status"] != "AVAILABLE":
            return self._error(400, "Media asset is waiting upload",
                               "MEDIA_ASSET_WAITING_UPLOAD")
        return None

    def _create_post(self, grant: dict, body: dict) -> Response:
        for name in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
            if name not in body:
                return self._error(400, f"/{name} is required but missing", "MISSING_FIELD")
        author, text = str(body["author"]), body["commentary"]
        if body["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN") \
                or (body["distribution"] or {}).get("feedDistribution") not in ("MAIN_FEED",
                                                                                "NONE") \
                or body["lifecycleState"] not in ("PUBLISHED", "DRAFT"):
            return self._error(400, "Invalid value for visibility, distribution or "
                               "lifecycleState", "INVALID_VALUE_FOR_FIELD")
        if not self._may(grant, author, write=True):
            return self._denied("partnerApiPostsExternal", "CREATE")
        content = body.get("content") or {}
        images = ([content["media"].get("id")] if "media" in content
                  else [i.get("id") for i in (content.get("multiImage") or {}).get("images", [])])
        if "multiImage" in content and not 2 <= len(images) <= 20:
            return self._error(400, "/content/multiImage/images must hold 2 to 20 images",
                               "INVALID_VALUE_FOR_FIELD")
        for urn in images:
            if (refusal := self._check_image(str(urn), author)) is not None:
                return refusal
        if len(text) > 3000:
            return self._error(400, f"/commentary length {len(text)} can't exceeded maximum "
                               "3000 length", "FIELD_LENGTH_TOO_LONG")
        if not str(text).strip() and not images:
            return self._error(400, "/commentary can't be blank", "INVALID_VALUE_BLANK_FIELD")
        now_ms = int(self.now() * 1000)
        duplicate = next((p for p in self.posts if p["author"] == author
                          and p["commentary"] == text and now_ms - p["createdAt"] < 600_000), None)
        if duplicate is not None and text.strip():
            return self._error(422, f"Content is a duplicate of {duplicate['id']}",
                               "UNPROCESSABLE_ENTITY")
        kind = "ugcPost" if len(images) > 1 else "share"
        urn = f"urn:li:{kind}:{next(self._ids)}"
        self.posts.append({"id": urn, "author": author, "commentary": text,
                           "shown": shown(text), "content": content, "images": images,
                           "createdAt": now_ms, "body": body, "comments": [], "likes": 0,
                           "stats": {}})
        return Response(status=201, headers={"x-restli-id": urn})

    def _comment(self, grant: dict, post_urn: str, body: dict) -> Response:
        post = next((p for p in self.posts if p["id"] == post_urn), None)
        if post is None:
            return self._error(404, "Could not find entity", "NOT_FOUND")
        actor = str(body.get("actor") or "")
        if not self._may(grant, actor, write=True):
            return self._denied("socialActions.comments", "CREATE")
        text = str((body.get("message") or {}).get("text") or "")
        if not text:
            return self._error(400, "/message/text is required but missing", "MISSING_FIELD")
        comment_id = str(next(self._ids))
        urn = f"urn:li:comment:({post_urn},{comment_id})"
        post["comments"].append({"id": comment_id, "urn": urn, "actor": actor, "text": text,
                                 "object": body.get("object")})
        return self._json({"actor": actor, "object": post_urn, "message": {"text": text},
                           "id": comment_id, "$URN": urn,
                           "created": {"actor": actor, "time": int(self.now() * 1000)}},
                          201, {"x-restli-id": urn})


# --- what the tests publish --------------------------------------------------------------

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
                    "0000000a49444154789c636000000002000148afa4710000000049454e44ae426082")


def photo(name: str = "croissants.png", sha: str = "0", description: str = "") -> OutgoingMedia:
    return OutgoingMedia(sha256=sha * 64, mime="image/png", kind="image", data=PNG,
                         filename=name, description=description)


def outgoing(author: str, token: str, *, text: str = "Bonjour, le pain est chaud !",
             media=(), first_comment: str = "", scheduled_at: datetime | None = None,
             progress: dict | None = None, saved: list | None = None) -> Outgoing:
    """One publication as the engine builds it; ``saved`` collects its checkpoints."""
    return Outgoing(
        publication_id=uuid.uuid4(), account_id=uuid.uuid4(), network="linkedin", text=text,
        media=tuple(media), first_comment=first_comment, scheduled_at=scheduled_at,
        idempotency_key=uuid.uuid4().hex,
        settings={"author_urn": author, "kind": "member" if ":person:" in author
                  else "organization", "vanity_name": ""},
        credentials={"access_token": token, "expires_at": time.time() + ACCESS_TTL,
                     "refresh_token": "", "refreshable": False},
        progress=dict(progress or {}),
        checkpoint=(saved.append if saved is not None else None))


@pytest.fixture
def fake_linkedin(app, monkeypatch):
    """A running fake, with the app's LinkedIn settings pointed at it."""
    with FakeLinkedIn() as server:
        monkeypatch.setitem(app.config, "LINKEDIN_CLIENT_ID", CLIENT_ID)
        monkeypatch.setitem(app.config, "LINKEDIN_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setitem(app.config, "LINKEDIN_API_URL", server.url)
        monkeypatch.setitem(app.config, "LINKEDIN_OAUTH_URL", server.url + "/oauth/v2")
        monkeypatch.setitem(app.config, "LINKEDIN_VERSION", VERSION)
        monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 2)
        yield server
