"""The SME owner connects their own accounts from the link the agency sent, with no
Relais account and no sign-in here: link page → start (Facebook's dialog, simulated by a
code the fake Graph API knows) → the shared callback → choose → add; reconnecting an
expired account (its held publications resume); Bluesky with a handle and an app
password; and every refusal (expired, tampered, archived client, removed contact,
another agency's client, another link's pages, network not offered).

The callback's URL and parameters are Facebook's manual login flow ("Manually Build a
Login Flow": the dialog's ``client_id``, ``redirect_uri``, ``state``; the person comes
back to ``redirect_uri`` with ``code`` and the ``state`` unchanged, or with ``error``),
https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from agency.clients.models import Client
from agency.extensions import db
from agency.networks import oauth, owner_link
from agency.networks.credentials import unseal
from agency.networks.models import AccountStatus
from agency.publishing.models import PublicationState
from tenants.context import tenant_scope
from tests.clients.helpers import reduce_world
from tests.factories import login, make_world
from tests.fakes.facebook import fake_facebook  # noqa: F401 (fixture)
from tests.networks.owner_support import (
    PRIVATE,
    accounts,
    add,
    audit,
    back_from_facebook,
    email_of,
    english,
    expired_facebook_account,
    make_link,
    owner_world,
    publications,
    sealed_choices,
    set_client,
    signed_ago,
    start,
    text,
    with_pages,
)


@pytest.fixture
def world(db):
    return owner_world(db)


@pytest.fixture
def fake(fake_facebook):  # noqa: F811
    return with_pages(fake_facebook)


# --- the whole flow, no login -------------------------------------------------------------

def test_the_owner_connects_a_page_from_the_link_without_signing_in(app, client, world, fake,
                                                                    mail):
    token = make_link(app, world)
    page = client.get(f"/connect/{token}")
    assert page.status_code == 200, text(page)
    for header, value in PRIVATE.items():
        assert page.headers[header] == value
    html = text(page)
    assert "Connect the accounts of Agence Alpha Boulangerie" in html
    assert "Hello Sophie," in html
    assert "neither Agence Alpha nor Relais ever sees your password" in html
    assert "a Facebook Page you administer" in html
    assert f'href="/connect/{token}/facebook/start"' in html  # a link, not a form
    assert "Sign out" not in html  # nobody is signed in

    chooser = back_from_facebook(client, fake, start(client, token))
    assert chooser.status_code == 200, text(chooser)
    assert chooser.headers["Referrer-Policy"] == "no-referrer"
    html = text(chooser)
    assert "Boulangerie Martin" in html and "Fleurs de Léa" in html
    assert fake.bakery.token not in html and fake.user not in html  # tokens stay sealed
    assert f'action="/connect/{token}/facebook/add"' in html

    answer = add(client, token, sealed_choices(html), fake.bakery.id)
    assert answer.status_code == 303, text(answer)
    assert answer.headers["Location"].endswith(f"/connect/{token}")
    [account] = accounts(world.agency_id)
    assert (account.display_name, account.status) == ("Boulangerie Martin",
                                                      AccountStatus.CONNECTED)
    assert account.client_id == world.client_id
    with tenant_scope(world.agency_id):
        assert unseal(account.credentials) == {"page_access_token": fake.bakery.token}
    assert len(audit(world.agency_id, "account.connected")) == 1
    [used] = audit(world.agency_id, "owner_link.used")
    assert used.actor_user_id is None and "Sophie" in used.actor_label
    assert used.details["via"] == "owner_link"
    assert used.details["contact"] == str(world.contact_id)
    assert used.details["accounts"] == [str(account.id)] and used.details["reconnected"] == []
    # The client's staff (the assigned member) hear of it, with the client's page.
    [told] = mail
    assert told.to == email_of(world.agency_id, world.member.user_id)
    assert told.subject == "Sophie connected Facebook for Agence Alpha Boulangerie"
    assert "Boulangerie Martin" in told.text
    assert f"http://relais.test/clients/{world.client_id}#accounts" in told.text

    done = client.get(answer.headers["Location"])
    assert "Facebook is connected (Boulangerie Martin)" in text(done)
    assert "Accounts already connected" in text(done)


def test_a_staff_session_is_ignored_on_the_link(app, client, world, fake):
    login(client, world.owner)
    html = text(client.get(f"/connect/{make_link(app, world)}"))
    assert "Hello Sophie," in html and "Sign out" not in html


def test_reconnecting_an_expired_account_resumes_its_held_publications(app, client, world,
                                                                      fake, mail):
    account_id = expired_facebook_account(app, world, fake.bakery.id)
    assert {p.state for p in publications(world.agency_id, account_id)} == {
        PublicationState.HELD}
    token = make_link(app, world, account_id=account_id)
    html = text(client.get(f"/connect/{token}"))
    assert "Reconnect Boulangerie Martin" in html

    chooser = text(back_from_facebook(client, fake, start(client, token)))
    assert "Boulangerie Martin" in chooser
    assert "Fleurs de Léa" not in chooser  # a reconnect link renews its one account
    fake.bakery.token = "EAAPageRenewed"
    chooser = text(back_from_facebook(client, fake, start(client, token)))
    answer = add(client, token, sealed_choices(chooser), fake.bakery.id, fake.shop.id)
    assert answer.status_code == 303, text(answer)

    [account] = accounts(world.agency_id)
    assert account.id == account_id and account.status == AccountStatus.CONNECTED
    with tenant_scope(world.agency_id):
        assert unseal(account.credentials) == {"page_access_token": "EAAPageRenewed"}
    assert {p.state for p in publications(world.agency_id, account_id)} == {
        PublicationState.SCHEDULED}
    [event] = audit(world.agency_id, "account.reconnected")
    assert event.details["was"] == "expired"
    [used] = audit(world.agency_id, "owner_link.used")
    assert used.details["reconnected"] == [str(account_id)]
    assert "reconnected Facebook" in mail[-1].text and "go out again" in mail[-1].text


def test_a_cancelled_sign_in_goes_back_to_the_link_page(app, client, world, fake):
    token = make_link(app, world)
    state = start(client, token)
    answer = client.get("/networks/oauth/facebook/callback", query_string={
        "error": "access_denied", "error_reason": "user_denied", "state": state})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/connect/{token}")
    assert accounts(world.agency_id) == []


def test_choosing_nothing_is_a_422_and_saves_nothing(app, client, world, fake, mail):
    token = make_link(app, world)
    html = text(back_from_facebook(client, fake, start(client, token)))
    answer = add(client, token, sealed_choices(html))
    assert answer.status_code == 422 and "Choose at least one page" in text(answer)
    assert accounts(world.agency_id) == [] and mail == []
    assert audit(world.agency_id, "owner_link.used") == []


# --- refusals -----------------------------------------------------------------------------

def test_an_expired_link_is_a_410_in_plain_words(app, client, world, fake):
    with signed_ago(owner_link.LINK_MAX_AGE + 60):
        token = make_link(app, world)
    answer = client.get(f"/connect/{token}")
    assert answer.status_code == 410
    assert "This link has expired" in text(answer)
    assert "Ask Agence Alpha to send you a new one" in text(answer)
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(f"/connect/{token}/facebook/start").status_code == 410
    with signed_ago(owner_link.LINK_MAX_AGE - 60):
        assert client.get(f"/connect/{make_link(app, world)}").status_code == 200


def test_a_link_that_expired_during_the_sign_in_adds_nothing(app, client, world, fake,
                                                              monkeypatch):
    token = make_link(app, world)
    state = start(client, token)
    # The link runs out while the owner is on Facebook: the callback checks it again.
    monkeypatch.setattr(owner_link, "LINK_MAX_AGE", -1)
    answer = back_from_facebook(client, fake, state)
    assert answer.status_code == 410 and "This link has expired" in text(answer)
    assert accounts(world.agency_id) == []


def test_a_tampered_link_is_a_400(app, client, world):
    token = make_link(app, world)
    for bad in (token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), "not-a-link"):
        answer = client.get(f"/connect/{bad}")
        assert answer.status_code == 400 and "This link is not valid" in text(answer)


def test_a_link_signed_for_another_purpose_is_refused(app, client, world):
    from agency.auth.links import make_link_token

    with app.test_request_context():
        forged = make_link_token("relais.approval-link", {
            "a": str(world.agency_id), "c": str(world.client_id), "p": str(world.contact_id),
            "n": "any", "j": "x"})
    assert client.get(f"/connect/{forged}").status_code == 400


def test_a_link_for_an_archived_client_is_a_410(app, client, world, fake):
    token = make_link(app, world)
    set_client(db, world.agency_id, world.client_id, archived_at=datetime.now(UTC))
    answer = client.get(f"/connect/{token}")
    assert answer.status_code == 410 and "no longer valid" in text(answer)
    assert client.get(f"/connect/{token}/facebook/start").status_code == 410


def test_a_link_whose_contact_was_removed_is_a_410(app, client, world):
    from agency.clients.models import Contact
    from agency.clients.services import delete_contact

    token = make_link(app, world)
    with app.test_request_context(), tenant_scope(world.agency_id):
        delete_contact(db.session.scalars(select(Contact).where(
            Contact.id == world.contact_id)).one())
        db.session.commit()
    assert client.get(f"/connect/{token}").status_code == 410


def test_a_link_of_agency_a_cannot_touch_agency_b(app, client, world, fake):
    other = reduce_world(make_world("Agence Beta"))
    # Signed with this Relais's key but naming Alpha with Beta's client (or account):
    # Alpha's tenant finds no such client, so nothing of Beta's is shown or changed.
    for token in (make_link(app, world, client_id=other.client_id),
                  make_link(app, world, client_id=other.client_id,
                            contact_id=other.contact_id)):
        assert client.get(f"/connect/{token}").status_code == 404
        assert client.get(f"/connect/{token}/facebook/start").status_code == 404
    account_id = expired_facebook_account(app, other, fake.bakery.id, posts=0)
    assert client.get(f"/connect/{make_link(app, world, account_id=account_id)}"
                      ).status_code == 404
    assert accounts(other.agency_id)[0].status == AccountStatus.EXPIRED


def test_another_links_pages_cannot_be_added_here(app, client, world, fake):
    other = reduce_world(make_world("Agence Beta"))
    english(db, other)
    ours, theirs = make_link(app, world), make_link(app, other)
    html = text(back_from_facebook(client, fake, start(client, theirs)))
    # Beta's sealed pages, posted under Alpha's link (and under another Alpha link).
    assert add(client, ours, sealed_choices(html), fake.bakery.id).status_code == 403
    assert add(client, make_link(app, world), sealed_choices(html),
               fake.bakery.id).status_code == 403
    assert accounts(world.agency_id) == [] and accounts(other.agency_id) == []


def test_a_state_cannot_be_moved_to_another_link(app, client, world, fake):
    token = make_link(app, world)
    with app.test_request_context():
        forged, _ = oauth.make_owner_state(
            oauth.provider_for("facebook"), link_token=token, jti="another-link",
            agency_id=world.agency_id, client_id=world.client_id)
    assert back_from_facebook(client, fake, forged).status_code == 400
    assert accounts(world.agency_id) == []


def test_an_old_or_tampered_owner_state_is_refused(app, client, world, fake):
    token = make_link(app, world)
    with signed_ago(oauth.STATE_MAX_AGE + 10):
        old = start(client, token)
    answer = back_from_facebook(client, fake, old)
    assert answer.status_code == 400 and "took too long" in text(answer)
    # A tampered state is no owner state: the staff path answers, which needs a sign-in.
    state = start(client, token)
    answer = back_from_facebook(client, fake, state[:-3] + "abc")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_network_the_link_does_not_offer_is_404(app, client, world, fake):
    token = make_link(app, world, ["bluesky"])
    assert "a Facebook Page you administer" not in text(client.get(f"/connect/{token}"))
    assert client.get(f"/connect/{token}/facebook/start").status_code == 404
    assert client.get(f"/connect/{token}/myspace/start").status_code == 404
    assert client.post(f"/connect/{make_link(app, world)}/bluesky",
                       data={"handle": "a.bsky.social"}).status_code == 404


def test_an_unconfigured_network_is_shown_unavailable(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "FACEBOOK_APP_ID", "")
    token = make_link(app, world, owner_link.ANY)
    html = text(client.get(f"/connect/{token}"))
    assert "Facebook cannot be connected from this link for now" in html
    assert f"/connect/{token}/facebook/start" not in html
    assert 'name="app_password"' in html  # Bluesky needs no app credentials
    answer = client.get(f"/connect/{token}/facebook/start")
    assert answer.status_code == 409 and "not possible for now" in text(answer)


# --- language -----------------------------------------------------------------------------

def test_the_page_speaks_french_by_default(app, client, world):
    set_client(db, world.agency_id, world.client_id, language="fr")
    html = text(client.get(f"/connect/{make_link(app, world)}"))
    assert '<html lang="fr">' in html and "Bonjour Sophie," in html
    with signed_ago(owner_link.LINK_MAX_AGE + 60):
        token = make_link(app, world)
    html = text(client.get(f"/connect/{token}"))
    assert '<html lang="fr">' in html and "Ce lien a expiré" in html


# --- Bluesky ------------------------------------------------------------------------------

HANDLE = "boulangerie.bsky.social"


@pytest.fixture
def bluesky(app):
    from tests.fakes.bluesky import serving

    with serving(app) as fake:
        fake.add_account(HANDLE, display_name="Boulangerie Martin")
        yield fake


def test_the_owner_connects_bluesky_with_an_app_password(app, client, world, bluesky, mail):
    from tests.fakes.bluesky import APP_PASSWORD, MAIN_PASSWORD

    token = make_link(app, world, ["bluesky"])
    html = text(client.get(f"/connect/{token}"))
    assert "App passwords" in html and 'type="password"' in html
    refused = client.post(f"/connect/{token}/bluesky",
                          data={"handle": HANDLE, "app_password": MAIN_PASSWORD})
    assert refused.status_code == 422
    assert "does not look like an app password" in text(refused)
    assert accounts(world.agency_id, "bluesky") == []

    answer = client.post(f"/connect/{token}/bluesky",
                         data={"handle": HANDLE, "app_password": APP_PASSWORD})
    assert answer.status_code == 303, text(answer)
    [account] = accounts(world.agency_id, "bluesky")
    assert account.handle == f"@{HANDLE}" and account.client_id == world.client_id
    [used] = audit(world.agency_id, "owner_link.used")
    assert used.details["network"] == "bluesky" and used.details["via"] == "owner_link"
    assert [m.subject for m in mail] == ["Sophie connected Bluesky for Agence Alpha Boulangerie"]


def test_a_bluesky_reconnect_link_renews_the_same_account(app, client, world, bluesky):
    from agency.networks import connect_bluesky
    from tests.fakes.bluesky import APP_PASSWORD

    with app.test_request_context(), tenant_scope(world.agency_id):
        client_row = db.session.scalars(select(Client).where(
            Client.id == world.client_id)).one()
        account, _ = connect_bluesky.connect_account(client_row, HANDLE, APP_PASSWORD)
        account.status, account.status_reason = AccountStatus.EXPIRED, "Session revoked"
        db.session.commit()
        account_id = account.id
    token = make_link(app, world, account_id=account_id)
    html = text(client.get(f"/connect/{token}"))
    assert f'value="{HANDLE}"' in html  # the handle is filled in
    assert "a Facebook Page" not in html
    answer = client.post(f"/connect/{token}/bluesky",
                         data={"handle": HANDLE, "app_password": APP_PASSWORD})
    assert answer.status_code == 303, text(answer)
    [again] = accounts(world.agency_id, "bluesky")
    assert again.id == account_id and again.status == AccountStatus.CONNECTED
    assert audit(world.agency_id, "owner_link.used")[0].details["reconnected"] == [
        str(account_id)]


# --- rate limit ---------------------------------------------------------------------------

def test_the_public_routes_are_rate_limited(app, client, world):
    token = make_link(app, world, ["bluesky"])
    for _ in range(10):  # refused by the form itself: no network is called
        assert client.post(f"/connect/{token}/bluesky", data={}).status_code == 422
    assert client.post(f"/connect/{token}/bluesky", data={}).status_code == 429
