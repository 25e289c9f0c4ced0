"""Issue 6 as a person goes through it, in French, against the live server with Stripe
faked (tests/fakes/stripe_hosted.py: the API, its Checkout page and its webhooks):

an agency in its trial sees the plans in euros, subscribes through Checkout, adds a client
on the Pro plan and archives another with the price said before confirming, sends a
client a pay-for-yourself link, sees its invoices, and has publishing held when a payment
is overdue beyond the grace period and resumed once it is paid.

Everything is committed under ``committed_agency``'s agency, which the fixture removes
with all its rows (billing included: every billing table is a tenant table). Stripe's
side lives in the fake and goes with it. Syncs asked after a commit are recorded, not
queued (the clients pages sync at once at the previewed proration time anyway).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask_babel import force_locale
from playwright.sync_api import expect
from sqlalchemy import select

from agency.clients.models import Client
from agency.extensions import db as _db
from billing import plans
from tenants.context import tenant_scope
from tests.billing.conftest import PRICES, WEBHOOK_SECRET, days_ago
from tests.billing.helpers import approved_post, states
from tests.fakes.stripe import API_KEY, PERIOD
from tests.fakes.stripe_hosted import HostedStripe

pytestmark = pytest.mark.e2e

NAMES = {"price_essentiel": "Essentiel", "price_pro": "Pro", "price_reseau": "Réseau"}
FIRST, PRO = "Boulangerie Alpha", "Fleuriste Iris"
CONTACT = "iris@fleuriste.test"
HELD = "Les mises en ligne sont suspendues : l’abonnement n’est pas réglé."


@pytest.fixture
def stripe_hosted(app, live_server, monkeypatch):
    """Billing on against the hosted fake; the app's public address is the live server's
    (Checkout's success_url is built from it, and the browser must come back there)."""
    fake = HostedStripe(webhook_url=f"{live_server}/webhooks/stripe",
                        webhook_secret=WEBHOOK_SECRET)
    for price_id, cents in PRICES.values():
        fake.add_price(price_id, cents, NAMES[price_id])
    with fake:
        settings = {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": fake.url,
                    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "SERVER_NAME": urlsplit(live_server).netloc,
                    # The billing page's forms end on the hosted pages (its CSP says so).
                    "STRIPE_HOSTED_ORIGINS": fake.url,
                    **{key: price for key, (price, _) in PRICES.items()}}
        saved = {key: app.config.get(key) for key in settings}
        app.config.update(settings)
        fake.sync_asked = []
        monkeypatch.setattr("billing.jobs.enqueue_sync", lambda agency_id, queue=None:
                            fake.sync_asked.append(agency_id) or True)
        try:
            yield fake
        finally:
            app.config.update(saved)
            app.extensions.pop("relais_stripe", None)


def _euros(app, cents: int) -> str:
    with app.test_request_context(), force_locale("fr"):
        return plans.euros(cents)


def _client_id(app, agency_id, name: str):
    with app.app_context(), tenant_scope(agency_id):
        found = _db.session.scalars(select(Client.id).where(Client.name == name)).one()
        _db.session.remove()
    return found


def _schedule_a_post(app, agency_id, client_id) -> None:
    """An approved post on a sandbox account, two days ahead, committed."""
    with app.app_context():
        with tenant_scope(agency_id):
            client = _db.session.scalars(select(Client).where(Client.id == client_id)).one()
        approved_post(app, agency_id, client, hours=48)
        _db.session.commit()
        _db.session.remove()


def _states(app, agency_id, client_id) -> list[tuple[str, str]]:
    with app.app_context():
        found = states(agency_id, client_id)
        _db.session.remove()
    return found


def _items(fake: HostedStripe, subscription_id: str) -> dict[str, int]:
    return {item["price"]["id"]: item["quantity"]
            for item in fake.subscriptions[subscription_id]["items"]["data"]}


def _proration(fake: HostedStripe, subscription_id: str, cents: int, when: int) -> int:
    """What the fake charges for ``cents`` a month from ``when`` to the period's end."""
    start = fake.subscriptions[subscription_id]["_start"]
    return round(cents * max(0.0, (start + PERIOD - when) / PERIOD))


def test_an_agency_subscribes_changes_clients_and_is_held_then_resumed(
        app, page, committed_agency, stripe_hosted, mail):
    fake, agency_id = stripe_hosted, committed_agency["agency_id"]

    # --- sign in; the trial and the plans -------------------------------------------------
    page.goto("/login")
    page.get_by_label("E-mail").fill(committed_agency["email"])
    page.get_by_label("Mot de passe").fill(committed_agency["password"])
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Clients")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="Facturation").click()
    expect(page.get_by_role("heading", name="Facturation", level=1)).to_be_visible()
    subscription_card = page.locator("section", has=page.get_by_role(
        "heading", name="Votre abonnement"))
    expect(subscription_card).to_contain_text("Essai gratuit jusqu’au")
    plans_table = page.locator("section", has=page.get_by_role("heading", name="Formules"))
    for name, cents in (("Essentiel", 2900), ("Pro", 5900), ("Réseau", 9900)):
        row = plans_table.get_by_role("row").filter(
            has=page.get_by_role("cell", name=name, exact=True))
        expect(row).to_contain_text(_euros(app, cents))

    # --- a first client, during the trial: only the monthly price is said -------------------
    page.goto("/clients/new")
    page.get_by_label("Nom", exact=True).fill(FIRST)
    page.get_by_role("button", name="Créer le client").click()
    expect(page.get_by_role("heading", name=f"Créer {FIRST} ?")).to_be_visible()
    expect(page.get_by_text("Rien n’est facturé maintenant")).to_be_visible()
    page.get_by_role("button", name="Créer le client").click()
    expect(page.get_by_role("heading", name=FIRST)).to_be_visible()
    assert fake.calls("POST", "/v1/invoices/create_preview") == []

    # --- Checkout: the fake's hosted page, pay, back to the billing page ---------------------
    # The button posts to /billing/checkout, which redirects (303) to Stripe's page: the
    # billing page's CSP ``form-action`` must allow that origin, or the browser stops there.
    page.goto("/billing")
    page.get_by_role("button", name="Ajouter un moyen de paiement et s’abonner").click()
    expect(page).to_have_url(re.compile(re.escape(fake.url) + r"/pay/cs_"))
    expect(page.get_by_role("row").filter(
        has=page.get_by_role("cell", name="Essentiel", exact=True))).to_contain_text(
        "29,00 € par mois")
    page.get_by_role("button", name="Payer").click()
    expect(page).to_have_url(re.compile(r"/billing\?checkout=done$"))
    expect(page.get_by_text("Merci !")).to_be_visible()
    expect(subscription_card).to_contain_text("À jour")
    expect(page.get_by_role("button", name="Cartes, factures et résiliation")).to_be_visible()
    expect(page.get_by_role("button", name="Ajouter un moyen de paiement et s’abonner")
           ).to_have_count(0)
    assert [(d["type"], d["status"], d["answer"]) for d in fake.deliveries] == [
        ("checkout.session.completed", 200, {"outcome": "applied"}),
        ("customer.subscription.created", 200, {"outcome": "applied"})]
    [subscription_id] = fake.subscriptions
    assert _items(fake, subscription_id) == {"price_essentiel": 1}
    page.get_by_role("button", name="Cartes, factures et résiliation").click()
    expect(page).to_have_url(re.compile(re.escape(fake.url) + r"/portal/bps_"))
    page.get_by_role("link", name="Retour").click()
    expect(page).to_have_url(re.compile(r"/billing$"))

    # --- a Pro client: the proration is shown before anything is created --------------------
    page.goto("/clients")
    page.get_by_role("link", name="Nouveau client").click()
    page.get_by_label("Nom", exact=True).fill(PRO)
    page.get_by_role("combobox", name="Formule").select_option("pro")
    page.get_by_role("button", name="Créer le client").click()
    expect(page.get_by_role("heading", name=f"Créer {PRO} ?")).to_be_visible()
    [preview] = fake.calls("POST", "/v1/invoices/create_preview")
    shown_date = preview["params"]["subscription_details"]["proration_date"]
    added = _proration(fake, subscription_id, 5900, int(shown_date))
    expect(page.get_by_text("Votre prochaine facture augmente de")).to_contain_text(
        _euros(app, added))
    expect(page.locator("input[name=proration_date]")).to_have_value(shown_date)
    with app.app_context(), tenant_scope(agency_id):
        assert _db.session.scalars(select(Client).where(Client.name == PRO)).first() is None
        _db.session.remove()
    assert fake.calls("POST", f"/v1/subscriptions/{subscription_id}") == []
    page.get_by_role("button", name="Créer le client").click()
    expect(page.get_by_role("heading", name=PRO)).to_be_visible()
    [update] = fake.calls("POST", f"/v1/subscriptions/{subscription_id}")
    assert update["form"]["proration_date"] == shown_date
    assert _items(fake, subscription_id) == {"price_essentiel": 1, "price_pro": 1}

    # --- archive the first client: what the next invoice is reduced by ----------------------
    page.goto("/clients")
    page.get_by_role("link", name=FIRST).click()
    page.get_by_role("link", name="Archiver").click()
    expect(page.get_by_role("heading", name=f"Archiver {FIRST} ?")).to_be_visible()
    preview = fake.calls("POST", "/v1/invoices/create_preview")[-1]
    shown_date = preview["params"]["subscription_details"]["proration_date"]
    taken = _proration(fake, subscription_id, 2900, int(shown_date))
    expect(page.get_by_text("Votre prochaine facture diminue de")).to_contain_text(
        _euros(app, taken))
    page.get_by_role("button", name="Archiver").click()
    expect(page.get_by_role("heading", name=FIRST)).to_contain_text("Archivé")
    update = fake.calls("POST", f"/v1/subscriptions/{subscription_id}")[-1]
    assert update["form"]["proration_date"] == shown_date
    assert _items(fake, subscription_id) == {"price_pro": 1}

    # --- the Pro client pays for itself: a link, e-mailed to its approving contact ----------
    page.goto("/clients")
    page.get_by_role("link", name=PRO).click()
    page.get_by_role("link", name="Ajouter un contact").click()
    page.get_by_label("Nom", exact=True).fill("Iris Morel")
    page.get_by_label("E-mail").fill(CONTACT)
    page.get_by_label("Valide les publications").check()
    page.get_by_role("button", name="Ajouter le contact").click()
    expect(page.get_by_role("rowheader", name="Iris Morel")).to_be_visible()
    mail.clear()
    page.goto("/billing")
    pro_row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=PRO))
    pro_row.get_by_role("button", name="Faire payer le client").click()
    expect(page.get_by_text(f"Le lien de paiement pour {PRO} est prêt")).to_be_visible()
    link = pro_row.get_by_role("link", name="Lien de paiement pour le client")
    [client_session] = [s for s in fake.sessions.values()
                        if s["metadata"].get("relais_client_id")]
    expect(link).to_have_attribute("href", client_session["url"])
    [message] = [m for m in mail if m.to == CONTACT]
    assert client_session["url"] in message.text
    owner_side = page.context.new_page()
    owner_side.goto(client_session["url"])
    expect(owner_side.get_by_role("row").filter(
        has=owner_side.get_by_role("cell", name="Pro", exact=True))).to_contain_text(
        "59,00 € par mois")
    expect(owner_side.get_by_role("button", name="Payer")).to_be_visible()
    owner_side.close()

    # --- an invoice is issued and paid: listed with its PDF ---------------------------------
    invoice = fake.add_invoice(subscription_id, status="paid")
    assert fake.send("invoice.paid", invoice)["answer"] == {"outcome": "applied"}
    page.reload()
    invoices = page.locator("section", has=page.get_by_role("heading", name="Factures"))
    row = invoices.get_by_role("row").filter(has_text=invoice["number"])
    expect(row).to_contain_text(_euros(app, invoice["total"]))
    expect(row).to_contain_text("Payée")
    expect(row.get_by_role("link", name="PDF")).to_have_attribute("href",
                                                                   invoice["invoice_pdf"])

    # --- overdue beyond the grace period: publishing held -----------------------------------
    pro_id = _client_id(app, agency_id, PRO)
    _schedule_a_post(app, agency_id, pro_id)
    assert _states(app, agency_id, pro_id) == [("scheduled", "")]
    grace = int(app.config["BILLING_GRACE_DAYS"])
    unpaid = fake.add_invoice(subscription_id, status="open",
                              finalized_at=days_ago(grace + 3))
    fake.set_status(subscription_id, "past_due")
    for kind, obj in (("invoice.payment_failed", unpaid),
                      ("customer.subscription.updated", fake.subscriptions[subscription_id])):
        assert fake.send(kind, obj)["answer"] == {"outcome": "applied"}
    page.reload()
    banner = page.get_by_role("alert").filter(has_text=HELD)
    expect(banner).to_be_visible()
    expect(subscription_card).to_contain_text("En suspens")
    expect(invoices.get_by_role("row").filter(has_text=unpaid["number"])).to_contain_text(
        "À payer")
    assert _states(app, agency_id, pro_id) == [("held", "billing")]

    # --- the invoice is paid: publishing resumes on its own ---------------------------------
    fake.set_invoice_status(unpaid["id"], "paid")
    fake.set_status(subscription_id, "active")
    for kind, obj in (("invoice.paid", fake.invoices[unpaid["id"]]),
                      ("customer.subscription.updated", fake.subscriptions[subscription_id])):
        assert fake.send(kind, obj)["answer"] == {"outcome": "applied"}
    page.reload()
    expect(subscription_card).to_contain_text("À jour")
    expect(page.get_by_text(HELD)).to_have_count(0)
    expect(invoices.get_by_role("row").filter(has_text=unpaid["number"])).to_contain_text(
        "Payée")
    assert _states(app, agency_id, pro_id) == [("scheduled", "")]
