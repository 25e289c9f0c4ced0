"""Reads for the client pages. Every query starts from the tenant-scoped models, and the
client list from ``visible_clients()``, so a member never sees an unassigned client."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from flask import abort
from sqlalchemy import func, select

from agency.access import visible_clients
from agency.auth.models import User
from agency.extensions import db
from tenants.models import Membership
from tenants.roles import Permission, has_permission
from tenants.scoping import tenant_get_or_none

from .models import Client, ClientAssignment, Contact

SEARCH_MAX = 100


@dataclass
class ClientRow:
    client: Client
    contact_count: int = 0
    staff_names: list[str] = field(default_factory=list)


@dataclass
class StaffChoice:
    membership: Membership
    sees_all: bool  # managers and above see every client, assigned or not


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def client_rows(search: str = "", archived: bool = False) -> list[ClientRow]:
    """The clients the signed-in membership may see, active or archived, by name,
    each with its number of contacts and the names of its assigned staff."""
    query = visible_clients().where(
        Client.archived_at.is_not(None) if archived else Client.archived_at.is_(None)
    )
    search = search.strip()[:SEARCH_MAX]
    if search:
        query = query.where(Client.name.ilike(_like_pattern(search), escape="\\"))
    clients = list(db.session.scalars(query.order_by(func.lower(Client.name), Client.id)))
    if not clients:
        return []
    ids = [c.id for c in clients]
    counts = dict(db.session.execute(
        select(Contact.client_id, func.count(Contact.id))
        .where(Contact.client_id.in_(ids))
        .group_by(Contact.client_id)
    ).all())
    names: dict[uuid.UUID, list[str]] = defaultdict(list)
    for client_id, name in db.session.execute(
        select(ClientAssignment.client_id, User.name)
        .join(Membership, Membership.id == ClientAssignment.membership_id)
        .join(User, User.id == Membership.user_id)
        .where(ClientAssignment.client_id.in_(ids))
        .order_by(User.name)
    ):
        names[client_id].append(name)
    return [ClientRow(c, counts.get(c.id, 0), names.get(c.id, [])) for c in clients]


def tab_counts() -> dict[str, int]:
    """How many visible clients are active and archived (for the tab labels)."""
    active = Client.archived_at.is_(None)
    rows = db.session.execute(
        visible_clients().with_only_columns(active, func.count(Client.id)).group_by(active)
    ).all()
    by_active = {bool(active): n for active, n in rows}
    return {"active": by_active.get(True, 0), "archived": by_active.get(False, 0)}


def assigned_staff(client: Client) -> list[Membership]:
    return list(db.session.scalars(
        select(Membership)
        .join(ClientAssignment, ClientAssignment.membership_id == Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(ClientAssignment.client_id == client.id)
        .order_by(User.name)
    ))


def staff_choices() -> list[StaffChoice]:
    """Everyone in the agency, by name, with whether their role already shows all clients."""
    memberships = db.session.scalars(
        select(Membership).join(User, User.id == Membership.user_id).order_by(User.name)
    )
    return [StaffChoice(m, has_permission(m.role, Permission.CLIENT_VIEW_ALL))
            for m in memberships]


def contacts_of(client: Client) -> list[Contact]:
    return list(db.session.scalars(
        select(Contact).where(Contact.client_id == client.id)
        .order_by(func.lower(Contact.name), Contact.id)
    ))


def contact_of(client: Client, contact_id: uuid.UUID) -> Contact:
    """The client's contact; 404 for an absent, foreign *or another client's* contact."""
    contact = tenant_get_or_none(Contact, contact_id)
    if contact is None or contact.client_id != client.id:
        abort(404)
    return contact
