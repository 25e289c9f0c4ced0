"""Who may do what: the signed-in membership, permission checks, and client visibility.

Views call ``require(Permission.X)`` and load clients with ``client_for_view``; both
refuse the same way for an absent, foreign or unassigned client (404), so nothing
reveals what exists elsewhere.
"""

from __future__ import annotations

import functools
import uuid

from flask import abort, g
from flask_login import current_user, login_required
from sqlalchemy import Select, exists, select

from agency.clients.models import Client, ClientAssignment
from agency.extensions import db
from tenants.models import Membership
from tenants.roles import Permission, has_permission
from tenants.scoping import tenant_get_or_none


def current_membership() -> Membership:
    membership = getattr(g, "membership", None)
    if membership is None:
        # A client contact's session is signed in, just not as staff: forbidden, not 401.
        abort(403 if getattr(g, "contact", None) is not None else 401)
    return membership


def can(permission: Permission) -> bool:
    membership = getattr(g, "membership", None)
    return membership is not None and has_permission(membership.role, permission)


def require(*permissions: Permission):
    """Decorator: signed in, and holding every permission named (else 403).

    A route about one client first loads it, so an absent, foreign or unassigned
    client answers 404 before any permission is judged: the answer never depends on
    what exists outside what the person may see.
    """

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if "client_id" in kwargs:
                client_for_view(kwargs["client_id"])
            for permission in permissions:
                if not can(permission):
                    abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def visible_clients(membership: Membership | None = None) -> Select:
    """A SELECT of the clients this membership may see (all, or only assigned ones)."""
    membership = membership or current_membership()
    query = select(Client)
    if not has_permission(membership.role, Permission.CLIENT_VIEW_ALL):
        query = query.where(
            exists().where(
                ClientAssignment.client_id == Client.id,
                ClientAssignment.membership_id == membership.id,
            )
        )
    return query


def client_for_view(client_id: uuid.UUID | str, membership: Membership | None = None) -> Client:
    """The client, if it exists in this agency *and* this membership may see it; else 404.

    Remembered for the rest of the request, so a decorator and its view load it once.
    """
    membership = membership or current_membership()
    cache = g.setdefault("visible_clients", {})
    key = (membership.id, str(client_id))
    if key not in cache:
        client = tenant_get_or_none(Client, client_id)
        if client is None or not may_see_client(membership, client):
            abort(404)
        cache[key] = client
    return cache[key]


def may_see_client(membership: Membership, client: Client) -> bool:
    if has_permission(membership.role, Permission.CLIENT_VIEW_ALL):
        return True
    return db.session.scalar(
        select(
            exists().where(
                ClientAssignment.client_id == client.id,
                ClientAssignment.membership_id == membership.id,
            )
        )
    )


def signed_in_user():
    return current_user if current_user.is_authenticated else None
