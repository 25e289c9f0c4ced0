"""Connecting an X account through the pages, against the fake X API: start → (X's
consent page, simulated by a code the fake knows) → callback → choose → the account,
with its tokens sealed; then a post through the engine to the fake, and a lost answer
reconciled without a second post."""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from agency.networks.credentials import unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope
from tests.clients.helpers import reduce_world
from tests.factories import login, make_world
from tests.fakes.x import CLIENT_ID, CLIENT_SECRET, FakeX, fake_x  # noqa: F401 (fixture)
from tests.networks.test_x_support import posts, x_post
from tests.publishing.conftest import run_due

CALLBACK = "http://relais.test/networks/oauth/x/callback"
SCOPES = "tweet.read tweet.write users.read media.write offline.access"


@pytest.fixture
def world(db):
    return reduce_world(make_world())


@pytest.fixture
def fake(fake_x):  # noqa: F811
    fake_x.user = fake_x.add_user("Boulangerie Martin", "boulangeriemartin")
    return fake_x


def text(response) -> str:
    return response.get_data(as_text=True)


def accounts(db, agency_id) -> list[SocialAccount]:
    with tenant_scope(agency_id):
        db.session.expire_all()
        rows = list(db.session.scalars(select(SocialAccount).where(
            SocialAccount.network == "x")))
        db.session.expunge_all()
        return rows


def start(http, world, fake: FakeX) -> dict:
    """The query the start link sends to X's consent page."""
    answer = http.get(f"/clients/{world.client_id}/connect/x/start")
    assert answer.status_code == 302, text(answer)
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == \
        fake.url + "/i/oauth2/authorize"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def back_from_x(http, fake: FakeX, query: dict, code: str | None = None):
    code = code or fake.issue_code(fake.user, CALLBACK, query["code_challenge"])
    return http.get("/networks/oauth/x/callback",
                    query_string={"code": code, "state": query["state"]})


def sealed_choices(page_html: str) -> str:
    return unescape(re.search(r'name="choices" value="([^"]+)"', page_html).group(1))


def connect(http, world, fake: FakeX) -> None:
    page = text(back_from_x(http, fake, start(http, world, fake)))
    answer = http.post(f"/clients/{world.client_id}/connect/x/add",
                       data={"choices": sealed_choices(page), "pages": [fake.user.id]})
    assert answer.status_code == 303, text(answer)


def test_the_connect_page_offers_x_and_says_what_is_needed(client, world, fake):
    login(client, world.member)
    page = text(client.get(f"/clients/{world.client_id}/connect"))
    assert "an X account you can sign in to" in page
    assert f"/clients/{world.client_id}/connect/x/start" in page


def test_the_start_link_asks_x_for_a_pkce_authorization_code(client, world, fake):
    login(client, world.member)
    query = start(client, world, fake)
    # Documented form (oauth-2-0/user-access-token, step 1).
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK and query["scope"] == SCOPES
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"]


def test_start_callback_choose_adds_the_account_with_sealed_tokens(client, db, world, fake):
    login(client, world.member)
    query = start(client, world, fake)
    chooser = back_from_x(client, fake, query)
    assert chooser.status_code == 200, text(chooser)
    page = text(chooser)
    assert "Boulangerie Martin" in page and "@boulangeriemartin" in page
    [exchange] = [r for r in fake.requests if r["path"] == "/2/oauth2/token"]
    # Documented form (step 3): Basic id:secret, form-encoded, the PKCE verifier.
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert exchange["headers"]["authorization"] == f"Basic {basic}"
    assert exchange["form"]["grant_type"] == "authorization_code"
    assert exchange["form"]["redirect_uri"] == CALLBACK
    assert len(exchange["form"]["code_verifier"]) >= 43
    [token] = list(fake.access)
    assert token not in page  # tokens travel sealed

    answer = client.post(f"/clients/{world.client_id}/connect/x/add",
                         data={"choices": sealed_choices(page), "pages": [fake.user.id]})
    assert answer.status_code == 303
    [account] = accounts(db, world.agency_id)
    assert (account.display_name, account.handle) == ("Boulangerie Martin",
                                                      "@boulangeriemartin")
    assert account.status == AccountStatus.CONNECTED
    assert account.settings["user_id"] == fake.user.id
    assert account.settings["username"] == "boulangeriemartin"
    assert token not in account.credentials
    with tenant_scope(world.agency_id):
        credentials = unseal(account.credentials)
    assert credentials["access_token"] == token and credentials["refreshable"] is True
    assert credentials["refresh_token"] in fake.refresh
    assert abs(credentials["expires_at"] - (time.time() + 7200)) < 60


def test_a_code_x_refuses_is_a_clear_400(client, world, fake):
    login(client, world.member)
    answer = back_from_x(client, fake, start(client, world, fake), code="used-already")
    assert answer.status_code == 400 and "did not accept this sign-in" in text(answer)


def test_a_code_for_another_challenge_is_refused(client, world, fake):
    login(client, world.member)
    query = start(client, world, fake)
    code = fake.issue_code(fake.user, CALLBACK, "A" * 43)  # not this sign-in's verifier
    assert back_from_x(client, fake, query, code).status_code == 400


def test_wrong_app_credentials_are_said_plainly(client, world, fake, app):
    login(client, world.member)
    query = start(client, world, fake)
    app.config["X_CLIENT_SECRET"] = "wrong"
    answer = back_from_x(client, fake, query)
    assert answer.status_code == 502
    assert "X_CLIENT_ID and X_CLIENT_SECRET" in text(answer)


def test_a_cancelled_sign_in_goes_back_to_the_connect_page(client, world, fake):
    login(client, world.member)
    query = start(client, world, fake)
    answer = client.get("/networks/oauth/x/callback",
                        query_string={"error": "access_denied", "state": query["state"]})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/clients/{world.client_id}/connect")


def test_an_unconfigured_x_is_refused_clearly(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "X_CLIENT_ID", "")
    monkeypatch.setitem(app.config, "X_CLIENT_SECRET", "")
    login(client, world.member)
    message = ("X is not set up on this Relais: the administrator must set X_CLIENT_ID and "
               "X_CLIENT_SECRET")
    assert message in text(client.get(f"/clients/{world.client_id}/connect"))
    answer = client.get(f"/clients/{world.client_id}/connect/x/start")
    assert answer.status_code == 409 and message in text(answer)


def test_connect_then_publish_and_reconcile_a_lost_answer(client, db, world, fake, app):
    login(client, world.member)
    connect(client, world, fake)
    [account] = accounts(db, world.agency_id)

    first = x_post(app, db, world, account.id, text="Croissants tout chauds")
    assert run_due(app) == [("publish", "published")]
    fake.hang_seconds = 1.5
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5
    second = x_post(app, db, world, account.id, text="Pain au levain ce soir")
    fake.hang_next()
    assert run_due(app) == [("publish", "unknown")]
    assert run_due(app, datetime.now(UTC) + timedelta(seconds=60)) == [
        ("reconcile", "published")]

    assert fake.texts(fake.user) == ["Croissants tout chauds", "Pain au levain ce soir"]
    assert len(posts(fake)) == 2  # the lost answer was found, not sent again
    with tenant_scope(world.agency_id):
        done = {p.post_id: p for p in db.session.scalars(select(Publication))}
    assert {done[first].state, done[second].state} == {PublicationState.PUBLISHED}
    assert done[second].external_id == fake.tweets[1]["id"]
    assert done[second].external_url == \
        f"https://x.com/boulangeriemartin/status/{fake.tweets[1]['id']}"
