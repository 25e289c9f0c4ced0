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

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

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


def _provider_classes() -> tuple[type[Provider], ...]:
    # Each network's provider lives beside its adapter; imported when first needed.
    from .facebook_oauth import FacebookProvider
    from .google_oauth import GoogleBusinessProvider
    from .instagram_oauth import InstagramProvider
    from .linkedin_oauth import LinkedInProvider
    from .x_oauth import XProvider

    # The order of the connect page: what small businesses use most first.
    return (FacebookProvider, InstagramProvider, GoogleBusinessProvider, LinkedInProvider,
            XProvider)


def providers() -> dict[str, Provider]:
    """Every OAuth network, configured or not (the page explains the missing ones), in
    the order the connect page lists them."""
    return {cls.key: cls() for cls in _provider_classes()}


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


# --- owner links: a state bound to a signed link, not to a person --------------------------
# The SME's owner connects their accounts from a link (owner_link.py) without signing in
# here. Their state names the link (its id, and the link itself sealed, so the callback
# can check the link is still valid and go back to it), the agency, the client and the
# network; the same 15 minutes. Its own salt: a person's state is never taken for it.
OWNER_STATE_SALT = "oauth-owner-state"


def make_owner_state(provider: Provider, *, link_token: str, jti: str,
                     agency_id: uuid.UUID, client_id: uuid.UUID) -> tuple[str, str | None]:
    payload: dict[str, Any] = {"network": provider.key, "agency": str(agency_id),
                               "client": str(client_id), "jti": jti,
                               "link": seal({"token": link_token})}
    challenge = None
    if provider.uses_pkce:
        verifier = new_verifier()
        payload["pkce"] = seal({"verifier": verifier})
        challenge = code_challenge(verifier)
    return _serializer(OWNER_STATE_SALT).dumps(payload), challenge


def is_owner_state(token: str) -> bool:
    """Whether ``token`` is a genuine owner state (even an expired one): the callback
    then takes the owner's path, without a sign-in."""
    try:
        _serializer(OWNER_STATE_SALT).loads(token or "")
    except BadSignature:
        return False
    return True


def read_owner_state(token: str, network: str) -> dict:
    """The owner state's payload (``client`` a UUID, ``link`` the link's token and
    ``verifier`` unsealed), if unexpired and for this network; ``OAuthError`` otherwise.
    The link itself is then checked by its owner (still valid, same id)."""
    invalid = _("This sign-in is not valid. Open the link you received by e-mail again.")
    payload = _load(OWNER_STATE_SALT, token, STATE_MAX_AGE, invalid=invalid,
                    expired=_("The sign-in took too long. Open the link you received by "
                              "e-mail again."))
    if payload.get("network") != network or not payload.get("jti"):
        raise OAuthError(invalid)
    try:
        link = str(unseal(str(payload.get("link") or "")).get("token") or "")
        verifier = (str(unseal(payload["pkce"]).get("verifier") or "") or None
                    if payload.get("pkce") else None)
        client_id = uuid.UUID(str(payload.get("client")))
    except (CredentialsUnreadable, ValueError, AttributeError):
        raise OAuthError(invalid) from None
    if not link:
        raise OAuthError(invalid)
    return {**payload, "client": client_id, "link": link, "verifier": verifier}


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
