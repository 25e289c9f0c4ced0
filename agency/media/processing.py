"""Turning uploaded bytes into what is stored: checked, cleaned, measured, thumbnailed.

Pure functions of the bytes (no database, no files). The type is sniffed from the
content, never taken from the file name or the declared Content-Type, and Pillow is only
allowed to decode the format that was sniffed. Images are re-encoded so that the stored
file carries no EXIF (GPS position, camera serial...) and is already upright.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import filetype
from flask_babel import gettext as _
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from agency.auth.services import ServiceError

MB = 1024 * 1024
IMAGE_MAX_BYTES = 10 * MB
VIDEO_MAX_BYTES = 200 * MB
# Decoded size, whatever the file size: a few kilobytes of PNG can claim 400 megapixels.
# Well under Pillow's own MAX_IMAGE_PIXELS, which it only warns about.
MAX_PIXELS = 40_000_000
MAX_FRAMES = 300
THUMB_MAX = 480

IMAGE, VIDEO = "image", "video"


@dataclass(frozen=True)
class Format:
    kind: str
    mime: str
    ext: str
    pillow: str | None = None


# Sniffed MIME type → what is stored. Animated PNG is stored as PNG.
ACCEPTED = {
    "image/jpeg": Format(IMAGE, "image/jpeg", "jpg", "JPEG"),
    "image/png": Format(IMAGE, "image/png", "png", "PNG"),
    "image/apng": Format(IMAGE, "image/png", "png", "PNG"),
    "image/webp": Format(IMAGE, "image/webp", "webp", "WEBP"),
    "image/gif": Format(IMAGE, "image/gif", "gif", "GIF"),
    "video/mp4": Format(VIDEO, "video/mp4", "mp4"),
    "video/quicktime": Format(VIDEO, "video/quicktime", "mov"),
}
THUMB_MIME, THUMB_EXT = "image/webp", "webp"


class MediaRejected(ServiceError):
    """A file refused for what it is; ``status`` is the HTTP status that says why."""

    status = 422

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message, field="files")
        if status is not None:
            self.status = status


class UnsupportedType(MediaRejected):
    status = 415


class TooLarge(MediaRejected):
    status = 413


@dataclass(frozen=True)
class Processed:
    kind: str
    mime: str
    ext: str
    data: bytes
    sha256: str
    width: int | None
    height: int | None
    thumb: bytes | None


def sniff(data: bytes) -> Format | None:
    """The accepted format these bytes really are, or ``None``."""
    guess = filetype.guess(data[:8192])
    return ACCEPTED.get(guess.mime) if guess else None


def process(data: bytes) -> Processed:
    """Check and prepare one upload; raises ``MediaRejected`` (413, 415 or 422)."""
    if not data:
        raise MediaRejected(_("The file is empty."))
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedType(_("This type of file is not accepted. Send a JPEG, PNG, WebP "
                                "or GIF image, or an MP4 or MOV video."))
    limit = IMAGE_MAX_BYTES if fmt.kind == IMAGE else VIDEO_MAX_BYTES
    if len(data) > limit:
        raise TooLarge(_("The file is too large (at most %(mb)d MB for this type).",
                         mb=limit // MB))
    if fmt.kind == VIDEO:
        # Stored as sent: no transcoding here, so no dimensions and no thumbnail.
        return Processed(VIDEO, fmt.mime, fmt.ext, data, _sha256(data), None, None, None)
    clean, width, height, thumb = _clean_image(data, fmt)
    return Processed(IMAGE, fmt.mime, fmt.ext, clean, _sha256(clean), width, height, thumb)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _unreadable() -> MediaRejected:
    return MediaRejected(_("This image could not be read. It may be damaged."))


def _too_many_pixels() -> MediaRejected:
    return MediaRejected(_("This image is too large in pixels (at most %(mp)d megapixels).",
                           mp=MAX_PIXELS // 1_000_000))


def _clean_image(data: bytes, fmt: Format) -> tuple[bytes, int, int, bytes]:
    try:
        with Image.open(io.BytesIO(data), formats=[fmt.pillow]) as image:
            width, height = image.size
            frames = getattr(image, "n_frames", 1)
            if width * height > MAX_PIXELS or width * height * frames > MAX_PIXELS:
                raise _too_many_pixels()
            if frames > MAX_FRAMES:
                raise MediaRejected(_("This animation has too many frames (at most "
                                      "%(n)d).", n=MAX_FRAMES))
            if frames > 1:
                out, first = _reencode_animation(image, fmt)
            else:
                first = _upright_copy(image)
                out = _encode_still(first, fmt, image.info.get("icc_profile"))
            width, height = first.size
            return out, width, height, _thumbnail(first)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except MediaRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _unreadable() from None


def _clean_info(info: dict) -> dict:
    # Only what is needed to draw the pixels; everything else (EXIF, XMP, comments,
    # text chunks) is dropped.
    return {k: info[k] for k in ("transparency",) if k in info}


def _upright_copy(image: Image.Image) -> Image.Image:
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    clean = upright.copy()
    clean.info = _clean_info(upright.info)
    return clean


def _encode_still(image: Image.Image, fmt: Format, icc: bytes | None) -> bytes:
    # The colour profile is kept: without it colours shift, and it says nothing about
    # the person or the place.
    options: dict = {"icc_profile": icc} if icc and fmt.pillow != "GIF" else {}
    if fmt.pillow == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        options.update(quality=90, optimize=True)
    elif fmt.pillow == "WEBP":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        options.update(quality=90)
    elif fmt.pillow == "PNG":
        options.update(optimize=True)
    out = io.BytesIO()
    image.save(out, format=fmt.pillow, **options)
    return out.getvalue()


def _reencode_animation(image: Image.Image, fmt: Format) -> tuple[bytes, Image.Image]:
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        copy = frame.copy()
        durations.append(frame.info.get("duration", 100))
        copy.info = _clean_info(frame.info)
        if fmt.pillow == "WEBP" and copy.mode not in ("RGB", "RGBA"):
            copy = copy.convert("RGBA")
        frames.append(copy)
    out = io.BytesIO()
    frames[0].save(out, format=fmt.pillow, save_all=True, append_images=frames[1:],
                   duration=durations, loop=image.info.get("loop", 0))
    return out.getvalue(), frames[0]


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _thumbnail(image: Image.Image) -> bytes:
    thumb = image.convert("RGBA" if _has_alpha(image) else "RGB")
    thumb.thumbnail((THUMB_MAX, THUMB_MAX))
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80)
    return out.getvalue()
