"""The publishing health page: counts by state, the tables of what needs a person (with
the reason and what to do, in the client's time zone), only the clients one may see, and
the badge in the navigation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.clients.models import Client
from agency.extensions import db
from tenants.context import tenant_scope
from tests.content.helpers import build_world, make_post, page, shows
from tests.factories import login, make_world

from .pages import WHEN, P, approved_post, publications, sandbox_accounts, set_state


@pytest.fixture
def world(db):
    return build_world(make_world())


def _count(html: str, key: str) -> int:
    # <li class="pub-count…" id="count-KEY">\n <span class="number">N</span>
    start = html.index(f'id="count-{key}"')
    number = html.index('class="number">', start) + len('class="number">')
    return int(html[number:html.index("<", number)])


def test_nothing_to_do(client, world):
    login(client, world.member)
    response = client.get("/publishing")
    assert response.status_code == 200
    html = page(response)
    assert "Nothing needs a person right now." in html
    assert _count(html, "failed") == 0
    assert 'class="nav-badge"' not in html
    assert '<a href="/publishing" aria-current="page">Publishing' in html


def test_counts_and_tables_of_what_needs_a_person(client, world):
    accounts = sandbox_accounts(world, "Page A", "Page B", "Page C", "Page D", "Page E")
    post_id = approved_post(world, [world.sandbox_id, world.x_id, *accounts],
                            text="Galette des rois : commandez avant samedi")
    set_state(world, post_id, world.sandbox_id, P.FAILED, attempts=3, error_code="refused",
              last_error="The network refused this post (simulated).")
    set_state(world, post_id, world.x_id, P.NEEDS_ATTENTION, attempts=5,
              last_error="We could not confirm whether this went out.")
    set_state(world, post_id, accounts[0], P.HELD, held_reason="account",
              last_error="The sandbox account's access was revoked (simulated).")
    set_state(world, post_id, accounts[1], P.RETRYING, attempts=1,
              due_at=WHEN + timedelta(minutes=5),
              last_error="The sandbox network is unavailable (simulated).")
    set_state(world, post_id, accounts[2], P.UNKNOWN, attempts=1)
    set_state(world, post_id, accounts[3], P.PUBLISHED)
    # Due within the day (the post above is due next year).
    make_post(world, targets=[accounts[4]], text="Dans une heure", policy="none",
              submit=True, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    login(client, world.member)
    response = client.get("/publishing")
    html = page(response)
    assert {key: _count(html, key) for key in (
        "due_soon", "queued", "sending", "retrying", "unknown", "needs_attention", "failed",
        "held")} == {"due_soon": 1, "queued": 0, "sending": 0, "retrying": 1, "unknown": 1,
                     "needs_attention": 1, "failed": 1, "held": 1}
    for section in ("failed", "needs_attention", "held", "retrying", "unknown"):
        assert f'id="list-{section}"' in html
    assert 'id="publication-' in html
    # The rows say which post, client, account and network, when (client's time zone),
    # how many attempts, why, and what to do.
    assert shows(response, "Galette des rois : commandez avant samedi")
    assert "Agence Alpha Boulangerie" in html
    assert "Boulangerie Sandbox" in html and "Boulangerie X" in html
    assert shows(response, f"14 Jul {WHEN.year}, 10:00")
    assert "Europe/Paris" in html
    assert shows(response, "The network refused this post (simulated).")
    assert shows(response, "The network refused it. Change the post if needed")
    assert shows(response, "If the post is there, mark it as published")
    assert shows(response, "Reconnect the account on the client's page")
    assert shows(response, f"Relais tries again around 14 Jul {WHEN.year}, 10:05.")
    assert shows(response, "Relais is asking the network whether it went out.")
    assert "Nothing needs a person right now." not in html
    # Retry where it applies, coming back to this page.
    assert html.count('/retry"') == 2  # the failed one and the one needing attention
    assert 'name="next" value="/publishing"' in html
    # The badge: failed + needs attention + held.
    assert '<span class="nav-badge"' in html and ">3<span" in html


def test_a_member_sees_only_the_clients_they_are_assigned_to(client, world):
    mine = approved_post(world, [world.sandbox_id], text="Chez nous")
    theirs = approved_post(world, [world.other_sandbox_id], client_id=world.other_client_id,
                           text="Chez les autres")
    set_state(world, mine, world.sandbox_id, P.FAILED, last_error="Refused here.")
    set_state(world, theirs, world.other_sandbox_id, P.FAILED, last_error="Refused there.")
    login(client, world.member)
    html = page(client.get("/publishing"))
    assert _count(html, "failed") == 1
    assert "Chez nous" in html and "Chez les autres" not in html
    login(client, world.manager)  # managers see every client
    html = page(client.get("/publishing"))
    assert _count(html, "failed") == 2
    assert "Chez les autres" in html


def test_another_agency_sees_none_of_it(client, world):
    post_id = approved_post(world, [world.sandbox_id], text="Secret d'Alpha")
    set_state(world, post_id, world.sandbox_id, P.FAILED)
    other = make_world("Agence Beta")
    login(client, other.owner)
    html = page(client.get("/publishing"))
    assert _count(html, "failed") == 0
    assert "Secret d'Alpha" not in html


def test_a_failure_left_behind_by_an_edit_is_not_a_task(client, world):
    from agency.content import services as content
    from agency.content.models import Post

    post_id = approved_post(world, [world.sandbox_id], text="Ancienne version")
    set_state(world, post_id, world.sandbox_id, P.FAILED)
    with tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        client_row = db.session.scalars(
            select(Client).where(Client.id == world.client_id)).one()
        content.update_post(post, client_row, {"text": "Nouvelle version"},
                            world.owner.user_id)
        db.session.flush()
    login(client, world.member)
    html = page(client.get("/publishing"))
    assert _count(html, "failed") == 0
    assert "Nothing needs a person right now." in html


def test_retry_from_the_health_page_comes_back_to_it(client, world):
    post_id = approved_post(world, [world.sandbox_id])
    failed = set_state(world, post_id, world.sandbox_id, P.FAILED)
    login(client, world.member)
    response = client.post(f"/publications/{failed}/retry", data={"next": "/publishing"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/publishing"
    html = page(client.get("/publishing"))
    assert _count(html, "failed") == 0
    assert "it will be tried again in a moment." in html
    assert publications(world, post_id)[world.sandbox_id].state == P.SCHEDULED


def test_the_badge_shows_on_every_page(client, world):
    post_id = approved_post(world, [world.sandbox_id, world.x_id])
    set_state(world, post_id, world.sandbox_id, P.FAILED)
    set_state(world, post_id, world.x_id, P.HELD, held_reason="account")
    login(client, world.member)
    html = page(client.get("/clients"))
    assert '<span class="nav-badge"' in html and ">2<span" in html
    assert "publications need attention" in html


def test_the_page_is_in_french_by_default(client, world, app):
    post_id = approved_post(world, [world.sandbox_id])
    set_state(world, post_id, world.sandbox_id, P.FAILED)
    login(client, world.member)
    client.post("/language", data={"lang": "fr"})
    response = client.get("/publishing")
    assert response.status_code == 200
    assert '<html lang="fr">' in page(response)


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/publishing")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
