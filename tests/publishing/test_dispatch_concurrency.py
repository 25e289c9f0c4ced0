"""Several dispatchers at once never claim the same publication (PostgreSQL's
FOR UPDATE SKIP LOCKED inside migration 0007's function), on committed data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from agency.config import normalise_database_url
from agency.extensions import db as _db
from tenants.context import tenant_scope
from tests.committed import remove_agency

pytestmark = pytest.mark.postgres

CLAIM = text("SELECT publication_id FROM relais_dispatch_publications(:now, :requeue, :lim)")


@pytest.fixture
def committed_posts(app):
    """A committed agency with 12 approved posts due a minute ago; removed afterwards."""
    from agency.auth.services import create_agency
    from agency.clients.services import create_client
    from agency.content.services import create_post, submit_post
    from agency.networks.services import add_account

    suffix = uuid.uuid4().hex[:8]
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with app.app_context(), app.test_request_context():
        created = create_agency(f"Agence {suffix}", f"owner-{suffix}@dispatch.test", "Ana",
                                "un mot de passe solide")
        agency_id, user_id = created.agency.id, created.user.id
        with tenant_scope(agency_id, user_id):
            client = create_client({"name": "Boulangerie", "approval_policy": "none"})
            client.approval_policy = "none"
            account = add_account(client, "sandbox", "Page")
            for n in range(12):
                post = create_post(client, {"text": f"Post {n}", "target_ids": [account.id],
                                            "scheduled_at": due},
                                   user_id, now=due - timedelta(days=1))
                submit_post(post, client)
        _db.session.commit()
    yield due
    with app.app_context():
        remove_agency(app, agency_id, user_id)


def test_two_dispatchers_claim_disjoint_sets(app, committed_posts):
    engine = create_engine(normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"]))
    now = datetime.now(UTC)
    params = {"now": now, "requeue": now - timedelta(minutes=5)}
    try:
        with engine.connect() as first, engine.connect() as second:
            first_tx = first.begin()
            mine = set(first.execute(CLAIM, {**params, "lim": 5}).scalars())
            # The first has not committed: its rows are locked and skipped, not waited on.
            second_tx = second.begin()
            theirs = set(second.execute(CLAIM, {**params, "lim": 100}).scalars())
            first_tx.commit()
            second_tx.commit()
            assert len(mine) == 5
            assert mine.isdisjoint(theirs)
            # Nothing else of ours is left to claim (other tests' data is not ours to count).
            with first.begin():
                again = set(first.execute(CLAIM, {**params, "lim": 100}).scalars())
            assert again.isdisjoint(mine | theirs)
            assert len(mine | theirs) >= 12
    finally:
        engine.dispose()
