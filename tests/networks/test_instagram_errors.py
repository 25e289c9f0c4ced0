"""How the Instagram adapter classes what goes wrong, against the fake Graph API: the
error codes of the Instagram Platform reference (Error Codes; Graph API → Handling
Errors), the rate-limit headers (Graph API → Rate Limiting, Business Use Case), the
content publishing limit, and lost answers."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from agency.networks.base import (
    AuthExpiredError,
    OutcomeUnknown,
    PermanentError,
    RetryableError,
)
from agency.networks.instagram import InstagramNetwork
from tests.fakes.instagram import fake_instagram  # noqa: F401 (fixture)

from .test_instagram_support import instagram, outgoing  # noqa: F401 (fixture)


@pytest.fixture
def fake(instagram):  # noqa: F811
    return instagram


def fails_with(fake, error_type, **failure):
    fake.fail_next(**{"status": 400, **failure})
    adapter = InstagramNetwork()
    with pytest.raises(error_type) as caught:
        adapter.publish(outgoing(fake))
    assert fake.published() == []
    return adapter, caught.value


# --- access -------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [190, 102, 10, 200, 230])
def test_token_and_permission_errors_mean_reconnect(fake, code):
    _adapter, error = fails_with(fake, AuthExpiredError, code=code,
                                 message="Error validating access token")
    assert "Error validating access token" in error.reason and "Reconnect" in error.reason


def test_a_revoked_page_token_means_reconnect(fake):
    fake.revoke_token(fake.page.token)
    with pytest.raises(AuthExpiredError):
        InstagramNetwork().publish(outgoing(fake))
    assert fake.posts_to("/media") == []


def test_a_restricted_account_means_the_person_must_act(fake):
    # 2207050: "The app user's Instagram Professional account is inactive, checkpointed,
    # or restricted": held until someone signs in to the app and reconnects.
    _adapter, error = fails_with(fake, AuthExpiredError, code=25, subcode=2207050,
                                 path="/media_publish", message="User is restricted")
    assert "Sign in to the Instagram app" in error.reason


# --- rate limits --------------------------------------------------------------------------

@pytest.mark.parametrize("code", [4, 17, 32, 613, 80002])
def test_rate_limit_codes_retry_after_the_default_minute(fake, code):
    _adapter, error = fails_with(fake, RetryableError, code=code,
                                 message="(#4) Application request limit reached")
    assert error.retry_after == 60


def test_instagrams_business_usage_header_gives_the_regain_time(fake):
    fake.p_429, fake.regain_minutes = 1.0, 3
    adapter = InstagramNetwork()
    with pytest.raises(RetryableError) as caught:
        adapter.publish(outgoing(fake))
    assert caught.value.retry_after == 180
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(seconds=170)


def test_http_429_is_retryable(fake):
    fails_with(fake, RetryableError, status=429, code=0, message="Too many calls")


def test_a_budget_spent_on_success_is_exposed(fake):
    fake.usage = {"call_count": 100, "total_cputime": 3, "total_time": 3,
                  "estimated_time_to_regain_access": 0}
    adapter = InstagramNetwork()
    adapter.publish(outgoing(fake))
    assert len(fake.published()) == 1
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(seconds=50)


def test_no_pause_while_the_budget_lasts(fake):
    fake.usage = {"call_count": 40, "total_cputime": 3, "total_time": 3}
    adapter = InstagramNetwork()
    adapter.publish(outgoing(fake))
    assert adapter.rate_limited_until is None


# --- the content publishing limit ---------------------------------------------------------

def test_a_spent_publishing_quota_waits_the_window_before_anything_is_made(fake):
    fake.quota_total, fake.quota_used_elsewhere = 100, 100
    adapter = InstagramNetwork()
    with pytest.raises(RetryableError) as caught:
        adapter.publish(outgoing(fake))
    assert caught.value.retry_after == 86400  # config.quota_duration
    assert "limit of 100 posts" in caught.value.reason
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(hours=23)
    assert fake.posts_to("/media") == []  # no container wasted


def test_the_quota_configured_by_instagram_is_the_one_read(fake):
    fake.quota_total, fake.quota_duration = 2, 3600
    InstagramNetwork().publish(outgoing(fake, text="un"))
    InstagramNetwork().publish(outgoing(fake, text="deux"))
    with pytest.raises(RetryableError) as caught:
        InstagramNetwork().publish(outgoing(fake, text="trois"))
    assert caught.value.retry_after == 3600
    assert len(fake.published()) == 2


def test_instagrams_own_refusal_for_the_limit_is_retryable_after_the_window(fake):
    # Code 9, subcode 2207042: "You reached maximum number of posts that is allowed to
    # be published by Content Publishing API."
    adapter, error = fails_with(fake, RetryableError, code=9, subcode=2207042,
                                path="/media_publish",
                                message="Application request limit reached")
    assert error.retry_after == 86400
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(hours=23)


def test_an_unreadable_quota_does_not_stop_publishing(fake):
    fake.fail_next(400, code=100, path="/content_publishing_limit",
                   message="(#100) Unsupported get request")
    InstagramNetwork().publish(outgoing(fake))
    assert len(fake.published()) == 1


# --- media not ready, transient, refused ----------------------------------------------------

def test_media_not_ready_is_retryable_and_keeps_the_container(fake):
    saved: list[dict] = []
    sent = outgoing(fake, saved=saved)
    fake.fail_next(400, code=9007, subcode=2207027, path="/media_publish",
                   message="Media ID is not available")
    with pytest.raises(RetryableError) as caught:
        InstagramNetwork().publish(sent)
    assert "still processing" in caught.value.reason
    InstagramNetwork().publish(replace(sent, progress=saved[-1]))
    assert len(fake.posts_to("/media")) == 1 and len(fake.published()) == 1


@pytest.mark.parametrize(("status", "code", "subcode", "transient"), [
    (500, 2, None, True), (503, 0, None, False), (400, 1, None, False),
    (400, -1, 2207001, False), (400, -2, 2207003, False), (400, -1, 2207008, False),
    (400, 100, None, True)])
def test_server_trouble_is_retryable(fake, status, code, subcode, transient):
    fails_with(fake, RetryableError, status=status, code=code, subcode=subcode,
               transient=transient)


def test_spam_suspicion_is_not_retried(fake):
    _adapter, error = fails_with(fake, PermanentError, code=4, subcode=2207051,
                                 path="/media_publish",
                                 message="We restrict certain activity to protect our "
                                 "community.")
    assert "possible spam" in error.reason


def test_other_refusals_are_permanent_with_instagrams_words(fake):
    _adapter, error = fails_with(fake, PermanentError, code=100, path="/media",
                                 method="POST", message="(#100) Invalid parameter")
    assert "(#100) Invalid parameter" in error.reason


def test_instagrams_sentence_for_people_is_preferred(fake):
    # error_user_msg, when present, is written for the app's users (Error Codes sample).
    _adapter, error = fails_with(
        fake, PermanentError, code=36000, subcode=2207004, path="/media", method="POST",
        message="The image size is too large.",
        user_msg="The image is too large to download. It should be less than 8 MiB.")
    assert "It should be less than 8 MiB." in error.reason


def test_an_unknown_place_is_refused_with_instagrams_words(fake):
    with pytest.raises(PermanentError) as caught:
        InstagramNetwork().publish(outgoing(fake, options={"location_id": "999"}))
    assert "INSTAGRAM_PLATFORM_API__INVALID_LOCATION_ID" in caught.value.reason


# --- lost answers ---------------------------------------------------------------------------

def test_a_lost_media_publish_answer_is_an_unknown_outcome(fake):
    fake.hang_next(path="/media_publish")
    saved: list[dict] = []
    with pytest.raises(OutcomeUnknown):
        InstagramNetwork().publish(outgoing(fake, saved=saved))
    assert len(fake.published()) == 1  # it went out; its answer was lost
    assert saved[-1]["container_id"] == fake.published()[0]["container"]


def test_a_lost_container_answer_is_merely_retryable(fake):
    fake.hang_next(path="/media")
    with pytest.raises(RetryableError):
        InstagramNetwork().publish(outgoing(fake))
    assert fake.published() == []


def test_an_unreachable_graph_is_retryable(fake, app, monkeypatch):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    monkeypatch.setitem(app.config, "FACEBOOK_GRAPH_URL", f"http://127.0.0.1:{port}/v21.0")
    with pytest.raises(RetryableError) as caught:
        InstagramNetwork().publish(outgoing(fake))
    assert "Could not reach Instagram" in caught.value.reason


def test_secrets_stay_out_of_reasons_and_details(fake):
    fake.fail_next(400, code=100, path="/media_publish", message="(#100) Invalid parameter")
    with pytest.raises(PermanentError) as caught:
        InstagramNetwork().publish(outgoing(fake))
    assert fake.page.token not in caught.value.reason + caught.value.detail


def test_the_fake_refuses_unknown_tokens_like_graph(fake):
    answer = httpx.get(f"{fake.url}/v21.0/{fake.ig}/media", params={"access_token": "nope"})
    assert answer.json()["error"]["code"] == 190
    other = fake.add_page("Autre", "autre")
    answer = httpx.get(f"{fake.url}/v21.0/{fake.ig}/media",
                       params={"access_token": other.token})
    assert answer.status_code == 403 and json.loads(answer.text)["error"]["code"] == 200


# --- the app secret proof (Graph API → Securing Requests) ---------------------------------

def test_every_call_carries_the_app_secret_proof(fake):
    import hashlib
    import hmac

    fake.require_appsecret_proof = True  # "Require App Secret" on in the app's settings
    InstagramNetwork().publish(outgoing(fake))
    assert len(fake.published()) == 1
    expected = hmac.new(b"fake-app-secret", fake.page.token.encode(),
                        hashlib.sha256).hexdigest()
    calls = [r for r in fake.requests if r["path"] != "/oauth/access_token"]
    assert calls and all(r["args"]["appsecret_proof"] == [expected] for r in calls)


def test_a_wrong_app_secret_is_for_the_administrator(fake, app, monkeypatch):
    monkeypatch.setitem(app.config, "FACEBOOK_APP_SECRET", "not-the-secret")
    with pytest.raises(PermanentError) as caught:
        InstagramNetwork().publish(outgoing(fake))
    assert "FACEBOOK_APP_SECRET" in caught.value.reason
    assert "not-the-secret" not in caught.value.reason + caught.value.detail
    assert fake.posts_to("/media") == []


def test_find_with_a_wrong_app_secret_proves_nothing(fake, app, monkeypatch):
    sent = outgoing(fake, progress={"container_id": "17841400000000009", "children": []})
    monkeypatch.setitem(app.config, "FACEBOOK_APP_SECRET", "not-the-secret")
    adapter = InstagramNetwork()
    assert adapter.find(sent) is None and adapter.authoritative_find is False
