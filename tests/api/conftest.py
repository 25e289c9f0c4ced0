"""Helpers for API tests: a committed world, bearer headers, tokens for other roles.

The world is handed to tests as plain ids: every API request commits, which expires ORM
objects, and reloading one outside its tenant finds nothing (row-level security)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from agency.auth.models import ApiToken
from agency.auth.services import create_api_token
from agency.auth.sessions import token_hash
from tenants.context import tenant_scope
from tenants.models import Membership
from tests.factories import make_world


@dataclass(frozen=True)
class Ids:
    agency_id: uuid.UUID
    owner_id: uuid.UUID
    owner_user_id: uuid.UUID
    manager_id: uuid.UUID
    member_id: uuid.UUID
    client_id: uuid.UUID  # the member is assigned to this one
    other_client_id: uuid.UUID  # and not to this one
    contact_id: uuid.UUID  # of client_id, approves posts
    token: str  # the owner's API token


def build(db, name: str = "Agence Alpha") -> Ids:
    built = make_world(name)
    ids = Ids(built.agency.id, built.owner.id, built.owner.user_id, built.manager.id,
              built.member.id, built.client.id, built.other_client.id, built.contact.id,
              built.token)
    # Committed (a savepoint in tests) so that an API error handler's rollback keeps it.
    db.session.commit()
    return ids


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def membership(db, world: Ids, membership_id: uuid.UUID) -> Membership:
    with tenant_scope(world.agency_id):
        return db.session.scalars(
            select(Membership).where(Membership.id == membership_id)
        ).one()


def token_for(db, world: Ids, membership_id: uuid.UUID, name: str = "api tests") -> str:
    with tenant_scope(world.agency_id):
        _, raw = create_api_token(membership(db, world, membership_id), name)
        db.session.commit()
    return raw


def token_row(db, world: Ids, raw: str) -> ApiToken:
    with tenant_scope(world.agency_id):
        return db.session.scalars(
            select(ApiToken).where(ApiToken.token_hash == token_hash(raw))
        ).one()


@pytest.fixture
def world(db) -> Ids:
    return build(db)


@pytest.fixture
def owner(world):
    return bearer(world.token)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    return body
