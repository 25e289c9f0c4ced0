"""The portal's images and videos: shown in each preview as they will go out, served
under the signed link only for files of that request's posts, privately."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from agency.approvals.models import ApprovalRequest
from agency.content.models import Post
from agency.content.services import update_post
from agency.extensions import db as _db
from agency.media.models import Media
from tenants.context import tenant_scope
from tests.approvals.conftest import send_posts
from tests.factories import make_world
from tests.media import conftest as media_conftest
from tests.media.helpers import add_to_library, jpeg_of, mp4_bytes

RED, BLUE, GREEN = (200, 30, 30), (30, 60, 200), (30, 160, 60)


# A private MEDIA_ROOT for each test (the media library tests' fixture).
media_root = media_conftest.media_root


@pytest.fixture(autouse=True)
def _private_media_root(media_root):
    return media_root


@pytest.fixture
def files(world):
    def add(data, name, client_id=None):
        return add_to_library(world.agency_id, client_id or world.client.id, data, name)

    return {"red": add(jpeg_of(RED), "rouge.jpg"), "blue": add(jpeg_of(BLUE), "bleu.jpg"),
            "video": add(mp4_bytes(), "four.mp4"),
            "loose": add(jpeg_of(GREEN), "libre.jpg"),  # in the library, in no post
            "other_client": add(jpeg_of(RED), "garage.jpg", world.other_client.id)}


@pytest.fixture
def sent(app, db, world, files):
    return send_posts(app, db, world, texts=("Croissants tout chauds",),
                      media_ids=[files["blue"], files["video"], files["red"]])


def _key(db, world, media_id, thumb=False) -> str:
    with tenant_scope(world.agency_id):
        row = db.session.scalars(select(Media).where(Media.id == media_id)).one()
        return row.thumb_key if thumb else row.storage_key


def test_each_preview_shows_the_images_and_the_video_in_order(client, world, files, sent):
    html = client.get(sent.path).get_data(as_text=True)
    strip = html[html.index('class="preview-media'):]
    strip = strip[:strip.index("</ul>")]
    found = [strip.index(needle) for needle in (
        f'src="{sent.path}/media/{files["blue"]}/thumb"',
        f'<video controls preload="metadata" playsinline src="{sent.path}/media/{files["video"]}"',
        f'src="{sent.path}/media/{files["red"]}/thumb"')]
    assert found == sorted(found)
    assert f'href="{sent.path}/media/{files["blue"]}"' in strip  # the full image
    assert "Image 1 of 3" in strip and "Video 2 of 3" in strip and "Image 3 of 3" in strip
    assert "/media/" + str(files["loose"]) not in html
    assert "style=" not in html and "<script>" not in html


def test_a_file_and_its_thumbnail_are_served_privately(client, db, world, files, sent,
                                                       media_root):
    with client.get(f"{sent.path}/media/{files['red']}") as response:
        body = response.data
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert body == (media_root / _key(db, world, files["red"])).read_bytes()
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    with client.get(f"{sent.path}/media/{files['red']}/thumb") as thumb:
        data = thumb.data
    assert thumb.status_code == 200 and thumb.mimetype == "image/webp"
    assert data == (media_root / _key(db, world, files["red"], thumb=True)).read_bytes()
    assert thumb.headers["Referrer-Policy"] == "no-referrer"
    assert thumb.headers["Cache-Control"] == "no-store"


def test_a_video_streams_in_ranges_and_has_no_thumbnail(client, files, sent):
    with client.get(f"{sent.path}/media/{files['video']}",
                    headers={"Range": "bytes=0-7"}) as partial:
        body = partial.data
    assert partial.status_code == 206
    assert body == mp4_bytes()[:8]
    assert partial.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(f"{sent.path}/media/{files['video']}/thumb").status_code == 404


def test_files_not_in_this_requests_posts_are_404(app, db, client, world, files, sent):
    # In the client's library but in no post; another client's; another agency's.
    beta = make_world("Beta")
    foreign = add_to_library(beta.agency_id, beta.client.id, jpeg_of(RED), "beta.jpg")
    # In a post of another request of the same client.
    other = send_posts(app, db, world, texts=("Pain de campagne",),
                       media_ids=[files["loose"]])
    for media_id in (files["loose"], files["other_client"], foreign):
        for suffix in ("", "/thumb"):
            response = client.get(f"{sent.path}/media/{media_id}{suffix}")
            assert response.status_code == 404, (media_id, suffix)
            assert response.headers["Referrer-Policy"] == "no-referrer"
    # Each link serves its own request's files only.
    with client.get(f"{other.path}/media/{files['loose']}") as theirs:
        assert theirs.status_code == 200
    assert client.get(f"{other.path}/media/{files['red']}").status_code == 404
    assert client.get(f"{sent.path}/media/not-a-uuid").status_code == 404


def test_a_file_of_a_post_changed_since_the_link_was_sent_is_404(app, db, client, world,
                                                                 files, sent):
    # The page no longer shows that post's content: its files are not served either.
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = _db.session.scalars(select(Post).where(Post.id == sent.post_ids[0])).one()
        update_post(post, world.client, {"media_ids": [files["red"], files["blue"]]},
                    world.owner.user_id)
        _db.session.commit()
    assert client.get(f"{sent.path}/media/{files['red']}").status_code == 404
    assert "preview-media" not in client.get(sent.path).get_data(as_text=True)


def test_an_expired_link_answers_410(db, client, world, files, sent):
    with tenant_scope(world.agency_id):
        db.session.execute(update(ApprovalRequest)
                           .where(ApprovalRequest.id == sent.request_id)
                           .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        db.session.flush()
    for suffix in ("", "/thumb"):
        response = client.get(f"{sent.path}/media/{files['red']}{suffix}")
        assert response.status_code == 410
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.mimetype == "text/html"  # the page explaining it, not the file


def test_a_tampered_link_answers_400(client, files, sent):
    token = sent.path.rsplit("/", 1)[1]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for path in (f"/a/{tampered}", "/a/not-a-token"):
        for suffix in ("", "/thumb"):
            response = client.get(f"{path}/media/{files['red']}{suffix}")
            assert response.status_code == 400, path
            assert re.search(r"This link is not valid", response.get_data(as_text=True))
