"""A person signs in, creates a client workspace, adds its contact, and signs out."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_sign_in_create_a_client_and_add_a_contact(page, committed_agency):
    page.goto("/login")
    expect(page).to_have_title("Se connecter · Relais")
    page.get_by_label("E-mail").fill(committed_agency["email"])
    page.get_by_label("Mot de passe").fill(committed_agency["password"])
    page.get_by_role("button", name="Se connecter").click()

    expect(page.get_by_role("heading", name="Clients")).to_be_visible()
    page.get_by_role("link", name="Nouveau client").click()
    page.get_by_label("Nom").fill("Crêperie du Port")
    page.get_by_role("button", name="Créer le client").click()

    expect(page.get_by_role("heading", name="Crêperie du Port")).to_be_visible()
    expect(page.get_by_text("Europe/Paris")).to_be_visible()
    page.get_by_role("link", name="Ajouter un contact").click()
    page.get_by_label("Nom").fill("Yann Le Goff")
    page.get_by_label("E-mail").fill("yann@creperie.test")
    page.get_by_label("Valide les publications").check()
    page.get_by_role("button", name="Ajouter le contact").click()

    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Yann Le Goff"))
    expect(row).to_contain_text("yann@creperie.test")
    expect(row).to_contain_text("Valide les publications")

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url("/login")
    page.goto("/clients")
    expect(page).to_have_url("/login?next=%2Fclients")


def test_the_client_list_filters_as_one_types(page, committed_agency):
    page.goto("/login")
    page.get_by_label("E-mail").fill(committed_agency["email"])
    page.get_by_label("Mot de passe").fill(committed_agency["password"])
    page.get_by_role("button", name="Se connecter").click()
    for name in ("Boulangerie Alpha", "Garage Bêta"):
        page.goto("/clients/new")
        page.get_by_label("Nom").fill(name)
        page.get_by_role("button", name="Créer le client").click()
        expect(page.get_by_role("heading", name=name)).to_be_visible()
    page.goto("/clients")
    page.get_by_role("searchbox").fill("garage")
    expect(page.get_by_role("link", name="Garage Bêta")).to_be_visible()
    expect(page.get_by_role("link", name="Boulangerie Alpha")).to_have_count(0)
