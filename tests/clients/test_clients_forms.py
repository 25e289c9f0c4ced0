"""Creating, editing, archiving and restoring clients; refused input writes nothing."""

from __future__ import annotations

import pytest

from agency.clients.services import update_client
from agency.extensions import db
from tenants.context import tenant_scope
from tests.clients.helpers import page, shows
from tests.factories import login

VALID = {"name": "Fromagerie Dupont", "timezone": "Indian/Reunion", "language": "en",
         "brand_tone": "Chaleureux", "brand_words_use": "terroir", "brand_words_avoid": "cheap",
         "brand_hashtags": "#fromage #reunion"}


def test_new_client_form_defaults_to_paris_and_french(client, world):
    login(client, world.manager)
    html = page(client.get("/clients/new"))
    assert '<option selected value="Europe/Paris">' in html
    assert '<option selected value="fr">' in html
    # The French overseas zones come before the alphabetical list.
    assert html.index('value="America/Martinique"') < html.index('value="Africa/Abidjan"')
    assert html.index('value="Pacific/Noumea"') < html.index('value="Africa/Abidjan"')


def test_create_with_defaults(client, world, read):
    login(client, world.manager)
    response = client.post("/clients/new", data={"name": "  Librairie Martin  "})
    assert response.status_code == 303
    created = [c for c in read.state()["clients"] if c[1] == "Librairie Martin"]
    assert len(created) == 1
    client_id, _, timezone, language = created[0][:4]
    assert (timezone, language) == ("Europe/Paris", "fr")
    assert response.headers["Location"].endswith(f"/clients/{client_id}")
    assert len(read.audit("client.created", client_id)) == 1


def test_create_with_every_field(client, world, read):
    login(client, world.owner)
    response = client.post("/clients/new", data=VALID, follow_redirects=True)
    assert response.status_code == 200
    assert shows(response, "Fromagerie Dupont")
    assert shows(response, "#fromage #reunion")
    row = next(c for c in read.state()["clients"] if c[1] == "Fromagerie Dupont")
    assert row[2:8] == ("Indian/Reunion", "en", "Chaleureux", "terroir", "cheap",
                        "#fromage #reunion")


BAD_CLIENT_INPUT = [
    ({"name": ""}, "name", "A client needs a name."),
    ({"name": "   "}, "name", "A client needs a name."),
    ({"name": "x" * 121}, "name", "At most 120 characters."),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Unknown time zone."),
    ({"timezone": ""}, "timezone", "Unknown time zone."),
    ({"language": "de"}, "language", "Choose French or English."),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_CLIENT_INPUT)
def test_create_refuses_bad_input(client, world, read, change, field, message):
    login(client, world.manager)
    before = read.state()
    response = client.post("/clients/new", data={**VALID, **change})
    assert response.status_code == 422
    html = page(response)
    assert f'id="{field}-error"' in html
    assert message in html
    assert 'aria-invalid="true"' in html
    assert read.state() == before


@pytest.mark.parametrize(("change", "field", "message"), BAD_CLIENT_INPUT)
def test_edit_refuses_bad_input(client, world, read, change, field, message):
    login(client, world.member)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/edit", data={**VALID, **change})
    assert response.status_code == 422
    assert message in page(response)
    assert read.state() == before


def test_every_problem_is_shown_at_once(client, world, read):
    login(client, world.manager)
    before = read.state()
    response = client.post("/clients/new", data={"name": "", "timezone": "Nowhere",
                                                 "language": "it"})
    assert response.status_code == 422
    html = page(response)
    for field in ("name", "timezone", "language"):
        assert f'id="{field}-error"' in html
    assert read.state() == before


def test_legacy_timezone_is_kept_when_editing(client, world, read):
    with tenant_scope(world.agency_id):
        update_client(read.client(world.client_id), {"timezone": "US/Eastern"})
        db.session.flush()
    login(client, world.member)
    form = page(client.get(f"/clients/{world.client_id}/edit"))
    assert '<option selected value="US/Eastern">' in form
    assert 'value="US/Central"' not in form  # aliases are not offered otherwise
    response = client.post(f"/clients/{world.client_id}/edit",
                           data={**VALID, "timezone": "US/Eastern"})
    assert response.status_code == 303
    assert read.client(world.client_id).timezone == "US/Eastern"


def test_member_cannot_create_a_client(client, world, read):
    login(client, world.member)
    before = read.state()
    assert client.get("/clients/new").status_code == 403
    assert client.post("/clients/new", data=VALID).status_code == 403
    assert read.state() == before


def test_member_edits_an_assigned_client(client, world, read):
    login(client, world.member)
    form = page(client.get(f"/clients/{world.client_id}/edit"))
    assert f'value="{world.client_name}"' in form
    response = client.post(f"/clients/{world.client_id}/edit",
                           data={**VALID, "name": "Boulangerie du Port"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client_id}")
    edited = read.client(world.client_id)
    assert (edited.name, edited.timezone, edited.brand_tone) == (
        "Boulangerie du Port", "Indian/Reunion", "Chaleureux")
    assert len(read.audit("client.updated", world.client_id)) == 1


def test_member_cannot_edit_an_unassigned_client(client, world, read):
    login(client, world.member)
    before = read.state()
    assert client.get(f"/clients/{world.other_client_id}/edit").status_code == 404
    assert client.post(f"/clients/{world.other_client_id}/edit", data=VALID).status_code == 404
    assert read.state() == before


def test_archive_and_restore_are_idempotent_and_audited(client, world, read):
    login(client, world.manager)
    url = f"/clients/{world.other_client_id}"
    for _ in range(2):
        response = client.post(url + "/archive")
        assert response.status_code == 303
        assert response.headers["Location"].endswith(url)
    assert read.client(world.other_client_id).archived_at is not None
    assert len(read.audit("client.archived", world.other_client_id)) == 1
    for _ in range(2):
        assert client.post(url + "/restore").status_code == 303
    assert read.client(world.other_client_id).archived_at is None
    assert len(read.audit("client.restored", world.other_client_id)) == 1
    assert len(read.audit("client.archived", world.other_client_id)) == 1


def test_member_cannot_archive_or_restore(client, world, read):
    login(client, world.member)
    before = read.state()
    assert client.post(f"/clients/{world.client_id}/archive").status_code == 403
    assert client.post(f"/clients/{world.client_id}/restore").status_code == 403
    assert read.state() == before


def test_archive_asks_first_on_its_own_page(client, world, read):
    login(client, world.manager)
    html = page(client.get(f"/clients/{world.client_id}/archive"))
    assert "Its history is kept and you can restore it later." in html
    assert f'action="/clients/{world.client_id}/archive"' in html
    assert read.client(world.client_id).archived_at is None


def test_archive_without_csrf_token_is_refused(app, client, world, read):
    login(client, world.manager)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/clients/{world.client_id}/archive")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert read.client(world.client_id).archived_at is None


def test_the_client_page_links_to_the_archive_question(client, world):
    login(client, world.manager)
    html = page(client.get(f"/clients/{world.client_id}"))
    assert f'href="/clients/{world.client_id}/archive"' in html


ARCHIVED_WRITES = [
    ("get", "/edit", None),
    ("post", "/edit", VALID),
    ("get", "/staff", None),
    ("post", "/staff", {}),
    ("get", "/contacts/new", None),
    ("post", "/contacts/new", {"name": "Paul", "email": "paul@example.test"}),
    ("get", "/contacts/{contact_id}/edit", None),
    ("post", "/contacts/{contact_id}/edit", {"name": "Renamed"}),
    ("post", "/contacts/{contact_id}/delete", {}),
]


@pytest.mark.parametrize(("method", "path", "data"), ARCHIVED_WRITES)
def test_archived_client_is_read_only(client, world, read, method, path, data):
    """Chosen behaviour: back to the client's page with a message, nothing changed."""
    login(client, world.manager)
    client.post(f"/clients/{world.client_id}/archive")
    before = read.state()
    url = f"/clients/{world.client_id}" + path.format(contact_id=world.contact_id)
    response = getattr(client, method)(url, data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client_id}")
    assert "Restore it before making changes" in page(client.get(response.headers["Location"]))
    assert read.state() == before


def test_archived_client_page_offers_only_restore(client, world):
    login(client, world.manager)
    client.post(f"/clients/{world.client_id}/archive")
    html = page(client.get(f"/clients/{world.client_id}"))
    assert f'href="/clients/{world.client_id}/restore"' in html
    assert f'href="/clients/{world.client_id}/edit"' not in html
    assert f'href="/clients/{world.client_id}/archive"' not in html
    assert f'/clients/{world.client_id}/contacts/new' not in html
    assert "is archived" in html


def test_client_page_shows_profile_notes_contacts_and_staff(client, world, read):
    with tenant_scope(world.agency_id):
        update_client(read.client(world.client_id), {"brand_hashtags": "#pain #lyon"})
        db.session.flush()
    login(client, world.member)
    response = client.get(f"/clients/{world.client_id}")
    html = page(response)
    assert response.status_code == 200
    assert shows(response, world.client_name)
    assert "#pain #lyon" in html
    assert "Sophie" in html and "Approves posts" in html
    assert shows(response, world.member.name)
    # A member may edit and manage contacts, not archive or assign staff.
    assert f'href="/clients/{world.client_id}/edit"' in html
    assert f'/clients/{world.client_id}/contacts/new' in html
    assert f'action="/clients/{world.client_id}/archive"' not in html
    assert f'href="/clients/{world.client_id}/staff"' not in html


def test_client_page_of_an_unassigned_client_is_404_for_a_member(client, world):
    login(client, world.member)
    assert client.get(f"/clients/{world.other_client_id}").status_code == 404
