"""White label: owners and admins set the colour and logo their clients' reports carry
(a PNG or JPEG of at most 300 KB, checked with Pillow), and the report (page and PDF)
shows them; managers and members cannot change them."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.extensions import db
from agency.results import branding
from tenants.context import tenant_scope
from tenants.models import Agency
from tests.factories import login, make_world
from tests.results.test_report_support import pdf_images, png, scene_for

pytestmark = pytest.mark.pdf  # the report's pages link to, or are, its PDF


@pytest.fixture
def world(db):
    return make_world("Agence Marque")


def agency(world) -> SimpleNamespace:
    """The agency's branding as stored (read inside its tenant: RLS on PostgreSQL)."""
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        row = db.session.scalars(select(Agency).where(Agency.id == world.agency_id)).one()
        return SimpleNamespace(brand_color=row.brand_color, logo=row.logo,
                               logo_type=row.logo_type)


def jpeg(size=(120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 80, 120)).save(out, "JPEG")
    return out.getvalue()


def post_branding(http, **data):
    return http.post("/settings/report", data=data, content_type="multipart/form-data")


def test_an_owner_sets_the_colour_and_logo(client, world):
    login(client, world.owner)
    page = client.get("/settings/report")
    assert page.status_code == 200 and "#1f4e79" in page.get_data(as_text=True)
    response = post_branding(client, color="#C0392B",
                             logo=(io.BytesIO(png(400)), "logo.png"))
    assert response.status_code == 302
    saved = agency(world)
    assert saved.brand_color == "#c0392b"
    assert saved.logo_type == "image/png" and saved.logo.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(saved.logo)).size == (300, 300)  # fitted in 800 × 300
    with tenant_scope(world.agency_id):
        assert db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action == branding.BrandAction.CHANGED)).all()
    page = client.get("/settings/report").get_data(as_text=True)
    assert 'src="data:image/png;base64,' in page


def test_the_report_carries_the_colour_and_logo(client, world, app):
    scene_for(world)
    login(client, world.admin)
    assert post_branding(client, color="#123456",
                         logo=(io.BytesIO(jpeg()), "logo.jpg")).status_code == 302
    html = client.get(f"/clients/{world.client.id}/report?month=2026-10").get_data(
        as_text=True)
    assert 'fill="#123456"' in html
    assert 'class="report-logo" src="data:image/jpeg;base64,' in html
    pdf = client.get(f"/clients/{world.client.id}/report.pdf?month=2026-10")
    assert pdf.status_code == 200 and pdf_images(pdf.data) >= 1


def test_removing_the_logo(client, world):
    login(client, world.owner)
    post_branding(client, color="#123456", logo=(io.BytesIO(png()), "logo.png"))
    assert post_branding(client, color="#123456", remove_logo="y").status_code == 302
    saved = agency(world)
    assert saved.logo is None and saved.logo_type == ""


@pytest.mark.parametrize(("data", "color", "message"), [
    (b"GIF89a" + b"\0" * 100, "#123456", "PNG or JPEG"),
    (b"not an image at all", "#123456", "PNG or JPEG"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "#123456", "PNG or JPEG"),  # a broken PNG
    (None, "red", "#RRGGBB"),
    (None, "#12345", "#RRGGBB"),
    (None, "#1234567", "#RRGGBB"),
])
def test_refused_logos_and_colours(client, world, data, color, message):
    login(client, world.owner)
    fields = {"color": color}
    if data is not None:
        fields["logo"] = (io.BytesIO(data), "logo.png")
    response = post_branding(client, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    saved = agency(world)
    assert saved.brand_color == "#1f4e79" and saved.logo is None


def test_a_logo_over_300_kb_is_refused(client, world):
    login(client, world.owner)
    noise = Image.effect_noise((420, 420), 120).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert 300 * 1024 < len(out.getvalue()) < 480 * 1024  # kept in memory by the parser
    response = post_branding(client, color="#123456",
                             logo=(io.BytesIO(out.getvalue()), "big.png"))
    assert response.status_code == 422
    assert "300" in response.get_data(as_text=True)
    assert agency(world).logo is None


@pytest.mark.parametrize("role", ["manager", "member"])
def test_managers_and_members_cannot_change_it(client, world, role):
    login(client, getattr(world, role))
    assert client.get("/settings/report").status_code == 403
    assert post_branding(client, color="#000000").status_code == 403
    assert agency(world).brand_color == "#1f4e79"


def test_one_agencys_branding_never_shows_on_anothers_report(client, world):
    other = make_world("Agence Autre")
    login(client, world.owner)
    post_branding(client, color="#abcdef", logo=(io.BytesIO(png()), "logo.png"))
    login(client, other.owner)
    html = client.get(f"/clients/{other.client.id}/report?month=2026-10").get_data(
        as_text=True)
    assert "#abcdef" not in html and "report-logo" not in html
    assert "Agence Autre" in html and "Agence Marque" not in html
