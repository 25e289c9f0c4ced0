"""Connecting Facebook Pages through the pages, against the fake Graph API: start →
(the dialog, simulated by a code the fake knows) → callback → choose → accounts; the Pages
read page after page (``GET /me/accounts`` followed through ``paging.next``, Graph API
"Paginated Results"); a Page that is a place (its ``location`` field); and reconnecting a
Page the client already has."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.extensions import db
from agency.networks import facebook_oauth
from agency.networks.credentials import unseal
from agency.networks.facebook_oauth import address_line
from agency.networks.models import AccountStatus, SocialAccount
from tenants.context import tenant_scope
from tests.clients.helpers import reduce_world
from tests.factories import login, make_world
from tests.fakes.facebook import FakeFacebook, fake_facebook  # noqa: F401 (fixture)

CALLBACK = "http://relais.test/networks/oauth/facebook/callback"
# A Page's ``location`` as Graph gives it (Page reference, "location": Location).
LOCATION = {"street": "12 rue des Lilas", "zip": "75011", "city": "Paris",
            "country": "France", "latitude": 48.857, "longitude": 2.38}


@pytest.fixture
def world(db):
    return reduce_world(make_world())


@pytest.fixture
def fake(fake_facebook):  # noqa: F811
    fake_facebook.bakery = fake_facebook.add_page(
        "Boulangerie Martin", "boulangeriemartin", location=LOCATION)
    fake_facebook.shop = fake_facebook.add_page("Fleurs de Léa")
    fake_facebook.viewer = fake_facebook.add_page("Un groupe", tasks=["ANALYZE"])
    fake_facebook.user = fake_facebook.add_user(fake_facebook.bakery, fake_facebook.shop,
                                                fake_facebook.viewer)
    return fake_facebook


def accounts(agency_id) -> list[SocialAccount]:
    with tenant_scope(agency_id):
        db.session.expire_all()
        rows = list(db.session.scalars(select(SocialAccount).where(
            SocialAccount.network == "facebook").order_by(SocialAccount.display_name)))
        db.session.expunge_all()
        return rows


def audit(agency_id, action) -> list[AuditEvent]:
    with tenant_scope(agency_id):
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def text(response) -> str:
    return response.get_data(as_text=True)


def start(http, world) -> str:
    """The signed state the start link sends to Facebook's dialog."""
    answer = http.get(f"/clients/{world.client_id}/connect/facebook/start")
    assert answer.status_code == 302, text(answer)
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/v21.0/dialog/oauth"
    assert query["redirect_uri"] == [CALLBACK] and query["response_type"] == ["code"]
    assert query["scope"] == ["pages_show_list,pages_read_engagement,pages_manage_posts"]
    return query["state"][0]


def back_from_facebook(http, fake, state: str):
    code = fake.issue_code(fake.user, CALLBACK)
    return http.get("/networks/oauth/facebook/callback", query_string={"code": code,
                                                                       "state": state})


def sealed_choices(page_html: str) -> str:
    return unescape(re.search(r'name="choices" value="([^"]+)"', page_html).group(1))


def add(http, world, sealed: str, *pages: str):
    return http.post(f"/clients/{world.client_id}/connect/facebook/add",
                     data={"choices": sealed, "pages": list(pages)})


# --- the page -----------------------------------------------------------------------------

def test_the_client_page_links_to_the_connect_page(client, world):
    login(client, world.member)
    assert f"/clients/{world.client_id}/connect" in text(client.get(f"/clients/{world.client_id}"))


def test_the_connect_page_says_what_is_needed(client, world, fake):
    login(client, world.member)
    page = text(client.get(f"/clients/{world.client_id}/connect"))
    assert "a Facebook Page you administer" in page
    assert f"/clients/{world.client_id}/connect/facebook/start" in page


# --- the whole flow -----------------------------------------------------------------------

def test_start_callback_choose_adds_the_pages(client, world, fake):
    login(client, world.member)
    chooser = back_from_facebook(client, fake, start(client, world))
    assert chooser.status_code == 200, text(chooser)
    page = text(chooser)
    assert "Boulangerie Martin" in page and "Fleurs de Léa" in page
    assert "Un groupe" not in page  # a role that cannot publish
    assert fake.bakery.token not in page and fake.user not in page  # tokens stay sealed

    answer = add(client, world, sealed_choices(page), fake.bakery.id)
    assert answer.status_code == 303
    [account] = accounts(world.agency_id)
    assert (account.display_name, account.handle) == ("Boulangerie Martin",
                                                      "@boulangeriemartin")
    assert account.settings["page_id"] == fake.bakery.id
    assert account.status == AccountStatus.CONNECTED
    with tenant_scope(world.agency_id):
        assert unseal(account.credentials) == {"page_access_token": fake.bakery.token}
    assert len(audit(world.agency_id, "account.connected")) == 1
    # The long-lived exchange happened.
    grants = [r["args"].get("grant_type") for r in fake.requests
              if r["path"] == "/oauth/access_token"]
    assert grants == [None, ["fb_exchange_token"]]


def test_choosing_nothing_is_refused_and_saves_nothing(client, world, fake):
    login(client, world.member)
    page = text(back_from_facebook(client, fake, start(client, world)))
    answer = add(client, world, sealed_choices(page))
    assert answer.status_code == 422
    assert "Choose at least one page" in text(answer)
    assert accounts(world.agency_id) == []


def test_a_page_not_offered_cannot_be_added(client, world, fake):
    login(client, world.member)
    page = text(back_from_facebook(client, fake, start(client, world)))
    assert add(client, world, sealed_choices(page), fake.viewer.id).status_code == 422
    assert accounts(world.agency_id) == []


def test_a_tampered_list_of_pages_is_refused(client, world, fake):
    login(client, world.member)
    page = text(back_from_facebook(client, fake, start(client, world)))
    sealed = sealed_choices(page)
    assert add(client, world, sealed[:-2] + "xx", fake.bakery.id).status_code == 400
    assert accounts(world.agency_id) == []


def test_the_list_of_pages_is_bound_to_its_client(client, world, fake):
    login(client, world.owner)
    page = text(back_from_facebook(client, fake, start(client, world)))
    answer = client.post(f"/clients/{world.other_client_id}/connect/facebook/add",
                         data={"choices": sealed_choices(page), "pages": [fake.bakery.id]})
    assert answer.status_code == 400
    assert accounts(world.agency_id) == []


def test_reconnecting_updates_the_same_account(client, world, fake):
    login(client, world.member)
    page = text(back_from_facebook(client, fake, start(client, world)))
    add(client, world, sealed_choices(page), fake.bakery.id)
    [before] = accounts(world.agency_id)
    with tenant_scope(world.agency_id):
        account = db.session.get(SocialAccount, before.id)
        account.status, account.status_reason = AccountStatus.EXPIRED, "Token revoked"
        db.session.commit()
    fake.bakery.token = "EAAPageNew"

    page = text(back_from_facebook(client, fake, start(client, world)))
    assert add(client, world, sealed_choices(page), fake.bakery.id,
               fake.shop.id).status_code == 303
    rows = accounts(world.agency_id)
    assert [a.display_name for a in rows] == ["Boulangerie Martin", "Fleurs de Léa"]
    again = next(a for a in rows if a.id == before.id)
    assert again.status == AccountStatus.CONNECTED and again.status_reason == ""
    with tenant_scope(world.agency_id):
        assert unseal(again.credentials) == {"page_access_token": "EAAPageNew"}
    [event] = audit(world.agency_id, "account.reconnected")
    assert event.details["was"] == "expired"


# --- paging and places ---------------------------------------------------------------------

def account_reads(fake) -> list[dict]:
    return [r for r in fake.requests if r["path"] == "/me/accounts"]


def test_every_page_of_pages_is_read(client, world, fake):
    fake.accounts_page_size = 1  # Facebook answers one Page at a time
    login(client, world.member)
    page = text(back_from_facebook(client, fake, start(client, world)))
    assert "Boulangerie Martin" in page and "Fleurs de Léa" in page
    reads = account_reads(fake)
    assert len(reads) == 3  # three Pages, the last answer without "next"
    assert reads[0]["args"].get("after") is None
    assert all(r["args"]["after"] for r in reads[1:])
    for read in reads:
        assert read["args"]["fields"] == ["id,name,username,access_token,tasks,link,location"]
        assert read["args"]["limit"] == ["100"]
        assert read["args"]["access_token"] == [fake.user]
        assert read["args"]["appsecret_proof"] == [fake.proof(fake.user)]


def test_reading_pages_is_bounded(client, world, fake, monkeypatch):
    monkeypatch.setattr(facebook_oauth, "ACCOUNTS_MAX_PAGES", 1)
    fake.accounts_page_size = 1
    login(client, world.member)
    page = text(back_from_facebook(client, fake, start(client, world)))
    assert "Boulangerie Martin" in page and "Fleurs de Léa" not in page
    assert len(account_reads(fake)) == 1


def test_a_page_that_is_a_place_keeps_its_address(client, world, fake):
    login(client, world.member)
    page = text(back_from_facebook(client, fake, start(client, world)))
    assert add(client, world, sealed_choices(page), fake.bakery.id,
               fake.shop.id).status_code == 303
    bakery, shop = accounts(world.agency_id)
    assert bakery.settings["has_location"] is True
    assert bakery.settings["address"] == "12 rue des Lilas, 75011 Paris"
    assert shop.settings["has_location"] is False and shop.settings["address"] == ""


def test_the_address_is_one_line_of_what_is_known():
    assert address_line({"city": "Lyon", "zip": "69001"}) == "69001 Lyon"
    assert address_line({"street": " 3  place  Bellecour "}) == "3 place Bellecour"
    assert address_line(None) == "" and address_line({"country": "France"}) == ""


def test_an_app_secret_facebook_refuses_is_told_to_the_administrator(app, fake):
    from agency.networks.facebook_oauth import FacebookProvider
    from agency.networks.oauth import OAuthError

    app.config["FACEBOOK_APP_SECRET"] = "not-the-apps-secret"  # restored by the fixture
    with app.test_request_context(), pytest.raises(OAuthError) as caught:
        FacebookProvider().choices({"access_token": fake.user})
    assert caught.value.status == 502
    assert "FACEBOOK_APP_SECRET" in caught.value.message
    assert fake.user not in caught.value.message


# --- refusals -----------------------------------------------------------------------------

def test_an_unconfigured_facebook_is_refused_clearly(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "FACEBOOK_APP_ID", "")
    monkeypatch.setitem(app.config, "FACEBOOK_APP_SECRET", "")
    login(client, world.member)
    page = text(client.get(f"/clients/{world.client_id}/connect"))
    message = ("Facebook is not set up on this Relais: the administrator must set "
               "FACEBOOK_APP_ID and FACEBOOK_APP_SECRET")
    assert message in page
    assert "/connect/facebook/start" not in page
    answer = client.get(f"/clients/{world.client_id}/connect/facebook/start")
    assert answer.status_code == 409 and message in text(answer)


def test_an_unknown_network_is_404(client, world, fake):
    login(client, world.member)
    assert client.get(f"/clients/{world.client_id}/connect/myspace/start").status_code == 404
    assert client.get("/networks/oauth/myspace/callback").status_code == 404


def test_a_code_facebook_refuses_is_a_clear_400(client, world, fake):
    login(client, world.member)
    state = start(client, world)
    answer = client.get("/networks/oauth/facebook/callback",
                        query_string={"code": "used-already", "state": state})
    assert answer.status_code == 400
    assert "did not accept this sign-in" in text(answer)


def test_a_cancelled_sign_in_goes_back_to_the_connect_page(client, world, fake):
    login(client, world.member)
    state = start(client, world)
    answer = client.get("/networks/oauth/facebook/callback", query_string={
        "error": "access_denied", "error_reason": "user_denied", "state": state})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/clients/{world.client_id}/connect")


def test_someone_elses_sign_in_is_403(client, world, fake):
    login(client, world.member)
    state = start(client, world)
    login(client, world.owner)
    answer = back_from_facebook(client, fake, state)
    assert answer.status_code == 403
    assert accounts(world.agency_id) == []


def test_another_agencys_sign_in_is_403(client, world, fake):
    login(client, world.member)
    state = start(client, world)
    other = make_world("Autre agence")
    login(client, other.owner)
    assert back_from_facebook(client, fake, state).status_code == 403


def test_a_member_not_on_the_client_gets_404(client, world, fake):
    login(client, world.member)
    answer = client.get(f"/clients/{world.other_client_id}/connect/facebook/start")
    assert answer.status_code == 404
