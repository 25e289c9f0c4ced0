"""Checkout, the Customer Portal and the client-pays link, through stripe-python against
the fake Stripe: the requests' form bodies (nested keys as Stripe documents them, e.g.
``line_items[0][price]``), the Idempotency-Key headers, the pinned API version, and who
may do it (owners and admins only)."""

from __future__ import annotations

import re

import stripe
from sqlalchemy import select

from billing import stripe_client
from billing.models import ClientBilling
from tenants.context import tenant_scope
from tests.billing.conftest import account_of
from tests.factories import login, make_world
from tests.fakes.stripe import API_VERSION


def test_the_api_version_is_pinned_to_the_installed_stripe_python(app, client, db,
                                                                  billing_on):
    # The fake answers in the shapes of this version: a new stripe-python moves the pin,
    # and this test asks for the fake to be reviewed.
    assert stripe_client.API_VERSION == stripe.api_version == API_VERSION
    world = make_world()
    login(client, world.owner)
    client.post("/billing/checkout")
    assert billing_on.requests
    for request in billing_on.requests:
        assert request["headers"]["Stripe-Version"] == API_VERSION
        assert request["headers"]["Authorization"] == "Bearer sk_test_relais_fake"


def test_checkout_subscribes_the_agency_with_one_item_per_plan(app, client, db, billing_on):
    world = make_world()  # two clients, both on the default plan
    login(client, world.owner)
    response = client.post("/billing/checkout")
    assert response.status_code == 303
    [session] = billing_on.sessions.values()
    assert response.headers["Location"] == session["url"]

    [customer_call] = billing_on.calls("POST", "/v1/customers")
    hex_id = world.agency_id.hex
    assert customer_call["form"]["name"] == "Agence Alpha"
    assert customer_call["form"]["metadata[relais_agency_id]"] == str(world.agency_id)
    assert re.fullmatch(rf"relais-{hex_id}-customer-1-[0-9a-f]{{16}}",
                        customer_call["headers"]["Idempotency-Key"])

    [call] = billing_on.calls("POST", "/v1/checkout/sessions")
    form = call["form"]
    assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["mode"] == "subscription"
    assert form["customer"] == account_of(world.agency_id).stripe_customer_id
    assert form["line_items[0][price]"] == "price_essentiel"
    assert form["line_items[0][quantity]"] == "2"
    assert "line_items[1][price]" not in form
    assert form["client_reference_id"] == str(world.agency_id)
    # The rest of the 14-day trial is kept (Stripe wants it 48 h ahead at least).
    trial_end = account_of(world.agency_id).trial_ends_at
    assert int(form["subscription_data[trial_end]"]) == int(trial_end.timestamp())
    assert form["success_url"].startswith("http://relais.test/billing")
    assert call["headers"]["Idempotency-Key"] == f"relais-{hex_id}-checkout-1"

    # A second click while that page is open reuses it: never two subscriptions.
    again = client.post("/billing/checkout")
    assert again.headers["Location"] == session["url"]
    assert len(billing_on.calls("POST", "/v1/checkout/sessions")) == 1
    assert len(billing_on.calls("POST", "/v1/customers")) == 1


def test_a_lost_answer_is_retried_with_the_same_key_and_creates_one_customer(
        app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    billing_on.lose_next_answer("POST", "/v1/customers")
    response = client.post("/billing/checkout")
    assert response.status_code == 303
    calls = billing_on.calls("POST", "/v1/customers")
    assert len(calls) == 2  # stripe-python's own retry…
    assert calls[0]["headers"]["Idempotency-Key"] == calls[1]["headers"]["Idempotency-Key"]
    assert len(billing_on.customers) == 1  # …answered from Stripe's record of the first
    assert account_of(world.agency_id).stripe_customer_id in billing_on.customers


def test_stripe_down_changes_nothing_and_says_so(app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    billing_on.fail_next("POST", "/v1/checkout/sessions", 500, count=3)  # and 2 retries
    response = client.post("/billing/checkout", follow_redirects=True)
    assert "Stripe could not be reached. Nothing was changed" in response.get_data(as_text=True)
    assert len(billing_on.calls("POST", "/v1/checkout/sessions")) == 3
    assert account_of(world.agency_id).checkout_url == ""
    # The next click is a new request: a new key, never the one Stripe answered with 500.
    response = client.post("/billing/checkout")
    assert response.status_code == 303
    keys = [c["headers"]["Idempotency-Key"]
            for c in billing_on.calls("POST", "/v1/checkout/sessions")]
    assert keys[-1] != keys[0]


def test_the_portal_opens_for_the_agency_customer(app, client, db, billing_on):
    world = make_world()
    login(client, world.owner)
    client.post("/billing/checkout")
    response = client.post("/billing/portal")
    assert response.status_code == 303
    [portal] = billing_on.portal_sessions
    assert response.headers["Location"] == portal["url"]
    [call] = billing_on.calls("POST", "/v1/billing_portal/sessions")
    assert call["form"] == {"customer": account_of(world.agency_id).stripe_customer_id,
                            "return_url": "http://relais.test/billing"}
    assert call["headers"]["Idempotency-Key"] == f"relais-{world.agency_id.hex}-portal-2"


def test_only_owners_and_admins_manage_billing(app, client, db, billing_on):
    world = make_world()
    for membership, allowed in ((world.manager, False), (world.member, False),
                                (world.admin, True)):
        login(client, membership)
        assert (client.get("/billing").status_code == 200) is allowed
        assert (client.post("/billing/checkout").status_code == 303) is allowed
        client.post("/logout")
    login(client, world.member)
    assert "/billing" not in client.get("/clients").get_data(as_text=True)


def test_client_pays_makes_a_checkout_link_for_the_owner(app, client, db, billing_on, mail):
    world = make_world()
    login(client, world.owner)
    response = client.post(f"/billing/clients/{world.client.id}/client-pays")
    assert response.status_code == 303
    [customer] = billing_on.calls("POST", "/v1/customers")
    assert customer["form"]["name"] == "Agence Alpha Boulangerie"
    assert customer["form"]["email"] == "sophie@agence-alpha.test"
    assert customer["form"]["metadata[relais_client_id]"] == str(world.client.id)
    [call] = billing_on.calls("POST", "/v1/checkout/sessions")
    assert call["form"]["mode"] == "subscription"
    assert call["form"]["line_items[0][price]"] == "price_essentiel"
    assert call["form"]["line_items[0][quantity]"] == "1"
    assert call["form"]["metadata[relais_client_id]"] == str(world.client.id)
    assert call["headers"]["Idempotency-Key"] == (
        f"relais-{world.agency_id.hex}-client-{world.client.id.hex}-checkout-1")
    [session] = billing_on.sessions.values()
    with tenant_scope(world.agency_id):
        row = db.session.scalars(select(ClientBilling)).one()
        assert (row.payer, row.checkout_url, row.client_paid) == ("client", session["url"],
                                                                  False)
    [message] = mail
    assert message.to == "sophie@agence-alpha.test"
    assert session["url"] in message.text
    page = client.get("/billing").get_data(as_text=True)
    assert session["url"] in page
    assert "The agency, until the client subscribes" in page
    # Back from Stripe, the owner (no Relais account) lands on a page of their own.
    assert call["form"]["success_url"] == (
        "http://relais.test/billing/owner/done?outcome=paid&lang=fr")
    client.post("/logout")
    done = client.get("/billing/owner/done?outcome=paid&lang=fr")
    assert done.status_code == 200
    assert "votre abonnement est en place" in done.get_data(as_text=True)
    cancelled = client.get("/billing/owner/done?outcome=cancelled&lang=en")
    assert "Nothing was charged." in cancelled.get_data(as_text=True)


def test_local_mode_says_so_and_calls_nothing(app, client, db, fake_stripe):
    world = make_world()
    login(client, world.owner)
    page = client.get("/billing").get_data(as_text=True)
    assert "Local mode: billing is off." in page
    assert client.post("/billing/checkout").status_code == 404
    assert client.post(f"/billing/clients/{world.client.id}/client-pays").status_code == 404
    assert fake_stripe.requests == []


def test_going_back_to_agency_pays_expires_the_open_link(app, client, db, billing_on, mail):
    world = make_world()
    login(client, world.owner)
    client.post(f"/billing/clients/{world.client.id}/client-pays")
    [session] = billing_on.sessions.values()
    response = client.post(f"/billing/clients/{world.client.id}/agency-pays")
    assert response.status_code == 303
    [call] = billing_on.calls("POST", f"/v1/checkout/sessions/{session['id']}/expire")
    assert call["headers"]["Idempotency-Key"] == (
        f"relais-{world.agency_id.hex}-client-{world.client.id.hex}-expire-{session['id']}")
    assert session["status"] == "expired"
    with tenant_scope(world.agency_id):
        row = db.session.scalars(select(ClientBilling).execution_options(
            populate_existing=True)).one()
        assert (row.payer, row.checkout_url, row.checkout_session_id) == ("agency", "", "")
    assert session["url"] is None
    assert "Payment link for the client" not in client.get("/billing").get_data(as_text=True)


def test_a_link_the_owner_just_paid_through_keeps_the_workspace_theirs(app, client, db,
                                                                       billing_on, mail):
    world = make_world()
    login(client, world.owner)
    client.post(f"/billing/clients/{world.client.id}/client-pays")
    [session] = billing_on.sessions.values()
    billing_on.complete_checkout(session["id"])  # paid; the webhook is still on its way
    response = client.post(f"/billing/clients/{world.client.id}/agency-pays",
                           follow_redirects=True)
    assert "has just paid through its link" in response.get_data(as_text=True)
    with tenant_scope(world.agency_id):
        row = db.session.scalars(select(ClientBilling).execution_options(
            populate_existing=True)).one()
        assert (row.payer, row.checkout_session_id) == ("client", session["id"])


def test_stripe_down_keeps_the_link_and_the_payer(app, client, db, billing_on, mail):
    world = make_world()
    login(client, world.owner)
    client.post(f"/billing/clients/{world.client.id}/client-pays")
    [session] = billing_on.sessions.values()
    billing_on.fail_next("POST", f"/v1/checkout/sessions/{session['id']}/expire",
                         status=500, count=5)
    response = client.post(f"/billing/clients/{world.client.id}/agency-pays",
                           follow_redirects=True)
    assert "Stripe could not be reached" in response.get_data(as_text=True)
    assert session["status"] == "open"
    with tenant_scope(world.agency_id):
        row = db.session.scalars(select(ClientBilling).execution_options(
            populate_existing=True)).one()
        assert (row.payer, row.checkout_session_id) == ("client", session["id"])
