"""Server-side sessions and API tokens: how a request becomes a principal and a tenant.

The cookie holds a random session token and the chosen agency. The token's hash is
looked up in ``user_sessions``; the membership is then loaded *as that agency*, so a
cookie naming an agency the user does not belong to finds nothing.

A client contact's session (the client area) also names the contact: it is loaded as
that agency too, must still be linked to the user, and sets ``g.contact``, never
``g.membership``, so every staff permission check refuses it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from flask import g, request, session
from sqlalchemy import delete, select

from agency.clients.models import Client, Contact
from agency.extensions import db, login_manager
from tenants.context import clear_tenant, set_tenant
from tenants.models import Membership
from tenants.rls import set_token_lookup
from tenants.scoping import system_scope

from .models import ApiToken, User, UserSession

API_TOKEN_PREFIX = "rls_"
_LAST_SEEN_EVERY = timedelta(minutes=5)


def token_hash(raw: str) -> str:
    # The tokens are 256-bit random values: a plain SHA-256 is the right tool (no salt or
    # slow hash needed, and lookups stay an index hit).
    return hashlib.sha256(raw.encode()).hexdigest()


def memberships_of(user: User) -> list[Membership]:
    """The user's memberships in every agency (the one sanctioned cross-tenant read)."""
    set_tenant(None, user.id)  # RLS admits a user's own memberships by app.user_id
    return list(
        db.session.scalars(
            select(Membership)
            .where(Membership.user_id == user.id)
            .order_by(Membership.created_at)
            .execution_options(**system_scope("a user lists their own memberships"))
        )
    )


def contacts_of(user: User) -> list[Contact]:
    """The client contacts the user is, in every agency (a named cross-tenant read, the
    client-area twin of ``memberships_of``). The tenant is left unset."""
    set_tenant(None, user.id)  # RLS admits a user's own contact rows by app.user_id
    return list(
        db.session.scalars(
            select(Contact)
            .where(Contact.user_id == user.id)
            .order_by(Contact.created_at, Contact.id)
            .execution_options(**system_scope("a user lists the client contacts they are"))
        )
    )


def _open_session(user: User, agency_id: uuid.UUID) -> None:
    raw = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            token_hash=token_hash(raw),
            user_id=user.id,
            user_agent=(request.user_agent.string or "")[:255],
            ip=request.remote_addr or "",
        )
    )
    session.clear()  # no fixation: nothing from before login survives
    session["sid"] = raw
    session["agency_id"] = str(agency_id)
    session.permanent = True
    set_tenant(agency_id, user.id)


def start_session(user: User, membership: Membership) -> None:
    """Sign ``user`` in as a member of ``membership.agency_id``; a fresh session id each time."""
    _open_session(user, membership.agency_id)
    g.pop("contact", None)
    g.membership = membership


def start_contact_session(user: User, contact: Contact) -> None:
    """Sign ``user`` in to the client area of ``contact`` (linked to them); a fresh
    session id each time. The session carries no membership, even where the user has one."""
    _open_session(user, contact.agency_id)
    session["contact_id"] = str(contact.id)
    g.pop("membership", None)
    g.contact = contact


def switch_contact(contact: Contact) -> None:
    """Move a client-area session to another of the user's contacts (another client).
    The server-side session stays; every request re-checks the link anyway."""
    session["agency_id"] = str(contact.agency_id)
    session["contact_id"] = str(contact.id)
    set_tenant(contact.agency_id, contact.user_id)
    g.contact = contact


def end_session() -> None:
    """Delete the server-side session: the cookie, even copied, is now worthless."""
    raw = session.get("sid")
    if raw:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(raw)))
    session.clear()
    clear_tenant()


def end_all_sessions(user_id: uuid.UUID) -> None:
    """Sign a user out everywhere (after a password change or reset)."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user_id))


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    raw = session.get("sid")
    agency = session.get("agency_id")
    if not raw or not agency:
        return None
    user_session = db.session.scalars(
        select(UserSession).where(UserSession.token_hash == token_hash(raw))
    ).one_or_none()
    if user_session is None or str(user_session.user_id) != user_id:
        return None
    user = user_session.user
    if not user.is_active:
        return None
    try:
        agency_id = uuid.UUID(agency)
    except ValueError:
        return None
    set_tenant(agency_id, user.id)
    if session.get("contact_id") is not None:
        if not _load_contact(user_session, session["contact_id"]):
            clear_tenant()
            return None
    else:
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == user.id)
        ).one_or_none()
        if membership is None:
            clear_tenant()
            return None
        g.membership = membership
    now = datetime.now(UTC)
    last_seen = user_session.last_seen_at
    if last_seen.tzinfo is None:  # SQLite returns naive datetimes
        last_seen = last_seen.replace(tzinfo=UTC)
    if now - last_seen > _LAST_SEEN_EVERY:
        user_session.last_seen_at = now
        db.session.commit()  # nothing else is pending this early in the request
    return user


def _load_contact(user_session: UserSession, contact_ref: str) -> bool:
    """Set ``g.contact`` for a client-area session; ``False`` if it no longer opens it.

    A contact whose sign-in was revoked (or who was removed) ends this server-side
    session for good, so the cookie cannot come back to life if the link is made again.
    An archived client's area is closed but the session is kept: restoring reopens it.
    """
    try:
        contact_id = uuid.UUID(str(contact_ref))
    except ValueError:
        return False
    contact = db.session.scalars(
        select(Contact).where(Contact.id == contact_id,
                              Contact.user_id == user_session.user_id)
    ).one_or_none()
    if contact is None:
        db.session.delete(user_session)
        db.session.commit()  # nothing else is pending this early in the request
        return False
    archived = db.session.scalar(
        select(Client.archived_at).where(Client.id == contact.client_id))
    if archived is not None:
        return False
    g.contact = contact
    return True


def new_api_token() -> tuple[str, str]:
    """A fresh raw token (shown once) and its hash (stored)."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return raw, token_hash(raw)


def principal_from_api_token(raw: str) -> tuple[User, Membership, ApiToken] | None:
    """Resolve a bearer token to its user, membership and tenant; ``None`` if unusable."""
    if not raw.startswith(API_TOKEN_PREFIX) or len(raw) > 100:
        return None
    digest = token_hash(raw)
    set_token_lookup(db.session, digest)
    token = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        .execution_options(**system_scope("an API token is found by its hash"))
    ).one_or_none()
    if token is None:
        return None
    set_tenant(token.agency_id, None)
    membership = db.session.scalars(
        select(Membership).where(Membership.id == token.membership_id)
    ).one_or_none()
    if membership is None or not membership.user.is_active:
        return None
    set_tenant(token.agency_id, membership.user_id)
    return membership.user, membership, token
