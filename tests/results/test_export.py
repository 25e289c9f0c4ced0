"""The CSV export: one row per publication, read back exactly, with a BOM for Excel, a
file name naming the client and the period, and formulas defused."""

from __future__ import annotations

import csv
import io

import pytest

from agency.results.export import safe_cell, slugify
from tests.factories import login, make_world
from tests.results.test_dashboard_support import Data, october_scene, paris


@pytest.fixture
def scene(app, db):
    return october_scene(make_world("Agence Export"))


def read_csv(response) -> list[dict]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8")[1:]
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_one_row_per_publication_with_its_newest_figures(client, scene):
    login(client, scene.world.owner)
    response = client.get(f"/clients/{scene.world.client.id}/results.csv?period=2026-10")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename=agence-export-boulangerie-results-2026-10.csv')
    assert "no-store" in response.headers["Cache-Control"]
    rows = read_csv(response)
    assert [r["Published (client's time)"] for r in rows] == [
        "2026-10-03 10:00", "2026-10-03 10:00", "2026-10-10 12:00", "2026-10-12 12:00",
        "2026-10-31 23:30"]
    first, mastodon, never, facebook, last = rows
    assert first["Network"] == "Instagram" and first["Text"] == "Nos croissants du dimanche"
    assert first["Link"].startswith("https://instagram.example/p/")
    # Read now: the reading taken after the report time is the newest.
    assert (first["Impressions"], first["Reach"], first["Reactions"], first["Comments"],
            first["Shares"], first["Clicks"], first["Saves"], first["Engagement"]) == (
        "900", "700", "30", "5", "2", "9", "8", "45")
    assert first["Engagement rate"] == "0.0643"
    assert mastodon["Text"] == "Texte Mastodon" and mastodon["Reach"] == ""
    assert mastodon["Engagement"] == "12" and mastodon["Engagement rate"] == ""
    assert never["Engagement"] == "" and never["Figures as of (UTC)"] == ""
    assert facebook["Reactions"] == "3" and facebook["Comments"] == ""
    assert last["Published (client's time)"] == "2026-10-31 23:30"
    assert last["Figures as of (UTC)"] == "2026-11-01 22:00"


def test_chosen_dates_and_the_file_name(client, scene):
    login(client, scene.world.owner)
    response = client.get(f"/clients/{scene.world.client.id}/results.csv"
                          "?from=2026-10-01&to=2026-10-05")
    assert response.headers["Content-Disposition"].endswith(
        "results-2026-10-01_2026-10-05.csv")
    assert len(read_csv(response)) == 2


def test_cells_that_a_spreadsheet_would_run_are_defused(app, client, db):
    world = make_world("Agence Formules")
    data = Data(world.agency_id, world.client.id)
    account = data.account("instagram")
    texts = ['=HYPERLINK("http://evil.example","clic")', "+33 6 12 34 56 78", "-10 %",
             "@SUM(A1:A9)", "Normal, avec « guillemets »\net un retour"]
    for n, text in enumerate(texts):
        data.post({account: "instagram"}, paris(2026, 10, 1 + n, 9, 0), text)
    login(client, world.owner)
    rows = read_csv(client.get(f"/clients/{world.client.id}/results.csv?period=2026-10"))
    assert [r["Text"] for r in rows] == [
        "'=HYPERLINK(\"http://evil.example\",\"clic\")", "'+33 6 12 34 56 78", "'-10 %",
        "'@SUM(A1:A9)", "Normal, avec « guillemets » et un retour"]


def test_the_header_follows_the_readers_language(client, scene):
    login(client, scene.world.owner)
    client.post("/language", data={"lang": "fr", "next": "/results"})
    response = client.get(f"/clients/{scene.world.client.id}/results.csv?period=2026-10")
    assert response.status_code == 200
    assert len(read_csv(response)) == 5


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("1", "1"), (12, "12"), (None, ""), ("a=b", "a=b"),
])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_slugify():
    assert slugify("Boulangerie Émile & Fils") == "boulangerie-emile-fils"
    assert slugify("🥐") == "client"
