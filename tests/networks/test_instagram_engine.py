"""Instagram through the whole path: an account connected through the pages, a post
with a photo from the client's library approved and published by the engine to the
fake Graph API (which receives the photo's signed public address, and Relais serves the
file there), and lost answers reconciled without a second post."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from agency.clients.models import Client
from agency.content.services import create_post, submit_post
from agency.extensions import db
from agency.media.services import store_upload
from agency.networks.instagram import InstagramNetwork
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope
from tests.factories import login
from tests.fakes.instagram import fake_instagram  # noqa: F401 (fixture)
from tests.media.helpers import jpeg_of
from tests.publishing.conftest import run_due

from .test_instagram_connect import accounts, connect, world  # noqa: F401 (fixture)

P = PublicationState
PUBLIC = "https://relais.example"
TEXT = "Le pain de campagne sort du four à 7 h."


@pytest.fixture
def fake(app, fake_instagram, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setitem(app.config, "MEDIA_ROOT", str(tmp_path / "media"))
    monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC)
    monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(InstagramNetwork, "container_wait_seconds", 0.5)
    monkeypatch.setattr(InstagramNetwork, "container_poll_seconds", 0.01)
    monkeypatch.setattr(InstagramNetwork, "container_poll_max_seconds", 0.02)
    fake_instagram.hang_seconds = 1.5
    fake_instagram.bakery = fake_instagram.add_page("Boulangerie Martin", "boulangeriemartin")
    fake_instagram.user = fake_instagram.add_user(fake_instagram.bakery)
    return fake_instagram


@pytest.fixture
def account_id(client, world, fake):  # noqa: F811
    """The bakery's Instagram account, connected through the pages."""
    login(client, world.member)
    assert connect(client, world, fake, fake.bakery.instagram.id).status_code == 303
    [account] = accounts(world.agency_id)
    return account.id


def approve(app, world, account_id, *, first_comment: str = "") -> object:  # noqa: F811
    """A post with a photo on the Instagram account, approved and due a moment ago: its
    id and the photo's storage key."""
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = db.session.scalars(select(Client).where(Client.id == world.client_id)).one()
        client.approval_policy = "none"
        media = store_upload(client, "pain.jpg", jpeg_of((200, 150, 90)), None)
        post = create_post(client, {"text": TEXT, "target_ids": [account_id],
                                    "media_ids": [media.id], "scheduled_at": due,
                                    "first_comment": first_comment},
                           None, now=due - timedelta(days=1))
        submit_post(post, client)
        db.session.commit()
        return post.id, media.storage_key  # plain values: rows stay in their tenant


def publication(world, post_id) -> Publication:  # noqa: F811
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return db.session.scalars(select(Publication).where(
            Publication.post_id == post_id)).one()


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_a_connected_account_publishes_its_photo_through_the_engine(
        app, client, world, fake, account_id):  # noqa: F811
    post_id, storage_key = approve(app, world, account_id, first_comment="Réservez au 01 23")
    assert run_due(app) == [("publish", "published")]

    [posted] = fake.published()
    assert posted["caption"] == TEXT
    assert [c["text"] for c in posted["comments"]] == ["Réservez au 01 23"]
    done = publication(world, post_id)
    assert done.state == P.PUBLISHED
    assert (done.external_id, done.external_url) == (posted["id"], posted["permalink"])
    assert done.progress["container_id"] == posted["container"]

    # Instagram got a signed public address of the file, and Relais serves it there.
    url = fake.containers[posted["container"]]["url"]
    assert url.startswith(PUBLIC + "/m/")
    with app.test_client().get(url[len(PUBLIC):]) as served:  # Instagram's fetcher
        body = served.data
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert body == (Path(app.config["MEDIA_ROOT"]) / storage_key).read_bytes()


def test_a_lost_answer_is_found_without_a_second_post(app, client, world, fake, account_id):  # noqa: F811
    post_id, _key = approve(app, world, account_id)
    fake.hang_next(path="/media_publish")  # published, its answer lost
    assert run_due(app) == [("publish", "unknown")]
    assert publication(world, post_id).state == P.UNKNOWN

    assert run_due(app, later(60)) == [("reconcile", "published")]
    [posted] = fake.published()
    done = publication(world, post_id)
    assert done.state == P.PUBLISHED and done.external_id == posted["id"]
    assert len(fake.posts_to("/media_publish")) == 1
    assert run_due(app, later(3600)) == []


def test_an_unknown_outcome_with_the_container_unpublished_reuses_it(
        app, client, world, fake, account_id):  # noqa: F811
    post_id, _key = approve(app, world, account_id)
    # The publishing call is lost before Instagram acts on it: the container stays
    # FINISHED, which find reports with authority, so the engine sends it again.
    fake.hang_next(path="/media_publish", acted=False)
    assert run_due(app) == [("publish", "unknown")]
    saved = publication(world, post_id).progress["container_id"]
    assert saved and fake.published() == []

    assert run_due(app, later(60)) == [("reconcile", "published")]
    [posted] = fake.published()
    assert posted["container"] == saved  # the same container, not a new one
    assert len(fake.posts_to(f"/{fake.bakery.instagram.id}/media")) == 1
    assert publication(world, post_id).external_id == posted["id"]


def test_without_public_url_the_post_fails_with_what_to_do(
        app, client, world, fake, account_id, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "PUBLIC_URL", "")
    post_id, _key = approve(app, world, account_id)
    assert run_due(app) == [("publish", "failed")]
    failed = publication(world, post_id)
    assert failed.state == P.FAILED and "PUBLIC_URL" in failed.last_error
    assert fake.posts_to("/media") == []


def test_a_spent_quota_pauses_the_account(app, client, world, fake, account_id):  # noqa: F811
    fake.quota_used_elsewhere = fake.quota_total
    post_id, _key = approve(app, world, account_id)
    assert run_due(app) == [("publish", "retrying")]
    waiting = publication(world, post_id)
    due = waiting.due_at if waiting.due_at.tzinfo else waiting.due_at.replace(tzinfo=UTC)
    assert due > datetime.now(UTC) + timedelta(hours=23)
    assert "limit of 100 posts" in waiting.last_error
    assert fake.posts_to("/media") == []
