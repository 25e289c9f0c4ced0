"""The dashboard page: figures and charts in English and French, a period chosen by month
or by dates, a clear 400 for a period it cannot read, and 404 for clients not seen."""

from __future__ import annotations

import pytest

from tests.factories import login, make_world
from tests.results.test_dashboard_support import october_scene


@pytest.fixture
def scene(app, db):
    return october_scene(make_world("Agence Pages"))


def url(scene, **query) -> str:
    args = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/clients/{scene.world.client.id}/results" + (f"?{args}" if args else "")


def test_the_dashboard_in_english(client, scene):
    login(client, scene.world.owner)
    response = client.get(url(scene, period="2026-10"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Results · October 2026" in html
    assert "September 2026" in html  # the previous period, beside it
    # Read now, after every reading of the scene (report time readings included): reach
    # 700 + 150, followers 1,180 + 400 (+380), rate 55 / 850, 4 posts of 9 planned.
    for shown in ("850", "1,580", "+380", "6.5%", "Nos croissants du dimanche",
                  "Texte Mastodon", "4 posts published, 9 planned"):
        assert shown in html, shown
    assert html.count("<svg") == 3 and "<script" not in html.split("</header>")[1]
    assert f'/media/{scene.image_id}/thumb' in html
    assert "https://instagram.example/p/" in html
    assert f'/clients/{scene.world.client.id}/results.csv?period=2026-10' in html
    assert 'href="/results"' in html  # the main navigation


def test_the_dashboard_in_french(client, scene):
    login(client, scene.world.owner)
    client.post("/language", data={"lang": "fr", "next": "/results"})
    html = client.get(url(scene, period="2026-10")).get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "octobre 2026" in html
    assert "1\u202f580" in html  # French digit grouping
    assert "6,5\u00a0%" in html or "6,5\u202f%" in html


def test_a_period_of_chosen_dates(client, scene):
    login(client, scene.world.owner)
    response = client.get(url(scene, **{"from": "2026-10-03", "to": "2026-10-03"}))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Nos croissants du dimanche" in html and "Dernier soir" not in html
    assert "results.csv?from=2026-10-03&amp;to=2026-10-03" in html


@pytest.mark.parametrize("query", [
    {"period": "2026-13"}, {"period": "<script>"}, {"from": "2026-10-01"},
    {"from": "2026-10-31", "to": "2026-10-01"}, {"from": "2026-02-31", "to": "2026-03-01"},
    {"from": "0001-01-01", "to": "9999-12-31"}, {"period": "99999999999"},
])
def test_a_period_it_cannot_read_is_a_400_with_a_message(client, scene, query):
    login(client, scene.world.owner)
    response = client.get(url(scene, **query))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html and "<script>" not in html.split("</header>")[1]
    csv = client.get(url(scene, **query).replace("/results", "/results.csv"))
    assert csv.status_code == 400


def test_the_client_page_links_to_its_results(client, scene):
    login(client, scene.world.owner)
    html = client.get(f"/clients/{scene.world.client.id}").get_data(as_text=True)
    assert f'/clients/{scene.world.client.id}/results"' in html


def test_an_assigned_member_sees_it_an_unassigned_one_gets_404(client, scene):
    login(client, scene.world.member)
    assert client.get(url(scene, period="2026-10")).status_code == 200
    other = f"/clients/{scene.world.other_client.id}/results"
    assert client.get(other).status_code == 404
    assert client.get(other + ".csv").status_code == 404


def test_another_agencys_client_is_a_404(app, db, client, scene):
    stranger = make_world("Agence Voisine")
    login(client, stranger.owner)
    assert client.get(url(scene)).status_code == 404
    assert client.get(url(scene).replace("/results", "/results.csv")).status_code == 404


def test_an_empty_month_renders(client, scene):
    login(client, scene.world.owner)
    response = client.get(url(scene, period="2025-01"))
    assert response.status_code == 200
    assert "No figures for this period yet." in response.get_data(as_text=True)
