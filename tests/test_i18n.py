"""French by default, English on request, and the choice remembered."""

import pytest


@pytest.fixture
def french_default(app):
    app.config["BABEL_DEFAULT_LOCALE"] = "fr"
    try:
        yield
    finally:
        app.config["BABEL_DEFAULT_LOCALE"] = "en"


def test_pages_are_french_by_default(client, french_default):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Se connecter" in html
    assert "Mot de passe" in html


def test_error_pages_are_translated_too(client, french_default):
    assert "Page introuvable" in client.get("/nowhere").get_data(as_text=True)


def test_the_language_choice_is_remembered(client, french_default):
    client.post("/language", data={"lang": "en"})
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html and "Sign in" in html


def test_a_signed_in_persons_choice_is_saved_on_their_account(client, db, french_default):
    from agency.auth.models import User
    from tests.factories import login, make_world

    world = make_world()
    login(client, world.owner)
    client.post("/language", data={"lang": "en", "next": "/clients"})
    assert db.session.get(User, world.owner.user_id).locale == "en"
