"""Serving, listing and deleting: headers, tenant isolation, and files removed on delete."""

from __future__ import annotations

from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.extensions import db
from tenants.context import tenant_scope
from tests.factories import login, make_world
from tests.media.helpers import media_rows, mp4_bytes, png_bytes, two_colour_jpeg, upload


def _one(http, world, data=None, name="Vitrine été.jpg", client_id=None):
    login(http, world.owner)
    response = upload(http, client_id or world.client.id, (data or two_colour_jpeg(), name))
    assert response.status_code == 303
    return media_rows(world.agency.id)[-1]


def _fresh(app):
    return app.test_client()


def test_the_file_is_served_privately_and_never_sniffed(client, world, media_root):
    media = _one(client, world)
    with client.get(f"/media/{media.id}") as response:
        body = response.data
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert body == (media_root / media.storage_key).read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline") and "Vitrine_ete.jpg" in disposition
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "max-age=3600" in cache and "public" not in cache


def test_the_thumbnail_is_served(client, world, media_root):
    media = _one(client, world)
    with client.get(f"/media/{media.id}/thumb") as response:
        body = response.data
    assert response.status_code == 200
    assert response.mimetype == "image/webp"
    assert body[:4] == b"RIFF" and body[8:12] == b"WEBP"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in response.headers["Cache-Control"]


def test_a_video_has_no_thumbnail_and_serves_ranges(client, world, media_root):
    media = _one(client, world, data=mp4_bytes(), name="clip.mp4")
    assert client.get(f"/media/{media.id}/thumb").status_code == 404
    with client.get(f"/media/{media.id}", headers={"Range": "bytes=0-7"}) as partial:
        body = partial.data
    assert partial.status_code == 206
    assert body == mp4_bytes()[:8]


def test_the_library_lists_the_files(client, world, media_root):
    media = _one(client, world, data=png_bytes(300, 200), name="menu.png")
    page = client.get(f"/clients/{world.client.id}/media")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "menu.png" in html and "300×200" in html and f"/media/{media.id}/thumb" in html
    assert "style=" not in html and "<script>" not in html


def test_another_agency_gets_404_everywhere(app, db, client, world, media_root):
    media = _one(client, world)
    stranger = make_world("Beta")
    other = _fresh(app)
    login(other, stranger.owner)
    for method, url in (("GET", f"/media/{media.id}"), ("GET", f"/media/{media.id}/thumb"),
                        ("POST", f"/media/{media.id}/delete"),
                        ("GET", f"/clients/{world.client.id}/media")):
        assert other.open(url, method=method).status_code == 404, url
    assert upload(other, world.client.id, (png_bytes(), "x.png")).status_code == 404
    assert [m.id for m in media_rows(world.agency.id)] == [media.id]
    assert (media_root / media.storage_key).is_file()


def test_an_unassigned_member_gets_404(app, db, client, world, media_root):
    media = _one(client, world, client_id=world.other_client.id)
    member = _fresh(app)
    login(member, world.member)
    for method, url in (("GET", f"/media/{media.id}"), ("GET", f"/media/{media.id}/thumb"),
                        ("POST", f"/media/{media.id}/delete"),
                        ("GET", f"/clients/{world.other_client.id}/media")):
        assert member.open(url, method=method).status_code == 404, url
    assert upload(member, world.other_client.id, (png_bytes(), "x.png")).status_code == 404
    assert len(media_rows(world.agency.id)) == 1
    assert (media_root / media.storage_key).is_file()


def test_an_assigned_member_may_upload_and_see(app, db, world, media_root):
    member = _fresh(app)
    login(member, world.member)
    assert upload(member, world.client.id, (png_bytes(), "x.png")).status_code == 303
    [media] = media_rows(world.agency.id)
    with member.get(f"/media/{media.id}") as response:
        assert response.status_code == 200


def test_delete_removes_the_row_and_the_files_and_is_audited(client, world, media_root):
    media = _one(client, world)
    files = [media_root / media.storage_key, media_root / media.thumb_key]
    assert all(f.is_file() for f in files)
    response = client.post(f"/media/{media.id}/delete")
    assert response.status_code == 303
    assert media_rows(world.agency.id) == []
    assert not any(f.exists() for f in files)
    assert client.get(f"/media/{media.id}").status_code == 404
    with tenant_scope(world.agency.id):
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == str(media.id))
        ).all()
    assert sorted(actions) == ["media.deleted", "media.uploaded"]


def test_a_deleted_file_can_be_uploaded_again(client, world, media_root):
    data = two_colour_jpeg()
    media = _one(client, world, data=data)
    client.post(f"/media/{media.id}/delete")
    again = _one(client, world, data=data)
    assert again.id != media.id
    assert (media_root / again.storage_key).is_file()
