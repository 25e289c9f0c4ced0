"""The OAuth framework's own promises: the signed state (bound to agency, client, person
and network; 15 minutes; tamper-proof), PKCE, the sealed choices, and the refusal of a
network whose app credentials are missing."""

from __future__ import annotations

import base64
import hashlib
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from agency.networks import oauth
from agency.networks.facebook_oauth import FacebookProvider
from agency.networks.oauth import Choice, OAuthError
from tests.clients.helpers import reduce_world
from tests.factories import login, make_world
from tests.fakes.facebook import fake_facebook  # noqa: F401 (fixture)

CALLBACK = "http://relais.test/networks/oauth/facebook/callback"
AGENCY, CLIENT, USER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield app


def state_for(provider=None, **binding):
    values = {"agency_id": AGENCY, "client_id": CLIENT, "user_id": USER} | binding
    return oauth.make_state(provider or FacebookProvider(), **values)


def read(token, network="facebook", agency_id=AGENCY, user_id=USER):
    return oauth.read_state(token, network, agency_id=agency_id, user_id=user_id)


# --- state --------------------------------------------------------------------------------

def test_a_state_round_trips_with_its_binding(ctx):
    token, challenge = state_for()
    assert challenge is None  # Facebook: no PKCE
    payload = read(token)
    assert payload["client"] == CLIENT and payload["verifier"] is None
    assert (payload["agency"], payload["user"], payload["network"]) == (
        str(AGENCY), str(USER), "facebook")


def test_a_tampered_state_is_a_400(ctx):
    token, _ = state_for()
    for bad in (token[:-3] + "abc", "", "not-a-state"):
        with pytest.raises(OAuthError) as caught:
            read(bad)
        assert caught.value.status == 400


def test_an_expired_state_is_a_400_that_says_so(ctx, monkeypatch):
    token, _ = state_for()
    monkeypatch.setattr(oauth, "STATE_MAX_AGE", -1)
    with pytest.raises(OAuthError) as caught:
        read(token)
    assert caught.value.status == 400 and "too long" in caught.value.message


def test_the_state_lasts_fifteen_minutes():
    assert oauth.STATE_MAX_AGE == 15 * 60


def test_someone_elses_or_another_agencys_state_is_a_403(ctx):
    token, _ = state_for()
    for agency_id, user_id in ((AGENCY, uuid.uuid4()), (uuid.uuid4(), USER)):
        with pytest.raises(OAuthError) as caught:
            read(token, agency_id=agency_id, user_id=user_id)
        assert caught.value.status == 403


def test_a_state_for_another_network_is_refused(ctx):
    token, _ = state_for()
    with pytest.raises(OAuthError) as caught:
        read(token, network="google_business")
    assert caught.value.status == 400


def test_a_state_signed_for_another_purpose_is_refused(ctx):
    from agency.auth.links import make_link_token

    forged = make_link_token("mastodon-oauth-state", {
        "network": "facebook", "agency": str(AGENCY), "client": str(CLIENT),
        "user": str(USER)})
    with pytest.raises(OAuthError):
        read(forged)


# --- PKCE ---------------------------------------------------------------------------------

class PkceProvider(FacebookProvider):
    uses_pkce = True


def test_pkce_seals_the_verifier_in_the_state(ctx):
    token, challenge = state_for(PkceProvider())
    verifier = read(token)["verifier"]
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge == expected.rstrip(b"=").decode()
    assert verifier not in token  # sealed, not merely signed


def test_the_challenge_is_unpadded_base64url_of_sha256():
    challenge = oauth.code_challenge("a" * 43)
    assert len(challenge) == 43 and "=" not in challenge
    assert not set(challenge) & set("+/")


def test_a_pkce_flow_end_to_end(client, db, monkeypatch, fake_facebook):  # noqa: F811
    monkeypatch.setattr(FacebookProvider, "uses_pkce", True)
    world = reduce_world(make_world())
    page = fake_facebook.add_page("Boulangerie Martin")
    user = fake_facebook.add_user(page)
    login(client, world.member)
    answer = client.get(f"/clients/{world.client_id}/connect/facebook/start")
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    code = fake_facebook.issue_code(user, CALLBACK, query["code_challenge"][0])
    back = client.get("/networks/oauth/facebook/callback",
                      query_string={"code": code, "state": query["state"][0]})
    assert back.status_code == 200 and "Boulangerie Martin" in back.get_data(as_text=True)
    [exchange] = [r for r in fake_facebook.requests if r["path"] == "/oauth/access_token"
                  and "code" in r["args"]]
    assert exchange["args"]["code_verifier"]

    # A code bound to another challenge (an intercepted code) does not exchange.
    code = fake_facebook.issue_code(user, CALLBACK, oauth.code_challenge("x" * 50))
    back = client.get("/networks/oauth/facebook/callback",
                      query_string={"code": code, "state": query["state"][0]})
    assert back.status_code == 400


# --- choices ------------------------------------------------------------------------------

def test_choices_are_sealed_and_bound(ctx):
    choice = Choice("42", "Boulangerie", "@boul", {"page_access_token": "EAAsecret"},
                    {"page_id": "42"})
    binding = {"agency_id": AGENCY, "client_id": CLIENT, "user_id": USER}
    token = oauth.seal_choices([choice], network="facebook", **binding)
    assert "EAAsecret" not in token
    assert oauth.read_choices(token, network="facebook", **binding) == [choice]
    with pytest.raises(OAuthError):
        oauth.read_choices(token, network="facebook", **(binding | {"client_id": uuid.uuid4()}))
    with pytest.raises(OAuthError) as caught:
        oauth.read_choices(token, network="facebook", **(binding | {"user_id": uuid.uuid4()}))
    assert caught.value.status == 403


# --- configuration ------------------------------------------------------------------------

def test_facebook_needs_both_app_credentials(ctx, monkeypatch):
    provider = FacebookProvider()
    monkeypatch.setitem(ctx.config, "FACEBOOK_APP_ID", "123")
    monkeypatch.setitem(ctx.config, "FACEBOOK_APP_SECRET", "")
    assert not provider.configured()
    assert provider.missing_message() == (
        "Facebook is not set up on this Relais: the administrator must set FACEBOOK_APP_ID "
        "and FACEBOOK_APP_SECRET.")
    monkeypatch.setitem(ctx.config, "FACEBOOK_APP_SECRET", "s")
    assert provider.configured()


def test_the_defaults_point_at_graph_v21(app):
    assert app.config["FACEBOOK_GRAPH_URL"] == "https://graph.facebook.com/v21.0"
    assert app.config["FACEBOOK_DIALOG_URL"] == "https://www.facebook.com/v21.0/dialog/oauth"


def test_the_dialog_url_carries_the_app_and_scopes(ctx, monkeypatch):
    monkeypatch.setitem(ctx.config, "FACEBOOK_APP_ID", "123")
    url = FacebookProvider().authorize_url(CALLBACK, "st", None)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert url.startswith("https://www.facebook.com/v21.0/dialog/oauth?")
    assert query["client_id"] == ["123"] and query["state"] == ["st"]
    assert query["redirect_uri"] == [CALLBACK] and "code_challenge" not in query
