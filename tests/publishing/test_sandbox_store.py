"""The sandbox's store on PostgreSQL outside a test transaction (the workers' path): one
round trip on a connection it keeps, its own transaction, and its idempotency (a second
send with the same key returns the first post). Committed rows, removed afterwards."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import func, select

from agency.extensions import db
from agency.networks import sandbox
from agency.networks.base import Outgoing
from agency.networks.models import SocialAccount
from agency.networks.sandbox import SandboxNetwork
from agency.networks.sandbox_models import SandboxPost
from tenants.context import tenant_scope

from .chaos import ChaosWorld


@pytest.fixture
def world(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the pipelined store is PostgreSQL's (SQLite uses the ORM's)")
    made = ChaosWorld.create(app)
    try:
        with app.app_context(), tenant_scope(made.agency_id):
            try:
                account = SocialAccount(client_id=made.client_id, network="sandbox",
                                        display_name="Page")
                db.session.add(account)
                db.session.commit()
                made.account_ids.append(account.id)
            finally:
                db.session.remove()
        yield made
    finally:
        with app.app_context():
            sandbox._drop_own_connection()
        made.remove(app)


def _outgoing(account_id: uuid.UUID, key: str, text: str) -> Outgoing:
    return Outgoing(publication_id=uuid.uuid4(), account_id=account_id, network="sandbox",
                    text=text, media=(), first_comment="", scheduled_at=None,
                    idempotency_key=key, handle="", options={}, settings={}, credentials={},
                    progress={})


def _stored(app, world) -> list[tuple[str, str]]:
    with app.app_context(), tenant_scope(world.agency_id):
        try:
            return [tuple(row) for row in db.session.execute(
                select(SandboxPost.idempotency_key, SandboxPost.text)
                .order_by(SandboxPost.created_at, SandboxPost.text))]
        finally:
            db.session.remove()


def test_the_workers_store_is_idempotent_and_survives_a_broken_connection(
        app, world, monkeypatch):
    [account_id] = world.account_ids
    with app.test_request_context(), tenant_scope(world.agency_id):
        first = SandboxNetwork().publish(_outgoing(account_id, "key-1", "Croissants"))
        again = SandboxNetwork().publish(_outgoing(account_id, "key-1", "Croissants"))
        assert again == first  # the same key: the first post is the answer
        # The kept connection is closed (a database restart noticed): a new one.
        sandbox._own_connection().pgconn.finish()
        second = SandboxNetwork().publish(_outgoing(account_id, "key-2", "Pains"))
        assert second != first
        assert SandboxNetwork().find(_outgoing(account_id, "key-2", "Pains")) == second
        # The connection breaks after the commit reached the database, before the answer:
        # sent once more on a new connection, which finds the key used: the same post.
        insert, calls = sandbox._insert_pipelined, []

        def lost_answer(*args):
            calls.append(insert(*args))
            if len(calls) == 1:
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            return calls[-1]

        monkeypatch.setattr(sandbox, "_insert_pipelined", lost_answer)
        third = SandboxNetwork().publish(_outgoing(account_id, "key-3", "Brioches"))
        assert calls == [True, False]
        assert SandboxNetwork().find(_outgoing(account_id, "key-3", "Brioches")) == third
    assert _stored(app, world) == [("key-1", "Croissants"), ("key-2", "Pains"),
                                   ("key-3", "Brioches")]


def test_the_store_refuses_a_row_of_another_agency(app, world):
    """Row-level security holds on the sandbox's own connection: the account of another
    tenant is out of reach (its foreign key cannot be seen, the row cannot be written)."""
    [account_id] = world.account_ids
    other = ChaosWorld.create(app)
    try:
        with (app.test_request_context(), tenant_scope(other.agency_id),
              pytest.raises(psycopg.Error)):
            SandboxNetwork().publish(_outgoing(account_id, "key-x", "Intrus"))
        with app.app_context(), tenant_scope(world.agency_id):
            try:
                assert db.session.scalar(select(func.count()).select_from(SandboxPost)) == 0
            finally:
                db.session.remove()
    finally:
        other.remove(app)
