"""The demo's history: published posts that look like the engine's, their readings from
the sandbox's figures, followers day by day; written once, whatever the number of runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from agency.clients.models import Client
from agency.content.models import Post, PostStatus, PostTarget, Revision
from agency.content.revisions import content_hash
from agency.networks.models import SocialAccount
from agency.networks.sandbox_models import SandboxPost
from agency.publishing.models import Publication, PublicationState
from agency.results.demo_history import FOLLOWER_DAYS, seed_history
from agency.results.due import due_posts
from agency.results.models import AccountMetricDay, PostMetricSnapshot
from agency.results.sandbox_figures import followers, post_figures
from agency.results.schedule import AGES, reading_due, utc
from tenants.context import tenant_scope
from tests.results.support import make_account

NOW = datetime(2030, 6, 10, 8, 0, tzinfo=UTC)
MODELS = (Post, Revision, PostTarget, SandboxPost, Publication, PostMetricSnapshot,
          AccountMetricDay)


def _seed(db, world, account_id, now=NOW) -> int:
    with tenant_scope(world.agency_id):
        client = db.session.scalars(select(Client).where(Client.id == world.client.id)).one()
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        added = seed_history(client, account, world.owner.user_id, now=now)
        db.session.commit()
        return added


def _counts(db, world) -> dict:
    with tenant_scope(world.agency_id):
        return {m.__name__: db.session.scalar(select(func.count()).select_from(m))
                for m in MODELS}


def test_the_history_is_written_once(app, db, world):
    account = make_account(app, db, world, network="sandbox")
    assert 45 <= _seed(db, world, account) <= 60  # four posts a week for three months
    first = _counts(db, world)
    assert _seed(db, world, account) == 0
    assert _counts(db, world) == first
    assert first["AccountMetricDay"] == FOLLOWER_DAYS
    # A day later, only that day's followers (and a post whose day came) are added.
    _seed(db, world, account, NOW + timedelta(days=1))
    later = _counts(db, world)
    assert later["AccountMetricDay"] == FOLLOWER_DAYS + 1
    assert later["Post"] - first["Post"] <= 1


def test_its_posts_look_like_the_engines(app, db, world):
    account = make_account(app, db, world, network="sandbox")
    _seed(db, world, account)
    with tenant_scope(world.agency_id):
        publications = list(db.session.scalars(select(Publication)))
        for publication in publications:
            post = db.session.scalars(select(Post).where(
                Post.id == publication.post_id)).one()
            revision = db.session.scalars(select(Revision).where(
                Revision.id == publication.revision_id)).one()
            stored = db.session.scalars(select(SandboxPost).where(
                SandboxPost.social_account_id == account,
                SandboxPost.idempotency_key == publication.idempotency_key)).one()
            assert post.status == PostStatus.APPROVED and post.revision_number == 1
            assert revision.content_hash == content_hash(revision.content) == \
                publication.content_hash == post.content_hash
            assert revision.content["text"] == post.text == stored.text
            assert publication.state == PublicationState.PUBLISHED
            assert publication.external_id == str(stored.id)
            assert publication.external_url.endswith(f"/sandbox/{account}#p-{stored.id}")
            assert utc(stored.created_at) == utc(publication.published_at)
            assert utc(publication.published_at) <= NOW - AGES[0]


def test_its_readings_are_the_sandboxs_and_nothing_is_left_due(app, db, world):
    account = make_account(app, db, world, network="sandbox")
    _seed(db, world, account)
    with tenant_scope(world.agency_id):
        readings = list(db.session.scalars(select(PostMetricSnapshot)))
        published = {p.id: p for p in db.session.scalars(select(Publication))}
        for reading in readings:
            publication = published[reading.publication_id]
            age = utc(reading.taken_at) - utc(publication.published_at)
            assert reading.raw == post_figures(publication.external_id,
                                               age.total_seconds())
            assert reading.impressions == reading.raw["impressions"]
        # Every reading due by then was taken: the collection has nothing to catch up.
        last = {}
        for reading in readings:
            last[reading.publication_id] = max(utc(reading.taken_at),
                                               last.get(reading.publication_id, utc(
                                                   reading.taken_at)))
        assert not [p for p in published.values()
                    if reading_due(p.published_at, last.get(p.id), NOW)]
        row = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account)).one()
        assert due_posts(row, {}, {}, NOW) == ()
        days = list(db.session.scalars(select(AccountMetricDay).order_by(
            AccountMetricDay.day)))
        assert days[-1].day == NOW.date() - timedelta(days=1)  # today: the collection's
        assert all(d.followers == followers(account, d.day) for d in days)
