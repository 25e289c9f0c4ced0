"""Billing test fixtures: the fake Stripe on loopback with stripe-python pointed at it
(``STRIPE_API_BASE``), the plans' prices, a webhook secret, and signed deliveries."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import stripe
from sqlalchemy import select

from agency.extensions import db as _db
from billing.models import BillingAccount
from tenants.context import tenant_scope
from tests.fakes.stripe import API_KEY, FakeStripe

WEBHOOK_SECRET = "whsec_test_relais"
PRICES = {"STRIPE_PRICE_ESSENTIEL": ("price_essentiel", 2900),
          "STRIPE_PRICE_PRO": ("price_pro", 5900),
          "STRIPE_PRICE_RESEAU": ("price_reseau", 9900)}


@pytest.fixture
def fake_stripe():
    fake = FakeStripe()
    for price_id, cents in PRICES.values():
        fake.add_price(price_id, cents)
    with fake:
        yield fake


@pytest.fixture
def billing_on(app, fake_stripe, monkeypatch):
    """Billing enabled against the fake; syncs asked after a commit are recorded (the
    tests run them), not left in the shared test queue."""
    settings = {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": fake_stripe.url,
                "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                **{key: price for key, (price, _) in PRICES.items()}}
    saved = {key: app.config.get(key) for key in settings}
    app.config.update(settings)
    asked: list = []
    monkeypatch.setattr("billing.jobs.enqueue_sync", lambda agency_id, queue=None:
                        asked.append(agency_id) or True)
    fake_stripe.sync_asked = asked
    yield fake_stripe
    app.config.update(saved)
    app.extensions.pop("relais_stripe", None)


def signed(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict:
    """The Stripe-Signature header for ``payload``, as stripe-python builds it."""
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp or int(time.time()))
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def deliver(http, event: dict, **kwargs):
    payload = json.dumps(event)
    return http.post("/webhooks/stripe", data=payload, headers=signed(payload, **kwargs))


def account_of(agency_id) -> BillingAccount | None:
    with tenant_scope(agency_id):
        return _db.session.scalars(select(BillingAccount).execution_options(
            populate_existing=True)).one_or_none()


def subscribe(app, fake, world, *, status: str = "active") -> dict:
    """The world's agency went through Checkout: its subscription exists in the fake and
    Relais adopted it (checkout.session.completed delivered)."""
    from billing import checkout, services

    with app.test_request_context(), tenant_scope(world.agency_id):
        seq = services.reserve_session()
        checkout.start_subscription(seq, success_url="https://relais.test/billing",
                                    cancel_url="https://relais.test/billing")
        _db.session.commit()
    [session_id] = [s for s in fake.sessions
                    if fake.sessions[s]["customer"] == account_of(world.agency_id)
                    .stripe_customer_id][-1:]
    session = fake.complete_checkout(session_id, status=status)
    response = deliver(app.test_client(), fake.event("checkout.session.completed", session))
    assert response.status_code == 200, response.get_data(as_text=True)
    return fake.subscriptions[session["subscription"]]


def days_ago(days: float) -> int:
    return int((datetime.now(UTC) - timedelta(days=days)).timestamp())
