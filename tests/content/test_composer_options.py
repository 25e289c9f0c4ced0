"""The composer's "Options per network": shown for the client's networks, read for the
networks targeted, refused beside their field (422, nothing written), filled back on
edit, and the location tag starting at the client's own place."""

from __future__ import annotations

import re

from sqlalchemy import select

from agency.clients.models import Client
from agency.content.models import PostStatus
from agency.extensions import db
from agency.networks.models import SocialAccount
from tenants.context import tenant_scope
from tests.content.helpers import NEXT_YEAR, make_post, page, shows
from tests.factories import login
from tests.media import conftest as media_conftest
from tests.media.helpers import add_to_library, jpeg_of

media_root = media_conftest.media_root  # a private MEDIA_ROOT, for the tests with files

PAGE_ID = "104485012345678"


def _accounts(world, *, address=True) -> dict:
    """Google, Facebook (a Page that is a place) and Instagram accounts for the client."""
    with tenant_scope(world.agency_id):
        client = db.session.scalars(select(Client).where(Client.id == world.client_id)).one()
        if address:
            client.address_line, client.postal_code, client.city = (
                "12 rue des Lilas", "69001", "Lyon")
        ids = {}
        for network, settings in (
                ("google_business", {}),
                ("facebook", {"page_id": PAGE_ID, "has_location": True,
                              "address": "12 Rue des Lilas, 69001 Lyon"}),
                ("instagram", {"ig_user_id": "1784", "page_id": "555", "has_location": False})):
            account = SocialAccount(client_id=client.id, network=network, settings=settings,
                                    display_name=f"Boulangerie {network}")
            db.session.add(account)
            db.session.flush()
            ids[network] = account.id
        return ids


def _form(targets, **fields) -> dict:
    data = {"text": "Promo sur le pain !", "targets": [str(t) for t in targets],
            "scheduled_date": f"{NEXT_YEAR}-03-02", "scheduled_time": "09:00",
            "first_comment": "", "labels": ""}
    data.update(fields)
    return data


def _offer_fields(**overrides) -> dict:
    fields = {"opt_google_business_topic": "OFFER",
              "opt_google_business_event_title": "-10 % sur le pain",
              "opt_google_business_event_start_date": f"{NEXT_YEAR}-03-01",
              "opt_google_business_event_end_date": f"{NEXT_YEAR}-03-12",
              "opt_google_business_offer_coupon_code": "PAIN10",
              "opt_google_business_offer_terms": "Une fois par client."}
    fields.update(overrides)
    return fields


def test_the_sections_are_those_of_the_clients_networks(client, world):
    _accounts(world)
    login(client, world.member)
    html = page(client.get(f"/clients/{world.client_id}/posts/new"))
    assert "Options per network" in html
    for network in ("google_business", "instagram", "facebook", "x"):
        assert f'data-variant-network="{network}" id="options-{network}"' in html
    assert 'id="options-sandbox"' not in html  # the sandbox takes no options
    # Nothing targeted yet: every section is closed.
    assert not re.search(r'id="options-[a-z_]+" open', html)
    # No inline script or style (the CSP forbids them).
    assert "style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_the_location_tag_starts_at_the_clients_own_place(client, world):
    _accounts(world)
    login(client, world.member)
    html = page(client.get(f"/clients/{world.client_id}/posts/new"))
    assert re.search(rf'name="opt_facebook_place_id"[^>]*value="{PAGE_ID}"', html)
    assert "At 12 rue des Lilas, 69001 Lyon (your Page's place)" in html
    # The Instagram account's Page is not a place: no default there.
    assert re.search(r'name="opt_instagram_location_id"[^>]*value=""', html)


def test_without_a_client_address_the_pages_own_address_is_shown(client, world):
    _accounts(world, address=False)
    login(client, world.member)
    html = page(client.get(f"/clients/{world.client_id}/posts/new"))
    assert "At 12 Rue des Lilas, 69001 Lyon (your Page's place)" in html


def test_a_google_offer_and_a_location_are_saved(client, world, read):
    ids = _accounts(world)
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        [ids["google_business"], ids["facebook"]], opt_facebook_place_id=PAGE_ID,
        **_offer_fields()))
    assert response.status_code == 303, page(response)[:2000]
    [post] = read.posts(world.client_id)
    assert post.options == {
        "google_business": {
            "topic": "OFFER", "language": "fr",
            # Days without times: the whole days, in Paris time.
            "event": {"title": "-10 % sur le pain", "start": f"{NEXT_YEAR}-03-01T00:00:00+01:00",
                      "end": f"{NEXT_YEAR}-03-12T23:59:00+01:00"},
            "offer": {"coupon_code": "PAIN10", "terms": "Une fois par client."}},
        "facebook": {"place_id": PAGE_ID}}
    [revision] = read.revisions(post.id)
    assert revision.content["options"] == post.options
    shown = client.get(f"/posts/{post.id}")
    assert shown.status_code == 200


def test_sections_of_networks_not_targeted_are_ignored(client, world, read):
    ids = _accounts(world)
    login(client, world.member)
    # Facebook's place is prefilled and Google's fields typed, but only X is ticked.
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        [world.x_id], opt_facebook_place_id=PAGE_ID, **_offer_fields(),
        opt_x_thread="Deux\n---\n\nTrois\n---\n"))
    assert response.status_code == 303
    [post] = read.posts(world.client_id)
    assert post.options == {"x": {"thread": ["Deux", "Trois"]}}
    assert ids  # the other accounts exist, untouched


def test_a_cleared_location_tag_means_none(client, world, read):
    ids = _accounts(world)
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        [ids["facebook"]], opt_facebook_place_id=""))
    assert response.status_code == 303
    [post] = read.posts(world.client_id)
    assert post.options == {}


def test_bad_options_answer_422_beside_their_field_and_write_nothing(client, world, read):
    ids = _accounts(world)
    login(client, world.member)
    url = f"/clients/{world.client_id}/posts/new"
    before = read.state()
    cases = [
        (dict(opt_google_business_cta_type="BOOK",
              opt_google_business_cta_url="http://boulangerie.example"),
         [ids["google_business"]], "opt_google_business_cta_url", "https://"),
        (_offer_fields(opt_google_business_event_end_date=f"{NEXT_YEAR}-02-01"),
         [ids["google_business"]], "opt_google_business_event_end_date",
         "The end must come after the start."),
        (_offer_fields(opt_google_business_event_start_date="not a date"),
         [ids["google_business"]], "opt_google_business_event_start_date", "date"),
        (dict(opt_google_business_event_start_time="10:00"), [ids["google_business"]],
         "opt_google_business_event_start_date", "Give the day too."),
        (dict(opt_google_business_topic="EVENT"), [ids["google_business"]],
         "opt_google_business_event_title", "An event needs a title."),
        (dict(opt_facebook_place_id="Lyon centre"), [ids["facebook"]],
         "opt_facebook_place_id", "digits only"),
        (dict(opt_x_thread="ok\n---\n" + "a" * 281), [world.x_id], "opt_x_thread",
         "Post 3 of the thread is too long for X: 281 characters out of 280."),
    ]
    for fields, targets, field, message in cases:
        response = client.post(url, data=_form(targets, **fields))
        assert response.status_code == 422, (field, page(response)[:500])
        html = page(response)
        assert f'id="{field}-error"' in html, field
        error = re.search(rf'id="{field}-error">(.*?)</p>', html, re.S).group(1)
        assert message in error.replace("&#39;", "'"), (field, error)
        assert read.state() == before, field


def test_a_reel_of_a_photo_is_refused_beside_the_kind(client, world, read, media_root):
    ids = _accounts(world)
    photo = add_to_library(world.agency_id, world.client_id, jpeg_of((200, 30, 30)),
                           "pain.jpg", world.owner.user_id)
    login(client, world.member)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        [ids["instagram"]], media=[str(photo)], opt_instagram_kind="reel"))
    assert response.status_code == 422
    assert 'id="opt_instagram_kind-error">A reel is one video, alone' in page(response)
    assert 'id="options-instagram" open' in page(response)
    assert read.state() == before
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        [ids["instagram"]], media=[str(photo)], opt_instagram_location_id="555"))
    assert response.status_code == 303
    [post] = read.posts(world.client_id)
    assert post.options == {"instagram": {"location_id": "555"}}


def test_a_refusal_opens_the_section_it_is_in(client, world):
    ids = _accounts(world)
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        [ids["facebook"]], opt_facebook_place_id="x"))
    assert response.status_code == 422
    assert 'id="options-facebook" open' in page(response)


def test_editing_shows_the_stored_options_and_keeps_a_cleared_tag_cleared(client, world, read):
    ids = _accounts(world)
    post_id = make_post(world, targets=[world.x_id, ids["facebook"]],
                        options={"x": {"thread": ["Deux", "Trois"]}})
    login(client, world.member)
    html = page(client.get(f"/posts/{post_id}/edit"))
    assert "Deux\n---\nTrois</textarea>" in html
    # The post targets Facebook with no place: the field stays empty (no default forced).
    assert re.search(r'name="opt_facebook_place_id"[^>]*value=""', html)
    assert 'id="options-x" open' in html and 'id="options-facebook" open' in html


def test_changing_the_options_of_an_approved_post_asks_for_approval_again(client, world, read):
    post_id = make_post(world, targets=[world.x_id], policy="none", submit=True,
                        options={"x": {"thread": ["Deux"]}})
    assert read.post(post_id).status == PostStatus.APPROVED
    login(client, world.member)
    data = _form([world.x_id], scheduled_date=f"{NEXT_YEAR}-07-14", scheduled_time="10:00",
                 text="Bonjour !", opt_x_thread="Deux\n---\nTrois")
    response = client.post(f"/posts/{post_id}/edit", data=data)
    assert response.status_code == 303
    post = read.post(post_id)
    assert post.status == PostStatus.DRAFT and post.revision_number == 2
    assert post.options == {"x": {"thread": ["Deux", "Trois"]}}
    assert shows(client.get(f"/posts/{post_id}"), "Saved as version 2.")
