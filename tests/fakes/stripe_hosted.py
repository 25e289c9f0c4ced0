"""The fake Stripe (tests/fakes/stripe.py) with Stripe's hosted pages, for a browser to
go through: what a person sees on Stripe's side, on the same loopback server.

    GET  /pay/{session}      Checkout: what is bought (product, quantity, price a month)
                             and a "Payer" button; a session no longer open says so (410)
    POST /pay/{session}      the person paid: the session completes (``complete_checkout``,
                             its subscription made ``checkout_status``), Stripe's events
                             go to the app's webhook, and the browser is sent to the
                             session's ``success_url`` (303)
    GET  /portal/{session}   the Customer Portal: a page with a link back (``return_url``)

A Checkout session's ``url`` is ``{fake.url}/pay/{id}``, a portal session's
``{fake.url}/portal/{id}`` (the plain fake's are Stripe's real hosts, which a browser here
cannot reach).

Webhooks go as Stripe sends them (https://docs.stripe.com/webhooks): a POST of the event's
JSON to ``webhook_url`` with a ``Stripe-Signature`` header made by stripe-python's own
``WebhookSignature.generate_signature_header`` with ``webhook_secret``. On payment the fake
sends ``checkout.session.completed`` then ``customer.subscription.created``, before the
redirect (Stripe's are asynchronous: the app must not rely on either order); ``send(kind,
obj)`` delivers any other event. ``deliveries`` records each (type, event id, the app's
status and JSON answer).

Simplification: the subscription starts ``checkout_status`` ("active") even when the
session asked for a ``trial_end`` (Stripe would start it "trialing"); the fake bills from
the start, as its previews do.
"""

from __future__ import annotations

import html
import json
import time

import requests
import stripe
from werkzeug.wrappers import Request, Response

from .stripe import API_KEY, FakeStripe


class HostedStripe(FakeStripe):
    def __init__(self, *, webhook_url: str = "", webhook_secret: str = "",
                 api_key: str = API_KEY):
        super().__init__(api_key=api_key)
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.products: dict[str, str] = {}  # price id → its product's name, shown to payers
        self.deliveries: list[dict] = []
        self.checkout_status = "active"

    def add_price(self, price_id: str, cents: int, name: str = "") -> None:
        super().add_price(price_id, cents)
        self.products[price_id] = name or price_id

    # --- webhooks ------------------------------------------------------------------------

    def send(self, kind: str, obj: dict) -> dict:
        """Deliver one event about ``obj`` to the app's webhook, signed; returns (and
        records) what the app answered."""
        with self._lock:
            event = self.event(kind, obj)
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(
            payload, self.webhook_secret, timestamp=int(time.time()))
        answer = requests.post(self.webhook_url, data=payload.encode(), timeout=30,
                               headers={"Stripe-Signature": header,
                                        "Content-Type": "application/json"})
        try:
            body = answer.json()
        except ValueError:
            body = answer.text
        delivery = {"type": kind, "id": event["id"], "status": answer.status_code,
                    "answer": body}
        self.deliveries.append(delivery)
        return delivery

    # --- the hosted pages ----------------------------------------------------------------

    def _new_session(self, params: dict) -> dict:
        session = super()._new_session(params)
        self.sessions[session["id"]]["url"] = session["url"] = (
            f"{self.url}/pay/{session['id']}")
        return session

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        status, body = super()._route(method, path, params)
        if status == 200 and body.get("object") == "billing_portal.session":
            body["url"] = f"{self.url}/portal/{body['id']}"  # the stored session too
        return status, body

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "pay":
            response = self._checkout_page(request, parts[1])
        elif len(parts) == 2 and parts[0] == "portal":
            response = self._portal_page(parts[1])
        elif request.path == "/favicon.ico":  # the browser asks on every hosted page
            response = Response(status=204)
        else:
            return super()._wsgi(environ, start_response)
        return response(environ, start_response)

    def _checkout_page(self, request: Request, session_id: str) -> Response:
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return _page(404, "Session inconnue", "<p>Cette page n’existe pas.</p>")
            if session["status"] != "open":
                return _page(410, "Session terminée",
                             "<p>Cette session de paiement n’est plus ouverte.</p>")
            if request.method == "POST":
                paid = self.complete_checkout(session_id, status=self.checkout_status)
                subscription = self.subscriptions[paid["subscription"]]
            else:
                return self._checkout_html(session)
        # Outside the lock: the app reads the fake back while it handles each event.
        self.send("checkout.session.completed", self.sessions[session_id])
        self.send("customer.subscription.created", subscription)
        success = (session["success_url"] or "").replace("{CHECKOUT_SESSION_ID}",
                                                         session_id)
        return Response(status=303, headers={"Location": success})

    def _checkout_html(self, session: dict) -> Response:
        rows, total = [], 0
        for item in session["_params"].get("line_items", []):
            price, quantity = item["price"], int(item.get("quantity", 1))
            amount = self.prices[price] * quantity
            total += amount
            rows.append(f"<tr><td>{html.escape(self.products.get(price, price))}</td>"
                        f"<td>{quantity}</td><td>{_euros(amount)} par mois</td></tr>")
        trial = session["_params"].get("subscription_data", {}).get("trial_end")
        note = (f"<p>Essai jusqu’au {time.strftime('%d/%m/%Y', time.gmtime(int(trial)))}"
                "</p>" if trial else "")
        cancel = html.escape(session["cancel_url"] or "", quote=True)
        body = (f"<table><caption>Votre abonnement</caption><thead><tr><th>Produit</th>"
                f"<th>Quantité</th><th>Prix</th></tr></thead><tbody>{''.join(rows)}"
                f"</tbody></table><p>Total : {_euros(total)} par mois</p>{note}"
                f"<form method=\"post\"><button type=\"submit\">Payer</button></form>"
                f"<p><a href=\"{cancel}\">Retour</a></p>")
        return _page(200, "Paiement", body)

    def _portal_page(self, session_id: str) -> Response:
        with self._lock:
            session = next((s for s in self.portal_sessions if s["id"] == session_id), None)
        if session is None:
            return _page(404, "Session inconnue", "<p>Cette page n’existe pas.</p>")
        back = html.escape(session["return_url"] or "", quote=True)
        return _page(200, "Portail client",
                     f"<p>Cartes, factures et résiliation.</p><p><a href=\"{back}\">"
                     "Retour</a></p>")


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d} €"


def _page(status: int, title: str, body: str) -> Response:
    return Response(f"<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
                    f"<title>{title} · Stripe (fake)</title></head><body><h1>{title}</h1>"
                    f"{body}</body></html>", status=status, mimetype="text/html")
