"""Connecting a client's Mastodon account: with an access token, or through the instance's
own sign-in (OAuth authorization code).

Nothing is saved until the instance has confirmed the credentials
(``GET /api/v1/accounts/verify_credentials``). Connecting an account the client already
has (same instance, same Mastodon account id) updates that ``SocialAccount``: that is how
an expired account is reconnected.

Instance URLs are normalised to ``https://host[:port]``. Plain ``http://`` is accepted only
for a loopback host (127.0.0.0/8, ::1, localhost) and only outside production
(``PRODUCTION`` false): tests and a local development instance. In production, hosts that
are IP literals of private, loopback, link-local or reserved ranges are refused too, so an
instance URL cannot aim Relais's requests at its own network (names are not resolved here:
DNS answers pointing inward are not caught).

The OAuth app is registered once per instance and agency: its client id and secret are
kept, sealed, in the credentials of the accounts connected through it and reused by the
next connection to that instance (only from an account still connected: Mastodon removes
apps left without tokens). Between the start and the callback they travel sealed inside
the signed ``state``, so no table is needed.
"""

from __future__ import annotations

import importlib
import ipaddress
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from agency.audit.services import record
from agency.auth.links import LinkError, make_link_token, read_link_token
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db

from .base import AuthExpiredError, NetworkError, PermanentError
from .credentials import CredentialsUnreadable, seal, unseal
from .mastodon import DEFAULT_MAX_CHARACTERS, DEFAULT_VISIBILITY, VISIBILITIES, MastodonAPI
from .models import AccountStatus, SocialAccount
from .services import check_room

NETWORK = "mastodon"
SCOPES = "read write:statuses write:media"
APP_NAME = "Relais"
STATE_SALT = "mastodon-oauth-state"
STATE_MAX_AGE = 15 * 60  # the time to sign in on the instance and approve


@dataclass(frozen=True)
class OAuthStart:
    authorize_url: str
    instance_url: str


# --- instance URLs ------------------------------------------------------------------------

def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _inward(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    return not address.is_global


def normalise_instance_url(raw: str) -> str:
    """``https://host[:port]`` for what a person typed: a URL, a bare domain, or a handle
    such as ``@alice@mastodon.social``. Raises ``ServiceError`` on ``instance_url``."""
    text = (raw or "").strip()
    if "/" not in text and "@" in text:
        text = text.rsplit("@", 1)[1]  # a handle (@alice@mastodon.social): its instance
    if "://" not in text:
        text = "https://" + text
    refused = ServiceError(_("Give the address of the Mastodon instance, for example "
                             "https://mastodon.social."), field="instance_url")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError:
        raise refused from None
    if not host or parts.username or parts.password or " " in host:
        raise refused
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise refused from None
    production = current_app.config.get("PRODUCTION", False)
    scheme = parts.scheme.lower()
    if scheme == "http":
        if production or not _loopback(host):
            raise ServiceError(_("The instance must be reached over https://."),
                               field="instance_url")
    elif scheme != "https":
        raise refused
    if production and _inward(host):
        raise ServiceError(_("This address is not a public Mastodon instance."),
                           field="instance_url")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port else "")


def _visibility(value: str) -> str:
    if value in VISIBILITIES:
        return value
    if not value:
        return DEFAULT_VISIBILITY
    raise ServiceError(_("Choose who sees the posts: public, unlisted or followers only."),
                       field="visibility")


# --- talking to the instance --------------------------------------------------------------

def _unreachable(instance_url: str) -> ServiceError:
    return ServiceError(_("Could not talk to a Mastodon instance at %(url)s. Check the address "
                          "and try again.", url=instance_url), field="instance_url")


def _verify(api: MastodonAPI, *, refusal_field: str | None) -> dict:
    """The account behind the token, or a ``ServiceError`` saying what to fix."""
    try:
        account = api.json(api.call("GET", "/api/v1/accounts/verify_credentials"))
    except AuthExpiredError as refused:
        raise ServiceError(
            _("%(instance)s refused this access token (%(error)s). Check that it was copied "
              "whole and has the scopes read, write:statuses and write:media.",
              instance=api.host, error=getattr(refused, "network_message", "")),
            field=refusal_field) from None
    except NetworkError:
        raise _unreachable(api.base) from None
    if not isinstance(account, dict) or not account.get("id") or not account.get("username"):
        raise _unreachable(api.base)
    return account


def _instance_facts(api: MastodonAPI) -> tuple[str, int]:
    """The instance's own domain (handles use it, it may differ from the web address) and
    its status length limit: ``/api/v2/instance``, else ``/api/v1/instance``, else 500."""
    for path in ("/api/v2/instance", "/api/v1/instance"):
        try:
            info = api.json(api.call("GET", path))
        except NetworkError:
            continue
        if not isinstance(info, dict):
            continue
        domain = str(info.get("domain") or info.get("uri") or "")
        if "://" in domain:  # some v1 servers give a URL as their uri
            domain = urlsplit(domain).hostname or ""
        statuses = (info.get("configuration") or {}).get("statuses") or {}
        limit = statuses.get("max_characters") or info.get("max_toot_chars")
        try:
            limit = int(limit)
        except (TypeError, ValueError):
            limit = 0
        return domain or api.host, limit if limit > 0 else DEFAULT_MAX_CHARACTERS
    return api.host, DEFAULT_MAX_CHARACTERS


# --- connecting ---------------------------------------------------------------------------

def connect_with_token(client: Client, instance_url: str, access_token: str,
                       visibility: str = DEFAULT_VISIBILITY) -> SocialAccount:
    """Connect (or reconnect) the Mastodon account an access token belongs to. The token
    is checked against the instance first; nothing is written if it is refused."""
    _writable(client)
    instance_url = normalise_instance_url(instance_url)
    visibility = _visibility(visibility)
    access_token = (access_token or "").strip()
    if not access_token or len(access_token) > 512 or any(c.isspace() for c in access_token):
        raise ServiceError(_("Paste the access token from the account's Development "
                             "settings on its instance."), field="access_token")
    with MastodonAPI(instance_url, access_token) as api:
        account = _verify(api, refusal_field="access_token")
        domain, max_characters = _instance_facts(api)
    return _save(client, instance_url, account, domain, max_characters, visibility,
                 {"access_token": access_token}, via="token")


def start_oauth(client: Client, instance_url: str, visibility: str, redirect_uri: str,
                *, agency_id: uuid.UUID, user_id: uuid.UUID) -> OAuthStart:
    """Where to send the person to approve Relais on their instance. Registers Relais as
    an app there unless an account of this agency already did; writes nothing."""
    _writable(client)
    instance_url = normalise_instance_url(instance_url)
    visibility = _visibility(visibility)
    app = _known_app(instance_url, redirect_uri) or _register_app(instance_url, redirect_uri)
    state = make_link_token(STATE_SALT, {
        "agency": str(agency_id), "client": str(client.id), "user": str(user_id),
        "instance": instance_url, "visibility": visibility, "app": seal(app),
    })
    query = urlencode({"response_type": "code", "client_id": app["client_id"],
                       "redirect_uri": redirect_uri, "scope": SCOPES, "state": state})
    return OAuthStart(f"{instance_url}/oauth/authorize?{query}", instance_url)


def read_state(token: str) -> dict:
    """The payload of a callback's ``state``; ``ServiceError`` if expired or not ours."""
    payload = read_link_token(STATE_SALT, token or "", STATE_MAX_AGE)
    if payload is LinkError.EXPIRED:
        raise ServiceError(_("The Mastodon sign-in took too long. Start again."))
    if isinstance(payload, LinkError) or not isinstance(payload, dict):
        raise ServiceError(_("This Mastodon sign-in link is not valid. Start again."))
    return payload


def finish_oauth(client: Client, state: dict, code: str, redirect_uri: str) -> SocialAccount:
    """Exchange the instance's code for a token, check it, and save the account. ``state``
    comes from ``read_state`` and the caller has checked it names this agency, this
    person and this client."""
    _writable(client)
    instance_url = state["instance"]
    try:
        app = unseal(state["app"])
    except CredentialsUnreadable:
        raise ServiceError(_("This Mastodon sign-in link is not valid. Start again.")) from None
    with MastodonAPI(instance_url) as anonymous:
        try:
            response = anonymous.call("POST", "/oauth/token", data={
                "grant_type": "authorization_code", "code": code or "",
                "client_id": app["client_id"], "client_secret": app["client_secret"],
                "redirect_uri": redirect_uri, "scope": SCOPES,
            })
            grant = anonymous.json(response)
        except (PermanentError, AuthExpiredError):
            raise ServiceError(_("%(instance)s did not accept this sign-in (it may have "
                                 "expired or been used already). Start again.",
                                 instance=anonymous.host)) from None
        except NetworkError:
            raise _unreachable(instance_url) from None
    token = str(grant.get("access_token") or "") if isinstance(grant, dict) else ""
    if not token:
        raise _unreachable(instance_url)
    with MastodonAPI(instance_url, token) as api:
        account = _verify(api, refusal_field=None)
        domain, max_characters = _instance_facts(api)
    return _save(client, instance_url, account, domain, max_characters,
                 _visibility(state.get("visibility", "")), {"access_token": token, **app},
                 via="oauth")


def _register_app(instance_url: str, redirect_uri: str) -> dict:
    website = current_app.config.get("PUBLIC_URL") or ""
    with MastodonAPI(instance_url) as api:
        try:
            app = api.json(api.call("POST", "/api/v1/apps", data={
                "client_name": APP_NAME, "redirect_uris": redirect_uri, "scopes": SCOPES,
                **({"website": website} if website else {}),
            }))
        except NetworkError:
            raise _unreachable(instance_url) from None
    if not isinstance(app, dict) or not app.get("client_id") or not app.get("client_secret"):
        raise _unreachable(instance_url)
    return {"client_id": str(app["client_id"]), "client_secret": str(app["client_secret"]),
            "redirect_uri": redirect_uri}


def _known_app(instance_url: str, redirect_uri: str) -> dict | None:
    """The app this agency already registered on the instance, from a connected account
    (tenant-scoped: never another agency's)."""
    accounts = db.session.scalars(select(SocialAccount).where(
        SocialAccount.network == NETWORK, SocialAccount.status == AccountStatus.CONNECTED))
    for account in accounts:
        if (account.settings or {}).get("instance_url") != instance_url:
            continue
        try:
            credentials = unseal(account.credentials)
        except CredentialsUnreadable:
            continue
        if (credentials.get("client_id") and credentials.get("client_secret")
                and credentials.get("redirect_uri") == redirect_uri):
            return {k: credentials[k] for k in ("client_id", "client_secret", "redirect_uri")}
    return None


# --- saving -------------------------------------------------------------------------------

def _writable(client: Client) -> None:
    if client.is_archived:
        raise ServiceError(_("This client is archived. Restore it before making changes."))


def _save(client: Client, instance_url: str, account: dict, domain: str, max_characters: int,
          visibility: str, credentials: dict, *, via: str) -> SocialAccount:
    account_id = str(account["id"])
    username = str(account.get("username") or "")
    acct = str(account.get("acct") or username)
    handle = f"@{acct}" if "@" in acct else f"@{username}@{domain}"
    display_name = (str(account.get("display_name") or "").strip() or username)[:120]
    settings = {"instance_url": instance_url, "account_id": account_id, "acct": acct,
                "username": username, "domain": domain, "max_characters": max_characters,
                "visibility": visibility, "connected_via": via}

    existing = next((a for a in db.session.scalars(select(SocialAccount).where(
        SocialAccount.client_id == client.id, SocialAccount.network == NETWORK))
        if (a.settings or {}).get("instance_url") == instance_url
        and str((a.settings or {}).get("account_id")) == account_id), None)

    if existing is None:
        check_room(client)
        saved = SocialAccount(client_id=client.id, network=NETWORK, display_name=display_name,
                              handle=handle[:120], settings=settings,
                              credentials=seal(credentials), status=AccountStatus.CONNECTED)
        db.session.add(saved)
        db.session.flush()
        record("account.connected", saved, details={
            "network": NETWORK, "client": str(client.id), "instance": instance_url, "via": via})
        return saved

    if via == "token":  # keep the instance's app for the next sign-in through it
        try:
            previous = unseal(existing.credentials)
        except CredentialsUnreadable:
            previous = {}
        credentials = {**{k: previous[k] for k in ("client_id", "client_secret",
                                                    "redirect_uri") if k in previous},
                       **credentials}
    was_connected = existing.status == AccountStatus.CONNECTED
    existing.display_name, existing.handle = display_name, handle[:120]
    existing.settings = settings  # a new dict: JSON columns only see reassignment
    existing.credentials = seal(credentials)
    existing.status, existing.status_reason = AccountStatus.CONNECTED, ""
    db.session.flush()
    record("account.reconnected", existing, details={
        "network": NETWORK, "client": str(client.id), "instance": instance_url, "via": via,
        "was": "connected" if was_connected else "expired"})
    if not was_connected:
        _resume_publications(existing)
    return existing


def _resume_publications(account: SocialAccount) -> None:
    """Let the publishing engine release what it held for this account (if the engine is
    installed: agency.publishing.services.account_reconnected)."""
    try:
        services = importlib.import_module("agency.publishing.services")
    except ModuleNotFoundError as missing:
        if missing.name != "agency.publishing.services":
            raise
        return
    hook = getattr(services, "account_reconnected", None)
    if hook is not None:
        hook(account)
