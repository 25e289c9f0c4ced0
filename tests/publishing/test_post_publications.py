"""A post's publishing, as people see it: the derived status ("published on 2 of 3" is
its own state), each account's row on the post page with what to do, the retry and
mark-as-published actions, the calendar chip and the API."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.clients.models import Client
from agency.content import services as content
from agency.content.models import Post
from agency.extensions import db
from agency.publishing.queries import PostPublishing, summary
from tenants.context import tenant_scope
from tests.content.helpers import Reader, build_world, page, shows
from tests.factories import login, make_world

from .pages import WHEN, P, approved_post, publications, sandbox_accounts, set_state


@pytest.fixture
def world(db):
    return build_world(make_world())


@pytest.fixture
def read(db, world) -> Reader:
    return Reader(world.agency_id)


# --- the derived status --------------------------------------------------------------------

def _pub(n: int, state: P, account: int | None = None):
    account_id = account if account is not None else n
    return SimpleNamespace(id=n, state=state, social_account_id=account_id, network="sandbox",
                           account=SimpleNamespace(display_name=f"Page {account_id}"))


@pytest.mark.parametrize(("states", "expected"), [
    ([], PostPublishing.NONE),
    ([P.SCHEDULED, P.SCHEDULED], PostPublishing.SCHEDULED),
    ([P.SCHEDULED, P.QUEUED], PostPublishing.PUBLISHING),
    ([P.PUBLISHED, P.SENDING], PostPublishing.PUBLISHING),
    ([P.PUBLISHED, P.RETRYING], PostPublishing.PUBLISHING),
    ([P.PUBLISHED, P.UNKNOWN], PostPublishing.PUBLISHING),
    ([P.PUBLISHED, P.PUBLISHED, P.PUBLISHED], PostPublishing.PUBLISHED),
    ([P.PUBLISHED, P.PUBLISHED, P.FAILED], PostPublishing.PARTIAL),
    ([P.FAILED, P.SCHEDULED], PostPublishing.FAILED),
    ([P.FAILED, P.FAILED], PostPublishing.FAILED),
    ([P.PUBLISHED, P.FAILED, P.NEEDS_ATTENTION], PostPublishing.NEEDS_ATTENTION),
    ([P.HELD, P.SCHEDULED], PostPublishing.ON_HOLD),
    ([P.PUBLISHED, P.HELD], PostPublishing.ON_HOLD),
])
def test_a_posts_status_is_derived_from_its_publications(app, states, expected):
    with app.test_request_context():
        result = summary([_pub(n, state) for n, state in enumerate(states)])
    assert result.status == expected
    assert result.total == len(states)
    assert result.published == states.count(P.PUBLISHED)


def test_published_on_two_of_three_is_partial_not_failed(app):
    with app.test_request_context():
        result = summary([_pub(1, P.PUBLISHED), _pub(2, P.PUBLISHED), _pub(3, P.FAILED)])
        assert result.status == PostPublishing.PARTIAL
        assert result.partial and result.needs_action
        assert result.progress == "Published on 2 of 3"
        assert result.label == "Partially published"
        done = summary([_pub(1, P.PUBLISHED), _pub(2, P.PUBLISHED)])
        assert done.progress == "" and not done.needs_action


def test_each_account_counts_once_by_its_latest_publication(app):
    # An account that failed, then was scheduled again (a later publication), counts as
    # its latest: the old failure is history.
    with app.test_request_context():
        result = summary([_pub(1, P.FAILED, account=7), _pub(2, P.PUBLISHED, account=7),
                          _pub(3, P.PUBLISHED, account=8)])
    assert result.status == PostPublishing.PUBLISHED
    assert result.total == 2


# --- the post page -------------------------------------------------------------------------

def test_a_post_not_yet_approved_has_no_publishing_section(client, world):
    from tests.content.helpers import make_post

    post_id = make_post(world)
    login(client, world.member)
    html = page(client.get(f"/posts/{post_id}"))
    assert 'id="publishing"' not in html


def test_an_approved_post_shows_each_account_scheduled_in_the_clients_time(client, world):
    post_id = approved_post(world, [world.sandbox_id, world.x_id])
    login(client, world.member)
    response = client.get(f"/posts/{post_id}")
    assert response.status_code == 200
    html = page(response)
    assert 'id="publishing"' in html
    assert 'class="pub-state pub-scheduled"' in html
    assert "Boulangerie Sandbox" in html and "Boulangerie X" in html
    # 08:00 UTC in July is 10:00 in the client's Paris time.
    assert shows(response, f"Nothing to do: it goes out on 14 Jul {WHEN.year}, 10:00.")
    assert "Retry" not in html and "Mark as published" not in html


def test_published_on_two_of_three_is_shown_as_such(client, world):
    third, = sandbox_accounts(world, "Boulangerie Troisième")
    post_id = approved_post(world, [world.sandbox_id, world.x_id, third])
    set_state(world, post_id, world.sandbox_id, P.PUBLISHED, attempts=1,
              external_url="https://social.example/@boulangerie/1")
    set_state(world, post_id, third, P.PUBLISHED, attempts=1,
              external_url=f"/sandbox/{third}#p-1")
    failed = set_state(world, post_id, world.x_id, P.FAILED, attempts=3,
                       error_code="refused",
                       last_error="The post is longer than 280 characters.")
    login(client, world.member)
    response = client.get(f"/posts/{post_id}")
    html = page(response)
    assert "Partially published" in html and "Published on 2 of 3" in html
    # Went out at 10:00 Paris time, with the link to it on the network.
    assert shows(response, f"14 Jul {WHEN.year}, 10:00")
    assert 'href="https://social.example/@boulangerie/1"' in html
    assert f'href="/sandbox/{third}#p-1"' in html
    # The failure: its reason, what to do, and the actions that apply.
    assert shows(response, "The post is longer than 280 characters.")
    assert shows(response, "The network refused it.")
    assert f'action="/publications/{failed}/retry"' in html
    assert f'action="/publications/{failed}/mark-published"' in html
    assert html.count("/retry\"") == 1  # only the failed one can be retried


def test_needs_attention_and_held_say_what_to_do(client, world):
    post_id = approved_post(world, [world.sandbox_id, world.x_id])
    attention = set_state(world, post_id, world.sandbox_id, P.NEEDS_ATTENTION, attempts=5,
                          last_error="We could not confirm whether this went out.")
    set_state(world, post_id, world.x_id, P.HELD, held_reason="account",
              last_error="The access token was revoked.")
    login(client, world.member)
    response = client.get(f"/posts/{post_id}")
    html = page(response)
    assert "pub-needs_attention" in html and "pub-held" in html
    assert shows(response, "If the post is there, mark it as published")
    assert shows(response, "Reconnect the account on the client's page")
    assert shows(response, "The access token was revoked.")
    assert f"/clients/{world.client_id}#accounts" in html
    # Retrying something that may be out already asks for confirmation first.
    assert f'action="/publications/{attention}/retry"' in html
    assert "retrying could publish it twice" in html


def test_retry_schedules_a_failed_publication_again(client, world, read):
    post_id = approved_post(world, [world.sandbox_id])
    failed = set_state(world, post_id, world.sandbox_id, P.FAILED, attempts=5,
                       error_code="gave_up", last_error="Gave up after 5 attempts.")
    login(client, world.member)
    response = client.post(f"/publications/{failed}/retry")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/posts/{post_id}#publishing")
    publication = publications(world, post_id)[world.sandbox_id]
    assert publication.state == P.SCHEDULED and publication.attempts == 0
    assert len(read.all(select(AuditEvent).where(
        AuditEvent.action == "publication.retried"))) == 1
    html = page(client.get(f"/posts/{post_id}"))
    assert "it will be tried again in a moment." in html


def test_retry_of_a_publication_that_did_not_fail_is_refused(client, world, read):
    post_id = approved_post(world, [world.sandbox_id])
    published = set_state(world, post_id, world.sandbox_id, P.PUBLISHED)
    login(client, world.member)
    before = read.state()
    response = client.post(f"/publications/{published}/retry")
    assert response.status_code == 303
    assert "Only a failed publication can be retried." in page(
        client.get(response.headers["Location"]))
    # htmx and JSON callers get the refusal as a status.
    partial = client.post(f"/publications/{published}/retry", headers={"HX-Request": "true"})
    assert partial.status_code == 409
    assert "Only a failed publication can be retried." in page(partial)
    as_json = client.post(f"/publications/{published}/retry",
                          headers={"Accept": "application/json"})
    assert as_json.status_code == 409
    assert as_json.get_json()["error"] == "Only a failed publication can be retried."
    assert publications(world, post_id)[world.sandbox_id].state == P.PUBLISHED
    assert read.state() == before


def test_mark_as_published_records_the_link(client, world, read):
    post_id = approved_post(world, [world.sandbox_id])
    attention = set_state(world, post_id, world.sandbox_id, P.NEEDS_ATTENTION)
    login(client, world.member)
    refused = client.post(f"/publications/{attention}/mark-published",
                          data={"url": "javascript:alert(1)"},
                          headers={"Accept": "application/json"})
    assert refused.status_code == 422
    assert refused.get_json()["field"] == "url"
    assert publications(world, post_id)[world.sandbox_id].state == P.NEEDS_ATTENTION
    response = client.post(f"/publications/{attention}/mark-published",
                           data={"url": " https://social.example/p/9 "})
    assert response.status_code == 303
    publication = publications(world, post_id)[world.sandbox_id]
    assert publication.state == P.PUBLISHED
    assert publication.external_url == "https://social.example/p/9"
    assert len(read.audit("publication.marked_published")) == 1
    html = page(client.get(f"/posts/{post_id}"))
    assert "marked as published." in html
    assert 'href="https://social.example/p/9"' in html


def test_mark_as_published_without_a_link(client, world):
    post_id = approved_post(world, [world.sandbox_id])
    failed = set_state(world, post_id, world.sandbox_id, P.FAILED)
    login(client, world.member)
    response = client.post(f"/publications/{failed}/mark-published", data={"url": ""},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.get_json()["state"] == "published"


def test_next_only_leads_back_into_relais(client, world):
    post_id = approved_post(world, [world.sandbox_id])
    failed = set_state(world, post_id, world.sandbox_id, P.FAILED)
    login(client, world.member)
    response = client.post(f"/publications/{failed}/retry",
                           data={"next": "https://evil.example/"})
    assert response.headers["Location"].endswith(f"/posts/{post_id}#publishing")


def test_an_unassigned_member_cannot_act_on_another_clients_publication(client, world, read):
    post_id = approved_post(world, [world.other_sandbox_id], client_id=world.other_client_id)
    failed = set_state(world, post_id, world.other_sandbox_id, P.FAILED)
    login(client, world.member)
    before = read.state()
    assert client.post(f"/publications/{failed}/retry").status_code == 404
    assert client.post(f"/publications/{failed}/mark-published").status_code == 404
    assert publications(world, post_id)[world.other_sandbox_id].state == P.FAILED
    assert read.state() == before


def test_a_failure_of_an_edited_version_is_history(client, world):
    post_id = approved_post(world, [world.sandbox_id, world.x_id])
    set_state(world, post_id, world.sandbox_id, P.PUBLISHED)
    old = set_state(world, post_id, world.x_id, P.FAILED, last_error="Refused (old text).")
    with tenant_scope(world.agency_id):  # edited after the failure: a draft again
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        client_row = db.session.scalars(
            select(Client).where(Client.id == world.client_id)).one()
        content.update_post(post, client_row, {"text": "Croissants, nouvelle recette"},
                            world.owner.user_id)
        db.session.flush()
    login(client, world.member)
    response = client.get(f"/posts/{post_id}")
    html = page(response)
    assert "1 earlier attempt" in html
    assert f'action="/publications/{old}/retry"' not in html
    assert "Published on 1 of 1" not in html  # the published account counts alone
    refused = client.post(f"/publications/{old}/retry", headers={"HX-Request": "true"})
    assert refused.status_code == 409
    assert "earlier version" in page(refused)
    # Submitted again, the new version is scheduled where it did not go out.
    with tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        client_row = db.session.scalars(
            select(Client).where(Client.id == world.client_id)).one()
        content.submit_post(post, client_row)
        db.session.flush()
    latest = publications(world, post_id)
    assert latest[world.x_id].state == P.SCHEDULED and latest[world.x_id].id != old
    assert latest[world.sandbox_id].state == P.PUBLISHED
    assert "Published on 1 of 2" in page(client.get(f"/posts/{post_id}"))


# --- the calendar --------------------------------------------------------------------------

def test_the_calendar_shows_the_publishing_status_of_approved_posts(client, world):
    post_id = approved_post(world, [world.sandbox_id, world.x_id])
    set_state(world, post_id, world.sandbox_id, P.PUBLISHED)
    set_state(world, post_id, world.x_id, P.FAILED)
    from tests.content.helpers import make_post

    make_post(world, text="Brouillon")  # a draft: no publishing status
    login(client, world.member)
    response = client.get(f"/clients/{world.client_id}/calendar?view=list"
                          f"&date={WHEN.date().isoformat()}")
    assert response.status_code == 200
    html = page(response)
    assert html.count("pub-state pub-") == 1
    assert "pub-partially_published" in html and "Published on 1 of 2" in html


# --- the API -------------------------------------------------------------------------------

def test_the_api_lists_a_posts_publications(client, world, app):
    post_id = approved_post(world, [world.sandbox_id, world.x_id])
    set_state(world, post_id, world.sandbox_id, P.PUBLISHED, attempts=1,
              external_url="https://social.example/1")
    set_state(world, post_id, world.x_id, P.FAILED, attempts=2, last_error="Refused.")
    from agency.auth.services import create_api_token
    from tenants.models import Membership

    with app.test_request_context(), tenant_scope(world.agency_id):
        owner = db.session.scalars(
            select(Membership).where(Membership.id == world.owner.id)).one()
        _, token = create_api_token(owner, "publications")
        db.session.flush()
    response = client.get(f"/api/v1/posts/{post_id}/publications",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    rows = {row["account"]: row for row in response.get_json()}
    assert set(rows) == {"Boulangerie Sandbox", "Boulangerie X"}
    sandbox, x = rows["Boulangerie Sandbox"], rows["Boulangerie X"]
    assert sandbox["state"] == "published" and sandbox["network"] == "sandbox"
    assert sandbox["external_url"] == "https://social.example/1"
    assert sandbox["published_at"].startswith(str(WHEN.year))
    assert sandbox["account_id"] == str(world.sandbox_id) and sandbox["current"] is True
    assert x["state"] == "failed" and x["attempts"] == 2 and x["last_error"] == "Refused."
    assert x["published_at"] is None


def test_an_htmx_retry_asks_the_page_to_refresh(client, world):
    post_id = approved_post(world, [world.sandbox_id])
    failed = set_state(world, post_id, world.sandbox_id, P.FAILED)
    login(client, world.member)
    response = client.post(f"/publications/{failed}/retry", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Refresh"] == "true"
    assert publications(world, post_id)[world.sandbox_id].state == P.SCHEDULED
