"""Facebook through the whole publishing engine (dispatcher pass, worker, reconciliation),
against the fake Graph API: a 5xx on the call that makes the post visible is an unknown
outcome settled by find, never a blind retry (the Graph API has no idempotency key); a
5xx on a read stays retryable; a video upload interrupted mid-way resumes from the session
the engine checkpointed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.content.services import create_post, submit_post
from agency.media.services import store_upload
from agency.networks.connect_oauth import add_choices
from agency.networks.oauth import Choice
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope
from tests.factories import make_world
from tests.fakes.facebook import fake_facebook  # noqa: F401 (fixture)
from tests.media.helpers import mp4_bytes
from tests.publishing.conftest import just_due, run_due

P = PublicationState
TEXT = "Fournée de 16 h : chaussons aux pommes"


@pytest.fixture
def fake(fake_facebook):  # noqa: F811
    fake_facebook.page = fake_facebook.add_page("Boulangerie Martin", "boulangeriemartin")
    return fake_facebook


@pytest.fixture
def media_root(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_ROOT", str(tmp_path / "media"))
    return tmp_path / "media"


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def approved_on_facebook(app, db, fake, *, text=TEXT, video: bytes | None = None):
    """A client with the fake's Page connected (as the OAuth flow saves it: sealed Page
    token, page id in the settings), and an approved post due now on it."""
    world = make_world()
    scheduled_at = just_due()
    with app.test_request_context(), tenant_scope(world.agency_id):
        world.client.approval_policy = "none"
        [account] = add_choices(world.client, "facebook", [Choice(
            external_id=fake.page.id, display_name=fake.page.name, handle="@boulangeriemartin",
            credentials={"page_access_token": fake.page.token},
            settings={"page_id": fake.page.id, "page_name": fake.page.name,
                      "has_location": False, "address": ""})])
        values = {"text": text, "target_ids": [account.id], "scheduled_at": scheduled_at}
        if video is not None:
            media = store_upload(world.client, "fournil.mp4", video, world.owner.user_id)
            values["media_ids"] = [media.id]
        post = create_post(world.client, values, world.owner.user_id,
                           now=scheduled_at - timedelta(days=1))
        submit_post(post, world.client)
        db.session.flush()
    return world, post.id


def publication(db, world, post_id) -> Publication:
    with tenant_scope(world.agency_id):
        return db.session.scalars(select(Publication).where(
            Publication.post_id == post_id).execution_options(populate_existing=True)).one()


def feed_posts(fake) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "POST" and r["path"].endswith("/feed")]


def test_a_500_after_storing_is_unknown_then_found_and_published_once(app, db, fake):
    world, post_id = approved_on_facebook(app, db, fake)
    fake.fail_next(500, code=2, path="/feed", after_store=True)
    assert run_due(app) == [("publish", "unknown")]
    waiting = publication(db, world, post_id)
    assert waiting.state == P.UNKNOWN and "may or may not be out" in waiting.last_error
    assert run_due(app) == []  # nothing is resent while it is unknown
    assert run_due(app, later(60)) == [("reconcile", "published")]
    done = publication(db, world, post_id)
    [post] = fake.posts
    assert done.state == P.PUBLISHED and done.external_id == post["id"]
    assert done.attempts == 1  # found, not sent again
    assert fake.posts_with_message(TEXT) == 1 and len(feed_posts(fake)) == 1
    assert run_due(app, later(3600)) == []


def test_a_500_on_the_read_that_settles_it_is_asked_again_later(app, db, fake):
    world, post_id = approved_on_facebook(app, db, fake)
    fake.fail_next(500, code=2, path="/feed", after_store=True)
    assert run_due(app) == [("publish", "unknown")]
    fake.fail_next(500, code=2, path="/feed")  # the find's GET this time
    assert run_due(app, later(60)) == [("reconcile", "later")]
    assert publication(db, world, post_id).state == P.UNKNOWN
    assert run_due(app, later(3 * 3600)) == [("reconcile", "published")]
    assert fake.posts_with_message(TEXT) == 1 and len(feed_posts(fake)) == 1


def test_a_500_before_storing_is_never_resent_blindly(app, db, fake, mail):
    world, post_id = approved_on_facebook(app, db, fake)
    fake.fail_next(500, code=2, path="/feed")  # nothing stored this time
    assert run_due(app) == [("publish", "unknown")]
    assert run_due(app, later(60)) == [("reconcile", "needs_attention")]
    assert publication(db, world, post_id).state == P.NEEDS_ATTENTION
    assert fake.posts == [] and len(feed_posts(fake)) == 1  # a person decides


def test_a_video_upload_cut_short_resumes_from_the_checkpointed_session(app, db, fake,
                                                                       media_root):
    fake.chunk_size = 4096
    data = mp4_bytes(10_240)
    world, post_id = approved_on_facebook(app, db, fake, video=data)
    fake.fail_next(500, code=2, phase="transfer")  # the first chunk: invisible, retryable
    assert run_due(app) == [("publish", "retrying")]
    saved = publication(db, world, post_id).progress["facebook_video"]
    assert saved["start"] == 0 and saved["session"] and saved["video_id"]
    assert run_due(app, later(3 * 3600)) == [("publish", "published")]
    done = publication(db, world, post_id)
    starts = [r for r in fake.requests if r["form"].get("upload_phase") == ["start"]]
    assert len(starts) == 1  # the retry went on with the same session
    [stored] = fake.videos.values()
    assert bytes(stored["data"]) == data and stored["id"] == saved["video_id"]
    assert done.external_id == stored["id"] and len(fake.posts) == 1
    assert fake.posts[0]["message"] == TEXT


def test_a_revoked_page_token_holds_the_post_and_sends_the_owner_a_reconnect_link(
        app, db, fake, mail):
    world, post_id = approved_on_facebook(app, db, fake)
    fake.revoke_token(fake.page.token)
    assert run_due(app) == [("publish", "held")]
    assert publication(db, world, post_id).state == P.HELD
    with tenant_scope(world.agency_id):
        owner_email = world.contact.email
    to_owner = [m for m in mail if m.to == owner_email]
    assert len(to_owner) == 1 and "/connect/" in to_owner[0].text  # the link to reconnect
    assert any(m.to != owner_email for m in mail)  # and the agency is told
