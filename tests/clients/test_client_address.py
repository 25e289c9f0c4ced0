"""A client's address: on the client form (checked, refused beside its field with nothing
written), shown on the client page, and one line for the posts' location tags."""

from __future__ import annotations

import pytest

from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.clients.services import create_client, update_client
from agency.extensions import db
from tenants.context import tenant_scope
from tests.clients.helpers import page, shows
from tests.factories import login

BASE = {"name": "Boulangerie Martin", "timezone": "Europe/Paris", "language": "fr"}
ADDRESS = {"address_line": " 12  rue des Lilas ", "postal_code": "69001", "city": "Lyon",
           "country": "FR"}


def _row(read, name: str) -> tuple:
    return next(c for c in read.state()["clients"] if c[1] == name)


def test_the_form_offers_the_address_with_france_first(client, world):
    login(client, world.manager)
    html = page(client.get("/clients/new"))
    for field in ("address_line", "postal_code", "city", "country"):
        assert f'name="{field}"' in html
    assert '<option selected value="FR">' in html
    assert html.index('value="FR"') < html.index('value="BE"') < html.index('value="CH"')


def test_create_with_an_address_and_show_it(client, world, read):
    login(client, world.manager)
    response = client.post("/clients/new", data={**BASE, **ADDRESS})
    assert response.status_code == 303
    assert _row(read, "Boulangerie Martin")[-4:] == ("12 rue des Lilas", "69001", "Lyon", "FR")
    shown = client.get(response.headers["Location"])
    # The country is named only outside France.
    assert "<dd>12 rue des Lilas<br>69001 Lyon</dd>" in page(shown)


def test_an_address_abroad(client, world, read):
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/edit", data={
        **BASE, "address_line": "Rue Neuve 3", "postal_code": "1000", "city": "Bruxelles",
        "country": "BE"})
    assert response.status_code == 303
    assert read.client(world.client_id).country == "BE"
    assert shows(client.get(response.headers["Location"]), "Belgium")
    # Any postal code shape abroad: letters, digits, spaces, hyphens.
    response = client.post(f"/clients/{world.client_id}/edit", data={
        **BASE, "postal_code": "sw1a 1aa", "city": "London", "country": "GB"})
    assert response.status_code == 303
    assert read.client(world.client_id).postal_code == "SW1A 1AA"


def test_no_address_says_so(client, world):
    login(client, world.member)
    assert shows(client.get(f"/clients/{world.client_id}"), "Not given yet")


BAD_ADDRESS = [
    ({"postal_code": "6900"}, "postal_code", "A French postal code has five digits"),
    ({"postal_code": "69 001"}, "postal_code", "A French postal code has five digits"),
    ({"postal_code": "1000/B", "country": "BE"}, "postal_code", "Enter a valid postal code."),
    ({"postal_code": "1" * 17, "country": "BE"}, "postal_code", "Enter a valid postal code."),
    ({"country": "XX"}, "country", "Choose a country from the list."),
    ({"country": "EU"}, "country", "Choose a country from the list."),
    ({"address_line": "x" * 201}, "address_line", "At most 200 characters."),
    ({"city": "x" * 121}, "city", "At most 120 characters."),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_ADDRESS)
def test_bad_addresses_are_refused_and_write_nothing(client, world, read, change, field,
                                                     message):
    login(client, world.member)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/edit",
                           data={**BASE, **ADDRESS, **change})
    assert response.status_code == 422
    html = page(response)
    assert f'id="{field}-error"' in html
    assert message in html
    assert read.state() == before


def test_the_services_check_the_postal_code_against_the_stored_country(world, read):
    with tenant_scope(world.agency_id):
        client = read.client(world.client_id)
        update_client(client, {"country": "CH", "postal_code": "8001"})
        db.session.flush()
        with pytest.raises(ServiceError) as refused:
            update_client(client, {"country": "FR"})  # 8001 is no French code
        assert refused.value.field == "postal_code"
        with pytest.raises(ServiceError):
            create_client({"name": "Sans pays", "postal_code": "ABCDE"})


def test_the_address_on_one_line():
    assert Client(address_line="12 rue des Lilas", postal_code="69001", city="Lyon",
                  country="FR").address == "12 rue des Lilas, 69001 Lyon"
    assert Client(address_line="", postal_code="1000", city="Bruxelles",
                  country="BE").address == "1000 Bruxelles, BE"
    assert Client(address_line="", postal_code="", city="", country="BE").address == ""
