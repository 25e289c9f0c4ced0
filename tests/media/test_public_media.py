"""Signed public addresses for the networks that fetch media themselves."""

from __future__ import annotations

import time

import pytest

from agency.media.public import MAX_AGE, public_media_url
from tests.factories import login
from tests.media.helpers import media_rows, two_colour_jpeg, upload

PUBLIC = "https://relais.example"


@pytest.fixture
def public_url(app):
    previous = app.config.get("PUBLIC_URL", "")
    app.config["PUBLIC_URL"] = PUBLIC
    yield PUBLIC
    app.config["PUBLIC_URL"] = previous


def _stored(client, world):
    login(client, world.owner)
    assert upload(client, world.client.id, (two_colour_jpeg(), "vitrine.jpg")).status_code == 303
    client.post("/logout")
    return media_rows(world.agency.id)[-1]


def _path(url: str) -> str:
    assert url.startswith(PUBLIC + "/m/")
    return url[len(PUBLIC):]


def test_anyone_with_the_address_gets_that_file(app, client, world, media_root, public_url):
    media = _stored(client, world)
    with app.test_request_context():
        url = public_media_url(media.storage_key, media.mime, media.sha256)
    fresh = app.test_client()  # a network's fetcher: no session at all
    with fresh.get(_path(url)) as response:
        body = response.data
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert body == (media_root / media.storage_key).read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "public" in response.headers["Cache-Control"]


def test_a_tampered_address_is_a_404(app, client, world, media_root, public_url):
    media = _stored(client, world)
    with app.test_request_context():
        url = public_media_url(media.storage_key, media.mime, media.sha256)
    path = _path(url)
    assert app.test_client().get(path[:-3] + ("abc" if not path.endswith("abc") else "abd")
                                 ).status_code == 404
    assert app.test_client().get("/m/not-a-token").status_code == 404


def test_an_address_stops_working_after_a_day(app, client, world, media_root, public_url,
                                              monkeypatch):
    media = _stored(client, world)
    with app.test_request_context():
        url = public_media_url(media.storage_key, media.mime, media.sha256)
    signed_at = time.time()
    for later, status in ((MAX_AGE - 60, 200), (MAX_AGE + 60, 410)):
        # itsdangerous reads its clock through time.time
        monkeypatch.setattr(time, "time", lambda later=later: signed_at + later)
        with app.test_client().get(_path(url)) as response:
            assert response.status_code == status


def test_without_public_url_there_is_no_address(app):
    app.config["PUBLIC_URL"] = ""
    with app.test_request_context():
        assert public_media_url("a/b/c.jpg", "image/jpeg", "c" * 64) == ""
