"""The fake Graph API's sign-in side (mixed into FakeFacebook): the code exchange of the
Facebook Login "manual flow" and the Pages a person administers.

    GET /oauth/access_token   client_id, client_secret, redirect_uri, code (+ code_verifier)
                              → a short-lived user token; grant_type=fb_exchange_token →
                              the long-lived one
    GET /me/accounts          fields, limit, after → the person's Pages (id, name,
                              username, access_token, tasks, link, location), paged
    GET /{page}               fields → the Page node (id, name, username, link,
                              followers_count, fan_count), to its token or an admin's
"""

from __future__ import annotations

import secrets

from werkzeug.wrappers import Request, Response


class FakeOAuth:
    """Needs from the fake: ``_lock``, ``_error``, ``_json``, ``_paged``,
    ``_invalid_token``, ``pages``, ``user_pages``, ``codes``, ``revoked``, ``app_id``,
    ``app_secret``, ``accounts_page_size``."""

    def issue_code(self, user_token: str, redirect_uri: str,
                   code_challenge: str | None = None) -> str:
        """What the dialog would send back after the person approved."""
        with self._lock:
            code = "AQ" + secrets.token_hex(12)
            self.codes[code] = {"user": user_token, "redirect_uri": redirect_uri,
                                "challenge": code_challenge}
            return code

    def _accounts(self, request: Request, token: str) -> Response:
        if token not in self.user_pages:
            return self._error(400, 100, "(#100) Tried accessing nonexisting field "
                               "(accounts) on node type (Page)", kind="GraphMethodException")
        fields = set((request.args.get("fields") or "id,name").split(","))
        rows = []
        for page in (self.pages[i] for i in self.user_pages[token]):
            row = {"id": page.id, "name": page.name, "access_token": page.token,
                   "tasks": page.tasks, "category": "Bakery",
                   "link": f"https://www.facebook.com/{page.id}"}
            if page.username:
                row["username"] = page.username
            if page.location:
                row["location"] = page.location
            rows.append({k: v for k, v in row.items() if k in fields})
        return self._paged(request, rows, self.accounts_page_size)

    def _page_node(self, page, token: str, request: Request) -> Response:
        if token != page.token and page.id not in self.user_pages.get(token, []):
            return self._error(403, 200, "(#200) The user hasn't authorized the application "
                               "to perform this action")
        known = {"id": page.id, "name": page.name, "link": f"https://www.facebook.com/{page.id}",
                 "followers_count": page.followers_count, "fan_count": page.fan_count,
                 **({"username": page.username} if page.username else {})}
        fields = (request.args.get("fields") or "id,name").split(",")
        unknown = [f for f in fields if f not in known and f != "username"]
        if unknown:
            return self._error(400, 100, f"(#100) Tried accessing nonexisting field "
                               f"({unknown[0]}) on node type (Page)",
                               kind="GraphMethodException")
        return self._json({f: known[f] for f in fields if f in known} | {"id": page.id})

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
