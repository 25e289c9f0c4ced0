"""The OpenAPI document: valid, public, and complete."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_document_is_valid_openapi_3(client):
    document = _document(client)
    assert document["openapi"] == "3.0.3"
    validate(document)


def test_document_lists_every_api_route_with_its_methods(app, client):
    paths = _document(client)["paths"]
    expected = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint == "api.openapi_json":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        expected.setdefault(path, set()).update(
            m.lower() for m in rule.methods - IGNORED_METHODS
        )
    assert expected, "no API routes found"
    documented = {
        path: {m for m in item if m in {"get", "post", "put", "patch", "delete"}}
        for path, item in paths.items()
    }
    assert documented == expected


def test_route_parameters_are_named_ids_with_the_uuid_converter(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            for name in rule.arguments:
                assert name in {"client_id", "contact_id", "post_id", "media_id"}, rule.rule
                assert type(rule._converters[name]).__name__ == "UUIDConverter", rule.rule


def test_bearer_security_is_declared_and_required(client):
    document = _document(client)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]


def test_errors_are_documented_as_problem_details(client):
    document = _document(client)
    responses = document["components"]["responses"]
    for name in ("UNAUTHORIZED", "NOT_FOUND", "UNPROCESSABLE_ENTITY", "DEFAULT_ERROR"):
        content = responses[name]["content"]
        assert list(content) == ["application/problem+json"], name
        assert content["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
    problem = document["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert "401" in operation["responses"], f"{method} {path}"
            assert "default" in operation["responses"], f"{method} {path}"


def test_request_and_response_schemas_are_named(client):
    paths = _document(client)["paths"]
    create = paths["/api/v1/clients"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClientCreate"
    }
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Client"
    }
    assert "Location" in create["responses"]["201"]["headers"]


def test_document_needs_no_token(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
