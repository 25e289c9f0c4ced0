"""Per-account publishing budgets in Redis."""

from __future__ import annotations

import time
import uuid

import pytest
from limits import parse

from agency.publishing import ratelimit


@pytest.fixture
def small_budget(app, monkeypatch):
    monkeypatch.setitem(ratelimit.BUDGETS, "mastodon", parse("2/minute"))
    with app.app_context():
        yield


def test_an_account_publishes_within_its_budget_then_waits(small_budget):
    account = uuid.uuid4()
    assert ratelimit.wait_seconds("mastodon", account) == 0
    assert ratelimit.wait_seconds("mastodon", account) == 0
    wait = ratelimit.wait_seconds("mastodon", account)
    assert 1 <= wait <= 61


def test_budgets_are_per_account(small_budget):
    first, second = uuid.uuid4(), uuid.uuid4()
    for _ in range(2):
        ratelimit.wait_seconds("mastodon", first)
    assert ratelimit.wait_seconds("mastodon", first) > 0
    assert ratelimit.wait_seconds("mastodon", second) == 0


def test_a_network_without_a_budget_is_never_delayed(small_budget):
    account = uuid.uuid4()
    assert all(ratelimit.wait_seconds("sandbox", account) == 0 for _ in range(50))


def test_a_pause_the_network_asked_for_is_kept(small_budget):
    account = uuid.uuid4()
    ratelimit.pause(account, time.time() + 30)
    assert 25 < ratelimit.wait_seconds("sandbox", account) <= 30
    ratelimit.pause(uuid.uuid4(), time.time() - 5)  # already over: nothing stored


def test_a_publication_over_budget_is_delayed_without_counting_an_attempt(app, db,
                                                                         sandbox_in_test,
                                                                         monkeypatch):
    from .conftest import approve_post, run_due

    monkeypatch.setitem(ratelimit.BUDGETS, "sandbox", parse("1/hour"))
    approved = approve_post(app, db, accounts=1)
    second = approve_post(app, db, approved.world)
    from agency.publishing.models import Publication
    from tenants.context import tenant_scope

    with tenant_scope(approved.world.agency_id):  # both posts on the same account
        for publication in second.publications(db):
            publication.social_account_id = approved.account_ids[0]
        db.session.flush()
    outcomes = sorted(run_due(app))
    assert outcomes == [("publish", "delayed"), ("publish", "published")]
    with tenant_scope(approved.world.agency_id):
        delayed = db.session.query(Publication).filter_by(state="retrying").one()
        assert delayed.attempts == 0 and delayed.error_code == "rate_limited"
