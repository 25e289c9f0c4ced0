"""The clients pages say what a change costs before confirming it: a new client (on a
chosen plan), archiving one, restoring one. Nothing is written until confirmed, and the
confirmed change reaches Stripe at the proration time the preview showed."""

from __future__ import annotations

from sqlalchemy import func, select

from agency.clients.models import Client
from billing.models import ClientBilling
from tenants.context import tenant_scope
from tests.billing.conftest import subscribe
from tests.factories import login, make_world

NEW = {"name": "Fleuriste Iris", "timezone": "Europe/Paris", "language": "fr",
       "country": "FR"}


def _clients(db, world) -> int:
    with tenant_scope(world.agency_id):
        return db.session.scalar(select(func.count()).select_from(Client))


def test_a_new_client_shows_its_price_then_is_created_on_its_plan(app, client, db,
                                                                 billing_on):
    world = make_world()
    subscription = subscribe(app, billing_on, world)
    login(client, world.owner)
    form = client.get("/clients/new").get_data(as_text=True)
    assert "Pro — 59,00" in form or "Pro — €59.00" in form
    before = _clients(db, world)
    asked = client.post("/clients/new", data={**NEW, "plan": "pro"})
    assert asked.status_code == 200
    html = asked.get_data(as_text=True)
    assert "Create Fleuriste Iris?" in html
    assert "Your next invoice gains" in html
    assert _clients(db, world) == before  # nothing written yet
    [preview] = billing_on.calls("POST", "/v1/invoices/create_preview")
    proration_date = preview["form"]["subscription_details[proration_date]"]
    assert f'name="proration_date" value="{proration_date}"' in html

    done = client.post("/clients/new", data={**NEW, "plan": "pro", "confirmed": "1",
                                              "proration_date": proration_date})
    assert done.status_code == 303
    assert _clients(db, world) == before + 1
    with tenant_scope(world.agency_id):
        new = db.session.scalars(select(Client).where(Client.name == "Fleuriste Iris")).one()
        assert db.session.scalars(select(ClientBilling.plan).where(
            ClientBilling.client_id == new.id)).one() == "pro"
    [update] = billing_on.calls("POST", f"/v1/subscriptions/{subscription['id']}")
    assert update["form"]["proration_date"] == proration_date
    assert update["form"]["items[0][price]"] == "price_pro"
    assert update["form"]["items[0][quantity]"] == "1"


def test_a_refused_new_client_writes_nothing_and_asks_nothing(app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    before = _clients(db, world)
    response = client.post("/clients/new", data={**NEW, "postal_code": "6900"})
    assert response.status_code == 422
    assert "five digits" in response.get_data(as_text=True)
    response = client.post("/clients/new", data={**NEW, "plan": "platinum"})
    assert response.status_code == 422
    assert "Choose one of the plans." in response.get_data(as_text=True)
    assert _clients(db, world) == before
    assert billing_on.calls("POST", "/v1/invoices/create_preview") == []


def test_during_the_trial_the_monthly_price_is_shown(app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    html = client.post("/clients/new", data={**NEW, "plan": "essentiel"}).get_data(
        as_text=True)
    assert "Nothing is charged now: you are not billed yet." in html
    assert billing_on.calls("POST", "/v1/invoices/create_preview") == []


def test_those_who_do_not_manage_billing_get_the_default_plan(app, client, db, billing_on):
    world = make_world()
    login(client, world.manager)
    assert 'name="plan"' not in client.get("/clients/new").get_data(as_text=True)
    response = client.post("/clients/new", data={**NEW, "plan": "reseau", "confirmed": "1"})
    assert response.status_code == 303
    with tenant_scope(world.agency_id):
        new = db.session.scalars(select(Client).where(Client.name == "Fleuriste Iris")).one()
        assert db.session.scalars(select(ClientBilling).where(
            ClientBilling.client_id == new.id)).one_or_none() is None  # the default plan


def test_local_mode_creates_at_once(app, client, db):
    world = make_world()
    login(client, world.owner)
    assert 'name="plan"' not in client.get("/clients/new").get_data(as_text=True)
    assert client.post("/clients/new", data=NEW).status_code == 303


def test_archiving_says_what_it_takes_off_then_syncs(app, client, db, billing_on):
    world = make_world()
    subscription = subscribe(app, billing_on, world)
    login(client, world.owner)
    html = client.get(f"/clients/{world.client.id}/archive").get_data(as_text=True)
    assert "Your next invoice is reduced by" in html
    [preview] = billing_on.calls("POST", "/v1/invoices/create_preview")
    proration_date = preview["form"]["subscription_details[proration_date]"]
    response = client.post(f"/clients/{world.client.id}/archive",
                           data={"proration_date": proration_date})
    assert response.status_code == 303
    [update] = billing_on.calls("POST", f"/v1/subscriptions/{subscription['id']}")
    assert update["form"]["proration_date"] == proration_date
    assert update["form"]["items[0][quantity]"] == "1"

    html = client.get(f"/clients/{world.client.id}/restore").get_data(as_text=True)
    assert "Your next invoice gains" in html


def test_stripe_down_still_lets_the_agency_archive(app, client, db, billing_on):
    world = make_world()
    subscribe(app, billing_on, world)
    login(client, world.owner)
    billing_on.fail_next("POST", "/v1/invoices/create_preview", status=500, count=5)
    html = client.get(f"/clients/{world.client.id}/archive").get_data(as_text=True)
    assert "Stripe could not be reached" in html
    assert f'action="/clients/{world.client.id}/archive"' in html
