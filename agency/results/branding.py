"""The agency's colour and logo on its clients' reports (white label; owners and admins):
a writer that flushes, never commits."""

from __future__ import annotations

from flask_babel import gettext as _

from agency.extensions import db

from .report import _COLOR

LOGO_MAX_BYTES = 300 * 1024
LOGO_MAX_PIXELS = 4000 * 4000  # beyond this a file is refused before it is decoded
LOGO_BOX = (800, 300)  # the stored logo fits in this box
_LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


class BrandAction:
    CHANGED = "agency.report_branding_changed"


def clean_logo(data: bytes) -> tuple[bytes, str]:
    """A PNG or JPEG of at most 300 KB, checked with Pillow and re-encoded (no metadata,
    fitted in ``LOGO_BOX``): its bytes and media type. ``ServiceError`` otherwise."""
    import io

    from PIL import Image, UnidentifiedImageError

    from agency.auth.services import ServiceError

    if len(data) > LOGO_MAX_BYTES:
        raise ServiceError(_("The logo must be at most 300 KB."), field="logo")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            if kind not in _LOGO_FORMATS:
                raise ServiceError(_("The logo must be a PNG or JPEG image."), field="logo")
            if probe.width * probe.height > LOGO_MAX_PIXELS:
                raise ServiceError(_("This image is too large."), field="logo")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image.thumbnail(LOGO_BOX)
            out = io.BytesIO()
            if kind == "JPEG":
                image.convert("RGB").save(out, "JPEG", quality=90)
            else:
                if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    image = image.convert("RGBA")
                image.save(out, "PNG", optimize=True)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as error:
        if isinstance(error, ServiceError):
            raise
        raise ServiceError(_("The logo must be a PNG or JPEG image."),
                           field="logo") from None
    return out.getvalue(), _LOGO_FORMATS[kind]


def set_branding(agency, *, color: str, logo: bytes | None = None,
                 remove_logo: bool = False) -> None:
    """Set the agency's report colour (``#RRGGBB``) and logo (``clean_logo``'s checks),
    or remove the logo. Audited; flushes, never commits."""
    from agency.audit.services import record
    from agency.auth.services import ServiceError

    color = (color or "").strip()
    if not _COLOR.match(color):
        raise ServiceError(_("Write the colour as #RRGGBB, for example #1f4e79."),
                           field="color")
    cleaned = clean_logo(logo) if logo else None
    agency.brand_color = color.lower()
    if cleaned is not None:
        agency.logo, agency.logo_type = cleaned
    elif remove_logo:
        agency.logo, agency.logo_type = None, ""
    db.session.flush()
    record(BrandAction.CHANGED, agency, details={
        "color": agency.brand_color,
        "logo": "new" if cleaned else "removed" if remove_logo else "unchanged"})
