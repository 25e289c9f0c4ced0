"""The Google Business Profile adapter's failures against the fake Google: access tokens
renewed on the way (and when that is refused), every mapping of Google's error model
(cloud.google.com/apis/design/errors) to the engine's outcomes, quotas and their delays,
and ``refresh`` for token health (OAuth 2.0 for web server applications,
developers.google.com/identity/protocols/oauth2/web-server)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from agency.networks.base import (
    AuthExpiredError,
    OutcomeUnknown,
    PermanentError,
    Published,
    RetryableError,
)
from agency.networks.google_business import GoogleBusinessNetwork
from tests.fakes.google_business import (
    CLIENT_ID,
    CLIENT_SECRET,
    fake_google,  # noqa: F401 (fixture)
)
from tests.networks.test_google_business_adapter import (  # the same helpers
    created,
    credentials,
    outgoing,
    token_calls,
)


@pytest.fixture
def fake(app, fake_google):  # noqa: F811
    fake_google.hang_seconds = 1.5
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5  # restored by the fixture's monkeypatch
    fake_google.location = fake_google.add_location("Boulangerie Martin", locality="Lyon")
    fake_google.account = fake_google.add_account("Martin SARL", fake_google.location)
    fake_google.user = fake_google.add_user(fake_google.account)
    with app.app_context():
        yield fake_google

# --- tokens on the way --------------------------------------------------------------------

def test_an_expired_access_token_is_renewed_once_and_the_post_goes_out(fake):
    sent = outgoing(fake)
    fake.expire_access_tokens()  # Google answers 401 UNAUTHENTICATED to the old one
    adapter = GoogleBusinessNetwork()
    published = adapter.publish(sent)
    assert published.external_id == fake.posts[0]["name"]
    [refresh] = token_calls(fake)
    assert refresh["form"] == {"grant_type": ["refresh_token"],
                               "refresh_token": [sent.credentials["refresh_token"]],
                               "client_id": [CLIENT_ID], "client_secret": [CLIENT_SECRET]}
    renewed = adapter.credentials_after_use()
    assert renewed["access_token"] != sent.credentials["access_token"]
    assert renewed["refresh_token"] == sent.credentials["refresh_token"]  # not rotated
    assert renewed["refreshable"] is True and renewed["expires_at"] > time.time() + 3500
    posts = created(fake)
    assert [p["headers"]["Authorization"] for p in posts] == [
        f"Bearer {sent.credentials['access_token']}", f"Bearer {renewed['access_token']}"]
    assert len(fake.posts) == 1


def test_a_token_known_to_be_at_its_end_is_renewed_before_the_call(fake):
    sent = outgoing(fake, creds=credentials(fake, expires_at=int(time.time()) + 10))
    adapter = GoogleBusinessNetwork()
    adapter.publish(sent)
    assert fake.requests[0]["path"] == "/token"
    assert len(created(fake)) == 1  # no wasted 401
    assert adapter.credentials_after_use() is not None


def test_nothing_renewed_means_nothing_to_store(fake):
    adapter = GoogleBusinessNetwork()
    adapter.publish(outgoing(fake))
    assert adapter.credentials_after_use() is None and token_calls(fake) == []


def test_a_revoked_grant_means_reconnect(fake):
    sent = outgoing(fake)
    fake.revoke(fake.user)
    with pytest.raises(AuthExpiredError) as caught:
        GoogleBusinessNetwork().publish(sent)
    assert "Reconnect" in caught.value.reason
    assert sent.credentials["access_token"] not in caught.value.reason + caught.value.detail
    assert fake.posts == []


def test_a_401_without_a_refresh_token_means_reconnect(fake):
    sent = outgoing(fake, creds=credentials(fake, refresh_token="", refreshable=False))
    fake.expire_access_tokens()
    with pytest.raises(AuthExpiredError):
        GoogleBusinessNetwork().publish(sent)
    assert token_calls(fake) == []


def test_a_second_401_after_renewing_means_reconnect(fake):
    fake.fail_next(401, "UNAUTHENTICATED", message="Request had invalid authentication "
                   "credentials.", count=2)
    with pytest.raises(AuthExpiredError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake))
    assert "invalid authentication credentials" in caught.value.reason
    assert len(token_calls(fake)) == 1 and fake.posts == []


# --- outcome classes ----------------------------------------------------------------------

def test_lost_access_to_the_location_means_reconnect(fake):
    fake.fail_next(403, "PERMISSION_DENIED", message="The caller does not have permission")
    with pytest.raises(AuthExpiredError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake))
    assert "lost access" in caught.value.reason
    assert "The caller does not have permission" in caught.value.reason


def test_a_location_of_someone_else_is_refused_by_the_fake_as_google_does(fake):
    other = fake.add_account("Autre", fake.location)
    fake.user_accounts[fake.user] = []  # the person no longer manages it
    with pytest.raises(AuthExpiredError):
        GoogleBusinessNetwork().publish(outgoing(fake))
    assert other.name  # the location still exists, under another account


def test_a_location_gone_means_reconnect(fake):
    fake.fail_next(404, "NOT_FOUND", message="Requested entity was not found.")
    with pytest.raises(AuthExpiredError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake))
    assert "no longer finds this location" in caught.value.reason


def test_an_api_not_enabled_is_for_the_administrator(fake):
    fake.fail_next(403, "PERMISSION_DENIED", message="My Business API has not been used in "
                   "project 1234 before or it is disabled.", details=[{
                       "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                       "reason": "SERVICE_DISABLED", "domain": "googleapis.com"}])
    with pytest.raises(PermanentError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake))
    assert "administrator" in caught.value.reason


def test_a_quota_refusal_waits_the_default_minute(fake):
    fake.p_429 = 1.0  # RESOURCE_EXHAUSTED, no Retry-After, as Google usually answers
    adapter = GoogleBusinessNetwork()
    with pytest.raises(RetryableError) as caught:
        adapter.publish(outgoing(fake))
    assert caught.value.retry_after == 60
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(seconds=50)


def test_a_quota_refusal_honours_retry_after(fake):
    fake.fail_next(429, "RESOURCE_EXHAUSTED", headers={"Retry-After": "120"})
    adapter = GoogleBusinessNetwork()
    with pytest.raises(RetryableError) as caught:
        adapter.publish(outgoing(fake))
    assert caught.value.retry_after == 120
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(seconds=110)


def test_a_quota_refusal_honours_google_retry_info(fake):
    fake.fail_next(429, "RESOURCE_EXHAUSTED", details=[{
        "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}])
    with pytest.raises(RetryableError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake))
    assert caught.value.retry_after == 30


@pytest.mark.parametrize(("status", "kind"), [(500, "INTERNAL"), (503, "UNAVAILABLE"),
                                              (502, ""), (409, "ABORTED")])
def test_server_trouble_is_retryable(fake, status, kind):
    fake.fail_next(status, kind)
    with pytest.raises(RetryableError):
        GoogleBusinessNetwork().publish(outgoing(fake))


def test_a_deadline_exceeded_while_posting_is_an_unknown_outcome(fake):
    fake.fail_next(504, "DEADLINE_EXCEEDED")
    with pytest.raises(OutcomeUnknown):
        GoogleBusinessNetwork().publish(outgoing(fake))


def test_an_invalid_argument_is_permanent_with_googles_words(fake):
    fake.fail_next(400, "INVALID_ARGUMENT", message="Request contains an invalid argument.",
                   details=[{"@type": "type.googleapis.com/google.rpc.BadRequest",
                             "fieldViolations": [{"field": "local_post.summary",
                                                  "description": "Phone numbers are not "
                                                  "allowed"}]}])
    with pytest.raises(PermanentError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake))
    assert "Request contains an invalid argument." in caught.value.reason
    assert "local_post.summary: Phone numbers are not allowed" in caught.value.reason


def test_a_timeout_after_sending_is_an_unknown_outcome_that_find_settles(fake):
    fake.hang_next()
    adapter = GoogleBusinessNetwork()
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    with pytest.raises(OutcomeUnknown):
        adapter.publish(sent)
    [post] = fake.posts  # stored, its answer lost
    found = adapter.find(sent)
    assert found == Published(post["name"], post["searchUrl"])


def test_an_unreachable_google_is_retryable(fake, app, monkeypatch):
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    monkeypatch.setitem(app.config, "GOOGLE_LOCAL_POSTS_URL", f"http://127.0.0.1:{port}/v4")
    with pytest.raises(RetryableError):
        GoogleBusinessNetwork().publish(outgoing(fake))


# --- refresh (token_health) ---------------------------------------------------------------

def test_refresh_returns_the_complete_new_credentials(fake):
    old = credentials(fake, expires_at=int(time.time()) + 100, label="kept")
    new = GoogleBusinessNetwork().refresh(old)
    assert set(new) == {"access_token", "refresh_token", "expires_at", "refreshable", "label"}
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] == old["refresh_token"] and new["refreshable"] is True
    assert time.time() + 3500 < new["expires_at"] <= time.time() + 3600
    [call] = token_calls(fake)
    assert call["form"]["grant_type"] == ["refresh_token"]
    assert call["content_type"].startswith("application/x-www-form-urlencoded")


def test_refresh_keeps_a_new_refresh_token_if_google_sends_one(fake):
    fake.rotate_refresh_tokens = True
    old = credentials(fake)
    new = GoogleBusinessNetwork().refresh(old)
    assert new["refresh_token"] and new["refresh_token"] != old["refresh_token"]


def test_a_refused_refresh_means_reconnect(fake):
    old = credentials(fake)
    fake.revoke(fake.user)
    with pytest.raises(AuthExpiredError) as caught:
        GoogleBusinessNetwork().refresh(old)
    assert old["refresh_token"] not in caught.value.reason + caught.value.detail


def test_wrong_app_credentials_are_not_the_accounts_fault(fake):
    fake.token_failure = "invalid_client"
    with pytest.raises(RetryableError) as caught:
        GoogleBusinessNetwork().refresh(credentials(fake))
    assert "GOOGLE_CLIENT_SECRET" in caught.value.reason


def test_refresh_without_a_refresh_token_has_nothing_to_do(fake):
    assert GoogleBusinessNetwork().refresh({"access_token": "x", "expires_at": 1}) is None
    assert fake.requests == []
