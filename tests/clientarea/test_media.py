"""Images of a waiting post are shown in the client area, and only those: the rest of
the client's library, and other clients' files, answer 404."""

from __future__ import annotations

import pytest

from agency.content.models import Post
from tests.media.helpers import add_to_library, jpeg_of

from .conftest import send_posts, sign_in


@pytest.fixture(autouse=True)
def _media_root(app, tmp_path):
    previous = app.config.get("MEDIA_ROOT")
    app.config["MEDIA_ROOT"] = str(tmp_path / "media")
    yield
    app.config["MEDIA_ROOT"] = previous


def test_a_waiting_posts_images_are_shown_and_nothing_else(app, db, client, world, sophie,
                                                            read):
    shown = add_to_library(world.agency_id, world.client.id, jpeg_of((200, 30, 30)), "a.jpg")
    unused = add_to_library(world.agency_id, world.client.id, jpeg_of((30, 60, 200)), "b.jpg")
    other = add_to_library(world.agency_id, world.other_client.id, jpeg_of((9, 9, 9)), "c.jpg")
    sent = send_posts(app, db, world, texts=("Avec photo",), media_ids=[shown])
    sign_in(client, sophie.email)
    html = client.get("/client-area").get_data(as_text=True)
    assert f"/client-area/media/{shown}" in html
    with client.get(f"/client-area/media/{shown}") as image:  # a streamed file: closed
        assert image.status_code == 200 and image.mimetype == "image/jpeg"
    with client.get(f"/client-area/media/{shown}/thumb") as thumb:
        assert thumb.status_code == 200
    for media_id in (unused, other):
        assert client.get(f"/client-area/media/{media_id}").status_code == 404
    # Once decided, the post no longer waits: its files are no longer the contact's to open.
    post_id = sent.post_ids[0]
    client.post(f"/client-area/posts/{post_id}/decide", data={
        "decision": "approve", "content_hash": read.one(Post, post_id).content_hash})
    assert client.get(f"/client-area/media/{shown}").status_code == 404
