"""A fake Stripe API over real loopback HTTP, for stripe-python itself to talk to
(``STRIPE_API_BASE`` points the client here).

It answers like the API version stripe-python 16.1 pins (``API_VERSION``) on the routes
Relais uses, form-encoded requests in, JSON out (https://docs.stripe.com/api):

    POST /v1/customers                    name, email, metadata[...]
    POST /v1/checkout/sessions            mode, customer, line_items[i][price|quantity],
                                          success_url, cancel_url, client_reference_id,
                                          metadata, subscription_data[trial_end|metadata]
    GET  /v1/checkout/sessions/{id}
    POST /v1/checkout/sessions/{id}/expire   (400 unless the session is open)
    POST /v1/billing_portal/sessions      customer, return_url
    GET  /v1/subscriptions/{id}           expand[]=latest_invoice
    GET  /v1/subscriptions                customer, status=all (a list object)
    POST /v1/subscriptions/{id}           items[i][id|price|quantity|deleted],
                                          proration_behavior, proration_date
    POST /v1/invoices/create_preview      customer, subscription, subscription_details[
                                          items|proration_behavior|proration_date]
    GET  /v1/invoices/{id}

Shapes follow the API since 2025-03-31 ("basil"), as the pinned version does: the
billing period is on each subscription item (``current_period_start/end``), an invoice
names its subscription under ``parent.subscription_details.subscription``, and a
preview's proration lines are flagged ``parent.subscription_item_details.proration``.
Errors are ``{"error": {"type", "code", "message", "param"}}`` with Stripe's statuses
(401 bad key, 404 resource_missing, 400 invalid_request_error).

Idempotency as documented in "Idempotent requests": a POST's ``Idempotency-Key`` and
its parameters are remembered with the answer; the same key again replays the answer
(header ``Idempotent-Replayed: true``), the same key with other parameters is refused
(400, ``idempotency_error``).

Knobs: ``lose_next_answer(path)`` does the work and stores the answer under the key, but
answers 503 with ``Stripe-Should-Retry: true`` (an answer lost on the way back: the
client retries with the same key); ``fail_next(path, status)`` refuses before doing
anything. ``requests`` is what it was asked (path, method, form as sent, nested params,
headers). Test helpers build the world (``add_subscription``, ``add_invoice``,
``complete_checkout``) and Stripe-shaped events (``event``).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from .server import LoopbackServer

API_VERSION = "2026-10-28.endive"
API_KEY = "sk_test_relais_fake"
PERIOD = 30 * 24 * 3600


def nest(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding back into a structure: ``items[0][price]=p`` →
    ``{"items": [{"price": "p"}]}`` (objects whose keys are all digits become lists)."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(node):
        if isinstance(node, dict):
            if node and all(k.isdigit() for k in node):
                return [listify(node[k]) for k in sorted(node, key=int)]
            return {k: listify(v) for k, v in node.items()}
        return node

    return listify(root)


@dataclass
class _Failure:
    method: str
    path: str
    status: int
    lose_answer: bool = False


class FakeStripe(LoopbackServer):
    def __init__(self, *, api_key: str = API_KEY):
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.api_key = api_key
        self.prices: dict[str, int] = {}  # price id → unit amount (cents, monthly)
        self.customers: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.portal_sessions: list[dict] = []
        self.subscriptions: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.requests: list[dict] = []
        self._idempotency: dict[str, tuple] = {}
        self._failures: list[_Failure] = []
        self.clock = lambda: int(time.time())

    # --- the world ---------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test{next(self._ids):08d}"

    def add_price(self, price_id: str, cents: int) -> None:
        self.prices[price_id] = cents

    def _price(self, price_id: str) -> dict:
        return {"id": price_id, "object": "price", "active": True, "currency": "eur",
                "unit_amount": self.prices[price_id], "type": "recurring",
                "recurring": {"interval": "month", "interval_count": 1,
                              "usage_type": "licensed"},
                "product": "prod_" + price_id, "livemode": False}

    def _item(self, subscription: dict, price_id: str, quantity: int) -> dict:
        return {"id": self._id("si"), "object": "subscription_item",
                "created": self.clock(), "current_period_start": subscription["_start"],
                "current_period_end": subscription["_start"] + PERIOD, "metadata": {},
                "price": self._price(price_id), "quantity": quantity,
                "subscription": subscription["id"], "discounts": [], "tax_rates": []}

    def add_customer(self, name: str = "Customer", metadata: dict | None = None) -> dict:
        with self._lock:
            customer = {"id": self._id("cus"), "object": "customer", "name": name,
                        "email": None, "metadata": metadata or {}, "created": self.clock(),
                        "balance": 0, "currency": None, "livemode": False,
                        "invoice_settings": {"default_payment_method": None}}
            self.customers[customer["id"]] = customer
            return customer

    def add_subscription(self, customer: str, items: list[tuple[str, int]], *,
                         status: str = "active", metadata: dict | None = None) -> dict:
        with self._lock:
            now = self.clock()
            subscription = {"id": self._id("sub"), "object": "subscription",
                            "customer": customer, "status": status, "created": now,
                            "start_date": now, "billing_cycle_anchor": now,
                            "cancel_at_period_end": False, "canceled_at": None,
                            "ended_at": None, "currency": "eur",
                            "collection_method": "charge_automatically",
                            "latest_invoice": None, "metadata": metadata or {},
                            "trial_start": None, "trial_end": None, "livemode": False,
                            "_start": now}
            subscription["items"] = {
                "object": "list", "has_more": False,
                "url": f"/v1/subscription_items?subscription={subscription['id']}",
                "data": [self._item(subscription, price, qty) for price, qty in items]}
            self.subscriptions[subscription["id"]] = subscription
            return self._public(subscription)

    def set_status(self, subscription_id: str, status: str) -> dict:
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = status
            if status == "canceled":
                subscription["canceled_at"] = subscription["ended_at"] = self.clock()
            return self._public(subscription)

    def add_invoice(self, subscription_id: str, *, status: str = "paid",
                    finalized_at: int | None = None) -> dict:
        """An invoice for the subscription's current quantities, made its latest."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            lines = [self._line(subscription, item["price"]["id"], item["quantity"],
                                item["quantity"] * item["price"]["unit_amount"], False)
                     for item in subscription["items"]["data"]]
            invoice = self._invoice(subscription, lines, status=status)
            invoice["status_transitions"]["finalized_at"] = finalized_at or self.clock()
            if status == "paid":
                invoice["amount_paid"], invoice["amount_remaining"] = invoice["total"], 0
                invoice["status_transitions"]["paid_at"] = self.clock()
            self.invoices[invoice["id"]] = invoice
            subscription["latest_invoice"] = invoice["id"]
            return copy.deepcopy(invoice)

    def set_invoice_status(self, invoice_id: str, status: str) -> dict:
        with self._lock:
            invoice = self.invoices[invoice_id]
            invoice["status"] = status
            if status == "paid":
                invoice["amount_paid"], invoice["amount_remaining"] = invoice["total"], 0
                invoice["status_transitions"]["paid_at"] = self.clock()
            return copy.deepcopy(invoice)

    def _line(self, subscription: dict, price_id: str, quantity: int, amount: int,
              proration: bool, item_id: str = "") -> dict:
        start = subscription["_start"]
        return {"id": self._id("il"), "object": "line_item", "amount": amount,
                "currency": "eur", "description": f"{quantity} × {price_id}",
                "quantity": quantity, "period": {"start": start, "end": start + PERIOD},
                "parent": {"type": "subscription_item_details",
                           "invoice_item_details": None,
                           "subscription_item_details": {
                               "subscription": subscription["id"],
                               "subscription_item": item_id, "proration": proration,
                               "invoice_item": None, "proration_details": {
                                   "credited_items": None}}},
                "pricing": {"type": "price_details", "unit_amount_decimal": str(
                    self.prices[price_id]), "price_details": {
                    "price": price_id, "product": "prod_" + price_id}}}

    def _invoice(self, subscription: dict, lines: list[dict], *, status: str,
                 preview: bool = False) -> dict:
        total = sum(line["amount"] for line in lines)
        invoice_id = self._id("upcoming_in" if preview else "in")
        start = subscription["_start"]
        return {
            "id": invoice_id, "object": "invoice", "customer": subscription["customer"],
            "status": status, "number": None if preview else f"RELAIS-{next(self._ids)}",
            "currency": "eur", "subtotal": total, "total": total, "amount_due": total,
            "amount_paid": 0, "amount_remaining": total, "attempt_count": 0,
            "created": self.clock(), "period_start": start, "period_end": start + PERIOD,
            "next_payment_attempt": start + PERIOD if preview else None,
            "hosted_invoice_url": None if preview else
            f"https://invoice.stripe.com/i/acct_test/{invoice_id}",
            "invoice_pdf": None if preview else
            f"https://pay.stripe.com/invoice/acct_test/{invoice_id}/pdf",
            "status_transitions": {"finalized_at": None, "paid_at": None,
                                   "voided_at": None, "marked_uncollectible_at": None},
            "parent": {"type": "subscription_details", "quote_details": None,
                       "subscription_details": {"subscription": subscription["id"],
                                                "metadata": subscription["metadata"]}},
            "lines": {"object": "list", "data": lines, "has_more": False,
                      "url": f"/v1/invoices/{invoice_id}/lines"},
            "livemode": False}

    def complete_checkout(self, session_id: str, *, status: str = "active") -> dict:
        """The person paid on Checkout: its subscription exists (as Stripe makes it)."""
        with self._lock:
            session = self.sessions[session_id]
            data = session["_params"].get("subscription_data", {})
            subscription = self.add_subscription(
                session["customer"], [(item["price"], int(item["quantity"]))
                                      for item in session["_params"]["line_items"]],
                status=status, metadata=data.get("metadata", {}))
            session.update(status="complete", payment_status="paid",
                           subscription=subscription["id"])
            return self._public(session)

    def event(self, kind: str, obj: dict, *, created: int | None = None) -> dict:
        """A webhook event as Stripe sends it, with a snapshot of ``obj``."""
        return {"id": self._id("evt"), "object": "event", "api_version": API_VERSION,
                "created": created or self.clock(), "livemode": False,
                "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
                "type": kind, "data": {"object": self._public(obj)}}

    @staticmethod
    def _public(obj: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

    # --- knobs -------------------------------------------------------------------------

    def fail_next(self, method: str, path: str, status: int = 500, *, count: int = 1) -> None:
        self._failures.extend(_Failure(method, path, status) for _ in range(count))

    def lose_next_answer(self, method: str, path: str) -> None:
        self._failures.append(_Failure(method, path, 503, lose_answer=True))

    def calls(self, method: str, path_prefix: str) -> list[dict]:
        return [r for r in self.requests
                if r["method"] == method and r["path"].startswith(path_prefix)]

    # --- HTTP --------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        form = parse_qsl(request.get_data(as_text=True), keep_blank_values=True)
        query = parse_qsl(request.query_string.decode(), keep_blank_values=True)
        params = nest(form if request.method == "POST" else query)
        with self._lock:
            self.requests.append({"method": request.method, "path": request.path,
                                  "form": dict(form), "params": params,
                                  "headers": dict(request.headers)})
            response = self._respond(request, form, params)
        return response(environ, start_response)

    def _respond(self, request: Request, form: list, params: dict) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        failure = next((f for f in self._failures
                        if f.method == request.method and f.path in request.path), None)
        if failure is not None:
            self._failures.remove(failure)
            if not failure.lose_answer:
                return _error(failure.status, "api_error", "Something went wrong.")
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key and key in self._idempotency:
            method, path, sent, status, body = self._idempotency[key]
            if (method, path, sent) != (request.method, request.path, sorted(form)):
                return _error(400, "idempotency_error", "Keys for idempotent requests can "
                              "only be used with the same parameters they were first used "
                              "with.")
            response = _json(status, body)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        status, body = self._route(request.method, request.path, params)
        if key:
            self._idempotency[key] = (request.method, request.path, sorted(form), status,
                                      body)
        if failure is not None:  # done and stored, but the answer is lost on the way back
            response = _error(503, "api_error", "The answer was lost.")
            response.headers["Stripe-Should-Retry"] = "true"
            return response
        return _json(status, body)

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")[1:]  # after "v1"
        if method == "POST" and parts == ["customers"]:
            customer = self.add_customer(params.get("name", ""), params.get("metadata"))
            customer["email"] = params.get("email")
            return 200, customer
        if method == "POST" and parts == ["checkout", "sessions"]:
            return 200, self._new_session(params)
        if method == "GET" and parts[:2] == ["checkout", "sessions"] and len(parts) == 3:
            return self._found(self.sessions, parts[2], "checkout.session")
        if method == "POST" and parts[:2] == ["checkout", "sessions"] and parts[3:] == [
                "expire"]:
            return self._expire(parts[2])
        if method == "POST" and parts == ["billing_portal", "sessions"]:
            if params.get("customer") not in self.customers:
                return _missing("customer", params.get("customer"))
            session = {"id": self._id("bps"), "object": "billing_portal.session",
                       "customer": params["customer"], "return_url": params.get("return_url"),
                       "url": f"https://billing.stripe.com/p/session/test_{next(self._ids)}",
                       "created": self.clock(), "livemode": False, "locale": None,
                       "configuration": "bpc_test", "on_behalf_of": None, "flow": None}
            self.portal_sessions.append(session)
            return 200, session
        if parts == ["subscriptions"] and method == "GET":
            found = [self._public(s) for s in self.subscriptions.values()
                     if s["customer"] == params.get("customer")]
            return 200, {"object": "list", "data": found, "has_more": False,
                         "url": "/v1/subscriptions"}
        if parts[:1] == ["subscriptions"] and len(parts) == 2:
            if parts[1] not in self.subscriptions:
                return _missing("subscription", parts[1])
            if method == "POST":
                self._update_items(self.subscriptions[parts[1]], params.get("items", []))
            return 200, self._expanded(self.subscriptions[parts[1]], params.get("expand", []))
        if method == "POST" and parts == ["invoices", "create_preview"]:
            return self._preview(params)
        if method == "GET" and parts[:1] == ["invoices"] and len(parts) == 2:
            return self._found(self.invoices, parts[1], "invoice")
        return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                               "message": f"Unrecognized request URL ({method}: {path})."}}

    def _found(self, store: dict, object_id: str, name: str) -> tuple[int, dict]:
        if object_id not in store:
            return _missing(name, object_id)
        return 200, self._public(store[object_id])

    def _expanded(self, subscription: dict, expand: list) -> dict:
        public = self._public(subscription)
        if "latest_invoice" in expand and public["latest_invoice"]:
            public["latest_invoice"] = copy.deepcopy(self.invoices[public["latest_invoice"]])
        return public

    def _new_session(self, params: dict) -> dict:
        session_id = self._id("cs")
        session = {"id": session_id, "object": "checkout.session",
                   "mode": params.get("mode"), "status": "open", "payment_status": "unpaid",
                   "customer": params.get("customer"), "subscription": None,
                   "client_reference_id": params.get("client_reference_id"),
                   "metadata": params.get("metadata", {}),
                   "success_url": params.get("success_url"),
                   "cancel_url": params.get("cancel_url"), "ui_mode": "hosted_page",
                   "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                   "created": self.clock(), "expires_at": self.clock() + 24 * 3600,
                   "livemode": False, "_params": params}
        self.sessions[session_id] = session
        return self._public(session)

    def _expire(self, session_id: str) -> tuple[int, dict]:
        session = self.sessions.get(session_id)
        if session is None:
            return _missing("checkout.session", session_id)
        if session["status"] != "open":
            return 400, {"error": {"type": "invalid_request_error", "code": None,
                                   "param": None,
                                   "message": "Only Checkout Sessions with a status in "
                                              "[\"open\"] can be expired."}}
        session.update(status="expired", url=None)
        return 200, self._public(session)

    def _update_items(self, subscription: dict, changes: list[dict]) -> None:
        items = subscription["items"]["data"]
        for change in changes:
            if "id" in change:
                item = next(i for i in items if i["id"] == change["id"])
                if change.get("deleted") == "true":
                    items.remove(item)
                elif "quantity" in change:
                    item["quantity"] = int(change["quantity"])
            else:
                items.append(self._item(subscription, change["price"],
                                        int(change.get("quantity", 1))))

    def _preview(self, params: dict) -> tuple[int, dict]:
        subscription = self.subscriptions.get(params.get("subscription", ""))
        if subscription is None:
            return _missing("subscription", params.get("subscription"))
        details = params.get("subscription_details", {})
        when = int(details.get("proration_date") or self.clock())
        start = subscription["_start"]
        left = max(0.0, (start + PERIOD - when) / PERIOD)
        after = copy.deepcopy(subscription)
        self._update_items(after, details.get("items", []))
        before = {i["price"]["id"]: i["quantity"] for i in subscription["items"]["data"]}
        now = {i["price"]["id"]: i["quantity"] for i in after["items"]["data"]}
        lines = []
        for price in sorted(set(before) | set(now)):
            delta = now.get(price, 0) - before.get(price, 0)
            if delta:
                lines.append(self._line(subscription, price, abs(delta),
                                        round(delta * self.prices[price] * left), True))
        lines += [self._line(subscription, i["price"]["id"], i["quantity"],
                             i["quantity"] * i["price"]["unit_amount"], False)
                  for i in after["items"]["data"]]
        invoice = self._invoice(subscription, lines, status="draft", preview=True)
        invoice["parent"]["subscription_details"]["subscription_proration_date"] = when
        return 200, invoice


def _json(status: int, body: dict) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Request-Id"] = f"req_test{int(time.time() * 1000)}"
    response.headers["Stripe-Version"] = API_VERSION
    return response


def _error(status: int, kind: str, message: str, code: str | None = None,
           param: str | None = None) -> Response:
    return _json(status, {"error": {"type": kind, "code": code, "message": message,
                                    "param": param}})


def _missing(name: str, object_id) -> tuple[int, dict]:
    return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                           "param": "id", "message": f"No such {name}: '{object_id}'"}}
