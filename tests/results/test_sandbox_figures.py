"""The sandbox's figures: the same for the same inputs, always, and shaped like a real
post's and account's; and the sandbox adapter answering with them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agency.networks.base import Outgoing, PermanentError
from agency.networks.sandbox import SandboxNetwork
from agency.results.models import POST_COUNTERS
from agency.results.sandbox_figures import account_figures, followers, post_figures

HOUR = 3600
NOW = datetime(2030, 6, 10, 8, 0, tzinfo=UTC)


def test_the_same_inputs_give_the_same_figures():
    post = uuid.UUID("0192f0c4-7d4e-7a55-9c3b-5b8c2f5d1e01")
    assert post_figures(post, 5 * HOUR) == post_figures(str(post), 5 * HOUR)
    assert followers("account-1", date(2030, 6, 10)) == followers("account-1",
                                                                  date(2030, 6, 10))
    assert post_figures(post, 24 * HOUR) != post_figures(uuid.uuid4(), 24 * HOUR)


@given(st.uuids(), st.floats(min_value=0, max_value=90 * 24 * HOUR))
def test_a_posts_figures_are_shaped_like_a_real_posts(post, age):
    figures = post_figures(post, age)
    assert set(figures) == set(POST_COUNTERS)
    assert all(isinstance(v, int) and v >= 0 for v in figures.values())
    impressions, reach, reactions = (figures[k] for k in ("impressions", "reach",
                                                          "reactions"))
    assert impressions <= 4000
    assert 0.6 * impressions - 1 <= reach <= 0.9 * impressions + 1
    assert 0.02 * reach - 1 <= reactions <= 0.08 * reach + 1
    assert figures["comments"] <= reactions and figures["shares"] <= reactions
    assert figures["saves"] <= reactions and figures["clicks"] <= 0.015 * reach + 1
    # Readings never go down as the post ages.
    later = post_figures(post, age + 6 * HOUR)
    assert all(later[k] >= figures[k] for k in POST_COUNTERS)


def test_impressions_grow_fast_the_first_day_then_level_off():
    for post in (uuid.uuid4() for _ in range(20)):
        day, week, month = (post_figures(post, h * HOUR)["impressions"]
                            for h in (24, 168, 720))
        if month < 50:
            continue  # too small to judge proportions on
        assert day >= 0.7 * month  # most of it in the first day
        assert month - week <= 0.2 * month  # little after the first week


@pytest.mark.parametrize("account", ["a", "b", "c", uuid.UUID(int=7)])
def test_followers_grow_slowly_with_a_little_noise(account):
    start = date(2030, 1, 1)
    series = [followers(account, start + timedelta(days=n)) for n in range(70)]
    assert 150 <= series[0] <= 20_000
    assert series[-1] >= series[0]  # growth wins over the noise
    assert all(abs(b - a) <= max(20, 0.01 * a) for a, b in pairwise(series))
    assert account_figures(account, start)["followers"] == series[0]


def test_the_sandbox_answers_with_them_for_the_post_it_stored(app, db, world, monkeypatch):
    from agency.networks import sandbox
    from agency.networks.sandbox_models import SandboxPost
    from tenants.context import tenant_scope
    from tests.results.support import make_account

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return NOW

    monkeypatch.setattr(sandbox, "datetime", Frozen)
    monkeypatch.setitem(app.extensions, "relais_sandbox_bind", db.session.connection())
    account = make_account(app, db, world, network="sandbox")
    outgoing = Outgoing(
        publication_id=uuid.uuid4(), account_id=account, network="sandbox",
        text="Pain au levain", media=(), first_comment="", scheduled_at=None,
        idempotency_key=uuid.uuid4().hex)
    with tenant_scope(world.agency_id):
        published = SandboxNetwork().publish(outgoing)
        db.session.execute(SandboxPost.__table__.update()
                           .where(SandboxPost.id == uuid.UUID(published.external_id))
                           .values(created_at=NOW - timedelta(hours=5)))
        # Its age from when the sandbox stored it.
        assert SandboxNetwork().fetch_metrics(outgoing, published.external_id) == \
            post_figures(published.external_id, 5 * HOUR)
        # What it does not have, it says so, as a network answers for a deleted post.
        for unknown in (str(uuid.uuid4()), "not-an-id"):
            with pytest.raises(PermanentError):
                SandboxNetwork().fetch_metrics(outgoing, unknown)
        assert SandboxNetwork().fetch_account_metrics(Outgoing.for_account(
            account, "sandbox")) == account_figures(account, NOW.date())
