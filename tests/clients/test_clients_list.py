"""The client list: visibility by role, search (plain and htmx), tabs, empty states."""

from __future__ import annotations

from types import SimpleNamespace

from markupsafe import escape

from agency.clients.services import archive_client, create_client
from agency.extensions import db
from tenants.context import tenant_scope
from tenants.roles import Role
from tests.clients.helpers import page, reduce_world, shows
from tests.factories import add_member, login, make_world


def test_anonymous_visitor_is_sent_to_login(client, world):
    response = client.get("/clients")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_member_sees_only_assigned_clients(client, world):
    login(client, world.member)
    response = client.get("/clients")
    assert response.status_code == 200
    assert shows(response, world.client_name)
    assert not shows(response, world.other_client_name)


def test_manager_sees_every_client(client, world):
    login(client, world.manager)
    response = client.get("/clients")
    assert shows(response, world.client_name)
    assert shows(response, world.other_client_name)


def test_clients_of_another_agency_never_listed(client, world):
    other = make_world("Beta")
    with tenant_scope(other.agency.id):
        foreign_name = other.client.name
    login(client, world.owner)
    response = client.get("/clients")
    assert not shows(response, foreign_name)
    assert not shows(client.get("/clients?q=Beta"), foreign_name)


def test_row_shows_timezone_language_contact_count_and_staff(client, world):
    login(client, world.manager)
    html = page(client.get("/clients"))
    row = html.split(str(world.client_id))[1].split("</tr>")[0]
    assert "Europe/Paris" in row
    assert ">1<" in row  # Sophie, the one contact
    assert str(escape(world.member.name)) in row
    other_row = html.split(str(world.other_client_id))[1].split("</tr>")[0]
    assert ">0<" in other_row


def test_search_by_name_is_case_insensitive(client, world):
    login(client, world.manager)
    response = client.get("/clients?q=bOULANG")
    assert shows(response, world.client_name)
    assert not shows(response, world.other_client_name)


def test_search_ignores_case_of_accented_letters(client, world):
    with tenant_scope(world.agency_id):
        create_client({"name": "Pâtisserie Élise"})
        db.session.flush()
    login(client, world.manager)
    assert shows(client.get("/clients?q=PÂTISSERIE élise"), "Pâtisserie Élise")


def test_search_treats_wildcards_as_text(client, world):
    login(client, world.manager)
    response = client.get("/clients?q=%25")  # a literal "%"
    assert not shows(response, world.client_name)
    assert "No client matches" in page(response)


def test_search_that_matches_nothing_says_so(client, world):
    login(client, world.manager)
    response = client.get("/clients?q=Poissonnerie")
    assert response.status_code == 200
    assert not shows(response, world.client_name)
    assert "No client matches" in page(response)
    assert "Clear the search" in page(response)


def test_archived_clients_have_their_own_tab(client, world, read):
    with tenant_scope(world.agency_id):
        archive_client(read.client(world.other_client_id))
        db.session.flush()
    login(client, world.manager)
    active = client.get("/clients")
    assert shows(active, world.client_name)
    assert not shows(active, world.other_client_name)
    archived = client.get("/clients?archived=1")
    assert shows(archived, world.other_client_name)
    assert not shows(archived, world.client_name)
    assert 'aria-current="page"' in page(archived)


def test_empty_archived_tab_explains_archiving(client, world):
    login(client, world.manager)
    response = client.get("/clients?archived=1")
    assert "No archived clients." in page(response)


def test_htmx_search_returns_only_the_results(client, world):
    login(client, world.manager)
    response = client.get("/clients?q=garage", headers={"HX-Request": "true"})
    html = page(response)
    assert response.status_code == 200
    assert "<html" not in html and "<nav" not in html
    assert shows(response, world.other_client_name)
    assert not shows(response, world.client_name)
    assert "HX-Request" in response.headers.get("Vary", "")


def test_full_page_has_live_search_wired(client, world):
    login(client, world.manager)
    html = page(client.get("/clients"))
    assert "<html" in html
    assert 'hx-trigger="input changed delay:300ms' in html
    assert 'hx-target="#client-results"' in html
    assert 'id="client-results"' in html


def test_htmx_history_restore_gets_the_full_page(client, world):
    login(client, world.manager)
    response = client.get("/clients", headers={"HX-Request": "true",
                                               "HX-History-Restore-Request": "true"})
    assert "<html" in page(response)


def test_new_client_button_only_for_those_who_may_create(client, app, world):
    login(client, world.manager)
    assert 'href="/clients/new"' in page(client.get("/clients"))
    other = app.test_client()
    login(other, world.member)
    assert 'href="/clients/new"' not in page(other.get("/clients"))


def test_member_without_assignments_is_told_whom_to_ask(client, world):
    newcomer = add_member(SimpleNamespace(id=world.agency_id), Role.MEMBER)
    login(client, newcomer)
    html = page(client.get("/clients"))
    assert "not assigned to any client" in html
    assert 'href="/clients/new"' not in html


def test_agency_without_active_clients_invites_to_create_one(client):
    full = make_world("Gamma")
    with tenant_scope(full.agency.id):
        for c in (full.client, full.other_client):
            archive_client(c)
        db.session.flush()
    login(client, reduce_world(full).owner)
    html = page(client.get("/clients"))
    assert "No clients yet." in html
    assert "Create your first client" in html


def test_list_is_sorted_by_name(client, world):
    with tenant_scope(world.agency_id):
        create_client({"name": "aaa Fleuriste"})
        db.session.flush()
    login(client, world.manager)
    html = page(client.get("/clients"))
    assert html.index("aaa Fleuriste") < html.index(str(world.client_name))
