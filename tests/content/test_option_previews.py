"""The options in plain words under the previews the client approves from (the portal and
the client area share portal/_previews.html), in the client's language; and the revision
diff of the post page saying option changes in words."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from agency.approvals.services import send_for_approval
from agency.content.models import Post
from agency.content.services import create_post, submit_post, update_post
from agency.extensions import db
from agency.networks.models import SocialAccount
from tenants.context import tenant_scope
from tenants.scoping import tenant_get
from tests.approvals.conftest import SCHEDULED
from tests.clientarea.conftest import link_contact, sign_in
from tests.factories import login, make_world

PAGE_ID = "104485012345678"
YEAR = SCHEDULED.year  # 2030: the offer runs around the post's own date
OFFER = {"topic": "OFFER",
         "event": {"title": "-10 % sur le pain", "start": f"{YEAR}-06-01T00:00:00+02:00",
                   "end": f"{YEAR}-06-30T23:59:00+02:00"},
         "offer": {"coupon_code": "PAIN10"}}


def _sent(app, world, language: str) -> SimpleNamespace:
    """A post on Google (an offer), Facebook (tagged at the client's own place) and X (a
    thread), sent to the client's approving contact."""
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = world.client
        client.language = language
        client.address_line, client.postal_code, client.city = (
            "12 rue des Lilas", "69001", "Lyon")
        accounts = {}
        for network, settings in (("google_business", {}), ("x", {}), (
                "facebook", {"page_id": PAGE_ID, "has_location": True})):
            account = SocialAccount(client_id=client.id, network=network, settings=settings,
                                    display_name=f"Boulangerie {network}")
            db.session.add(account)
            db.session.flush()
            accounts[network] = account.id
        post = create_post(client, {
            "text": "Promo !", "target_ids": list(accounts.values()), "scheduled_at": SCHEDULED,
            "options": {"google_business": OFFER, "facebook": {"place_id": PAGE_ID},
                        "x": {"thread": ["Deuxième partie", "Troisième partie"]}}},
            world.owner.user_id)
        submit_post(post, client)
        sent = send_for_approval(client, [post], world.owner.user_id)
        db.session.commit()
        path = urlsplit(next(iter(sent.links.values()))).path
        return SimpleNamespace(path=path, post_id=post.id, contact_id=world.contact.id)


@pytest.fixture
def alpha(db):
    return make_world()


def test_the_portal_says_the_options_in_words(app, client, alpha):
    sent = _sent(app, alpha, "en")
    html = client.get(sent.path).get_data(as_text=True)
    assert "Offer: -10 % sur le pain with the code PAIN10, valid until 30 June" in html
    assert "At 12 rue des Lilas, 69001 Lyon (your Page&#39;s place)" in html
    assert "Thread of 3 posts" in html
    assert "Deuxième partie" in html and "Troisième partie" in html
    assert "Language on Google" not in html  # for the diff, not for the owner


def test_a_french_client_reads_french_dates(app, client, alpha):
    assert app.config["BABEL_DEFAULT_LOCALE"] == "en"
    sent = _sent(app, alpha, "fr")
    html = client.get(sent.path).get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "30 juin" in html and "PAIN10" in html


def test_the_client_area_says_the_options_in_words(app, db, client, alpha):
    sent = _sent(app, alpha, "en")
    with tenant_scope(alpha.agency_id):
        email = alpha.contact.email
    link_contact(app, db, alpha.agency_id, sent.contact_id)
    sign_in(client, email)
    html = client.get("/client-area").get_data(as_text=True)
    assert "Offer: -10 % sur le pain with the code PAIN10" in html
    assert "Thread of 3 posts" in html and "Troisième partie" in html


def test_the_post_page_diff_says_option_changes_in_words(app, client, alpha):
    sent = _sent(app, alpha, "en")
    with app.test_request_context(), tenant_scope(alpha.agency_id):
        update_post(tenant_get(Post, sent.post_id), alpha.client, {"options": {
            "google_business": {**OFFER, "offer": {"coupon_code": "PAIN20"}},
            "facebook": {"place_id": "999"}, "x": {"thread": ["Deuxième partie"]}}},
            alpha.owner.user_id)
        db.session.commit()
    login(client, alpha.owner)
    html = client.get(f"/posts/{sent.post_id}?from=1&to=2").get_data(as_text=True)
    for line in ("[Google Business Profile] Offer: -10 % sur le pain with the code PAIN20",
                 "[Facebook] At another place (Facebook Page 999)",
                 "[Facebook] At 12 rue des Lilas, 69001 Lyon (your Page&#39;s place)",
                 "[X] Thread of 2 posts", "[X] Post 3: Troisième partie"):
        assert line in html, line


def test_the_post_page_previews_say_the_options_in_words(app, client, alpha):
    sent = _sent(app, alpha, "en")
    login(client, alpha.owner)
    html = client.get(f"/posts/{sent.post_id}").get_data(as_text=True)
    assert "Offer: -10 % sur le pain with the code PAIN10, valid until 30 June" in html
    assert "At 12 rue des Lilas, 69001 Lyon (your Page&#39;s place)" in html
    assert "Thread of 3 posts" in html and "Troisième partie" in html
