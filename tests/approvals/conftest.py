"""Fixtures for the portal tests: an agency whose client has posts sent for approval.

Everything is built through the product's services. A view's commit ends its request's
tenant, so tests read the database back through ``Reader`` (as the agency, fresh rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from agency.approvals.services import send_for_approval
from agency.content.services import create_post, submit_post
from agency.networks.services import add_account
from tenants.context import tenant_scope
from tests.factories import make_world

# A fixed, future, unambiguous moment: 10:30 in Paris on a Tuesday, summer time.
SCHEDULED = datetime(2030, 6, 11, 8, 30, tzinfo=UTC)


@dataclass
class Sent:
    world: object
    path: str  # the contact's portal link, as a path
    request_id: object
    post_ids: list = field(default_factory=list)
    account_id: object = None

    def decide_url(self, post_id) -> str:
        return f"{self.path}/posts/{post_id}"

    @property
    def approve_all_url(self) -> str:
        return f"{self.path}/approve-all"


class Reader:
    """Looks at the database as one agency, always reloading."""

    def __init__(self, db, agency_id):
        self.db, self.agency_id = db, agency_id

    # populate_existing refreshes just the rows read: expiring everything would make the
    # test's other objects reload later, outside any tenant, where RLS hides them.
    def one(self, model, object_id):
        with tenant_scope(self.agency_id):
            return self.db.session.scalars(
                select(model).where(model.id == object_id)
                .execution_options(populate_existing=True)).one()

    def all(self, model, *where):
        with tenant_scope(self.agency_id):
            return list(self.db.session.scalars(
                select(model).where(*where).execution_options(populate_existing=True)))

    def count(self, model) -> int:
        with tenant_scope(self.agency_id):
            return self.db.session.scalar(select(func.count()).select_from(model))


def send_posts(app, db, world, *, texts=("Croissants tout chauds", "Pain de campagne",
                                         "Fermé lundi"), client=None, **post_values) -> Sent:
    """Create, submit and send posts of ``client`` (the world's first client by default)
    to its approving contact; returns that contact's link."""
    client = client or world.client
    with app.test_request_context(), tenant_scope(world.agency_id):
        account = add_account(client, "sandbox", "Boulangerie Alpha", "@boulangerie")
        posts = []
        for n, text in enumerate(texts):
            values = {"text": text, "target_ids": [account.id],
                      "scheduled_at": SCHEDULED + timedelta(days=n), **post_values}
            post = create_post(client, values, world.owner.user_id)
            submit_post(post, client)
            posts.append(post)
        sent = send_for_approval(client, posts, world.owner.user_id)
        contact_id = next(iter(sent.links))
        db.session.commit()  # the request e-mails go out now, not with the first decision
        result = Sent(world, urlsplit(sent.links[contact_id]).path, sent.request.id,
                      [p.id for p in posts], account.id)
    app.extensions["relais_mail_memory"].clear()
    return result


@pytest.fixture
def world(db):
    world = make_world()
    # Assertions read the English source strings; tests about French set it themselves.
    with tenant_scope(world.agency_id):
        world.client.language = "en"
        world.other_client.language = "en"
        db.session.flush()
    return world


@pytest.fixture
def read(db, world) -> Reader:
    return Reader(db, world.agency_id)


@pytest.fixture
def sent(app, db, world) -> Sent:
    return send_posts(app, db, world)
