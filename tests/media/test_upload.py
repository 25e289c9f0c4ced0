"""Uploading: type sniffing, size and pixel limits, metadata stripping, deduplication."""

from __future__ import annotations

import io

from PIL import ExifTags, Image

from agency.media import routes as media_routes
from tests.factories import login
from tests.media.helpers import (
    exif_with_gps,
    media_rows,
    mp4_bytes,
    png_bytes,
    png_claiming,
    two_colour_jpeg,
    upload,
)


def _stored(media_root, media) -> bytes:
    return (media_root / media.storage_key).read_bytes()


def test_jpeg_loses_exif_and_gps_and_is_turned_upright(client, world, media_root):
    original = two_colour_jpeg(exif=exif_with_gps(orientation=6))
    with Image.open(io.BytesIO(original)) as check:  # the input really carries them
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert check.size == (40, 20)
    login(client, world.owner)

    response = upload(client, world.client.id, (original, "plage.jpg", "image/jpeg"))

    assert response.status_code == 303
    [media] = media_rows(world.agency.id)
    data = _stored(media_root, media)
    assert b"SpyCam" not in data and b"Serial-0042" not in data and b"Exif" not in data
    with Image.open(io.BytesIO(data)) as stored:
        assert len(stored.getexif()) == 0
        # Orientation 6: shown turned a quarter clockwise, so the red left half is on top.
        assert stored.size == (20, 40)
        top, bottom = stored.convert("RGB").getpixel((10, 5)), stored.getpixel((10, 35))
    assert top[0] > 150 and top[2] < 100
    assert bottom[2] > 150 and bottom[0] < 100
    assert (media.kind, media.mime, media.width, media.height) == ("image", "image/jpeg", 20, 40)
    assert media.size == len(data)
    import hashlib

    assert media.sha256 == hashlib.sha256(data).hexdigest()
    assert media.original_name == "plage.jpg"


def test_png_is_accepted_with_a_thumbnail(client, world, media_root):
    login(client, world.owner)
    response = upload(client, world.client.id, (png_bytes(1200, 600), "logo.png", "image/png"))
    assert response.status_code == 303
    [media] = media_rows(world.agency.id)
    assert (media.mime, media.width, media.height) == ("image/png", 1200, 600)
    with Image.open(media_root / media.thumb_key) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == (480, 240)


def test_a_text_file_named_jpg_is_refused_with_415(client, world, media_root):
    login(client, world.owner)
    response = upload(client, world.client.id,
                      (b"just some text, not a picture\n" * 10, "photo.jpg", "image/jpeg"))
    assert response.status_code == 415
    assert "photo.jpg" in response.get_data(as_text=True)
    assert media_rows(world.agency.id) == []
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_the_declared_type_is_ignored(client, world, media_root):
    login(client, world.owner)
    response = upload(client, world.client.id, (two_colour_jpeg(), "image.png", "image/png"))
    assert response.status_code == 303
    [media] = media_rows(world.agency.id)
    assert media.mime == "image/jpeg"
    assert media.storage_key.endswith(".jpg")


def test_an_image_over_10_mb_is_refused_with_413(client, world, media_root):
    login(client, world.owner)
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (11 * 1024 * 1024)
    response = upload(client, world.client.id, (big, "huge.jpg", "image/jpeg"))
    assert response.status_code == 413
    assert media_rows(world.agency.id) == []


def test_the_upload_route_has_its_own_request_limit(app, client, world, monkeypatch):
    login(client, world.owner)
    assert app.config["MAX_CONTENT_LENGTH"] < 11 * 1024 * 1024  # what every other route has
    # A body over the route's own limit is refused before it is parsed.
    monkeypatch.setattr(media_routes, "UPLOAD_MAX_BYTES", 1024)
    response = upload(client, world.client.id, (b"\xff\xd8\xff\xe0" + b"x" * 4000, "a.jpg"))
    assert response.status_code == 413
    assert media_rows(world.agency.id) == []


def test_a_decompression_bomb_is_refused_with_422(client, world, media_root):
    login(client, world.owner)
    bomb = png_claiming(30_000, 30_000)  # 900 megapixels in under 100 bytes
    assert len(bomb) < 100
    response = upload(client, world.client.id, (bomb, "bomb.png", "image/png"))
    assert response.status_code == 422
    assert "megapixels" in response.get_data(as_text=True)
    # Under Pillow's own threshold, still over ours.
    response = upload(client, world.client.id, (png_claiming(8000, 6000), "big.png"))
    assert response.status_code == 422
    assert media_rows(world.agency.id) == []


def test_a_damaged_image_is_refused_with_422(client, world, media_root):
    login(client, world.owner)
    damaged = two_colour_jpeg()[:40]
    response = upload(client, world.client.id, (damaged, "broken.jpg"))
    assert response.status_code == 422
    assert media_rows(world.agency.id) == []


def test_the_same_file_twice_is_stored_once(client, world, media_root):
    login(client, world.owner)
    data = two_colour_jpeg()
    assert upload(client, world.client.id, (data, "a.jpg"), (data, "b.jpg")).status_code == 303
    assert upload(client, world.client.id, (data, "c.jpg")).status_code == 303
    rows = media_rows(world.agency.id)
    assert len(rows) == 1
    assert rows[0].original_name == "a.jpg"
    assert len([p for p in media_root.rglob("*") if p.is_file()]) == 2  # file + thumbnail


def test_the_same_file_for_another_client_is_stored_separately(client, world, media_root):
    login(client, world.owner)
    data = png_bytes()
    upload(client, world.client.id, (data, "a.png"))
    upload(client, world.other_client.id, (data, "a.png"))
    assert {m.client_id for m in media_rows(world.agency.id)} == {world.client.id,
                                                                  world.other_client.id}


def test_the_stored_key_never_contains_the_file_name(client, world, media_root):
    login(client, world.owner)
    response = upload(client, world.client.id,
                      (png_bytes(), "../../secret-holiday\x00.png", "image/png"))
    assert response.status_code == 303
    [media] = media_rows(world.agency.id)
    assert "secret" not in media.storage_key and "secret" not in (media.thumb_key or "")
    assert media.storage_key == f"{world.agency.id}/{world.client.id}/{media.sha256}.png"
    assert media.original_name == "secret-holiday.png"
    assert all(p.resolve().is_relative_to(media_root.resolve()) for p in media_root.rglob("*"))


def test_a_video_is_stored_as_sent_without_thumbnail(client, world, media_root):
    login(client, world.owner)
    data = mp4_bytes()
    response = upload(client, world.client.id, (data, "clip.mp4", "video/mp4"))
    assert response.status_code == 303
    [media] = media_rows(world.agency.id)
    assert (media.kind, media.mime, media.width, media.height, media.thumb_key) == (
        "video", "video/mp4", None, None, None)
    assert _stored(media_root, media) == data
    page = client.get(f"/clients/{world.client.id}/media").get_data(as_text=True)
    assert "clip.mp4" in page and f"/media/{media.id}/thumb" not in page


def test_mixed_uploads_keep_the_good_files_and_say_which_failed(client, world, media_root):
    login(client, world.owner)
    response = upload(client, world.client.id, (png_bytes(), "good.png"),
                      (b"%PDF-1.4 not accepted", "contract.pdf"))
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    assert "contract.pdf" in page and "This type of file is not accepted" in page
    assert [m.original_name for m in media_rows(world.agency.id)] == ["good.png"]


def test_no_file_is_a_422(client, world):
    login(client, world.owner)
    response = client.post(f"/clients/{world.client.id}/media", data={},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose at least one file" in response.get_data(as_text=True)


def test_an_animated_gif_keeps_its_frames(client, world, media_root):
    frames = [Image.new("RGB", (30, 30), colour) for colour in ((255, 0, 0), (0, 255, 0),
                                                                 (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=80,
                   loop=0, comment=b"made by SpyCam")
    with Image.open(io.BytesIO(out.getvalue())) as original:
        assert original.n_frames == 3 and b"SpyCam" in out.getvalue()
    login(client, world.owner)
    assert upload(client, world.client.id, (out.getvalue(), "anim.gif")).status_code == 303
    [media] = media_rows(world.agency.id)
    data = _stored(media_root, media)
    assert b"SpyCam" not in data
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.n_frames == 3
    assert media.mime == "image/gif"


def test_upload_needs_the_csrf_token(app, client, world, media_root):
    login(client, world.owner)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = upload(client, world.client.id, (png_bytes(), "a.png"))
        assert refused.status_code == 400
        page = client.get(f"/clients/{world.client.id}/media").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 2)[2].split('"', 1)[0]
        accepted = upload(client, world.client.id, (png_bytes(), "a.png"), csrf_token=token)
        assert accepted.status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert len(media_rows(world.agency.id)) == 1
