"""The fake PDS's sessions (create, refresh, get) and the shapes and helpers the whole
fake shares."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response


@dataclass
class FakeAccount:
    did: str
    handle: str
    password: str  # the main password
    display_name: str
    app_passwords: set[str] = field(default_factory=set)
    # What getProfile counts (set by a test to read the account's figures).
    followers_count: int = 12
    follows_count: int = 3


@dataclass
class FakeToken:
    kind: str  # "access" | "refresh"
    did: str
    expires: float
    app_password: str = ""
    expired: bool = False  # forced
    revoked: bool = False
    rotated_at: float | None = None  # refresh tokens: when it was exchanged
    next_refresh: str = ""


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status: int, error: str, message: str) -> Response:
    return _json({"error": error, "message": message}, status)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _limit_headers(limit: int, remaining: int, reset: int, window: int) -> dict:
    return {"ratelimit-limit": str(limit), "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(reset), "ratelimit-policy": f"{limit};w={window}"}


class SessionEndpoints:
    """Mixed into the fake (it brings the state these methods use)."""

    # --- sessions -------------------------------------------------------------------------

    def _account(self, identifier: str) -> FakeAccount | None:
        identifier = identifier.lower().removeprefix("@")
        for account in self.accounts.values():
            if identifier in (account.did, account.handle):
                return account
        return None

    def _issue(self, did: str, app_password: str) -> tuple[str, str]:
        now = time.time()
        tokens = []
        for kind, ttl in (("access", self.access_ttl), ("refresh", self.refresh_ttl)):
            header = {"typ": "at+jwt" if kind == "access" else "refresh+jwt", "alg": "ES256K"}
            payload = {"scope": "com.atproto.appPass", "sub": did, "iat": int(now),
                       "exp": int(now + ttl), "jti": secrets.token_hex(8)}
            token = f"{_b64(header)}.{_b64(payload)}.{secrets.token_urlsafe(32)}"
            self._tokens[token] = FakeToken(kind, did, now + ttl, app_password)
            tokens.append(token)
        return tokens[0], tokens[1]

    def _token(self, request: Request, kind: str = "access"
               ) -> tuple[FakeToken | None, Response | None]:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None, _error(401, "AuthMissing", "Authentication Required")
        with self._lock:
            token = self._tokens.get(header[len("Bearer "):])
            if token is None or token.kind != kind or token.revoked:
                return None, _error(400, "InvalidToken", "Token could not be verified")
            if token.expired or token.expires < time.time():
                return None, _error(400, "ExpiredToken", "Token has expired")
            return token, None

    def _session_json(self, account: FakeAccount, access: str, refresh: str) -> dict:
        return {"did": account.did, "handle": account.handle, "accessJwt": access,
                "refreshJwt": refresh, "active": True, "email": f"{account.handle}@example.test",
                "didDoc": {"id": account.did, "service": [{
                    "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": self.url}]}}

    def _create_session(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        identifier, password = str(body.get("identifier", "")), str(body.get("password", ""))
        if not identifier or not password:
            return _error(400, "InvalidRequest", "Input must have the properties "
                          '"identifier", "password"')
        now = time.time()
        with self._lock:
            account = self._account(identifier)
            key = account.did if account else identifier.lower()
            attempts = [t for t in self._sign_ins.get(key, []) if t > now - self.session_window]
            reset = int((attempts[0] if attempts else now) + self.session_window)
            if len(attempts) >= self.session_limit:
                response = _error(429, "RateLimitExceeded", "Rate Limit Exceeded")
                response.headers.extend(_limit_headers(self.session_limit, 0, reset,
                                                       self.session_window))
                return response
            attempts.append(now)
            self._sign_ins[key] = attempts
            headers = _limit_headers(self.session_limit, self.session_limit - len(attempts),
                                     reset, self.session_window)
            if account is None or (password not in account.app_passwords
                                   and password != account.password):
                response = _error(401, "AuthenticationRequired", "Invalid identifier or password")
                response.headers.extend(headers)
                return response
            app_password = password if password in account.app_passwords else ""
            access, refresh = self._issue(account.did, app_password)
        response = _json(self._session_json(account, access, refresh))
        response.headers.extend(headers)
        return response

    def _refresh_session(self, request: Request) -> Response:
        token, refusal = self._token(request, "refresh")
        if refusal is not None:
            return refusal
        assert token is not None
        now = time.time()
        with self._lock:
            account = self.accounts[token.did]
            if token.rotated_at is not None:
                if now - token.rotated_at > self.refresh_grace:
                    return _error(400, "ExpiredToken", "Token has been revoked")
                access, _ = self._issue(token.did, token.app_password)
                return _json(self._session_json(account, access, token.next_refresh))
            access, refresh = self._issue(token.did, token.app_password)
            token.rotated_at, token.next_refresh = now, refresh
        return _json(self._session_json(account, access, refresh))

    def _get_session(self, request: Request) -> Response:
        token, refusal = self._token(request)
        if refusal is not None:
            return refusal
        account = self.accounts[token.did]
        return _json({"did": account.did, "handle": account.handle, "active": True})
