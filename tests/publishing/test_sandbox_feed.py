"""The sandbox network's feed page: what a sandbox account published (newest first,
each at the anchor the adapter links to, with its media from the client's library), who
may see it, and the account's simulated delays and failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.extensions import db
from agency.media.services import store_upload
from agency.networks.models import SocialAccount
from agency.networks.sandbox_models import SandboxPost
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope
from tests.content.helpers import Reader, build_world, page, shows
from tests.factories import login, make_world
from tests.media.helpers import png_bytes

from .conftest import approve_post, run_due


@pytest.fixture
def world(db):
    return build_world(make_world())


@pytest.fixture
def read(db, world) -> Reader:
    return Reader(world.agency_id)


def _sandbox_post(world, account_id, text, *, minutes_ago=0, media=(), first_comment=""):
    with tenant_scope(world.agency_id):
        row = SandboxPost(social_account_id=account_id, idempotency_key=f"test-{text}",
                          text=text, first_comment=first_comment, media=list(media),
                          created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago))
        db.session.add(row)
        db.session.flush()
        return row.id


def _settings(world, account_id) -> dict:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return dict(db.session.scalars(select(SocialAccount.settings).where(
            SocialAccount.id == account_id)).one() or {})


def test_the_feed_shows_posts_newest_first_with_their_anchor(client, world):
    with tenant_scope(world.agency_id):
        from agency.clients.models import Client

        owner_client = db.session.scalars(
            select(Client).where(Client.id == world.client_id)).one()
        photo = store_upload(owner_client, "vitrine.png", png_bytes(), world.owner.user_id)
        db.session.flush()
        photo_id, sha = photo.id, photo.sha256
    older = _sandbox_post(world, world.sandbox_id, "Pain au levain", minutes_ago=60)
    newer = _sandbox_post(world, world.sandbox_id, "Croissants tout chauds",
                          media=[sha, "0" * 64], first_comment="#boulangerie")
    _sandbox_post(world, world.other_sandbox_id, "Vidange à prix doux")
    login(client, world.member)
    response = client.get(f"/sandbox/{world.sandbox_id}")
    assert response.status_code == 200
    html = page(response)
    assert f'id="p-{newer}"' in html and f'id="p-{older}"' in html
    assert html.index(f'id="p-{newer}"') < html.index(f'id="p-{older}"')
    assert "Croissants tout chauds" in html and "#boulangerie" in html
    # The media: the library file's thumbnail, and a file since removed from the library.
    assert f'src="/media/{photo_id}/thumb"' in html
    assert shows(response, "A file no longer in the library")
    assert "Vidange à prix doux" not in html  # another account's feed


def test_a_published_post_links_to_its_place_in_the_feed(app, db, client, sandbox_in_test):
    approved = approve_post(app, db, text="Galette des rois")
    assert run_due(app) == [("publish", "published")]
    with tenant_scope(approved.world.agency_id):
        publication = db.session.scalars(select(Publication).where(
            Publication.post_id == approved.post_id)).one()
        assert publication.state == PublicationState.PUBLISHED
        path, anchor = publication.external_url.split("#")
        stored = db.session.scalars(select(SandboxPost)).one()
    assert anchor == f"p-{stored.id}"
    login(client, approved.world.owner)
    response = client.get(path.removeprefix("http://relais.test"))
    assert response.status_code == 200
    html = page(response)
    assert f'id="{anchor}"' in html and "Galette des rois" in html
    assert f'href="/posts/{approved.post_id}#publishing"' in html  # back to the post


def test_only_staff_who_may_see_the_client_reach_the_feed(client, world):
    _sandbox_post(world, world.other_sandbox_id, "Garage")
    login(client, world.member)  # not assigned to the other client
    assert client.get(f"/sandbox/{world.other_sandbox_id}").status_code == 404
    assert client.get(f"/sandbox/{world.x_id}").status_code == 404  # not a sandbox account
    login(client, world.manager)
    assert client.get(f"/sandbox/{world.other_sandbox_id}").status_code == 200
    other = make_world("Agence Beta")
    login(client, other.owner)
    assert client.get(f"/sandbox/{world.sandbox_id}").status_code == 404


def test_an_empty_feed(client, world):
    login(client, world.member)
    assert "Nothing published here yet." in page(client.get(f"/sandbox/{world.sandbox_id}"))


def test_simulation_settings_are_saved_and_audited(client, world, read):
    login(client, world.member)
    response = client.post(f"/sandbox/{world.sandbox_id}/settings", data={
        "latency_ms": "250", "fail_rate": "0,25", "fail_mode": "timeout_after_store"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/sandbox/{world.sandbox_id}"
    assert _settings(world, world.sandbox_id) == {
        "latency_ms": 250, "fail_rate": 0.25, "fail_mode": "timeout_after_store"}
    [event] = read.all(select(AuditEvent).where(
        AuditEvent.action == "account.sandbox_settings_changed"))
    assert event.details["after"]["fail_mode"] == "timeout_after_store"
    html = page(client.get(f"/sandbox/{world.sandbox_id}"))
    assert "Simulation settings saved." in html
    assert 'value="250"' in html and 'selected value="timeout_after_store"' in html


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"latency_ms": "20000", "fail_rate": "0", "fail_mode": "retryable"}, "latency_ms",
     "Write the delay as a whole number of milliseconds, from 0 to 10000."),
    ({"latency_ms": "vite", "fail_rate": "0", "fail_mode": "retryable"}, "latency_ms",
     "Write the delay as a whole number of milliseconds, from 0 to 10000."),
    ({"latency_ms": "0", "fail_rate": "1.5", "fail_mode": "retryable"}, "fail_rate",
     "Write the share of failures as a number from 0 to 1"),
    ({"latency_ms": "0", "fail_rate": "nan", "fail_mode": "retryable"}, "fail_rate",
     "Write the share of failures as a number from 0 to 1"),
    ({"latency_ms": "0", "fail_rate": "0.1", "fail_mode": "explode"}, "fail_mode",
     "Choose how the failures happen."),
])
def test_simulation_settings_out_of_range_are_refused(client, world, read, data, field,
                                                      message):
    login(client, world.member)
    before = read.state()
    response = client.post(f"/sandbox/{world.sandbox_id}/settings", data=data)
    assert response.status_code == 422
    html = page(response)
    assert shows(response, message)
    assert f'id="{field}-error"' in html
    assert _settings(world, world.sandbox_id) == {}
    assert read.state() == before


def test_simulation_settings_of_an_unseen_or_other_account_are_refused(client, world):
    login(client, world.member)
    data = {"latency_ms": "0", "fail_rate": "1", "fail_mode": "permanent"}
    assert client.post(f"/sandbox/{world.other_sandbox_id}/settings",
                       data=data).status_code == 404
    assert client.post(f"/sandbox/{world.x_id}/settings", data=data).status_code == 404
    assert _settings(world, world.other_sandbox_id) == {}
