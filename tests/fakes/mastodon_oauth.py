"""The fake Mastodon's OAuth app flow, accounts and instance endpoints, and the shapes
and helpers the whole fake shares."""

from __future__ import annotations

import html
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _html(text: str) -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join("<p>" + html.escape(p).replace("\n", "<br />") + "</p>" for p in paragraphs)


@dataclass
class FakeAccount:
    id: str
    username: str
    display_name: str
    # What verify_credentials counts (set by a test to read the account's figures).
    followers_count: int = 0
    following_count: int = 0


@dataclass
class FakeToken:
    account_id: str
    scopes: set[str]
    client_id: str = ""
    revoked: bool = False


@dataclass
class FakeApp:
    client_id: str
    client_secret: str
    name: str
    redirect_uri: str
    scopes: set[str]


def _params(request: Request, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """Form or JSON parameters (Mastodon takes both), lists for the ``lists`` names."""
    if request.is_json:
        body = request.get_json(silent=True) or {}
        return {k: ([str(x) for x in v] if isinstance(v, list) else v) for k, v in body.items()}
    params: dict[str, Any] = {}
    for name in request.form:
        params[name] = request.form.getlist(name) if name in lists else request.form[name]
    return params


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


class OAuthEndpoints:
    """Mixed into the fake (it brings the state these methods use)."""

    # --- OAuth ----------------------------------------------------------------------------

    def _register_app(self, request: Request) -> Response:
        form = _params(request)
        name, redirect_uri = form.get("client_name", ""), form.get("redirect_uris", "")
        if not name or not redirect_uri:
            return _error(422, "Validation failed: Application name can't be blank, "
                               "Redirect URI can't be blank")
        scopes = set((form.get("scopes") or "read").split())
        app = FakeApp(secrets.token_urlsafe(16), secrets.token_urlsafe(32), name,
                      redirect_uri, scopes)
        with self._lock:
            self.apps[app.client_id] = app
            app_id = str(next(self._ids))
        return _json({"id": app_id, "name": name, "website": form.get("website") or None,
                      "scopes": sorted(scopes), "redirect_uri": redirect_uri,
                      "redirect_uris": [redirect_uri], "client_id": app.client_id,
                      "client_secret": app.client_secret, "vapid_key": "BFake="})

    def _authorize(self, request: Request) -> Response:
        args = request.args
        with self._lock:
            app = self.apps.get(args.get("client_id", ""))
        if (app is None or args.get("response_type") != "code"
                or args.get("redirect_uri") != app.redirect_uri):
            # Doorkeeper shows an error page, it does not redirect.
            return Response("Client authentication failed", status=400)
        scopes = set((args.get("scope") or "read").split())
        if not scopes <= app.scopes:
            return Response("The requested scope is invalid", status=400)
        state = {"state": args["state"]} if "state" in args else {}
        if self.deny_authorization:
            query = urlencode({"error": "access_denied", "error_description":
                               "The resource owner or authorization server denied the request.",
                               **state})
            return Response(status=302, headers={"Location": f"{app.redirect_uri}?{query}"})
        code = secrets.token_urlsafe(24)
        with self._lock:
            account = (self._by_username(self.authorize_as) if self.authorize_as
                       else next(iter(self.accounts.values())))
            self._codes[code] = {"client_id": app.client_id, "account": account.username,
                                 "redirect_uri": app.redirect_uri, "scopes": scopes}
        query = urlencode({"code": code, **state})
        return Response(status=302, headers={"Location": f"{app.redirect_uri}?{query}"})

    def _token(self, request: Request) -> Response:
        form = _params(request)
        with self._lock:
            app = self.apps.get(form.get("client_id", ""))
            if app is None or form.get("client_secret") != app.client_secret:
                return _json({"error": "invalid_client", "error_description":
                              "Client authentication failed due to unknown client, no client "
                              "authentication included, or unsupported authentication "
                              "method."}, 401)
            grant = self._codes.pop(form.get("code", ""), None)
        if (form.get("grant_type") != "authorization_code" or grant is None
                or grant["client_id"] != app.client_id
                or grant["redirect_uri"] != form.get("redirect_uri")):
            return _json({"error": "invalid_grant", "error_description":
                          "The provided authorization grant is invalid, expired, revoked, does "
                          "not match the redirection URI used in the authorization request, or "
                          "was issued to another client."}, 400)
        token = self.issue_token(grant["account"], tuple(grant["scopes"]), app.client_id)
        return _json({"access_token": token, "token_type": "Bearer",
                      "scope": " ".join(sorted(grant["scopes"])),
                      "created_at": int(datetime.now(UTC).timestamp())})

    # --- accounts and instance ------------------------------------------------------------

    def _verify_credentials(self, token: FakeToken) -> Response:
        if not ({"read", "read:accounts"} & token.scopes):
            return _error(403, "This action is outside the authorized scopes")
        account = self._account_json(self.accounts[token.account_id])
        account["source"] = {"privacy": "public", "sensitive": False, "language": "fr",
                             "note": "", "fields": []}
        return _json(account)

    def _account_json(self, account: FakeAccount) -> dict:
        return {"id": account.id, "username": account.username, "acct": account.username,
                "display_name": account.display_name, "locked": False, "bot": False,
                "url": f"{self.url}/@{account.username}", "avatar": "", "note": "",
                "created_at": "2023-01-01T00:00:00.000Z",
                "followers_count": account.followers_count,
                "following_count": account.following_count,
                "statuses_count": sum(1 for status in self._statuses.values()
                                      if status["account_id"] == account.id)}

    def _instance_v2(self) -> Response:
        return _json({"domain": self.domain, "title": "Fake Social", "version": "4.3.0",
                      "source_url": "https://github.com/mastodon/mastodon",
                      "configuration": {
                          "urls": {"streaming": ""},
                          "statuses": {"max_characters": self.max_characters,
                                       "max_media_attachments": 4,
                                       "characters_reserved_per_url": 23},
                          "media_attachments": {"image_size_limit": 16777216,
                                                "video_size_limit": 103809024}}})

    def _instance_v1(self) -> Response:
        return _json({"uri": self.domain, "title": "Fake Social", "version": "3.5.0",
                      "configuration": {"statuses": {"max_characters": self.max_characters,
                                                     "max_media_attachments": 4}}})
