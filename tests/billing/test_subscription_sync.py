"""The agency's subscription follows its workspaces: one item per plan, quantity = active
agency-paid workspaces, changed with proration (create_prorations), each update under a
key made of the agency, the change and its number; the preview shown before a plan
change is Stripe's own (POST /v1/invoices/create_preview)."""

from __future__ import annotations

import re

from agency.clients.services import archive_client, create_client, restore_client
from billing import sync
from billing.jobs import sync_job
from tenants.context import tenant_scope
from tests.billing.conftest import account_of, subscribe
from tests.factories import login, make_world


def _sync(app, world) -> str:
    with app.test_request_context():
        return sync_job(str(world.agency_id))


def _updates(fake, subscription_id):
    return fake.calls("POST", f"/v1/subscriptions/{subscription_id}")


def _quantities(fake, subscription_id) -> dict:
    return {item["price"]["id"]: item["quantity"]
            for item in fake.subscriptions[subscription_id]["items"]["data"]}


def test_adding_archiving_and_restoring_clients_moves_the_quantities(app, client, db,
                                                                    billing_on):
    world = make_world()
    subscription = subscribe(app, billing_on, world)
    sub_id = subscription["id"]
    assert _quantities(billing_on, sub_id) == {"price_essentiel": 2}
    assert _sync(app, world) == "in_sync"  # nothing to send: no update call
    assert _updates(billing_on, sub_id) == []

    with app.test_request_context(), tenant_scope(world.agency_id):
        create_client({"name": "Fleuriste"})
        db.session.commit()
    assert billing_on.sync_asked[-1] == world.agency_id  # asked after the commit
    assert _sync(app, world) == "synced"
    [update] = _updates(billing_on, sub_id)
    item_id = subscription["items"]["data"][0]["id"]
    assert update["form"]["items[0][id]"] == item_id
    assert update["form"]["items[0][quantity]"] == "3"
    assert update["form"]["proration_behavior"] == "create_prorations"
    account = account_of(world.agency_id)
    assert re.fullmatch(rf"relais-{world.agency_id.hex}-quantities-{account.change_seq}-"
                        r"[0-9a-f]{16}", update["headers"]["Idempotency-Key"])
    assert account.synced_seq == account.change_seq
    assert account.items == {"price_essentiel": {"id": item_id, "quantity": 3}}

    with app.test_request_context(), tenant_scope(world.agency_id):
        archive_client(world.other_client)
        db.session.commit()
    _sync(app, world)
    assert _quantities(billing_on, sub_id) == {"price_essentiel": 2}
    with app.test_request_context(), tenant_scope(world.agency_id):
        restore_client(world.other_client)
        db.session.commit()
    _sync(app, world)
    assert _quantities(billing_on, sub_id) == {"price_essentiel": 3}
    assert len(_updates(billing_on, sub_id)) == 3


def test_a_lost_answer_is_retried_with_the_same_key_and_applied_once(app, client, db,
                                                                    billing_on):
    world = make_world()
    sub_id = subscribe(app, billing_on, world)["id"]
    with app.test_request_context(), tenant_scope(world.agency_id):
        create_client({"name": "Fleuriste"})
        db.session.commit()
    billing_on.lose_next_answer("POST", f"/v1/subscriptions/{sub_id}")
    assert _sync(app, world) == "synced"
    first, retry = _updates(billing_on, sub_id)
    assert first["headers"]["Idempotency-Key"] == retry["headers"]["Idempotency-Key"]
    assert _quantities(billing_on, sub_id) == {"price_essentiel": 3}
    # A job run again later finds Stripe in step and sends nothing more.
    assert _sync(app, world) == "in_sync"
    assert len(_updates(billing_on, sub_id)) == 2


def test_stripe_down_leaves_the_change_pending_for_the_next_run(app, client, db, billing_on):
    world = make_world()
    sub_id = subscribe(app, billing_on, world)["id"]
    with app.test_request_context(), tenant_scope(world.agency_id):
        create_client({"name": "Fleuriste"})
        db.session.commit()
    billing_on.fail_next("GET", f"/v1/subscriptions/{sub_id}", 500, count=3)
    from billing.stripe_client import BillingUnavailable

    try:
        _sync(app, world)
    except BillingUnavailable:
        pass
    else:
        raise AssertionError("the sync should say Stripe is unavailable")
    account = account_of(world.agency_id)
    assert account.synced_seq < account.change_seq
    assert _sync(app, world) == "synced"
    assert _quantities(billing_on, sub_id) == {"price_essentiel": 3}


def test_a_plan_change_is_previewed_then_charged_as_previewed(app, client, db, billing_on):
    world = make_world()
    sub_id = subscribe(app, billing_on, world)["id"]
    login(client, world.owner)
    page = client.get(f"/billing/clients/{world.client.id}/plan?plan=pro")
    assert page.status_code == 200
    [preview] = billing_on.calls("POST", "/v1/invoices/create_preview")
    form = preview["form"]
    item_id = billing_on.subscriptions[sub_id]["items"]["data"][0]["id"]
    assert form["customer"] == account_of(world.agency_id).stripe_customer_id
    assert form["subscription"] == sub_id
    assert form["subscription_details[items][0][id]"] == item_id
    assert form["subscription_details[items][0][quantity]"] == "1"
    assert form["subscription_details[items][1][price]"] == "price_pro"
    assert form["subscription_details[items][1][quantity]"] == "1"
    assert form["subscription_details[proration_behavior]"] == "create_prorations"
    proration_date = form["subscription_details[proration_date]"]
    text = page.get_data(as_text=True)
    # Pro costs 30.00 more a month; just subscribed, the whole month is left.
    assert "would cost €88.00 a month excluding tax, instead of €58.00" in text
    assert "Your next invoice gains €30.00 for the rest of the current period" in text
    assert "Next invoice: €118.00" in text  # the fake's preview: renewal + proration
    assert f'name="proration_date" value="{proration_date}"' in text

    response = client.post(f"/billing/clients/{world.client.id}/plan",
                           data={"plan": "pro", "proration_date": proration_date})
    assert response.status_code == 303
    [update] = _updates(billing_on, sub_id)
    assert update["form"]["proration_date"] == proration_date
    assert update["form"]["items[0][id]"] == item_id
    assert update["form"]["items[0][quantity]"] == "1"
    assert update["form"]["items[1][price]"] == "price_pro"
    assert _quantities(billing_on, sub_id) == {"price_essentiel": 1, "price_pro": 1}
    text = client.get("/billing").get_data(as_text=True)
    assert "€59.00" in text and "€29.00" in text


def test_a_plan_no_longer_used_leaves_the_subscription(app, db, billing_on):
    items = [{"id": "si_1", "price": {"id": "price_essentiel"}, "quantity": 2},
             {"id": "si_2", "price": {"id": "price_pro"}, "quantity": 1}]
    with app.test_request_context():
        app.config.update(STRIPE_PRICE_ESSENTIEL="price_essentiel", STRIPE_PRICE_PRO="price_pro")
        assert sync.items_update(items, {"essentiel": 3, "pro": 0, "reseau": 0}) == [
            {"id": "si_1", "quantity": 3}, {"id": "si_2", "deleted": True}]
        # Never an empty subscription: the last item goes to 0 instead.
        assert sync.items_update(items[:1], {"essentiel": 0, "pro": 0, "reseau": 0}) == [
            {"id": "si_1", "quantity": 0}]
        assert sync.items_update(items, {"essentiel": 2, "pro": 1, "reseau": 1}) == [
            {"price": "price_reseau", "quantity": 1}]


def test_without_a_subscription_the_preview_is_the_monthly_prices(app, client, db,
                                                                   billing_on):
    world = make_world()
    login(client, world.owner)
    text = client.get(f"/billing/clients/{world.client.id}/plan?plan=reseau").get_data(
        as_text=True)
    assert "would cost €128.00 a month excluding tax, instead of €58.00" in text
    assert "Nothing is charged now" in text
    assert billing_on.calls("POST", "/v1/invoices/create_preview") == []
