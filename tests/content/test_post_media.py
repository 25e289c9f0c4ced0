"""Media on posts: the services (order, content hash, per-network rules, foreign files)
and the composer (the picker, saving with media, refusals on the media field, the live
check, uploading from the composer), the post page and the revisions diff."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.content import services
from agency.content.models import Post, PostMedia, Revision
from agency.extensions import db
from agency.media.models import Media
from agency.networks.models import SocialAccount
from tenants.context import tenant_scope
from tests.content.helpers import NEXT_YEAR, build_world, make_post, page
from tests.factories import login, make_world
from tests.media import conftest as media_conftest
from tests.media.helpers import add_to_library, jpeg_of, mp4_bytes, png_bytes

RED, GREEN, BLUE = (200, 30, 30), (30, 160, 60), (30, 60, 200)


# A private MEDIA_ROOT for each test (the media library tests' fixture).
media_root = media_conftest.media_root


@pytest.fixture(autouse=True)
def _private_media_root(media_root):
    return media_root


@pytest.fixture
def files(world):
    """Three JPEGs and a PNG in the client's library, a JPEG in the other client's."""
    def add(data, name, client_id=world.client_id):
        return add_to_library(world.agency_id, client_id, data, name, world.owner.user_id)

    return {"red": add(jpeg_of(RED), "rouge.jpg"), "green": add(jpeg_of(GREEN), "vert.jpg"),
            "blue": add(jpeg_of(BLUE), "bleu.jpg"), "png": add(png_bytes(), "logo.png"),
            "foreign": add(jpeg_of(RED), "autre.jpg", world.other_client_id)}


def _account(world, network: str, name: str) -> object:
    with tenant_scope(world.agency_id):
        account = SocialAccount(client_id=world.client_id, network=network, display_name=name)
        db.session.add(account)
        db.session.flush()
        return account.id


def _client(world) -> Client:
    return db.session.scalars(select(Client).where(Client.id == world.client_id)).one()


def _post(world, post_id) -> Post:
    return db.session.scalars(select(Post).where(Post.id == post_id)).one()


def _media_of(world, post_id) -> list:
    with tenant_scope(world.agency_id):
        return list(db.session.scalars(select(PostMedia.media_id).where(
            PostMedia.post_id == post_id).order_by(PostMedia.position)))


def _sha(world, media_id) -> str:
    with tenant_scope(world.agency_id):
        return db.session.scalars(select(Media.sha256).where(Media.id == media_id)).one()


def _edit(world, post_id, **values) -> bool:
    with tenant_scope(world.agency_id):
        return services.update_post(_post(world, post_id), _client(world), values,
                                    world.owner.user_id)


def _refusal(world, **values) -> ServiceError:
    with tenant_scope(world.agency_id), pytest.raises(ServiceError) as refused:
        make_post(world, **values)
    return refused.value


# --- the services -------------------------------------------------------------------------

def test_media_are_kept_in_the_order_given_and_hashed_in_that_order(world, files):
    post_id = make_post(world, media_ids=[files["blue"], files["red"], files["blue"]])
    assert _media_of(world, post_id) == [files["blue"], files["red"]]  # duplicates dropped
    with tenant_scope(world.agency_id):
        [revision] = db.session.scalars(select(Revision).where(Revision.post_id == post_id))
        assert revision.content["media"] == [_sha(world, files["blue"]),
                                             _sha(world, files["red"])]
        assert [m.id for m in _post(world, post_id).media] == [files["blue"], files["red"]]


def test_adding_removing_and_reordering_media_each_make_a_new_revision(world, files):
    post_id = make_post(world, media_ids=[files["red"]])
    hashes = []

    def current_hash():
        with tenant_scope(world.agency_id):
            return db.session.scalars(select(Post.content_hash)
                                      .where(Post.id == post_id)).one()

    hashes.append(current_hash())
    for media_ids in ([files["red"], files["green"]],   # add
                      [files["green"], files["red"]],   # reorder
                      [files["green"]]):                # remove
        assert _edit(world, post_id, media_ids=media_ids) is True
        assert _media_of(world, post_id) == media_ids
        hashes.append(current_hash())
    assert len(set(hashes)) == 4
    with tenant_scope(world.agency_id):
        numbers = db.session.scalars(select(Revision.number)
                                     .where(Revision.post_id == post_id)).all()
    assert sorted(numbers) == [1, 2, 3, 4]


def test_the_same_media_again_changes_nothing(world, files):
    post_id = make_post(world, media_ids=[files["red"], files["green"]])
    assert _edit(world, post_id, media_ids=[files["red"], files["green"]]) is False
    assert _edit(world, post_id, text="Bonjour !") is False  # media not sent: kept
    assert _media_of(world, post_id) == [files["red"], files["green"]]
    with tenant_scope(world.agency_id):
        assert _post(world, post_id).revision_number == 1


def test_a_file_of_another_client_or_agency_is_refused(world, files):
    refused = _refusal(world, media_ids=[files["red"], files["foreign"]])
    assert refused.field == "media_ids"
    assert refused.message == "This file is not in this client's media library."
    stranger = build_world(make_world("Beta"))
    theirs = add_to_library(stranger.agency_id, stranger.client_id, jpeg_of(GREEN), "b.jpg")
    assert _refusal(world, media_ids=[theirs]).field == "media_ids"
    assert _refusal(world, media_ids=["not-an-id"]).field == "media_ids"
    with tenant_scope(world.agency_id):
        assert db.session.scalars(select(PostMedia)).all() == []


def test_at_most_ten_files_per_post(world):
    ids = [add_to_library(world.agency_id, world.client_id, jpeg_of((n * 20, 10, 10)),
                          f"{n}.jpg") for n in range(11)]
    refused = _refusal(world, media_ids=ids)
    assert (refused.field, refused.message) == ("media_ids",
                                                "At most 10 images or videos per post.")
    assert _media_of(world, make_post(world, media_ids=ids[:10])) == ids[:10]


def test_instagram_needs_media_and_takes_a_jpeg(world, files):
    instagram = _account(world, "instagram", "Boulangerie Insta")
    refused = _refusal(world, targets=[instagram])
    assert (refused.field, refused.message) == (
        "media_ids", "Instagram needs at least one image or video.")
    refused = _refusal(world, targets=[instagram], media_ids=[files["png"]])
    assert refused.field == "media_ids" and "does not accept image/png" in refused.message
    post_id = make_post(world, targets=[instagram], media_ids=[files["red"]])
    assert _media_of(world, post_id) == [files["red"]]
    # Taking its last image away is refused too: the post keeps it.
    with tenant_scope(world.agency_id), pytest.raises(ServiceError) as refused:
        services.update_post(_post(world, post_id), _client(world), {"media_ids": []},
                             world.owner.user_id)
    assert refused.value.field == "media_ids"


def test_a_video_on_a_network_that_takes_none_is_refused(world):
    google = _account(world, "google_business", "Boulangerie Maps")
    video = add_to_library(world.agency_id, world.client_id, mp4_bytes(), "four.mp4")
    refused = _refusal(world, targets=[google], media_ids=[video])
    assert (refused.field, refused.message) == (
        "media_ids", "Google Business Profile does not accept videos.")


# --- the composer -------------------------------------------------------------------------

def _form(world, **overrides) -> dict:
    data = {"text": "Nouveau pain au levain ce week-end !",
            "targets": [str(world.sandbox_id)], "first_comment": "", "labels": "",
            "scheduled_date": f"{NEXT_YEAR}-07-14", "scheduled_time": "10:00"}
    data.update(overrides)
    return data


def _positions(html: str, ids) -> list[int]:
    return sorted(range(len(ids)), key=lambda n: html.index(f'value="{ids[n]}"'))


def test_the_composer_lists_the_library_with_thumbnails(client, world, files):
    login(client, world.member)
    html = page(client.get(f"/clients/{world.client_id}/posts/new"))
    for key in ("red", "green", "blue", "png"):
        assert f'name="media" value="{files[key]}"' in html
        assert f"/media/{files[key]}/thumb" in html
        assert f'name="position-{files[key]}"' in html
    assert str(files["foreign"]) not in html  # only this client's files
    assert f'hx-post="/clients/{world.client_id}/posts/media"' in html
    assert "<script>" not in html and " onclick=" not in html


def test_saving_with_media_in_the_order_of_the_positions(client, world, read, files):
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        world, media=[str(files["red"]), str(files["green"]), str(files["blue"])],
        **{f"position-{files['red']}": "3", f"position-{files['green']}": "1",
           f"position-{files['blue']}": ""}))
    assert response.status_code == 303, page(response)[:2000]
    [post] = read.posts(world.client_id)
    # Numbered ones first by their number, then the one without a number.
    assert _media_of(world, post.id) == [files["green"], files["red"], files["blue"]]


def test_the_edit_form_shows_the_chosen_files_first_in_their_order(client, world, files):
    post_id = make_post(world, media_ids=[files["blue"], files["red"]])
    login(client, world.member)
    html = page(client.get(f"/posts/{post_id}/edit"))
    assert re.search(rf'value="{files["blue"]}" id="media-{files["blue"]}" checked', html)
    assert re.search(rf'value="{files["red"]}" id="media-{files["red"]}" checked', html)
    assert not re.search(rf'value="{files["green"]}" id="media-{files["green"]}" checked', html)
    order = [html.index(f'name="media" value="{files[k]}"') for k in ("blue", "red", "green")]
    assert order == sorted(order)
    assert f'name="position-{files["blue"]}" min="1" inputmode="numeric" value="1"' in html
    assert f'name="position-{files["red"]}" min="1" inputmode="numeric" value="2"' in html


def test_saving_the_edit_form_unchanged_keeps_the_media(client, world, read, files):
    post_id = make_post(world, media_ids=[files["blue"], files["red"]])
    login(client, world.member)
    response = client.post(f"/posts/{post_id}/edit", data=_form(
        world, text="Bonjour !", scheduled_time="10:00",
        media=[str(files["red"]), str(files["blue"])],
        **{f"position-{files['blue']}": "1", f"position-{files['red']}": "2"}))
    assert response.status_code == 303
    assert _media_of(world, post_id) == [files["blue"], files["red"]]
    assert read.post(post_id).revision_number == 1


def test_media_refused_by_a_network_are_shown_on_the_media_field(client, world, read, files):
    instagram = _account(world, "instagram", "Boulangerie Insta")
    login(client, world.member)
    before = read.state()
    url = f"/clients/{world.client_id}/posts/new"
    response = client.post(url, data=_form(world, targets=[str(instagram)]))
    assert response.status_code == 422
    html = page(response)
    assert re.search(r'<p class="error" id="media-error">Instagram needs at least one image or '
                     r"video.</p>", html)
    response = client.post(url, data=_form(world, targets=[str(instagram)],
                                           media=[str(files["png"])]))
    assert response.status_code == 422
    html = page(response)
    assert 'id="media-error"' in html and "Instagram does not accept image/png files." in html
    # What was ticked stays ticked.
    assert re.search(rf'value="{files["png"]}" id="media-{files["png"]}" checked', html)
    assert read.state() == before
    # With a JPEG, Instagram takes it.
    response = client.post(url, data=_form(world, targets=[str(instagram)],
                                           media=[str(files["red"])]))
    assert response.status_code == 303
    [post] = read.posts(world.client_id)
    assert _media_of(world, post.id) == [files["red"]]


def test_a_file_of_another_client_is_refused_on_save(client, world, read, files):
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/new",
                           data=_form(world, media=[str(files["foreign"])]))
    assert response.status_code == 422
    assert "This file is not in this client&#39;s media library." in page(response)
    assert read.posts(world.client_id) == []


def test_the_live_check_includes_media(client, world, files):
    instagram = _account(world, "instagram", "Boulangerie Insta")
    login(client, world.member)
    url = f"/clients/{world.client_id}/posts/check"
    html = page(client.post(url, data=_form(world, targets=[str(instagram)])))
    assert "Instagram needs at least one image or video." in html
    # Also beside the media field, swapped out of band.
    assert re.search(r'<div id="media-live"[^>]*hx-swap-oob="true"', html)
    live = html[html.index('id="media-live"'):]
    assert "Instagram needs at least one image or video." in live
    html = page(client.post(url, data=_form(world, targets=[str(instagram)],
                                            media=[str(files["red"])])))
    assert "needs at least one" not in html
    video = add_to_library(world.agency_id, world.client_id, mp4_bytes(), "clip.mp4")
    x_and_sandbox = [str(world.x_id), str(world.sandbox_id)]
    html = page(client.post(url, data=_form(world, targets=x_and_sandbox,
                                            media=[str(files["red"]), str(video)])))
    assert "X does not accept images and a video in the same post." in html
    # Unknown or foreign ids are left out of the check (saving refuses them).
    html = page(client.post(url, data=_form(world, media=[str(files["foreign"]), "x"])))
    assert "error" not in html.split('id="media-live"', 1)[1]


def test_a_page_refused_for_another_field_also_shows_the_media_problems(client, world):
    instagram = _account(world, "instagram", "Boulangerie Insta")
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        world, targets=[str(instagram)], scheduled_date="2020-03-01"))
    assert response.status_code == 422
    html = page(response)
    assert "Choose a time in the future." in html  # the refusal itself
    live = html[html.index('<div id="media-live"'):]
    assert live.index("Instagram needs at least one image or video.") < live.index("</div>")
    assert 'hx-swap-oob' not in html[html.index('<div id="media-live"'):][:80]


# --- uploading from the composer ----------------------------------------------------------

def _upload(http, world, data=None, name="photo.jpg", **fields):
    from io import BytesIO

    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    values = MultiDict()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            values.add(key, item)
    if data is not None:
        values.add("upload", FileStorage(BytesIO(data), filename=name))
    boundary, body = encode_multipart(values)
    return http.post(f"/clients/{world.client_id}/posts/media", data=body,
                     content_type=f"multipart/form-data; boundary={boundary}",
                     headers={"HX-Request": "true"})


def test_an_upload_from_the_composer_joins_the_library_and_is_chosen_last(client, world,
                                                                          files, read):
    login(client, world.member)
    response = _upload(client, world, jpeg_of((250, 200, 0)), "soleil.jpg",
                       text="Pas encore enregistré", media=[str(files["blue"]),
                                                           str(files["red"])],
                       **{f"position-{files['red']}": "1", f"position-{files['blue']}": "2"})
    assert response.status_code == 200, page(response)
    html = page(response)
    with tenant_scope(world.agency_id):
        new_id = db.session.scalars(select(Media.id)
                                    .where(Media.original_name == "soleil.jpg")).one()
    # Kept in the library although no post was saved.
    assert read.posts(world.client_id) == []
    assert 'id="media-picker"' in html and "<html" not in html  # the picker alone
    assert "soleil.jpg is in the media library and chosen for this post." in html
    chosen = re.findall(r'name="media" value="([0-9a-f-]+)" id="media-[0-9a-f-]+" checked', html)
    assert chosen == [str(files["red"]), str(files["blue"]), str(new_id)]
    assert f'name="position-{new_id}" min="1" inputmode="numeric" value="3"' in html


def test_uploading_a_file_already_in_the_library_chooses_that_file(client, world, files):
    login(client, world.member)
    response = _upload(client, world, jpeg_of(GREEN), "encore.jpg")
    assert response.status_code == 200
    chosen = re.findall(r'name="media" value="([0-9a-f-]+)" id="media-[0-9a-f-]+" checked',
                        page(response))
    assert chosen == [str(files["green"])]
    with tenant_scope(world.agency_id):
        assert db.session.scalars(select(Media.original_name).where(
            Media.id == files["green"])).one() == "vert.jpg"


@pytest.mark.parametrize(("data", "status", "message"), [
    (b"%PDF-1.4 not a picture", 415, "This type of file is not accepted."),
    (jpeg_of(RED)[:40], 422, "This image could not be read."),
    (None, 422, "Choose a file first."),
])
def test_a_refused_upload_answers_only_the_message(client, world, read, data, status,
                                                   message):
    login(client, world.member)
    before = read.count(Media)
    response = _upload(client, world, data, "contrat.pdf")
    assert response.status_code == status
    assert response.headers["HX-Retarget"] == "#media-upload-status"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert message in page(response) and "media-picker" not in page(response)
    assert read.count(Media) == before


def test_a_body_over_the_upload_limit_is_refused_with_413(client, world, read, monkeypatch):
    from agency.content import routes

    monkeypatch.setattr(routes, "UPLOAD_MAX_BYTES", 1024)
    login(client, world.member)
    response = _upload(client, world, jpeg_of(RED, 200, 200) + b"\x00" * 4096, "gros.jpg")
    assert response.status_code == 413
    assert response.headers["HX-Retarget"] == "#media-upload-status"
    assert read.count(Media) == 0


def test_the_composer_upload_takes_more_than_the_app_wide_limit(app, client, world, read):
    import os

    from PIL import Image

    login(client, world.member)
    noisy = Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3))
    from io import BytesIO

    out = BytesIO()
    noisy.save(out, format="PNG")
    assert len(out.getvalue()) > app.config["MAX_CONTENT_LENGTH"]
    assert _upload(client, world, out.getvalue(), "bruit.png").status_code == 200
    assert read.count(Media) == 1


# --- the post page and the revisions diff -------------------------------------------------

def test_the_post_page_shows_the_media_in_order_in_each_preview(client, world, files):
    video = add_to_library(world.agency_id, world.client_id, mp4_bytes(), "four.mp4")
    post_id = make_post(world, media_ids=[files["blue"], video, files["red"]])
    login(client, world.member)
    html = page(client.get(f"/posts/{post_id}"))
    strip = html[html.index('class="preview-media"'):]
    first = [strip.index(needle) for needle in (
        f'src="/media/{files["blue"]}/thumb"', f'<video controls preload="metadata" '
        f'src="/media/{video}"', f'src="/media/{files["red"]}/thumb"')]
    assert first == sorted(first)
    assert "Image 1 of 3: bleu.jpg" in html and "Video 2 of 3: four.mp4" in html
    assert "3 files" in html


def test_the_revisions_diff_names_the_files(client, world, files):
    post_id = make_post(world, media_ids=[files["red"]])
    _edit(world, post_id, media_ids=[files["green"], files["red"]])
    login(client, world.member)
    html = page(client.get(f"/posts/{post_id}?from=1&to=2"))
    diff = html[html.index('id="diff"'):]
    red, green = _sha(world, files["red"])[:8], _sha(world, files["green"])[:8]
    assert f"-1. rouge.jpg · {red}" in diff
    assert f"+1. vert.jpg · {green}" in diff
    assert f"+2. rouge.jpg · {red}" in diff
    assert _sha(world, files["red"]) not in diff  # short checksums only
