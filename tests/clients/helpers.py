"""Helpers for the client page tests: a world reduced to ids (objects expire when a view
commits, and the tenant is cleared after each request), a reader that looks at the
database as the world's agency, and page assertions."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from markupsafe import escape
from sqlalchemy import func, select

from agency.audit.models import AuditEvent
from agency.auth.models import User
from agency.clients.models import Client, ClientAssignment, Contact
from tenants.context import tenant_scope


def _person(membership) -> SimpleNamespace:
    # What ``login()`` and the assertions need, none of it tied to the session.
    return SimpleNamespace(id=membership.id, agency_id=membership.agency_id,
                           user_id=membership.user_id, name=membership.user.name,
                           email=membership.user.email)


@dataclass
class WorldIds:
    agency_id: object
    owner: SimpleNamespace
    admin: SimpleNamespace
    manager: SimpleNamespace
    member: SimpleNamespace
    client_id: object
    client_name: str
    other_client_id: object
    other_client_name: str
    contact_id: object


def reduce_world(world) -> WorldIds:
    with tenant_scope(world.agency.id):
        return WorldIds(
            world.agency.id, _person(world.owner), _person(world.admin),
            _person(world.manager), _person(world.member), world.client.id,
            world.client.name, world.other_client.id, world.other_client.name,
            world.contact.id,
        )


class Reader:
    """Reads as one agency, always fresh from the database."""

    def __init__(self, db, agency_id):
        self.db = db
        self.agency_id = agency_id

    def all(self, statement):
        with tenant_scope(self.agency_id):
            self.db.session.expire_all()
            return list(self.db.session.scalars(statement))

    def one(self, statement):
        rows = self.all(statement)
        assert len(rows) == 1, rows
        return rows[0]

    def client(self, client_id) -> Client:
        return self.one(select(Client).where(Client.id == client_id))

    def contacts(self, client_id) -> list[Contact]:
        return self.all(select(Contact).where(Contact.client_id == client_id)
                        .order_by(Contact.name))

    def assigned(self, client_id) -> set:
        return set(self.all(select(ClientAssignment.membership_id)
                            .where(ClientAssignment.client_id == client_id)))

    def audit(self, action: str, target_id=None) -> list[AuditEvent]:
        query = select(AuditEvent).where(AuditEvent.action == action)
        if target_id is not None:
            query = query.where(AuditEvent.target_id == str(target_id))
        return self.all(query)

    def state(self) -> dict:
        """Everything a client page could write, to prove that nothing was."""
        return {
            "clients": sorted(
                (str(c.id), c.name, c.timezone, c.language, c.brand_tone, c.brand_words_use,
                 c.brand_words_avoid, c.brand_hashtags, c.archived_at is None,
                 c.address_line, c.postal_code, c.city, c.country)
                for c in self.all(select(Client))
            ),
            "contacts": sorted(
                (str(c.id), str(c.client_id), c.name, c.email, c.phone, c.approves_posts)
                for c in self.all(select(Contact))
            ),
            "assignments": sorted(
                (str(a.client_id), str(a.membership_id))
                for a in self.all(select(ClientAssignment))
            ),
            "audit": self.all(select(func.count()).select_from(AuditEvent))[0],
            "users": self.all(select(func.count()).select_from(User))[0],
        }


def page(response) -> str:
    return response.get_data(as_text=True)


def shows(response, text: str) -> bool:
    """Whether the page shows ``text`` (as the template would have escaped it)."""
    return str(escape(text)) in page(response)
