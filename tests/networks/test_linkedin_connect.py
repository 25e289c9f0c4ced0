"""Connecting LinkedIn through the pages, against the fake LinkedIn: start → (the
authorization page, simulated by a code the fake knows) → callback → choose → accounts with
sealed credentials; then publishing through the engine to the fake, and a lost answer
reconciled without a second post."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from agency.clients.models import Client
from agency.content.services import create_post, submit_post
from agency.extensions import db
from agency.networks.credentials import unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope
from tests.clients.helpers import reduce_world
from tests.factories import login, make_world
from tests.fakes.linkedin import ALL_SCOPES, FakeLinkedIn, fake_linkedin  # noqa: F401
from tests.fakes.linkedin_oauth import DAY
from tests.publishing.conftest import just_due, run_due

CALLBACK = "http://relais.test/networks/oauth/linkedin/callback"
P = PublicationState


@pytest.fixture
def world(db):
    return reduce_world(make_world())


@pytest.fixture
def fake(fake_linkedin):  # noqa: F811
    fake = fake_linkedin
    fake.member = fake.add_member("Léa Martin")
    fake.bakery = fake.add_organization("Boulangerie Martin", "boulangerie-martin",
                                        {fake.member: "ADMINISTRATOR"})
    fake.shop = fake.add_organization("Fleurs de Léa", "fleurs-de-lea",
                                      {fake.member: "CONTENT_ADMINISTRATOR"})
    fake.watched = fake.add_organization("Garage Dupont", "garage-dupont",
                                         {fake.member: "ANALYST"})
    return fake


def accounts(agency_id) -> list[SocialAccount]:
    with tenant_scope(agency_id):
        db.session.expire_all()
        rows = list(db.session.scalars(select(SocialAccount).where(
            SocialAccount.network == "linkedin").order_by(SocialAccount.display_name)))
        db.session.expunge_all()
        return rows


def text(response) -> str:
    return response.get_data(as_text=True)


def start(http, world) -> str:
    """The signed state the start link sends to LinkedIn's authorization page."""
    answer = http.get(f"/clients/{world.client_id}/connect/linkedin/start")
    assert answer.status_code == 302, text(answer)
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    # Authorization Code Flow, step 2: GET {LINKEDIN_OAUTH_URL}/authorization.
    assert location.path == "/oauth/v2/authorization"
    assert query["response_type"] == ["code"] and query["redirect_uri"] == [CALLBACK]
    assert query["client_id"] == ["78fakeclientid"]
    assert query["scope"] == ["openid profile w_member_social w_organization_social "
                              "r_organization_social rw_organization_admin"]
    assert "scope=openid%20profile%20" in location.query  # space-delimited, %20-encoded
    assert "code_challenge" not in query  # a confidential client: no PKCE
    return query["state"][0]


def back_from_linkedin(http, fake, state: str, scopes=ALL_SCOPES):
    code = fake.issue_code(fake.member, CALLBACK, scopes)
    return http.get("/networks/oauth/linkedin/callback",
                    query_string={"code": code, "state": state})


def sealed_choices(page_html: str) -> str:
    return unescape(re.search(r'name="choices" value="([^"]+)"', page_html).group(1))


def add(http, world, sealed: str, *choices: str):
    return http.post(f"/clients/{world.client_id}/connect/linkedin/add",
                     data={"choices": sealed, "pages": list(choices)})


def connect(http, world, fake, *choices: str) -> None:
    page = text(back_from_linkedin(http, fake, start(http, world)))
    assert add(http, world, sealed_choices(page), *choices).status_code == 303


# --- the flow -----------------------------------------------------------------------------

def test_the_connect_page_says_what_is_needed(client, world, fake):
    login(client, world.member)
    page = text(client.get(f"/clients/{world.client_id}/connect"))
    assert "Super admin or Content admin role" in page
    assert f"/clients/{world.client_id}/connect/linkedin/start" in page


def test_start_callback_choose_adds_the_member_and_pages(client, world, fake):
    login(client, world.member)
    chooser = back_from_linkedin(client, fake, start(client, world))
    assert chooser.status_code == 200, text(chooser)
    page = text(chooser)
    assert "Léa Martin" in page and "Boulangerie Martin" in page and "Fleurs de Léa" in page
    assert "Garage Dupont" not in page  # an analyst cannot post
    assert fake.member.token not in page and "AQV" not in page  # tokens stay sealed

    person = f"urn:li:person:{fake.member.sub}"
    answer = add(client, world, sealed_choices(page), fake.bakery.urn, person)
    assert answer.status_code == 303
    bakery, lea = accounts(world.agency_id)
    assert (bakery.display_name, bakery.handle) == ("Boulangerie Martin", "boulangerie-martin")
    assert bakery.settings["author_urn"] == fake.bakery.urn
    assert bakery.settings["kind"] == "organization"
    assert bakery.settings["vanity_name"] == "boulangerie-martin"
    assert (lea.display_name, lea.settings["author_urn"], lea.settings["kind"]) == (
        "Léa Martin", person, "member")
    assert bakery.status == lea.status == AccountStatus.CONNECTED
    with tenant_scope(world.agency_id):
        stored = unseal(bakery.credentials)
    assert stored["access_token"] in fake.tokens and stored["access_token"] not in \
        bakery.credentials
    assert stored["refresh_token"] in fake.refreshes and stored["refreshable"] is True
    assert abs(stored["expires_at"] - (time.time() + 60 * DAY)) < 60

    # What LinkedIn was asked: the exchange, the member, their roles, the Pages' names.
    [exchange] = [r for r in fake.requests if r["path"] == "/oauth/v2/accessToken"]
    assert exchange["form"]["grant_type"] == "authorization_code"
    assert exchange["form"]["redirect_uri"] == CALLBACK
    assert exchange["form"]["client_secret"] == fake.client_secret
    acls = [r for r in fake.requests if r["path"] == "/rest/organizationAcls"]
    assert acls[0]["query"] == "q=roleAssignee&state=APPROVED&start=0&count=100"
    assert acls[0]["headers"]["x-restli-method"] == "FINDER"
    assert {r["path"] for r in fake.requests if r["path"].startswith("/rest/organizations/")} \
        == {f"/rest/organizations/{fake.bakery.id}", f"/rest/organizations/{fake.shop.id}"}


def test_without_page_permissions_only_the_member_is_offered(client, world, fake):
    login(client, world.member)
    page = text(back_from_linkedin(client, fake, start(client, world),
                                   scopes=("openid", "profile", "w_member_social")))
    assert "Léa Martin" in page and "Boulangerie Martin" not in page


def test_reconnecting_updates_the_same_account(client, world, fake):
    login(client, world.member)
    connect(client, world, fake, fake.bakery.urn)
    [before] = accounts(world.agency_id)
    with tenant_scope(world.agency_id):
        account = db.session.get(SocialAccount, before.id)
        account.status, account.status_reason = AccountStatus.EXPIRED, "Token revoked"
        db.session.commit()
    connect(client, world, fake, fake.bakery.urn)
    [again] = accounts(world.agency_id)
    assert again.id == before.id and again.status == AccountStatus.CONNECTED
    assert again.credentials != before.credentials


# --- refusals -----------------------------------------------------------------------------

def test_an_unconfigured_linkedin_is_refused_clearly(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "LINKEDIN_CLIENT_ID", "")
    monkeypatch.setitem(app.config, "LINKEDIN_CLIENT_SECRET", "")
    login(client, world.member)
    message = ("LinkedIn is not set up on this Relais: the administrator must set "
               "LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET")
    page = text(client.get(f"/clients/{world.client_id}/connect"))
    assert message in page and "/connect/linkedin/start" not in page
    answer = client.get(f"/clients/{world.client_id}/connect/linkedin/start")
    assert answer.status_code == 409 and message in text(answer)


def test_a_code_linkedin_refuses_is_a_clear_400(client, world, fake):
    login(client, world.member)
    answer = client.get("/networks/oauth/linkedin/callback",
                        query_string={"code": "used-already", "state": start(client, world)})
    assert answer.status_code == 400
    assert "did not accept this sign-in" in text(answer)


def test_a_cancelled_sign_in_goes_back_to_the_connect_page(client, world, fake):
    login(client, world.member)
    answer = client.get("/networks/oauth/linkedin/callback", query_string={
        "error": "user_cancelled_authorize", "error_description": "The user cancelled",
        "state": start(client, world)})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/clients/{world.client_id}/connect")
    assert accounts(world.agency_id) == []


def test_an_unreachable_token_endpoint_is_a_502(client, world, fake, app, monkeypatch):
    login(client, world.member)
    state = start(client, world)
    monkeypatch.setitem(app.config, "LINKEDIN_OAUTH_URL", "http://127.0.0.1:9/oauth/v2")
    answer = back_from_linkedin(client, fake, state)
    assert answer.status_code == 502 and "Could not reach LinkedIn" in text(answer)


# --- then publishing through the engine ---------------------------------------------------

def approve_on(app, world, account_id, words: str):
    due = just_due()
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = db.session.scalars(select(Client).where(Client.id == world.client_id)).one()
        client.approval_policy = "none"
        post = create_post(client, {"text": words, "target_ids": [account_id],
                                    "scheduled_at": due},
                           world.owner.user_id, now=due - timedelta(days=1))
        submit_post(post, client)
        db.session.flush()
        return post.id


def publications(world, post_id) -> list[Publication]:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return list(db.session.scalars(select(Publication).where(
            Publication.post_id == post_id)))


def test_connected_then_published_through_the_engine(client, world, fake, app):
    login(client, world.member)
    connect(client, world, fake, fake.bakery.urn)
    [account] = accounts(world.agency_id)
    words = "Nos croissants (au beurre) sortent du four #PainChaud"
    post_id = approve_on(app, world, account.id, words)

    assert run_due(app) == [("publish", "published")]

    [post] = fake.posts
    assert post["author"] == fake.bakery.urn and post["shown"] == words
    [publication] = publications(world, post_id)
    assert publication.state == P.PUBLISHED and publication.external_id == post["id"]
    assert publication.external_url == f"https://www.linkedin.com/feed/update/{post['id']}"


def test_a_lost_answer_is_reconciled_without_a_second_post(client, world, fake, app,
                                                            monkeypatch):
    login(client, world.member)
    connect(client, world, fake, fake.bakery.urn)
    [account] = accounts(world.agency_id)
    words = "Fermeture exceptionnelle lundi (inventaire)"
    post_id = approve_on(app, world, account.id, words)
    monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 0.5)
    fake.hang_seconds = 1.5
    fake.hang_next(path="/rest/posts")  # stored, its answer held back past the timeout

    assert run_due(app) == [("publish", "unknown")]
    [publication] = publications(world, post_id)
    assert publication.state == P.UNKNOWN and fake.posts_showing(words) == 1

    later = datetime.now(UTC) + timedelta(seconds=app.config[
        "PUBLISH_RECONCILE_DELAY_SECONDS"] + 5)
    assert run_due(app, later) == [("reconcile", "published")]
    [publication] = publications(world, post_id)
    assert publication.state == P.PUBLISHED
    assert publication.external_id == fake.posts[0]["id"]
    assert fake.posts_showing(words) == 1  # found, never sent twice
    assert len([r for r in fake.requests if r["method"] == "POST"
                and r["path"] == "/rest/posts"]) == 1
