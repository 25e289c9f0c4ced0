"""The fake LinkedIn's sign-in side (mixed into FakeLinkedIn): the 3-legged OAuth code
exchange at ``/oauth/v2/accessToken`` (form-encoded, the client secret in the body),
access tokens of 60 days, and refresh tokens of 365 days that a refresh does not extend
(LinkedIn's "programmatic refresh tokens")."""

from __future__ import annotations

import secrets

from werkzeug.wrappers import Request, Response

DAY = 24 * 3600
ACCESS_TTL = 60 * DAY
REFRESH_TTL = 365 * DAY
ALL_SCOPES = ("openid", "profile", "w_member_social", "w_organization_social",
              "r_organization_social", "rw_organization_admin")


class FakeLinkedInOAuth:
    """Needs from the fake: ``_lock``, ``now``, ``tokens``, ``refreshes``, ``codes``,
    ``revoked``, ``client_id``, ``client_secret``, ``refresh_tokens``, ``_json``,
    ``_oauth_error``."""

    def grant(self, member, scopes: tuple[str, ...] = ALL_SCOPES) -> dict:
        """A token answer, as the exchange of an approved code gives it."""
        with self._lock:
            return self._grant(member.sub, scopes, REFRESH_TTL if self.refresh_tokens else None)

    def _grant(self, sub: str, scopes, refresh_ttl: float | None,
               refresh_token: str | None = None) -> dict:
        now = self.now()
        access_ttl = ACCESS_TTL if refresh_ttl is None else min(ACCESS_TTL, refresh_ttl)
        token = "AQV" + secrets.token_urlsafe(24)
        self.tokens[token] = {"sub": sub, "scopes": set(scopes), "expires_at": now + access_ttl}
        answer = {"access_token": token, "expires_in": int(access_ttl),
                  "scope": ",".join(scopes)}
        if refresh_ttl is not None:
            refresh_token = refresh_token or "AQX" + secrets.token_urlsafe(24)
            self.refreshes.setdefault(refresh_token, {"sub": sub, "scopes": set(scopes),
                                                      "expires_at": now + refresh_ttl})
            answer |= {"refresh_token": refresh_token,
                       "refresh_token_expires_in": int(refresh_ttl)}
        return answer

    def issue_code(self, member, redirect_uri: str,
                   scopes: tuple[str, ...] = ALL_SCOPES) -> str:
        """What the authorization page would send back after the member approved."""
        with self._lock:
            code = "AQT" + secrets.token_urlsafe(12)
            self.codes[code] = {"sub": member.sub, "redirect_uri": redirect_uri,
                                "scopes": scopes}
            return code

    def _access_token(self, request: Request) -> Response:
        form = request.form
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                   self.client_secret):
            return self._oauth_error(401, "invalid_client", "Client authentication failed")
        if form.get("grant_type") == "refresh_token":
            refresh = self.refreshes.get(form.get("refresh_token", ""))
            if refresh is None or refresh["expires_at"] <= self.now() \
                    or form.get("refresh_token") in self.revoked:
                return self._oauth_error(400, "invalid_request", "The provided authorization "
                                         "grant or refresh token is invalid, expired or revoked")
            remaining = refresh["expires_at"] - self.now()  # the TTL is not extended
            return self._json(self._grant(refresh["sub"], refresh["scopes"], remaining,
                                          form["refresh_token"]))
        if form.get("grant_type") != "authorization_code":
            return self._oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
        code = self.codes.pop(form.get("code", ""), None)
        if code is None:
            return self._oauth_error(400, "invalid_request", "Unable to retrieve access token: "
                                     "authorization code not found")
        if code["redirect_uri"] != form.get("redirect_uri"):
            return self._oauth_error(400, "invalid_redirect_uri", "Unable to retrieve access "
                                     "token: appid/redirect uri/code verifier does not match "
                                     "authorization code. Or authorization code expired.")
        return self._json(self._grant(code["sub"], code["scopes"],
                                      REFRESH_TTL if self.refresh_tokens else None))
