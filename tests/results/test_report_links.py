"""The report's signed link: it works without signing in (HTML and PDF), shows only the
client and month it names, and refuses tampered (404), expired and archived-client
(410) links with a page that says so, never a 500."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from agency.clients.services import archive_client
from agency.results import report_links
from tenants.context import tenant_scope
from tests.factories import login, make_world
from tests.results.test_report_support import (
    OCTOBER,
    flat,
    load_client,
    pdf_text,
    scene_for,
    set_language,
)

pytestmark = pytest.mark.pdf  # the report's pages link to, or are, its PDF


@pytest.fixture
def world(db):
    return make_world("Agence Lien")


@pytest.fixture
def scene(app, world):
    return scene_for(world)


def token_for(app, world, client_id, period=OCTOBER) -> str:
    with app.test_request_context(), tenant_scope(world.agency_id):
        return report_links.make_token(load_client(client_id), period)


def test_the_link_works_without_signing_in(app, client, world, scene):
    token = token_for(app, world, world.client.id)
    response = client.get(f"/r/{token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Agence Lien Boulangerie" in html and "octobre 2026" in html
    assert "Nos croissants du dimanche" in html
    assert f"/r/{token}.pdf" in html
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert "no-store" in response.headers["Cache-Control"]
    # No staff bar for a link's holder: no link to share again, no way into Relais.
    assert "report-share-link" not in html and "/results" not in html
    pdf = client.get(f"/r/{token}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Referrer-Policy"] == "no-referrer"
    text = flat(pdf_text(pdf.data))
    assert "Agence Lien Boulangerie" in text and "octobre 2026" in text


def test_a_staff_session_is_ignored_on_the_link(app, client, world, scene):
    login(client, world.owner)
    token = token_for(app, world, world.client.id)
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert "report-share-link" not in html
    # Someone of another agency, signed in, holding the link: the link's agency counts.
    beta = make_world("Agence Beta")
    login(client, beta.owner)
    response = client.get(f"/r/{token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Agence Lien Boulangerie" in html and "Nos croissants du dimanche" in html
    assert "Agence Beta" not in html
    assert client.get(f"/r/{token}.pdf").status_code == 200


def test_the_staff_page_shares_a_working_link(app, client, world, scene):
    login(client, world.owner)
    html = client.get(f"/clients/{world.client.id}/report?month=2026-10").get_data(
        as_text=True)
    share = html.split('id="report-share-link" type="text" readonly value="')[1].split('"')[0]
    assert "/r/" in share
    anonymous = app.test_client()
    assert anonymous.get(share.split("relais.test", 1)[-1].replace("http://localhost", "")
                         ).status_code == 200


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature
    lambda t: "x" + t,  # the payload
    lambda t: t.rsplit(".", 1)[0],  # no signature at all
    lambda t: "not-a-token",
])
def test_a_tampered_link_is_a_404_page(app, client, world, scene, mangle):
    token = mangle(token_for(app, world, world.client.id))
    for suffix in ("", ".pdf"):
        response = client.get(f"/r/{token}{suffix}")
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert 'role="alert"' in html and "Boulangerie" not in html


def test_a_link_signed_for_another_purpose_is_refused(app, client, world, scene):
    with app.test_request_context():
        other = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="relais.other")
        token = other.dumps({"a": str(world.agency_id), "c": str(world.client.id),
                             "m": "2026-10"})
    assert client.get(f"/r/{token}").status_code == 404


def test_an_expired_link_is_a_410_page(app, client, world, scene, monkeypatch):
    set_language(world, world.client.id, "en")
    issued = int(time.time()) - report_links.LINK_MAX_AGE - 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued)
    token = token_for(app, world, world.client.id)
    monkeypatch.undo()
    for suffix in ("", ".pdf"):
        response = client.get(f"/r/{token}{suffix}")
        assert response.status_code == 410
        html = response.get_data(as_text=True)
        assert "This link has expired" in html and "Agence Lien" in html
        assert '<html lang="en">' in html
        assert "Nos croissants" not in html


def test_a_link_just_before_its_expiry_still_works(app, world, scene):
    token = token_for(app, world, world.client.id)
    link = report_links.parse(token)
    assert (link.expires_at - link.issued_at).days == 90
    with app.test_request_context():
        just_before = datetime.fromtimestamp(link.expires_at.timestamp() - 1, UTC)
        assert report_links.resolve(token, now=just_before).client.id == world.client.id
        with pytest.raises(report_links.Refused) as refused:
            report_links.resolve(token, now=link.expires_at)
        assert refused.value.status == 410


def test_an_archived_clients_link_is_a_410_page(app, client, world, scene):
    token = token_for(app, world, world.client.id)
    with tenant_scope(world.agency_id):
        archive_client(load_client(world.client.id))
    response = client.get(f"/r/{token}")
    assert response.status_code == 410
    assert "Nos croissants" not in response.get_data(as_text=True)


def test_a_link_shows_only_its_own_client_and_month(app, client, world, scene):
    """Client A's link, client B's link (same agency), another agency's client: each
    shows its own data only."""
    beta = make_world("Agence Beta")
    scene_for(beta)
    a = client.get(f"/r/{token_for(app, world, world.client.id)}").get_data(as_text=True)
    b = client.get(f"/r/{token_for(app, world, world.other_client.id)}").get_data(
        as_text=True)
    other = client.get(f"/r/{token_for(app, beta, beta.client.id)}").get_data(as_text=True)
    assert "Agence Lien Boulangerie" in a and "Nos croissants du dimanche" in a
    assert "Garage" not in a and "Agence Beta" not in a
    # B (the same agency's garage) has its own post, never A's.
    assert "Agence Lien Garage" in b and "Garage" in b
    assert "Nos croissants" not in b and "Galette" not in b and "Boulangerie" not in b
    assert "Agence Beta Boulangerie" in other and "Agence Lien" not in other
    pdf = flat(pdf_text(client.get(
        f"/r/{token_for(app, world, world.other_client.id)}.pdf").data))
    assert "Agence Lien Garage" in pdf and "Nos croissants" not in pdf
    assert "Galette" not in pdf


def test_a_link_cannot_name_another_agencys_client(app, client, world, scene):
    """Even signed (as if the key leaked into a payload), agency A's tenant never loads
    agency B's client: the client is simply not found."""
    beta = make_world("Agence Beta")
    scene_for(beta)
    with app.test_request_context():
        token = report_links.make_token(
            SimpleNamespace(agency_id=world.agency_id, id=beta.client.id), OCTOBER)
    response = client.get(f"/r/{token}")
    assert response.status_code == 404
    assert "Beta" not in response.get_data(as_text=True)
    assert client.get(f"/r/{token}.pdf").status_code == 404


def test_the_month_is_part_of_the_link(app, client, world, scene):
    from agency.results import periods

    token = token_for(app, world, world.client.id,
                      periods.month(2026, 9, OCTOBER.zone))
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert "septembre 2026" in html
    # September's figures and best post; October's posts only as what was planned next.
    figures, planned = html.split('class="report-planned"')
    assert "Septembre" in figures and "Nos croissants du dimanche" not in figures
    assert "Nos croissants du dimanche" in planned
    assert report_links.parse(token).month == "2026-09"
