"""The media library through the API (multipart upload, list, read, delete) and posts
that carry media. Who may reach a file: the tenant sweep and the tests below."""

from __future__ import annotations

import hashlib
import io
import os
import uuid

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from agency.api.blueprint import UPLOAD_LIMITS
from agency.media.models import Media
from agency.media.routes import UPLOAD_MAX_BYTES
from tenants.context import tenant_scope
from tests.media import conftest as media_conftest
from tests.media.helpers import add_to_library, jpeg_of, mp4_bytes, png_bytes

from .conftest import assert_problem, bearer, build, token_for
from .test_posts import account, count, draft

RED, GREEN, BLUE = (200, 30, 30), (30, 160, 60), (30, 60, 200)


# A private MEDIA_ROOT for each test (the media library tests' fixture).
media_root = media_conftest.media_root


@pytest.fixture(autouse=True)
def _private_media_root(media_root):
    return media_root


def upload(http, headers, client_id, data: bytes | None, name="photo.jpg", field="file"):
    # Encoded in memory: the test client would spool a large body to a temporary file
    # that it never closes (see tests/media/helpers.upload).
    values = MultiDict()
    if data is not None:
        values.add(field, FileStorage(io.BytesIO(data), filename=name))
    boundary, body = encode_multipart(values)
    return http.post(f"/api/v1/clients/{client_id}/media", headers=headers, data=body,
                     content_type=f"multipart/form-data; boundary={boundary}")


def _library(db, world, data, name, client_id=None):
    media_id = add_to_library(world.agency_id, client_id or world.client_id, data, name)
    db.session.commit()
    return media_id


@pytest.fixture
def sandbox(db, world):
    return account(db, world, world.client_id)


# --- the library ----------------------------------------------------------------------------

def test_upload_read_list_and_delete(client, db, world, owner, media_root):
    response = upload(client, owner, world.client_id, jpeg_of(RED, 60, 40), "rouge.jpg")
    assert response.status_code == 201, response.get_data(as_text=True)
    media = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/media/{media['id']}")
    with tenant_scope(world.agency_id):
        row = db.session.scalars(select(Media).where(Media.id == uuid.UUID(media["id"]))).one()
        data = (media_root / row.storage_key).read_bytes()
    assert media == {**media, "client_id": str(world.client_id), "kind": "image",
                     "mime": "image/jpeg", "size": len(data), "width": 60, "height": 40,
                     "sha256": hashlib.sha256(data).hexdigest(), "original_name": "rouge.jpg"}
    assert media["created_at"]

    url = f"/api/v1/media/{media['id']}"
    assert client.get(url, headers=owner).get_json() == media

    second = upload(client, owner, world.client_id, png_bytes(), "logo.png").get_json()
    listed = client.get(f"/api/v1/clients/{world.client_id}/media?per_page=1", headers=owner)
    assert listed.status_code == 200
    body = listed.get_json()
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 1)
    assert [m["id"] for m in body["items"]] == [second["id"]]  # newest first
    assert 'rel="next"' in listed.headers["Link"]

    deleted = client.delete(url, headers=owner)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert_problem(client.get(url, headers=owner), 404)
    assert not (media_root / row.storage_key).exists()
    assert count(db, world, Media) == 1


def test_the_same_content_twice_answers_200_with_the_existing_file(client, world, owner, db):
    first = upload(client, owner, world.client_id, jpeg_of(GREEN), "vert.jpg")
    assert first.status_code == 201
    again = upload(client, owner, world.client_id, jpeg_of(GREEN), "encore.jpg")
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert count(db, world, Media) == 1


@pytest.mark.parametrize(("data", "name", "status", "words"), [
    (b"just some text, not a picture\n" * 10, "photo.jpg", 415, "not accepted"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * (11 * 1024 * 1024), "huge.jpg", 413, "too large"),
    (jpeg_of(RED)[:40], "broken.jpg", 422, "could not be read"),
    (b"", "empty.jpg", 422, "empty"),
])
def test_refused_files_are_problems_and_nothing_is_stored(client, db, world, owner, data,
                                                          name, status, words, media_root):
    body = assert_problem(upload(client, owner, world.client_id, data, name), status)
    assert words in body["detail"] and words in body["errors"]["file"][0]
    assert count(db, world, Media) == 0
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_the_upload_must_be_a_multipart_file(client, db, world, owner):
    base = f"/api/v1/clients/{world.client_id}/media"
    body = assert_problem(upload(client, owner, world.client_id, None), 422)
    assert "file" in body["errors"]
    body = assert_problem(upload(client, owner, world.client_id, png_bytes(), field="files"),
                          422)
    assert "file" in body["errors"]
    assert_problem(client.post(base, json={"file": "aGVsbG8="}, headers=owner), 415)
    assert_problem(client.post(base, data=png_bytes(), content_type="image/png",
                               headers=owner), 415)
    assert count(db, world, Media) == 0


def test_the_upload_takes_the_media_library_limit_not_the_app_wide_one(app, client, db,
                                                                        world, owner,
                                                                        monkeypatch):
    assert UPLOAD_LIMITS["api.MediaLibrary"] == UPLOAD_MAX_BYTES
    assert app.config["MAX_CONTENT_LENGTH"] < UPLOAD_MAX_BYTES
    noisy = Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3))
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    assert len(out.getvalue()) > app.config["MAX_CONTENT_LENGTH"]
    assert upload(client, owner, world.client_id, out.getvalue(), "bruit.png").status_code == 201
    # Over the upload's own limit: refused before the body is read.
    monkeypatch.setitem(UPLOAD_LIMITS, "api.MediaLibrary", 1024)
    assert_problem(upload(client, owner, world.client_id, jpeg_of(BLUE, 300, 300)), 413)
    assert count(db, world, Media) == 1
    # Every other route keeps the app-wide limit.
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert_problem(client.post(f"/api/v1/clients/{world.client_id}/posts", headers=owner,
                               json={"text": too_big}), 413)


def test_a_video_is_stored_without_dimensions(client, world, owner):
    media = upload(client, owner, world.client_id, mp4_bytes(), "four.mp4").get_json()
    assert (media["kind"], media["mime"], media["width"], media["height"]) == (
        "video", "video/mp4", None, None)


def test_a_file_used_by_a_post_cannot_be_deleted(client, db, world, owner, sandbox):
    media = upload(client, owner, world.client_id, jpeg_of(RED), "rouge.jpg").get_json()
    post = draft(client, owner, world.client_id, sandbox, media_ids=[media["id"]])
    url = f"/api/v1/media/{media['id']}"
    body = assert_problem(client.delete(url, headers=owner), 409)
    assert "used by 1 post" in body["detail"]
    assert client.get(url, headers=owner).status_code == 200
    client.patch(f"/api/v1/posts/{post['id']}", json={"media_ids": []}, headers=owner)
    assert client.delete(url, headers=owner).status_code == 204


def test_other_clients_and_agencies_files_are_404(client, db, world, owner):
    theirs = _library(db, world, jpeg_of(RED), "garage.jpg", world.other_client_id)
    member = bearer(token_for(db, world, world.member_id))
    # The member is not assigned to the other client.
    assert_problem(client.get(f"/api/v1/media/{theirs}", headers=member), 404)
    assert_problem(client.delete(f"/api/v1/media/{theirs}", headers=member), 404)
    assert_problem(client.get(f"/api/v1/clients/{world.other_client_id}/media",
                              headers=member), 404)
    assert_problem(upload(client, member, world.other_client_id, png_bytes()), 404)
    beta = build(db, "Agence Beta")
    stranger = bearer(beta.token)
    assert_problem(client.get(f"/api/v1/media/{theirs}", headers=stranger), 404)
    assert_problem(client.delete(f"/api/v1/media/{theirs}", headers=stranger), 404)
    assert_problem(upload(client, stranger, world.client_id, png_bytes()), 404)
    # A foreign client answers 404 before the body is looked at.
    assert_problem(client.post(f"/api/v1/clients/{world.client_id}/media", json={},
                               headers=stranger), 404)
    assert count(db, world, Media) == 1


def test_an_assigned_member_uploads_and_lists(client, db, world):
    member = bearer(token_for(db, world, world.member_id))
    assert upload(client, member, world.client_id, png_bytes()).status_code == 201
    listed = client.get(f"/api/v1/clients/{world.client_id}/media", headers=member)
    assert listed.get_json()["total"] == 1


def test_no_upload_or_delete_for_an_archived_client(client, db, world, owner):
    from agency.clients.models import Client

    media_id = _library(db, world, jpeg_of(RED), "rouge.jpg")
    with tenant_scope(world.agency_id):
        from datetime import UTC, datetime

        db.session.scalars(select(Client).where(Client.id == world.client_id)).one() \
            .archived_at = datetime.now(UTC)
        db.session.commit()
    assert_problem(upload(client, owner, world.client_id, png_bytes()), 409)
    assert_problem(client.delete(f"/api/v1/media/{media_id}", headers=owner), 409)
    assert count(db, world, Media) == 1


# --- posts with media -----------------------------------------------------------------------

def test_posts_take_and_return_ordered_media(client, db, world, owner, sandbox):
    red = _library(db, world, jpeg_of(RED), "rouge.jpg")
    blue = _library(db, world, jpeg_of(BLUE), "bleu.jpg")
    post = draft(client, owner, world.client_id, sandbox, media_ids=[str(blue), str(red)])
    assert post["media_ids"] == [str(blue), str(red)]
    assert [m["id"] for m in post["media"]] == [str(blue), str(red)]
    assert set(post["media"][0]) >= {"id", "kind", "mime", "size", "sha256", "width",
                                     "height"}
    url = f"/api/v1/posts/{post['id']}"
    reordered = client.patch(url, json={"media_ids": [str(red), str(blue)]}, headers=owner)
    assert reordered.status_code == 200
    after = reordered.get_json()
    assert after["media_ids"] == [str(red), str(blue)]
    assert after["revision_number"] == 2 and after["content_hash"] != post["content_hash"]
    # Other fields alone leave the media as they are.
    kept = client.patch(url, json={"text": "Encore"}, headers=owner).get_json()
    assert kept["media_ids"] == [str(red), str(blue)]
    revisions = client.get(f"{url}/revisions", headers=owner).get_json()
    assert revisions[0]["content"]["media"] == [post["media"][0]["sha256"],
                                                post["media"][1]["sha256"]]
    changes = client.get(f"{url}/revisions/diff?from=1&to=2", headers=owner).get_json()
    assert [c["field"] for c in changes["changes"]] == ["media"]


def test_a_post_without_media_lists_none(client, world, owner, sandbox):
    post = draft(client, owner, world.client_id, sandbox)
    assert (post["media_ids"], post["media"]) == ([], [])


def test_media_refused_for_a_post_name_the_media_field(client, db, world, owner, sandbox):
    theirs = _library(db, world, jpeg_of(RED), "garage.jpg", world.other_client_id)
    png = _library(db, world, png_bytes(), "logo.png")
    base = f"/api/v1/clients/{world.client_id}/posts"
    body = assert_problem(client.post(base, headers=owner, json={
        "text": "Bread", "target_ids": [str(sandbox)], "media_ids": [str(theirs)]}), 422)
    assert list(body["errors"]) == ["media_ids"]
    instagram = account(db, world, world.client_id, "instagram", "Insta")
    body = assert_problem(client.post(base, headers=owner, json={
        "text": "Bread", "target_ids": [str(instagram)]}), 422)
    assert body["errors"] == {"media_ids": ["Instagram needs at least one image or video."]}
    body = assert_problem(client.post(base, headers=owner, json={
        "text": "Bread", "target_ids": [str(instagram)], "media_ids": [str(png)]}), 422)
    assert "image/png" in body["errors"]["media_ids"][0]
    assert_problem(client.post(base, headers=owner, json={
        "text": "Bread", "target_ids": [str(sandbox)], "media_ids": ["nope"]}), 422)
    assert count(db, world, Media) == 2
    from agency.content.models import Post

    assert count(db, world, Post) == 0
    jpeg = _library(db, world, jpeg_of(BLUE), "bleu.jpg")
    post = draft(client, owner, world.client_id, instagram, media_ids=[str(jpeg)])
    assert post["media_ids"] == [str(jpeg)]
