"""GET /api/v1/clients/{id}/results: the dashboard's figures and the export's rows as
JSON, shaped as the OpenAPI document says, 404 for a client the token may not see."""

from __future__ import annotations

import pytest
from openapi_schema_validator import OAS30Validator

from agency.auth.services import create_api_token
from tenants.context import tenant_scope
from tests.factories import make_world
from tests.results.test_dashboard_support import october_scene

OCTOBER = {"from": "2026-10-01", "to": "2026-10-31", "as_of": "2026-11-05T12:00:00Z"}


@pytest.fixture
def scene(app, db):
    scene = october_scene(make_world("Agence API"))
    with tenant_scope(scene.world.agency_id):
        _, scene.member_token = create_api_token(scene.world.member, "results")
    # Committed (a savepoint in tests), so that an error handler's rollback keeps it.
    db.session.commit()
    return scene


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def get(client, scene, client_id=None, token=None, **query):
    return client.get(f"/api/v1/clients/{client_id or scene.world.client.id}/results",
                      query_string=query, headers=bearer(token or scene.world.token))


def conforms(client, name: str, instance) -> None:
    """``instance`` validates against the document's schema ``name``."""
    document = client.get("/api/v1/openapi.json").get_json()
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    OAS30Validator(schema).validate(instance)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def test_the_figures_of_a_period_as_of_a_time(client, scene):
    response = get(client, scene, **OCTOBER)
    assert response.status_code == 200
    body = response.get_json()
    conforms(client, "Results", body)
    assert body["timezone"] == "Europe/Paris"
    assert body["period"] == {"from": "2026-10-01", "to": "2026-10-31",
                              "start": "2026-09-30T22:00:00+00:00",
                              "end": "2026-10-31T23:00:00+00:00"}
    assert body["previous_period"]["from"] == "2026-09-01"
    now = body["current"]
    assert (now["posts"], now["publications"], now["measured"], now["reach"],
            now["impressions"], now["engagement"], now["clicks"]) == (4, 5, 4, 550, 700, 55, 10)
    assert now["engagement_rate"] == pytest.approx(40 / 550)
    assert (now["followers"], now["follower_growth"]) == (1410, 210)
    assert body["previous"]["engagement_rate"] == pytest.approx(0.05)
    assert [n["network"] for n in body["networks"]] == ["facebook", "instagram", "mastodon"]
    assert body["networks"][0]["current"]["comments"] is None
    assert body["cadence"] == {"published": 4, "planned": 9, "slots": 2, "allowance": None}
    assert [p["publication_id"] for p in body["best"]] == [str(scene.p1), str(scene.p2),
                                                           str(scene.p3)]
    assert body["best"][0]["media_id"] == str(scene.image_id)
    rows = body["publications"]
    assert len(rows) == 5
    assert rows[-1]["published_local"] == "2026-10-31T23:30:00+01:00"
    assert rows[-1]["published_at"] == "2026-10-31T22:30:00+00:00"
    assert rows[1]["text"] == "Texte Mastodon" and rows[1]["reach"] is None
    assert rows[2]["measured_at"] is None and rows[2]["engagement"] is None


def test_without_dates_the_current_month(client, scene):
    response = get(client, scene)
    assert response.status_code == 200
    body = response.get_json()
    conforms(client, "Results", body)
    assert body["period"]["from"].endswith("-01")


@pytest.mark.parametrize(("query", "field"), [
    ({"from": "2026-10-01"}, "to"), ({"to": "2026-10-01"}, "from"),
    ({"from": "2026-10-31", "to": "2026-10-01"}, "to"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "to"),
    ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
    ({"from": "x", "to": "2026-03-01"}, "from"),
])
def test_a_period_it_cannot_read_is_a_422_with_the_field(client, scene, query, field):
    body = assert_problem(get(client, scene, **query), 422)
    assert field in body["errors"], body


def test_another_agencys_client_and_an_unassigned_one_are_404(app, db, client, scene):
    stranger = make_world("Agence Étrangère")
    db.session.commit()
    assert_problem(get(client, scene, token=stranger.token, **OCTOBER), 404)
    assert_problem(get(client, scene, client_id=scene.world.other_client.id,
                       token=scene.member_token), 404)
    assert get(client, scene, token=scene.member_token).status_code == 200


def test_a_token_is_needed(client, scene):
    response = client.get(f"/api/v1/clients/{scene.world.client.id}/results")
    assert_problem(response, 401)


def test_the_openapi_document_describes_it(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/clients/{client_id}/results"]["get"]
    assert operation["tags"] == ["results"]
    assert {"200", "401", "404", "422", "default"} <= set(operation["responses"])
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert names == {"from", "to", "as_of"}
    figures = document["components"]["schemas"]["Figures"]["properties"]
    assert figures["reach"]["nullable"] is True
