"""Connecting a client's Bluesky account with its handle and an app password.

Bluesky has no OAuth for this kind of use yet that fits a server publishing on its own, so
the account's owner creates an *app password* (Settings → Privacy and security → App
passwords), which can post but not change the account, and can be revoked on its own.
Relais signs in once (``createSession``), keeps the session and the app password sealed
(the password only to sign in again if the session dies, see bluesky_session), and
keeps the DID and handle as the account's settings.
"""

from __future__ import annotations

import importlib
import logging
import time

import regex
from flask_babel import gettext as _
from sqlalchemy import select

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db

from .base import NetworkError
from .bluesky_session import Session, Xrpc, XrpcError
from .bluesky_text import is_handle
from .credentials import seal
from .models import AccountStatus, SocialAccount
from .services import check_room

log = logging.getLogger(__name__)

NETWORK = "bluesky"
# What Bluesky generates: four groups of four base32 characters ("abcd-efgh-ijkl-mnop").
APP_PASSWORD = regex.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$",
                             regex.IGNORECASE)


def normalise_handle(raw: str) -> str:
    """``@Alice.BSKY.social `` → ``alice.bsky.social``."""
    handle = (raw or "").strip().removeprefix("@").strip().lower()
    return handle.removeprefix("at://")


def _check(handle: str, app_password: str) -> None:
    if not handle:
        raise ServiceError(_("Enter the account's Bluesky handle, e.g. "
                             "boulangerie.bsky.social."), field="handle")
    if not is_handle(handle):
        raise ServiceError(_("This is not a Bluesky handle. A handle looks like "
                             "boulangerie.bsky.social or a domain name."), field="handle")
    if not app_password:
        raise ServiceError(_("Enter an app password created in Bluesky."),
                           field="app_password")
    if not APP_PASSWORD.match(app_password):
        raise ServiceError(_(
            "This does not look like an app password. Never give Relais the account's main "
            "password: in Bluesky, open Settings → Privacy and security → App passwords, "
            "create one for Relais, and paste it here (it looks like xxxx-xxxx-xxxx-xxxx)."),
            field="app_password")


def _sign_in(handle: str, app_password: str) -> dict:
    xrpc = Xrpc()
    try:
        return xrpc.procedure("com.atproto.server.createSession",
                              body={"identifier": handle, "password": app_password})
    except XrpcError as error:
        if error.status == 401 and error.error in ("AccountTakedown", "AccountDeactivated"):
            raise ServiceError(_("Bluesky says this account is suspended or deactivated."),
                               field="handle") from error
        if error.status == 401:
            raise ServiceError(_("Bluesky did not accept this handle and app password. Check "
                                 "the handle, or create a new app password."),
                               field="app_password") from error
        if error.status == 429:
            minutes = max(1, round((error.retry_after or 300) / 60))
            raise ServiceError(_("Bluesky is limiting sign-ins for this account. Try again in "
                                 "%(minutes)s min.", minutes=minutes)) from error
        if error.status == 400:
            raise ServiceError(_("Bluesky refused the sign-in: %(message)s",
                                 message=error.message), field="handle") from error
        raise ServiceError(_("Bluesky is not answering properly right now (error "
                             "%(status)s). Try again in a moment.", status=error.status)
                           ) from error
    except NetworkError as error:
        raise ServiceError(_("Bluesky could not be reached. Try again in a moment.")) \
            from error


def _display_name(credentials: dict, fallback: str) -> str:
    """The profile's display name, or the handle: a missing profile never blocks."""
    try:
        profile = Session(Xrpc(), credentials).query("app.bsky.actor.getProfile",
                                                     {"actor": credentials["did"]})
    except (XrpcError, NetworkError) as error:
        log.info("bluesky: no profile for %s (%s)", credentials.get("did"), error)
        return fallback
    return (str(profile.get("displayName") or "").strip() or fallback)[:120]


def _existing_for(client: Client, did: str) -> SocialAccount | None:
    accounts = db.session.scalars(select(SocialAccount).where(
        SocialAccount.client_id == client.id, SocialAccount.network == NETWORK))
    return next((a for a in accounts if (a.settings or {}).get("did") == did), None)


def connect_account(client: Client, handle: str, app_password: str,
                    account: SocialAccount | None = None, *, via: str = "app_password",
                    by: str = "") -> tuple[SocialAccount, bool]:
    """Verify the handle and app password with Bluesky, then store the account.

    With ``account`` (a reconnection), the same row is updated and must stay the same
    Bluesky account (same DID). Connecting an account the client already has, expired,
    also reconnects it. Returns the account and whether it was a reconnection. Refusals
    are ``ServiceError``s on the field at fault; nothing is written before Bluesky
    accepted the credentials. Flushes, never commits."""
    handle = normalise_handle(handle)
    app_password = (app_password or "").strip()
    _check(handle, app_password)
    if account is not None and account.network != NETWORK:
        raise ServiceError(_("This account is not a Bluesky account."))
    session = _sign_in(handle, app_password)
    did, handle = str(session.get("did") or ""), str(session.get("handle") or handle)
    if not did:
        raise ServiceError(_("Bluesky answered without an account. Try again in a moment."))
    if account is not None and (account.settings or {}).get("did") not in (None, "", did):
        raise ServiceError(_("This account was connected as %(handle)s on Bluesky. Reconnect "
                             "it with that same Bluesky account, or connect a new account.",
                             handle=account.handle or account.display_name), field="handle")
    if account is None:
        account = _existing_for(client, did)
        if account is not None and account.status == AccountStatus.CONNECTED:
            raise ServiceError(_("This Bluesky account is already connected to this client."),
                               field="handle")
    credentials = {"did": did, "handle": handle, "accessJwt": session.get("accessJwt"),
                   "refreshJwt": session.get("refreshJwt"), "app_password": app_password,
                   "session_created_at": time.time()}
    display_name = _display_name(credentials, handle)
    reconnected = account is not None
    if account is None:
        check_room(client)
        account = SocialAccount(client_id=client.id, network=NETWORK)
        db.session.add(account)
    was_expired = reconnected and account.status != AccountStatus.CONNECTED
    account.display_name = display_name
    account.handle = f"@{handle}"[:120]
    account.settings = {**(account.settings or {}), "did": did, "handle": handle}
    account.credentials = seal(credentials)
    account.status = AccountStatus.CONNECTED
    account.status_reason = ""
    db.session.flush()
    record("account.reconnected" if reconnected else "account.connected", account,
           details={"network": NETWORK, "client": str(client.id), "handle": handle,
                    "did": did, "via": via, **({"by": by} if by else {})})
    if was_expired:
        _resume_publications(account)
    return account, reconnected


def _resume_publications(account: SocialAccount) -> None:
    """Let the publishing engine release what it held for this account (if the engine
    is installed: agency.publishing.services.account_reconnected)."""
    try:
        services = importlib.import_module("agency.publishing.services")
    except ModuleNotFoundError as missing:
        if missing.name != "agency.publishing.services":
            raise
        log.info("bluesky: no publishing engine to resume account %s", account.id)
        return
    hook = getattr(services, "account_reconnected", None)
    if hook is not None:
        hook(account)
