"""Connecting networks through OAuth 2.0 (authorization code), one framework for all.

A ``Provider`` knows one network's side: whether Relais's app credentials for it are
configured (``FACEBOOK_APP_ID``…), where to send the person to approve, how to exchange
the code for tokens, and which pages or locations those tokens may publish to
(``choices``). The routes (routes_oauth.py) and the saving (connect_oauth.py) are shared.

Nothing is stored between the steps:

- The ``state`` sent to the network is signed (itsdangerous, its own salt, 15 minutes)
  and names the agency, the client, the person and the network; the callback accepts it
  only from that same person in that same agency. For providers using PKCE, the
  verifier travels inside it, sealed (credentials.py ``seal``), so it never shows in a URL
  in the clear.
- The choices (with their page tokens) travel to the picking form sealed inside a signed
  form field (``seal_choices``), bound the same way, never in the session.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .base import AuthExpiredError, NetworkError, PermanentError
from .credentials import CredentialsUnreadable, seal, unseal

STATE_SALT = "oauth-connect-state"
STATE_MAX_AGE = 15 * 60  # the time to sign in on the network and approve
CHOICES_SALT = "oauth-connect-choices"
CHOICES_MAX_AGE = 30 * 60  # the time to pick the pages once back


class OAuthError(Exception):
    """A step of the flow that cannot go on; ``message`` is fit to show, ``status`` is
    the HTTP status the page answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Choice:
    """One page or location the person may add as an account."""

    external_id: str
    display_name: str
    handle: str = ""
    credentials: dict[str, Any] = field(default_factory=dict)  # secrets, sealed at rest
    settings: dict[str, Any] = field(default_factory=dict)  # not secret


class Provider:
    """One network's OAuth side. Subclasses set the class attributes and implement the
    three calls; they raise ``OAuthError`` with a reason fit to show."""

    key: ClassVar[str]
    display_name: ClassVar[str]
    needs: ClassVar[Any]  # what the person must have, e.g. "a Facebook Page you administer"
    scopes: ClassVar[tuple[str, ...]] = ()
    uses_pkce: ClassVar[bool] = False
    # The app config keys that must be set for this network to be offered.
    config_keys: ClassVar[tuple[str, ...]] = ()

    def configured(self) -> bool:
        return all(current_app.config.get(k) for k in self.config_keys)

    def missing_message(self) -> str:
        return _("%(network)s is not set up on this Relais: the administrator must set "
                 "%(keys)s.", network=self.display_name,
                 keys=_(" and ").join(self.config_keys))

    def authorize_url(self, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        raise NotImplementedError

    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None) -> dict:
        raise NotImplementedError

    def choices(self, tokens: dict) -> list[Choice]:
        raise NotImplementedError


# --- Facebook Pages -----------------------------------------------------------------------

class FacebookProvider(Provider):
    key = "facebook"
    display_name = "Facebook"
    needs = _l("a Facebook Page you administer (you can publish as the Page)")
    # Listing the person's Pages, and publishing and reading results as them.
    scopes = ("pages_show_list", "pages_read_engagement", "pages_manage_posts")
    # Facebook authenticates the exchange with the app secret (a confidential client).
    uses_pkce = False
    config_keys = ("FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET")

    def authorize_url(self, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        query = {"client_id": current_app.config["FACEBOOK_APP_ID"],
                 "redirect_uri": redirect_uri, "state": state, "response_type": "code",
                 "scope": ",".join(self.scopes)}
        if code_challenge:
            query |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
        return f"{current_app.config['FACEBOOK_DIALOG_URL']}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None) -> dict:
        """The person's long-lived user token: Pages listed with it get Page tokens that
        do not expire (they stop only if the person loses the Page or revokes Relais)."""
        from .facebook import FacebookGraph

        config = current_app.config
        app = {"client_id": config["FACEBOOK_APP_ID"],
               "client_secret": config["FACEBOOK_APP_SECRET"]}
        with FacebookGraph() as graph:
            try:
                short = graph.call("GET", "/oauth/access_token", params={
                    **app, "redirect_uri": redirect_uri, "code": code,
                    **({"code_verifier": verifier} if verifier else {})})
                token = str((short or {}).get("access_token") or "")
                if not token:
                    raise OAuthError(_("Facebook gave an unreadable answer. Start again."), 502)
                long = graph.call("GET", "/oauth/access_token", params={
                    **app, "grant_type": "fb_exchange_token", "fb_exchange_token": token})
            except (PermanentError, AuthExpiredError):
                raise OAuthError(_("Facebook did not accept this sign-in (it may have "
                                   "expired or been used already). Start again.")) from None
            except NetworkError:
                raise OAuthError(_("Could not reach Facebook. Try again in a moment."),
                                 502) from None
        return {"access_token": str((long or {}).get("access_token") or token)}

    def choices(self, tokens: dict) -> list[Choice]:
        from .facebook import FacebookGraph

        with FacebookGraph(str(tokens.get("access_token") or "")) as graph:
            try:
                body = graph.call("GET", "/me/accounts", params={
                    "fields": "id,name,username,access_token,tasks,link", "limit": 100})
            except AuthExpiredError:
                raise OAuthError(_("Facebook did not let Relais list your Pages. Start again "
                                   "and allow access to your Pages.")) from None
            except NetworkError:
                raise OAuthError(_("Could not reach Facebook. Try again in a moment."),
                                 502) from None
        pages = body.get("data") if isinstance(body, dict) else None
        found = []
        for page in pages if isinstance(pages, list) else []:
            if not isinstance(page, dict) or not page.get("id") or not page.get("access_token"):
                continue
            tasks = page.get("tasks")
            if isinstance(tasks, list) and "CREATE_CONTENT" not in tasks:
                continue  # a role on the Page that cannot publish
            name = (str(page.get("name") or "").strip() or str(page["id"]))[:120]
            username = str(page.get("username") or "")
            found.append(Choice(
                external_id=str(page["id"]), display_name=name,
                handle=f"@{username}" if username else "",
                credentials={"page_access_token": str(page["access_token"])},
                settings={"page_id": str(page["id"]), "page_name": name,
                          "link": str(page.get("link") or "")}))
        return found


PROVIDERS: tuple[type[Provider], ...] = (FacebookProvider,)


def providers() -> dict[str, Provider]:
    """Every OAuth network, configured or not (the page explains the missing ones)."""
    return {cls.key: cls() for cls in PROVIDERS}


def provider_for(network: str) -> Provider | None:
    return providers().get(network)


# --- PKCE ---------------------------------------------------------------------------------

def new_verifier() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43–128


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- signed state -------------------------------------------------------------------------

def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _binding(network: str, agency_id, client_id, user_id) -> dict[str, str]:
    return {"network": network, "agency": str(agency_id), "client": str(client_id),
            "user": str(user_id)}


def make_state(provider: Provider, *, agency_id: uuid.UUID, client_id: uuid.UUID,
               user_id: uuid.UUID) -> tuple[str, str | None]:
    """The signed ``state`` and, for PKCE providers, the code challenge to send."""
    payload: dict[str, Any] = _binding(provider.key, agency_id, client_id, user_id)
    challenge = None
    if provider.uses_pkce:
        verifier = new_verifier()
        payload["pkce"] = seal({"verifier": verifier})
        challenge = code_challenge(verifier)
    return _serializer(STATE_SALT).dumps(payload), challenge


def _load(salt: str, token: str, max_age: int, *, expired: str, invalid: str) -> dict:
    try:
        payload = _serializer(salt).loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise OAuthError(expired) from None
    except BadSignature:
        raise OAuthError(invalid) from None
    if not isinstance(payload, dict):
        raise OAuthError(invalid)
    return payload


def _check_binding(payload: dict, network: str, agency_id, user_id, *, invalid: str) -> None:
    if payload.get("network") != network:
        raise OAuthError(invalid)
    if payload.get("agency") != str(agency_id) or payload.get("user") != str(user_id):
        raise OAuthError(_("This sign-in was started by someone else or in another agency. "
                           "Start again from the client's page."), 403)


def read_state(token: str, network: str, *, agency_id, user_id) -> dict:
    """The state's payload (``client`` as a UUID, ``verifier`` unsealed or None), if it
    is ours, unexpired, for this network, and started by this person in this agency;
    ``OAuthError`` (400, or 403 for someone else's) otherwise."""
    invalid = _("This sign-in link is not valid. Start again from the client's page.")
    payload = _load(STATE_SALT, token, STATE_MAX_AGE, invalid=invalid,
                    expired=_("The sign-in took too long. Start again from the client's page."))
    _check_binding(payload, network, agency_id, user_id, invalid=invalid)
    verifier = None
    if payload.get("pkce"):
        try:
            verifier = str(unseal(payload["pkce"]).get("verifier") or "") or None
        except CredentialsUnreadable:
            raise OAuthError(invalid) from None
    try:
        client_id = uuid.UUID(str(payload.get("client")))
    except ValueError:
        raise OAuthError(invalid) from None
    return {**payload, "client": client_id, "verifier": verifier}


# --- sealed choices -----------------------------------------------------------------------

def seal_choices(choices: list[Choice], *, network: str, agency_id, client_id,
                 user_id) -> str:
    """A form field carrying the choices (tokens sealed, the whole signed and bound)."""
    payload = _binding(network, agency_id, client_id, user_id)
    payload["choices"] = seal({"choices": [asdict(c) for c in choices]})
    return _serializer(CHOICES_SALT).dumps(payload)


def read_choices(token: str, *, network: str, agency_id, client_id, user_id) -> list[Choice]:
    """The choices of ``seal_choices``; ``OAuthError`` if tampered, expired or bound to
    another person, agency, client or network."""
    invalid = _("This list of pages is not valid. Start again from the client's page.")
    payload = _load(CHOICES_SALT, token, CHOICES_MAX_AGE, invalid=invalid,
                    expired=_("The list of pages is too old. Start again from the client's "
                              "page."))
    _check_binding(payload, network, agency_id, user_id, invalid=invalid)
    if payload.get("client") != str(client_id):
        raise OAuthError(invalid)
    try:
        items = unseal(str(payload.get("choices") or "")).get("choices") or []
        return [Choice(**item) for item in items]
    except (CredentialsUnreadable, TypeError):
        raise OAuthError(invalid) from None
