def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here


def test_hsts_over_https(client):
    response = client.get("/login", base_url="https://relais.test")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_no_inline_scripts_or_styles_in_pages(client):
    """The CSP forbids them; a page that used one would silently break."""
    import re

    html = client.get("/login").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert " style=" not in html


def test_session_cookie_is_httponly(client, db):
    from tests.factories import login, make_world

    world = make_world()
    login(client, world.owner)
    cookie = client.get_cookie("relais_session", domain="relais.test")
    assert cookie is not None and cookie.http_only
    assert cookie.same_site == "Lax"
