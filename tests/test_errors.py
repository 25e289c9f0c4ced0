"""Bad requests get a clear 4xx page, never a 500."""


def test_oversized_body_is_413(client):
    response = client.post("/login", data={"email": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert "text/html" in response.content_type


def test_malformed_uuid_in_a_path_is_404(client):
    assert client.get("/clients/not-a-uuid").status_code in (302, 404)


def test_language_choice_is_remembered_and_safe(app, client):
    response = client.post("/language", data={"lang": "en", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "http://relais.test/")
    assert "relais_lang=en" in response.headers["Set-Cookie"]
    response = client.post("/language", data={"lang": "xx"})  # unknown: the default
    assert f"relais_lang={app.config['BABEL_DEFAULT_LOCALE']}" in response.headers["Set-Cookie"]
