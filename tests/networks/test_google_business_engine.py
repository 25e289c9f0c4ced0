"""Google Business Profile through the publishing engine, against the fake Google: the
whole path from the connect pages to a post on the fake, a lost answer reconciled
without a second post, tokens renewed while publishing stored sealed, lost access
holding the work, bad options failing with their reason, quotas retried later."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from agency.content.models import Revision
from agency.content.services import create_post, submit_post
from agency.networks.connect_oauth import add_choices
from agency.networks.credentials import unseal
from agency.networks.google_api import credentials_from
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.oauth import Choice
from agency.publishing import ratelimit
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope
from tests.factories import login, make_world
from tests.fakes.google_business import (
    FakeGoogle,
    fake_google,  # noqa: F401 (fixture)
)
from tests.publishing.conftest import just_due, run_due

P = PublicationState
CALLBACK = "http://relais.test/networks/oauth/google_business/callback"
EVENT = {"topic": "EVENT", "cta": {"type": "BOOK", "url": "https://boulangerie-martin.fr/r"},
         "event": {"title": "Dégustation", "start": "2031-03-01T10:00:00+01:00",
                   "end": "2031-03-01T12:00:00+01:00"}}


@pytest.fixture
def fake(app, fake_google):  # noqa: F811
    fake_google.hang_seconds = 1.5
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5  # restored by the fixture's monkeypatch
    fake_google.location = fake_google.add_location("Boulangerie Martin", locality="Lyon")
    fake_google.account = fake_google.add_account("Martin", fake_google.location)
    fake_google.user = fake_google.add_user(fake_google.account)
    return fake_google


@pytest.fixture
def world(db):
    return make_world()


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def connected_account(app, fake: FakeGoogle, world, credentials: dict | None = None):
    """A google_business account of the world's client, saved the way the connect flow
    saves its choices."""
    with app.test_request_context(), tenant_scope(world.agency_id):
        [account] = add_choices(world.client, "google_business", [Choice(
            external_id=fake.location.name, display_name="Boulangerie Martin (Lyon)",
            credentials=credentials or credentials_from(fake.tokens_for(fake.user)),
            settings={"account": fake.account.name, "location": fake.location.name,
                      "title": "Boulangerie Martin", "address": "Lyon"})])
        return account.id


def approve(app, db, world, account_id, *, text="Galettes tout juste sorties du four",
            options=None, raw_options=None, scheduled_at=None):
    """An approved post on the account (the client's policy asks for none). ``options``
    go through the composer's checks (agency/content/options.py, the adapter's contract);
    ``raw_options`` are written into the revision as they are, like a revision from
    before a rule existed."""
    scheduled_at = scheduled_at or just_due()
    values = {"text": text, "target_ids": [account_id], "scheduled_at": scheduled_at}
    if options is not None:
        values["options"] = {"google_business": options}
    with app.test_request_context(), tenant_scope(world.agency_id):
        world.client.approval_policy = "none"
        post = create_post(world.client, values, world.owner.user_id,
                           now=scheduled_at - timedelta(days=1))
        if raw_options is not None:
            revision = db.session.scalars(select(Revision).where(
                Revision.post_id == post.id)).one()
            revision.content = {**revision.content,
                                "options": {"google_business": raw_options}}
        submit_post(post, world.client)
        db.session.flush()
        return post.id


def publication(db, world, post_id) -> Publication:
    with tenant_scope(world.agency_id):
        return db.session.scalars(select(Publication).where(
            Publication.post_id == post_id).execution_options(populate_existing=True)).one()


def account_row(db, world, account_id) -> SocialAccount:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()


def local_post_requests(fake: FakeGoogle) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "POST" and r["path"].endswith(
        "/localPosts")]


# --- the whole path -----------------------------------------------------------------------

def test_connect_then_publish_then_settle_a_lost_answer(app, db, client, world, fake):
    login(client, world.member)
    answer = client.get(f"/clients/{world.client.id}/connect/google_business/start")
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    code = fake.issue_code(fake.user, CALLBACK, query["code_challenge"])
    chooser = client.get("/networks/oauth/google_business/callback",
                         query_string={"code": code, "state": query["state"]})
    sealed = unescape(re.search(r'name="choices" value="([^"]+)"',
                                chooser.get_data(as_text=True)).group(1))
    added = client.post(f"/clients/{world.client.id}/connect/google_business/add",
                        data={"choices": sealed, "pages": [fake.location.name]})
    assert added.status_code == 303
    with tenant_scope(world.agency_id):
        account_id = db.session.scalars(select(SocialAccount.id).where(
            SocialAccount.network == "google_business")).one()

    # Published through the engine, on the fake, with the approved options.
    first = approve(app, db, world, account_id, options=EVENT)
    assert run_due(app) == [("publish", "published")]
    [post] = fake.posts
    done = publication(db, world, first)
    assert (done.state, done.external_id, done.external_url) == (
        P.PUBLISHED, post["name"], post["searchUrl"])
    assert post["topicType"] == "EVENT" and post["event"]["title"] == "Dégustation"
    # The business's wall-clock time (the client's zone), as Google shows it.
    assert post["event"]["schedule"]["startTime"]["hours"] == 10
    assert post["languageCode"] == "fr"  # the client's language, set by the composer
    assert post["callToAction"] == {"actionType": "BOOK",
                                    "url": "https://boulangerie-martin.fr/r"}

    # The next one is stored but its answer is lost: reconciled, never sent twice.
    fake.hang_next()
    second = approve(app, db, world, account_id, text="Pain de campagne au levain")
    assert run_due(app) == [("publish", "unknown")]
    assert publication(db, world, second).state == P.UNKNOWN
    assert run_due(app, later(60)) == [("reconcile", "published")]
    settled = publication(db, world, second)
    assert settled.state == P.PUBLISHED
    assert settled.external_id == fake.posts[-1]["name"]
    assert fake.posts_with_summary("Pain de campagne au levain") == 1
    assert len(local_post_requests(fake)) == 2


# --- outcomes recorded by the engine ------------------------------------------------------

def test_a_token_renewed_while_publishing_is_stored_sealed(app, db, world, fake):
    account_id = connected_account(app, fake, world)
    with tenant_scope(world.agency_id):
        before = unseal(account_row(db, world, account_id).credentials)
    fake.expire_access_tokens()
    post_id = approve(app, db, world, account_id)
    assert run_due(app) == [("publish", "published")]
    assert publication(db, world, post_id).external_id == fake.posts[0]["name"]
    row = account_row(db, world, account_id)
    with tenant_scope(world.agency_id):
        after = unseal(row.credentials)
    assert after["access_token"] != before["access_token"]
    assert after["access_token"] not in row.credentials  # sealed
    assert after["refresh_token"] == before["refresh_token"]
    assert after["expires_at"] >= before["expires_at"] and after["refreshable"] is True


def test_lost_access_holds_the_work_and_expires_the_account(app, db, world, fake, mail):
    account_id = connected_account(app, fake, world)
    fake.fail_next(403, "PERMISSION_DENIED", message="The caller does not have permission")
    post_id = approve(app, db, world, account_id)
    assert run_due(app) == [("publish", "held")]
    held = publication(db, world, post_id)
    assert held.state == P.HELD and "lost access" in held.last_error
    account = account_row(db, world, account_id)
    assert account.status == AccountStatus.EXPIRED and "lost access" in account.status_reason
    assert any("lost access" in m.text for m in mail)  # the staff are told why
    assert fake.posts == []


def test_bad_options_fail_with_their_reason_and_send_nothing(app, db, world, fake, mail):
    account_id = connected_account(app, fake, world)
    post_id = approve(app, db, world, account_id, raw_options={"topic": "EVENT"})
    assert run_due(app) == [("publish", "failed")]
    failed = publication(db, world, post_id)
    assert failed.state == P.FAILED
    assert "needs a title, a start and an end" in failed.last_error
    assert local_post_requests(fake) == []


def test_a_spent_quota_is_retried_after_googles_delay(app, db, world, fake):
    account_id = connected_account(app, fake, world)
    fake.fail_next(429, "RESOURCE_EXHAUSTED", headers={"Retry-After": "300"},
                   path="/localPosts")
    post_id = approve(app, db, world, account_id)
    assert run_due(app) == [("publish", "retrying")]
    waiting = publication(db, world, post_id)
    due = waiting.due_at if waiting.due_at.tzinfo else waiting.due_at.replace(tzinfo=UTC)
    assert waiting.state == P.RETRYING and due >= later(290)
    # The account itself waits as long as Google said (rate_limited_until → a pause).
    with app.app_context():
        assert ratelimit.wait_seconds("google_business", account_id) > 290
        ratelimit.get_redis().delete(ratelimit._pause_key(account_id))  # time passes
    assert run_due(app, later(400)) == [("publish", "published")]
    assert len(fake.posts) == 1
