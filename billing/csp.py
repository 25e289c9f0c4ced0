"""The billing page's Content-Security-Policy: the app's own, with Stripe's hosted pages
allowed as the end of a form.

Its "Add a payment method" and "Manage billing" forms POST to Relais, which answers
with a redirect to Checkout or the Customer Portal; browsers apply ``form-action`` to
every redirect that follows a form submission, so with the app's ``form-action 'self'``
the button would do nothing. Only this page widens it, and only to the origins in
``STRIPE_HOSTED_ORIGINS`` (read per request, so a test can point them at a fake).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from flask import current_app

from agency.security import CSP


class BillingPagePolicy(Mapping):
    """A mapping Flask-Talisman reads like its policy dict, built when the header is."""

    def _policy(self) -> dict:
        origins = current_app.config.get("STRIPE_HOSTED_ORIGINS", "").split()
        return {**CSP, "form-action": ["'self'", *origins]}

    def __getitem__(self, key: str):
        return self._policy()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._policy())

    def __len__(self) -> int:
        return len(self._policy())
