"""Small helpers shared by the account, team and audit tests."""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace

from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.auth.models import User
from agency.extensions import db
from tenants.context import tenant_scope
from tenants.models import Membership
from tests.factories import World, make_world

CSRF_META = re.compile(r'name="csrf-token" content="[^"]*"|name="csrf_token"[^>]*>')


def _person(membership: Membership) -> SimpleNamespace:
    # What ``login()`` and the assertions need, none of it tied to the session.
    return SimpleNamespace(id=membership.id, agency_id=membership.agency_id,
                           user_id=membership.user_id, role=membership.role,
                           email=membership.user.email, name=membership.user.name)


def reduce_world(world: World) -> SimpleNamespace:
    """The world as plain values: ORM objects expire when a view commits, and then
    cannot be refreshed once the request has cleared the tenant."""
    with tenant_scope(world.agency.id):
        return SimpleNamespace(
            agency_id=world.agency.id, agency_name=world.agency.name,
            owner=_person(world.owner), admin=_person(world.admin),
            manager=_person(world.manager), member=_person(world.member),
            token=world.token,
        )


def committed_world(name: str = "Agence Alpha") -> SimpleNamespace:
    """A world that survives a view's rollback (the test's transaction still ends it)."""
    world = reduce_world(make_world(name))
    db.session.commit()
    return world


def email_of(membership) -> str:
    with tenant_scope(membership.agency_id):
        return db.session.scalars(
            select(User.email).where(User.id == membership.user_id)
        ).one()


def actions(agency_id: uuid.UUID) -> list[str]:
    """The agency's audit actions, oldest first."""
    with tenant_scope(agency_id):
        return list(db.session.scalars(
            select(AuditEvent.action).order_by(AuditEvent.at, AuditEvent.id)
        ))


def without_csrf(html: str) -> str:
    """A page with its per-request CSRF tokens blanked, to compare two answers."""
    return CSRF_META.sub("", html)


def is_signed_in(client) -> bool:
    response = client.get("/settings")
    return response.status_code == 200


