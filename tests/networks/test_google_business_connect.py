"""Connecting Google Business Profile locations through the pages, against the fake
Google: start → (Google's consent screen, simulated by a code the fake knows) → callback
→ choose → accounts with sealed, refreshable credentials. The authorization request is
checked against "OAuth 2.0 for Web Server Applications"
(developers.google.com/identity/protocols/oauth2/web-server)."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from agency.extensions import db
from agency.networks import oauth
from agency.networks.credentials import unseal
from agency.networks.google_oauth import GoogleBusinessProvider, one_line_address
from agency.networks.models import AccountStatus, SocialAccount
from tenants.context import tenant_scope
from tests.clients.helpers import reduce_world
from tests.factories import login, make_world
from tests.fakes.google_business import (
    CLIENT_ID,
    SCOPE,
    FakeGoogle,
    fake_google,  # noqa: F401 (fixture)
)

CALLBACK = "http://relais.test/networks/oauth/google_business/callback"


@pytest.fixture
def world(db):
    return reduce_world(make_world())


@pytest.fixture
def fake(fake_google):  # noqa: F811
    g = fake_google
    g.bakery = g.add_location("Boulangerie Martin", locality="Lyon",
                              lines=("12 rue Mercière",), postal_code="69002",
                              website="https://boulangerie-martin.fr")
    g.shop = g.add_location("Fleurs de Léa", locality="Villeurbanne", maps=False)
    g.truck = g.add_location("Le camion à pizza")  # a service-area business: no address
    g.closed = g.add_location("Dépôt (sans publication)", locality="Lyon", can_post=False)
    g.personal = g.add_account("Martin", g.bakery, g.closed)
    g.group = g.add_account("Groupe Martin", g.bakery, g.shop, g.truck, kind="LOCATION_GROUP")
    g.user = g.add_user(g.personal, g.group)
    return g


def accounts(agency_id) -> list[SocialAccount]:
    with tenant_scope(agency_id):
        db.session.expire_all()
        rows = list(db.session.scalars(select(SocialAccount).where(
            SocialAccount.network == "google_business").order_by(SocialAccount.display_name)))
        db.session.expunge_all()
        return rows


def text(response) -> str:
    return response.get_data(as_text=True)


def start(http, world) -> dict:
    """The query the start link sends to Google's authorization endpoint."""
    answer = http.get(f"/clients/{world.client_id}/connect/google_business/start")
    assert answer.status_code == 302, text(answer)
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/o/oauth2/v2/auth"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def back_from_google(http, fake: FakeGoogle, query: dict, **grant):
    code = fake.issue_code(fake.user, CALLBACK, query.get("code_challenge"), **grant)
    return http.get("/networks/oauth/google_business/callback",
                    query_string={"code": code, "state": query["state"]})


def sealed_choices(page_html: str) -> str:
    return unescape(re.search(r'name="choices" value="([^"]+)"', page_html).group(1))


def add(http, world, sealed: str, *locations: str):
    return http.post(f"/clients/{world.client_id}/connect/google_business/add",
                     data={"choices": sealed, "pages": list(locations)})


# --- the page and the authorization request -----------------------------------------------

def test_the_connect_page_offers_google_and_says_what_is_needed(client, world, fake):
    login(client, world.member)
    page = text(client.get(f"/clients/{world.client_id}/connect"))
    assert "Google Business Profile" in page
    assert "a Google Business Profile location you own or manage" in page
    assert f"/clients/{world.client_id}/connect/google_business/start" in page


def test_the_authorization_request_asks_for_offline_access_with_pkce(client, world, fake):
    login(client, world.member)
    query = start(client, world)
    assert {k: query[k] for k in ("response_type", "client_id", "redirect_uri", "scope",
                                  "access_type", "prompt", "include_granted_scopes",
                                  "code_challenge_method")} == {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK,
        "scope": "https://www.googleapis.com/auth/business.manage", "access_type": "offline",
        "prompt": "consent", "include_granted_scopes": "true", "code_challenge_method": "S256"}
    assert len(query["code_challenge"]) == 43 and query["state"]


# --- the whole flow -----------------------------------------------------------------------

def test_start_callback_choose_adds_the_locations(client, world, fake):
    login(client, world.member)
    query = start(client, world)
    chooser = back_from_google(client, fake, query)
    assert chooser.status_code == 200, text(chooser)
    page = text(chooser)
    assert "Boulangerie Martin (Lyon)" in page and "Fleurs de Léa (Villeurbanne)" in page
    assert "Le camion à pizza" in page
    assert "12 rue Mercière, 69002 Lyon" in page  # the address, to tell them apart
    assert page.count("Boulangerie Martin (Lyon)") == 1  # in two accounts, offered once
    assert "Dépôt" not in page  # Google says posts cannot be managed there
    tokens = [t for t in fake.access_tokens] + list(fake.refresh_tokens)
    assert not any(t in page for t in tokens)  # the tokens stay sealed

    # The exchange carried the PKCE verifier, the client secret and the same redirect.
    [exchange] = [r for r in fake.requests if r["path"] == "/token"]
    assert exchange["form"]["grant_type"] == ["authorization_code"]
    assert exchange["form"]["redirect_uri"] == [CALLBACK]
    assert oauth.code_challenge(exchange["form"]["code_verifier"][0]) == query["code_challenge"]
    # Accounts, then each account's locations with the read mask.
    listed = [r for r in fake.requests if r["method"] == "GET"]
    assert listed[0]["path"] == "/accountmanagement/v1/accounts"
    assert listed[0]["args"]["pageSize"] == ["20"]
    assert {r["path"] for r in listed[1:]} == {
        f"/businessinformation/v1/{fake.personal.name}/locations",
        f"/businessinformation/v1/{fake.group.name}/locations"}
    assert all(r["args"]["readMask"] == ["name,title,storefrontAddress,websiteUri,metadata"]
               for r in listed[1:])
    assert all(r["headers"]["Authorization"].startswith("Bearer ya29.") for r in listed)

    before = time.time()
    answer = add(client, world, sealed_choices(page), fake.bakery.name, fake.shop.name)
    assert answer.status_code == 303
    bakery, shop = accounts(world.agency_id)
    assert (bakery.display_name, bakery.handle) == ("Boulangerie Martin (Lyon)",
                                                    "12 rue Mercière, 69002 Lyon")
    assert bakery.status == AccountStatus.CONNECTED
    assert bakery.settings["account"] == fake.personal.name
    assert bakery.settings["location"] == fake.bakery.name
    assert bakery.settings["title"] == "Boulangerie Martin"
    assert bakery.settings["maps_uri"] == fake.bakery.maps_uri
    assert "maps_uri" not in shop.settings
    with tenant_scope(world.agency_id):
        sealed = unseal(bakery.credentials)
    assert set(sealed) == {"access_token", "refresh_token", "expires_at", "refreshable"}
    assert sealed["refreshable"] is True and sealed["refresh_token"] in fake.refresh_tokens
    assert before + 3500 < sealed["expires_at"] < before + 3700  # an hour
    assert sealed["access_token"] not in bakery.credentials  # encrypted at rest


def test_accounts_are_paged(client, world, fake):
    more = [fake.add_account(f"Compte {n}") for n in range(20)]
    last = fake.add_location("Au bout de la liste", locality="Bron")
    more.append(fake.add_account("Compte 21", last))
    fake.user_accounts[fake.user] += [a.name for a in more]
    login(client, world.member)
    page = text(back_from_google(client, fake, start(client, world)))
    assert "Au bout de la liste (Bron)" in page
    pages = [r["args"].get("pageToken") for r in fake.requests
             if r["path"] == "/accountmanagement/v1/accounts"]
    assert pages == [None, ["20"]]


def test_a_person_with_no_location_is_told_what_is_needed(client, world, fake):
    fake.user = fake.add_user()
    login(client, world.member)
    page = text(back_from_google(client, fake, start(client, world)))
    assert "shows no page you can publish on" in page
    assert "a Google Business Profile location you own or manage" in page


# --- refusals -----------------------------------------------------------------------------

def test_an_unconfigured_google_is_refused_clearly(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "GOOGLE_CLIENT_ID", "")
    monkeypatch.setitem(app.config, "GOOGLE_CLIENT_SECRET", "")
    login(client, world.member)
    message = ("Google Business Profile is not set up on this Relais: the administrator must "
               "set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET")
    assert message in text(client.get(f"/clients/{world.client_id}/connect"))
    answer = client.get(f"/clients/{world.client_id}/connect/google_business/start")
    assert answer.status_code == 409 and message in text(answer)


def test_a_grant_without_the_business_scope_is_refused(client, world, fake):
    login(client, world.member)
    answer = back_from_google(client, fake, start(client, world), scope="openid email")
    assert answer.status_code == 400
    assert "tick the box that lets Relais manage it" in text(answer)
    assert accounts(world.agency_id) == []


def test_a_grant_without_offline_access_is_refused(client, world, fake):
    login(client, world.member)
    answer = back_from_google(client, fake, start(client, world), offline=False)
    assert answer.status_code == 400 and "no refresh token" in text(answer)


def test_a_code_google_refuses_is_a_clear_400(client, world, fake):
    login(client, world.member)
    query = start(client, world)
    answer = client.get("/networks/oauth/google_business/callback",
                        query_string={"code": "4/used-already", "state": query["state"]})
    assert answer.status_code == 400 and "did not accept this sign-in" in text(answer)


def test_a_wrong_pkce_verifier_is_refused_by_the_fake_as_google_does(client, world, fake):
    login(client, world.member)
    query = start(client, world)
    code = fake.issue_code(fake.user, CALLBACK, oauth.code_challenge("x" * 50))
    answer = client.get("/networks/oauth/google_business/callback",
                        query_string={"code": code, "state": query["state"]})
    assert answer.status_code == 400


def test_a_cancelled_consent_goes_back_to_the_connect_page(client, world, fake):
    login(client, world.member)
    query = start(client, world)
    answer = client.get("/networks/oauth/google_business/callback",
                        query_string={"error": "access_denied", "state": query["state"]})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/clients/{world.client_id}/connect")


def test_a_listing_google_refuses_is_explained(client, world, fake):
    fake.fail_next(403, "PERMISSION_DENIED", message="The caller does not have permission",
                   path="/accountmanagement/")
    login(client, world.member)
    answer = back_from_google(client, fake, start(client, world))
    assert answer.status_code == 400
    assert "did not let Relais list your business locations" in text(answer)


def test_google_down_while_listing_is_a_502(client, world, fake):
    fake.fail_next(503, "UNAVAILABLE", message="The service is currently unavailable.",
                   path="/businessinformation/")
    login(client, world.member)
    answer = back_from_google(client, fake, start(client, world))
    assert answer.status_code == 502 and "try again" in text(answer).lower()


def test_one_line_addresses():
    assert one_line_address({"addressLines": ["12 rue Mercière", " "], "postalCode": "69002",
                             "locality": "Lyon", "regionCode": "FR"}) == \
        "12 rue Mercière, 69002 Lyon"
    assert one_line_address({"locality": "Lyon"}) == "Lyon"
    assert one_line_address(None) == ""


def test_the_provider_is_registered(app):
    with app.app_context():
        assert isinstance(oauth.provider_for("google_business"), GoogleBusinessProvider)
        assert GoogleBusinessProvider.scopes == (SCOPE,)
