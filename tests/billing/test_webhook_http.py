"""/webhooks/stripe checks Stripe's signature on the raw body, with Stripe's tolerance
(300 s): signatures are made by stripe-python itself
(``stripe.WebhookSignature.generate_signature_header``, "t=<ts>,v1=<hmac>"), as in
https://docs.stripe.com/webhooks#verify-manually."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from billing.models import StripeEvent
from tests.billing.conftest import WEBHOOK_SECRET, deliver, signed, subscribe
from tests.factories import make_world


def _count(agency_id) -> int:
    from agency.extensions import db as _db
    from tenants.context import tenant_scope

    with tenant_scope(agency_id):
        return _db.session.scalar(select(func.count()).select_from(StripeEvent))


def test_a_good_signature_is_applied(app, client, db, billing_on):
    world = make_world()
    subscription = subscribe(app, billing_on, world)
    before = _count(world.agency_id)
    response = deliver(client, billing_on.event("customer.subscription.updated", subscription))
    assert response.status_code == 200
    assert response.get_json() == {"outcome": "applied"}
    assert _count(world.agency_id) == before + 1


def test_bad_stale_and_tampered_deliveries_are_refused(app, client, db, billing_on):
    world = make_world()
    subscription = subscribe(app, billing_on, world)
    event = billing_on.event("customer.subscription.updated", subscription)
    payload = json.dumps(event)
    before = _count(world.agency_id)

    wrong_secret = client.post("/webhooks/stripe", data=payload,
                               headers=signed(payload, secret="whsec_someone_else"))
    stale = client.post("/webhooks/stripe", data=payload,
                        headers=signed(payload, timestamp=int(time.time()) - 301))
    headers = signed(payload)
    tampered = client.post("/webhooks/stripe",
                           data=payload.replace('"active"', '"canceled"'), headers=headers)
    unsigned = client.post("/webhooks/stripe", data=payload,
                           headers={"Content-Type": "application/json"})
    garbage = client.post("/webhooks/stripe", data=payload,
                          headers={"Stripe-Signature": "t=abc,v1=def"})
    for response in (wrong_secret, stale, tampered, unsigned, garbage):
        assert response.status_code == 400
        assert response.get_json() == {"error": "invalid signature"}
    assert _count(world.agency_id) == before
    # Within the tolerance, an older timestamp is still Stripe's.
    fine = client.post("/webhooks/stripe", data=payload,
                       headers=signed(payload, timestamp=int(time.time()) - 250))
    assert fine.status_code == 200


def test_without_a_webhook_secret_nothing_is_accepted(app, client, db, billing_on):
    world = make_world()
    subscription = subscribe(app, billing_on, world)
    app.config["STRIPE_WEBHOOK_SECRET"] = ""
    response = deliver(client, billing_on.event("customer.subscription.updated",
                                                subscription))
    assert response.status_code == 400
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET


def test_the_webhook_needs_no_csrf_token(app, db, billing_on):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        world = make_world()
        http = app.test_client()
        subscription = billing_on.add_subscription("cus_unknown", [("price_pro", 1)])
        response = deliver(http, billing_on.event("customer.subscription.updated",
                                                  subscription))
        assert response.status_code == 200
        assert response.get_json() == {"outcome": "unknown_customer"}
        assert world  # a world exists, and the unknown customer touched none of it
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
