"""Connecting Instagram professional accounts through the pages, against the fake Graph
API: start (Facebook's dialog with the Instagram permissions) → callback with a code the
fake knows → the Pages' Instagram accounts to choose → accounts with sealed credentials;
the refusals; and Page tokens needing no refresh."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from agency.extensions import db
from agency.networks import token_health
from agency.networks.credentials import unseal
from agency.networks.instagram_oauth import InstagramProvider
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.oauth import provider_for
from tenants.context import tenant_scope
from tests.clients.helpers import reduce_world
from tests.factories import login, make_world
from tests.fakes.instagram import FakeInstagram, fake_instagram  # noqa: F401 (fixture)

CALLBACK = "http://relais.test/networks/oauth/instagram/callback"
SCOPES = ("instagram_basic,instagram_content_publish,instagram_manage_comments,"
          "instagram_manage_insights,pages_show_list,pages_read_engagement,"
          "business_management")


@pytest.fixture
def world(db):
    return reduce_world(make_world())


@pytest.fixture
def fake(fake_instagram):  # noqa: F811
    fake_instagram.page_size = 2  # the person's five Pages come in three pages of answers
    fake_instagram.bakery = fake_instagram.add_page("Boulangerie Martin", "boulangeriemartin",
                                                    ig_name="Boulangerie Martin 🥐")
    fake_instagram.plain = fake_instagram.add_page("Page sans Instagram")
    fake_instagram.viewer = fake_instagram.add_page("Un groupe", "ungroupe", tasks=["ANALYZE"])
    fake_instagram.shop = fake_instagram.add_page("Fleurs de Léa", "fleursdelea")
    fake_instagram.other = fake_instagram.add_page("Une autre page")
    fake_instagram.user = fake_instagram.add_user(
        fake_instagram.bakery, fake_instagram.plain, fake_instagram.viewer,
        fake_instagram.shop, fake_instagram.other)
    return fake_instagram


def accounts(agency_id) -> list[SocialAccount]:
    with tenant_scope(agency_id):
        db.session.expire_all()
        rows = list(db.session.scalars(select(SocialAccount).where(
            SocialAccount.network == "instagram").order_by(SocialAccount.display_name)))
        db.session.expunge_all()
        return rows


def text(response) -> str:
    return response.get_data(as_text=True)


def start(http, world) -> str:
    """The signed state the start link sends to Facebook's dialog."""
    answer = http.get(f"/clients/{world.client_id}/connect/instagram/start")
    assert answer.status_code == 302, text(answer)
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    # Facebook Login's dialog (/dialog/oauth) with the app id and the Instagram scopes.
    assert location.path == "/v21.0/dialog/oauth"
    assert query["client_id"] == ["1234567890"]
    assert query["redirect_uri"] == [CALLBACK] and query["response_type"] == ["code"]
    assert query["scope"] == [SCOPES]
    return query["state"][0]


def back_from_facebook(http, fake: FakeInstagram, state: str):
    code = fake.issue_code(fake.user, CALLBACK)
    return http.get("/networks/oauth/instagram/callback",
                    query_string={"code": code, "state": state})


def sealed_choices(page_html: str) -> str:
    return unescape(re.search(r'name="choices" value="([^"]+)"', page_html).group(1))


def add(http, world, sealed: str, *accounts_: str):
    return http.post(f"/clients/{world.client_id}/connect/instagram/add",
                     data={"choices": sealed, "pages": list(accounts_)})


def connect(http, world, fake, *accounts_: str):
    page = text(back_from_facebook(http, fake, start(http, world)))
    return add(http, world, sealed_choices(page), *accounts_)


# --- the page -----------------------------------------------------------------------------

def test_the_provider_is_registered_and_says_what_is_needed(client, world, fake):
    assert isinstance(provider_for("instagram"), InstagramProvider)
    login(client, world.member)
    page = text(client.get(f"/clients/{world.client_id}/connect"))
    assert "an Instagram professional account (business or creator) linked to a Facebook " \
           "Page you administer" in page
    assert f"/clients/{world.client_id}/connect/instagram/start" in page


# --- the whole flow -----------------------------------------------------------------------

def test_start_callback_choose_adds_the_instagram_accounts(client, world, fake):
    login(client, world.member)
    chooser = back_from_facebook(client, fake, start(client, world))
    assert chooser.status_code == 200, text(chooser)
    page = text(chooser)
    assert "Boulangerie Martin 🥐" in page and "@boulangeriemartin" in page
    assert "@fleursdelea" in page  # on the third page of /me/accounts
    assert "@ungroupe" not in page  # a role on the Page that cannot publish
    assert "Page sans Instagram" not in page
    assert fake.bakery.token not in page and fake.user not in page  # tokens stay sealed

    answer = add(client, world, sealed_choices(page), fake.bakery.instagram.id)
    assert answer.status_code == 303
    [account] = accounts(world.agency_id)
    assert (account.display_name, account.handle) == ("Boulangerie Martin 🥐",
                                                      "@boulangeriemartin")
    assert account.status == AccountStatus.CONNECTED
    assert {k: account.settings[k] for k in ("ig_user_id", "page_id", "username",
                                             "external_id")} == {
        "ig_user_id": fake.bakery.instagram.id, "page_id": fake.bakery.id,
        "username": "boulangeriemartin", "external_id": fake.bakery.instagram.id}
    assert fake.bakery.token not in account.credentials  # sealed at rest
    with tenant_scope(world.agency_id):
        assert unseal(account.credentials) == {"page_access_token": fake.bakery.token}

    # The code became a long-lived user token, then every page of /me/accounts was read
    # with the Instagram account's fields (paging.next followed by its cursor).
    grants = [r["args"].get("grant_type") for r in fake.requests
              if r["path"] == "/oauth/access_token"]
    assert grants == [None, ["fb_exchange_token"]]
    listings = [r["args"] for r in fake.requests if r["path"] == "/me/accounts"]
    assert len(listings) == 3
    assert all(a["fields"] == ["id,name,access_token,tasks,"
                               "instagram_business_account{id,username,name}"]
               for a in listings)
    assert "after" not in listings[0] and all("after" in a for a in listings[1:])


def test_reconnecting_updates_the_same_account(client, world, fake):
    login(client, world.member)
    connect(client, world, fake, fake.bakery.instagram.id)
    [before] = accounts(world.agency_id)
    with tenant_scope(world.agency_id):
        account = db.session.get(SocialAccount, before.id)
        account.status, account.status_reason = AccountStatus.EXPIRED, "Token revoked"
        db.session.commit()
    fake.bakery.token = "EAAPageNew"

    assert connect(client, world, fake, fake.bakery.instagram.id).status_code == 303
    [again] = accounts(world.agency_id)
    assert again.id == before.id and again.status == AccountStatus.CONNECTED
    with tenant_scope(world.agency_id):
        assert unseal(again.credentials) == {"page_access_token": "EAAPageNew"}


def test_page_tokens_need_no_refresh(app, client, world, fake):
    login(client, world.member)
    connect(client, world, fake, fake.bakery.instagram.id)
    [account] = accounts(world.agency_id)
    with tenant_scope(world.agency_id):
        assert "expires_at" not in unseal(account.credentials)
    with app.test_request_context():
        outcome = token_health.check_account(world.agency_id, account.id)
    assert outcome == token_health.Outcome.NO_EXPIRY
    assert [r for r in fake.requests if r["path"] == "/oauth/access_token"
            and r["args"].get("grant_type") == ["fb_exchange_token"]].__len__() == 1


# --- refusals -----------------------------------------------------------------------------

def test_an_unconfigured_facebook_app_is_refused_clearly(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "FACEBOOK_APP_ID", "")
    monkeypatch.setitem(app.config, "FACEBOOK_APP_SECRET", "")
    login(client, world.member)
    message = ("Instagram is not set up on this Relais: the administrator must set "
               "FACEBOOK_APP_ID and FACEBOOK_APP_SECRET")
    assert message in text(client.get(f"/clients/{world.client_id}/connect"))
    answer = client.get(f"/clients/{world.client_id}/connect/instagram/start")
    assert answer.status_code == 409 and message in text(answer)


def test_a_code_facebook_refuses_is_a_clear_400(client, world, fake):
    login(client, world.member)
    state = start(client, world)
    answer = client.get("/networks/oauth/instagram/callback",
                        query_string={"code": "used-already", "state": state})
    assert answer.status_code == 400
    assert "did not accept this sign-in" in text(answer)


def test_a_listing_facebook_refuses_is_explained(client, world, fake):
    login(client, world.member)
    state = start(client, world)
    fake.fail_next(400, code=200, path="/me/accounts",
                   message="(#200) Requires pages_show_list permission")
    answer = back_from_facebook(client, fake, state)
    assert answer.status_code == 400
    assert "allow access to them" in text(answer)


def test_facebook_down_while_listing_is_a_502(client, world, fake):
    login(client, world.member)
    state = start(client, world)
    fake.fail_next(500, code=2, path="/me/accounts", skip=1, transient=True)
    answer = back_from_facebook(client, fake, state)
    assert answer.status_code == 502
    assert accounts(world.agency_id) == []


def test_a_person_without_instagram_accounts_is_told_what_is_needed(client, world, fake):
    fake.user = fake.add_user(fake.plain, fake.other)
    login(client, world.member)
    page = text(back_from_facebook(client, fake, start(client, world)))
    assert "shows no page you can publish on" in page
    assert "an Instagram professional account" in page


def test_someone_elses_sign_in_is_403(client, world, fake):
    login(client, world.member)
    state = start(client, world)
    login(client, world.owner)
    assert back_from_facebook(client, fake, state).status_code == 403
    assert accounts(world.agency_id) == []
