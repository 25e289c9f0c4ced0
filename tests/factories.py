"""Test data, built through the same services the product uses."""

from __future__ import annotations

from dataclasses import dataclass

import factory
from flask import Flask
from sqlalchemy import inspect, select

from agency.auth.models import User
from agency.auth.passwords import hash_password
from agency.auth.services import create_agency, create_api_token
from agency.clients.models import Client, Contact
from agency.clients.services import create_client, create_contact, set_assigned_staff
from agency.extensions import db
from tenants.context import set_tenant, tenant_scope
from tenants.models import Agency, Membership
from tenants.roles import Role

PASSWORD = "correct horse battery staple"
_HASH = None


def _password_hash() -> str:
    # argon2 is slow on purpose; one hash serves every factory-made user.
    global _HASH
    if _HASH is None:
        _HASH = hash_password(PASSWORD)
    return _HASH


class UserFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    name = factory.Faker("name", locale="fr_FR")
    password_hash = factory.LazyFunction(_password_hash)


@dataclass
class World:
    """An agency with one person per role, two clients, and the member assigned to one."""

    agency: Agency
    owner: Membership
    admin: Membership
    manager: Membership
    member: Membership
    client: Client  # the member is assigned to this one
    other_client: Client  # and not to this one
    contact: Contact
    token: str  # an API token of the owner

    @property
    def agency_id(self):
        """The agency's id without loading it: a view that rolls back expires the test's
        objects, and reloading them outside any tenant finds nothing under RLS."""
        return inspect(self.agency).identity[0]


def add_member(agency: Agency, role: Role, email: str | None = None) -> Membership:
    with tenant_scope(agency.id):
        user = UserFactory(email=email) if email else UserFactory()
        membership = Membership(agency_id=agency.id, user_id=user.id, role=role)
        db.session.add(membership)
        db.session.flush()
        return membership


def make_world(name: str = "Agence Alpha") -> World:
    slug = name.lower().replace(" ", "-")
    created = create_agency(name, f"owner@{slug}.test", "Owner", PASSWORD)
    agency = created.agency
    admin = add_member(agency, Role.ADMIN)
    manager = add_member(agency, Role.MANAGER)
    member = add_member(agency, Role.MEMBER)
    with tenant_scope(agency.id):
        client = create_client({"name": f"{name} Boulangerie"})
        other = create_client({"name": f"{name} Garage"})
        set_assigned_staff(client, [member.id])
        contact = create_contact(client, {"name": "Sophie", "email": f"sophie@{slug}.test",
                                          "approves_posts": True})
        _, token = create_api_token(created.membership, "tests")
    db.session.flush()
    set_tenant(None)
    return World(agency, created.membership, admin, manager, member, client, other, contact,
                 token)


def login(test_client, membership: Membership, app: Flask | None = None) -> None:
    """Sign in through the real login form."""
    with tenant_scope(membership.agency_id):
        email = db.session.scalars(
            select(User.email).where(User.id == membership.user_id)
        ).one()
    response = test_client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
