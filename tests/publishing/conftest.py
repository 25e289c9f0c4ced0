"""Fixtures for the publishing engine: approved posts on sandbox accounts, a clock, and
the dispatcher and worker run in this process (the chaos test runs them as processes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.content.services import create_post, submit_post
from agency.networks.services import add_account
from agency.publishing import dispatch, engine
from agency.publishing.models import Publication
from tenants.context import tenant_scope
from tests.factories import make_world


def just_due() -> datetime:
    # The engine reads the real clock (leases, backoff): posts are due a moment ago.
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)


@dataclass
class Approved:
    world: object
    account_ids: list
    post_id: object

    def publications(self, db) -> list[Publication]:
        with tenant_scope(self.world.agency_id):
            return list(db.session.scalars(
                select(Publication).where(Publication.post_id == self.post_id)
                .order_by(Publication.created_at, Publication.id)
                .execution_options(populate_existing=True)))


@pytest.fixture
def sandbox_in_test(app, db):
    """The sandbox network writes through the test's connection (as a savepoint), so its
    rows vanish with the test like everything else."""
    app.extensions["relais_sandbox_bind"] = db.session.connection()
    yield
    app.extensions.pop("relais_sandbox_bind", None)


def approve_post(app, db, world=None, *, accounts=1, text="Croissants tout chauds",
                 settings=None, scheduled_at=None) -> Approved:
    """A post of the world's client on ``accounts`` sandbox accounts, approved (the
    client's policy asks for none), so its publications exist and are scheduled."""
    world = world or make_world()
    scheduled_at = scheduled_at or just_due()
    with app.test_request_context(), tenant_scope(world.agency_id):
        world.client.approval_policy = "none"
        created = []
        for n in range(accounts):
            account = add_account(world.client, "sandbox", f"Page {n + 1}")
            account.settings = dict(settings or {})
            created.append(account)
        post = create_post(world.client, {"text": text, "target_ids": [a.id for a in created],
                                          "scheduled_at": scheduled_at},
                           world.owner.user_id, now=scheduled_at - timedelta(days=1))
        submit_post(post, world.client)
        db.session.flush()
        return Approved(world, [a.id for a in created], post.id)


def run_due(app, now: datetime | None = None) -> list[tuple[str, str]]:
    """One dispatcher pass at ``now`` and the jobs it hands out, run here in order."""
    now = now or datetime.now(UTC)
    with app.test_request_context():
        claimed = dispatch.claim_due(now)
        results = []
        for item in claimed:
            if item.reconcile:
                results.append(("reconcile", engine.reconcile(item.agency_id,
                                                              item.publication_id)))
            else:
                results.append(("publish", engine.publish(item.agency_id,
                                                          item.publication_id)))
        return results
