"""Building test files in memory and talking to the media routes."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from agency.extensions import db
from agency.media.models import Media
from tenants.context import tenant_scope

RED, BLUE = (220, 20, 20), (20, 20, 220)


def two_colour_jpeg(width=40, height=20, exif: Image.Exif | None = None) -> bytes:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, **({"exif": exif} if exif else {}))
    return out.getvalue()


def exif_with_gps(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Model] = "Serial-0042"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 3.0)
    return exif


def png_bytes(width=64, height=48, colour=(0, 128, 0, 255), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims ``width`` × ``height`` pixels."""
    data = bytearray(png_bytes(1, 1, 0, mode="L"))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def mp4_bytes(size: int = 4096) -> bytes:
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + b"\x00" * (size - len(head))


def upload(http, client_id, *files, **fields):
    """POST files given as (bytes, filename[, content_type]).

    The body is encoded in memory: the test client would spool a large one to a
    temporary file that it never closes (a ResourceWarning, an error in this suite).
    """
    values = MultiDict(fields)
    for f in files:
        values.add("files", FileStorage(io.BytesIO(f[0]), filename=f[1],
                                        content_type=f[2] if len(f) > 2 else None))
    boundary, body = encode_multipart(values)
    return http.post(f"/clients/{client_id}/media", data=body,
                     content_type=f"multipart/form-data; boundary={boundary}")


def media_rows(agency_id) -> list[Media]:
    with tenant_scope(agency_id):
        return list(db.session.scalars(select(Media).order_by(Media.created_at)))


def jpeg_of(colour, width=40, height=30) -> bytes:
    """A small plain JPEG; a different colour gives a different file."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG", quality=90)
    return out.getvalue()


def add_to_library(agency_id, client_id, data: bytes, name: str, user_id=None):
    """Store a file in a client's library through the service; returns its id."""
    from agency.clients.models import Client
    from agency.media.services import store_upload

    with tenant_scope(agency_id):
        client = db.session.scalars(select(Client).where(Client.id == client_id)).one()
        media = store_upload(client, name, data, user_id)
        db.session.flush()
        return media.id
