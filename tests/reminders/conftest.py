"""Fixtures for reminder tests: posts sent for approval at a fixed moment ``T0``.

Every test passes ``now`` explicitly (``at(hours)``), so nothing sleeps and nothing
depends on today's date. The functions are called in-process: they share the test's
transaction (see tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from agency.approvals.models import ApprovalRequest
from agency.approvals.services import send_for_approval
from agency.clients.models import Client
from agency.content.services import create_post, submit_post
from agency.networks.services import add_account
from tenants.context import tenant_scope
from tests.factories import make_world

T0 = datetime(2030, 6, 10, 8, 0, tzinfo=UTC)  # Monday 10:00 in Paris
SCHEDULED = datetime(2030, 6, 20, 8, 30, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@dataclass
class Sent:
    agency_id: object
    client_id: object
    request_id: object
    post_ids: list = field(default_factory=list)
    links: dict = field(default_factory=dict)  # contact id -> link


def send_posts(app, db, world, *, client=None, texts=("Croissants tout chauds",
                                                       "Pain de campagne"),
               sent_at: datetime = T0) -> Sent:
    """Create, submit and send posts to the client's approving contacts at ``sent_at``."""
    client = client or world.client
    with app.test_request_context(), tenant_scope(world.agency.id):
        account = add_account(client, "sandbox", "Boulangerie", "@boulangerie")
        posts = []
        for n, text in enumerate(texts):
            post = create_post(client, {"text": text, "target_ids": [account.id],
                                        "scheduled_at": SCHEDULED + timedelta(days=n)},
                               world.owner.user_id)
            submit_post(post, client)
            posts.append(post)
        sent = send_for_approval(client, posts, world.owner.user_id, now=sent_at)
        # created_at is the database's clock; the reminders count from the frozen one.
        db.session.execute(update(ApprovalRequest).where(
            ApprovalRequest.id == sent.request.id).values(created_at=sent_at))
        db.session.commit()
        result = Sent(world.agency.id, client.id, sent.request.id, [p.id for p in posts],
                      dict(sent.links))
    app.extensions["relais_mail_memory"].clear()
    return result


def set_client(db, world, client=None, **values) -> None:
    client = client or world.client
    with tenant_scope(world.agency.id):
        db.session.execute(update(Client).where(Client.id == client.id).values(**values))
        db.session.commit()
        db.session.refresh(client)  # reloaded while its agency can still see it


class Reader:
    """Looks at the database as one agency, always reloading."""

    def __init__(self, db, agency_id):
        self.db, self.agency_id = db, agency_id

    def one(self, model, object_id):
        with tenant_scope(self.agency_id):
            self.db.session.expire_all()
            return self.db.session.scalars(select(model).where(model.id == object_id)).one()

    def all(self, model, *where):
        with tenant_scope(self.agency_id):
            self.db.session.expire_all()
            return list(self.db.session.scalars(select(model).where(*where)))


@pytest.fixture
def world(db):
    """The usual world, with an English-speaking client: the assertions read the source
    strings (one test switches the client to French)."""
    world = make_world()
    set_client(db, world, language="en")
    return world


@pytest.fixture
def read(db, world) -> Reader:
    return Reader(db, world.agency.id)


@pytest.fixture
def sent(app, db, world) -> Sent:
    return send_posts(app, db, world)
