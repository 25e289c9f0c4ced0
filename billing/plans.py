"""The plans a client workspace can be on, with their limits and monthly prices.

The defaults live here; each plan's Stripe Price comes from the environment
(``STRIPE_PRICE_ESSENTIEL``, ``STRIPE_PRICE_PRO``, ``STRIPE_PRICE_RESEAU``). The euro
amounts shown to the agency are these defaults: keep them equal to the Prices' amounts
in Stripe (Stripe's invoice, and its preview, are what is actually charged).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import format_currency
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Plan:
    key: str  # stored in client_billing.plan; never renamed
    name: object  # a lazy string: shown in the reader's language
    monthly_cents: int  # euros × 100, excluding tax
    max_accounts: int  # connected social accounts in the workspace
    max_posts_per_month: int
    config_key: str  # the setting that holds its Stripe Price id

    @property
    def price_id(self) -> str:
        return current_app.config.get(self.config_key, "") or ""


PLANS: tuple[Plan, ...] = (
    Plan("essentiel", _l("Essentiel"), 2900, 3, 30, "STRIPE_PRICE_ESSENTIEL"),
    Plan("pro", _l("Pro"), 5900, 6, 90, "STRIPE_PRICE_PRO"),
    Plan("reseau", _l("Réseau"), 9900, 12, 300, "STRIPE_PRICE_RESEAU"),
)
DEFAULT_PLAN = "essentiel"
_BY_KEY = {plan.key: plan for plan in PLANS}


def get(key: str | None) -> Plan:
    """The plan called ``key``; an unknown or empty key is the default plan (a plan
    removed from this list must not strand the workspaces that were on it)."""
    return _BY_KEY.get(key or "", _BY_KEY[DEFAULT_PLAN])


def is_plan(key: str | None) -> bool:
    return (key or "") in _BY_KEY


def by_price(price_id: str) -> Plan | None:
    """The plan whose configured Stripe Price is ``price_id`` (None for any other)."""
    for plan in PLANS:
        if price_id and plan.price_id == price_id:
            return plan
    return None


def euros(cents: int) -> str:
    """An amount in the reader's format: "29,00 €" in French, "€29.00" in English."""
    return format_currency(cents / 100, "EUR")


def missing_prices() -> list[str]:
    """The settings still to give before Stripe can bill (empty when all are set)."""
    return [plan.config_key for plan in PLANS if not plan.price_id]
