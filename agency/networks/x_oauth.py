"""X's side of the OAuth connection (oauth.py): OAuth 2.0 Authorization Code with PKCE,
as a confidential client; the one choice is the X user who signed in.

As documented (docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token,
checked 2025): the person approves at ``X_AUTHORIZE_URL`` (``response_type=code``,
``client_id``, ``redirect_uri``, ``scope`` space-separated, ``state``,
``code_challenge``, ``code_challenge_method=S256``); the code is exchanged at
``{X_API_URL}/2/oauth2/token`` (``grant_type=authorization_code``, ``code``,
``redirect_uri``, ``code_verifier``) with HTTP Basic ``client_id:client_secret``. The
access token lasts two hours; ``offline.access`` brings a refresh token, rotated at each
renewal (x_tokens.py). ``GET /2/users/me`` names the account.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .base import AuthExpiredError, NetworkError, PermanentError
from .oauth import Choice, OAuthError, Provider
from .x_api import AppCredentialsRefused, XApi, credentials_from


class XProvider(Provider):
    key = "x"
    display_name = "X"
    needs = _l("an X account you can sign in to (Relais publishes as that account)")
    # Reading and writing posts, naming the account, uploading media, and a refresh
    # token (offline.access) so that the two-hour access can be renewed without a person.
    scopes = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")
    uses_pkce = True
    config_keys = ("X_CLIENT_ID", "X_CLIENT_SECRET")

    def authorize_url(self, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        query = {"response_type": "code", "client_id": current_app.config["X_CLIENT_ID"],
                 "redirect_uri": redirect_uri, "scope": " ".join(self.scopes),
                 "state": state, "code_challenge": code_challenge or "",
                 "code_challenge_method": "S256"}
        return f"{current_app.config['X_AUTHORIZE_URL']}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None) -> dict:
        if not verifier:
            raise OAuthError(_("This sign-in link is not valid. Start again from the client's "
                               "page."))
        with XApi() as api:
            try:
                answer = api.token_call({
                    "grant_type": "authorization_code", "code": code,
                    "redirect_uri": redirect_uri, "code_verifier": verifier,
                    "client_id": current_app.config["X_CLIENT_ID"]})
            except AppCredentialsRefused as error:
                raise OAuthError(error.reason, 502) from None
            except (AuthExpiredError, PermanentError):
                raise OAuthError(_("X did not accept this sign-in (it may have expired or "
                                   "been used already). Start again.")) from None
            except NetworkError:
                raise OAuthError(_("Could not reach X. Try again in a moment."), 502) from None
        return credentials_from(answer)

    def choices(self, tokens: dict) -> list[Choice]:
        with XApi(str(tokens.get("access_token") or "")) as api:
            try:
                answer = api.call("GET", "/2/users/me")
            except AuthExpiredError:
                raise OAuthError(_("X did not let Relais read your account. Start again and "
                                   "allow access.")) from None
            except NetworkError:
                raise OAuthError(_("Could not reach X. Try again in a moment."), 502) from None
        user = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(user, dict) or not user.get("id") or not user.get("username"):
            raise OAuthError(_("X gave an unreadable answer. Start again."), 502)
        username = str(user["username"])
        name = (str(user.get("name") or "").strip() or username)[:120]
        return [Choice(external_id=str(user["id"]), display_name=name, handle=f"@{username}",
                       credentials=dict(tokens),
                       settings={"user_id": str(user["id"]), "username": username})]
