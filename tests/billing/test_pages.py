"""The billing page: each client with its plan and what it costs, the plans with their
limits and prices in euros (in the reader's format), the way to Checkout and the Portal,
and nothing written by merely looking."""

from __future__ import annotations

from sqlalchemy import func, select

from agency.extensions import db as _db
from billing.models import BillingAccount, ClientBilling
from tenants.context import tenant_scope
from tests.billing.conftest import subscribe
from tests.factories import login, make_world


def test_the_page_shows_what_each_client_costs(app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    client.get(f"/billing/clients/{world.other_client.id}/plan?plan=reseau")
    client.post(f"/billing/clients/{world.other_client.id}/plan", data={"plan": "reseau"})
    page = client.get("/billing").get_data(as_text=True)
    assert "Agence Alpha Boulangerie" in page and "Agence Alpha Garage" in page
    assert "€29.00" in page and "€99.00" in page  # per client, and in the plans table
    assert "€128.00 excluding tax" in page  # the month's total
    assert "Free trial until" in page
    assert "Add a payment method and subscribe" in page
    for plan in ("Essentiel", "Pro", "Réseau"):
        assert plan in page
    assert ">300<" in page  # Réseau's posts a month


def test_prices_follow_the_reader_s_language(app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    client.post("/language", data={"lang": "fr", "next": "/billing"})
    page = client.get("/billing").get_data(as_text=True)
    assert "29,00\u00a0€" in page
    assert '<html lang="fr">' in page


def test_looking_writes_nothing(app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    with tenant_scope(world.agency_id):
        _db.session.query(BillingAccount).delete()
        _db.session.flush()
    assert client.get("/billing").status_code == 200
    assert client.get(f"/billing/clients/{world.client.id}/plan?plan=pro").status_code == 200
    with tenant_scope(world.agency_id):
        assert _db.session.scalar(select(func.count()).select_from(BillingAccount)) == 0
        assert _db.session.scalar(select(func.count()).select_from(ClientBilling)) == 0


def test_a_subscribed_agency_gets_the_portal_not_checkout(app, client, db, billing_on):
    world = make_world()
    subscribe(app, billing_on, world)
    login(client, world.owner)
    page = client.get("/billing").get_data(as_text=True)
    assert "Paid up" in page
    assert "Add a payment method and subscribe" not in page
    assert "Cards, invoices and cancellation" in page
    response = client.post("/billing/checkout", follow_redirects=True)
    assert "Your subscription is already set up" in response.get_data(as_text=True)


def test_an_unknown_plan_is_refused(app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    assert client.get(f"/billing/clients/{world.client.id}/plan?plan=gold").status_code == 404
    response = client.post(f"/billing/clients/{world.client.id}/plan", data={"plan": "gold"},
                           follow_redirects=True)
    assert "Choose one of the plans." in response.get_data(as_text=True)


def test_the_nav_shows_billing_to_those_who_manage_it(app, client, db):
    world = make_world()
    login(client, world.admin)
    assert 'href="/billing"' in client.get("/clients").get_data(as_text=True)
    client.post("/logout")
    login(client, world.manager)
    assert 'href="/billing"' not in client.get("/clients").get_data(as_text=True)


def test_only_the_billing_page_lets_its_forms_end_at_stripe(app, client, db, billing_on):
    """Browsers apply form-action to the redirect after a POST: without Stripe's hosted
    pages in it, "Add a payment method" would do nothing."""
    world = make_world()
    login(client, world.owner)
    policy = client.get("/billing").headers["Content-Security-Policy"]
    assert ("form-action 'self' https://checkout.stripe.com https://billing.stripe.com"
            in policy)
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self';" in client.get("/clients").headers["Content-Security-Policy"]
    app.config["STRIPE_HOSTED_ORIGINS"] = "http://127.0.0.1:9"
    try:
        policy = client.get("/billing").headers["Content-Security-Policy"]
    finally:
        app.config["STRIPE_HOSTED_ORIGINS"] = ("https://checkout.stripe.com "
                                               "https://billing.stripe.com")
    assert "form-action 'self' http://127.0.0.1:9;" in policy
