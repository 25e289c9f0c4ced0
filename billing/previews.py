"""What a change to the agency's workspaces will cost, for the pages that ask before
confirming (a new client, archiving one, restoring one), and the plans a new client
can be put on. Reads only; Stripe's preview is asked only when billing is on and the
workspace is on the agency's subscription.
"""

from __future__ import annotations

from flask_babel import gettext as _
from wtforms import SelectChoice

from agency.access import can
from agency.clients.models import Client
from tenants.roles import Permission

from . import plans, queries
from .accounts import client_billing
from .stripe_client import enabled
from .sync import Preview, preview


def plan_choices() -> list[SelectChoice] | None:
    """The plans a new client can start on, priced, for those who manage billing (None:
    billing is off or the person does not manage it, and the default plan applies)."""
    if not enabled() or not can(Permission.BILLING_MANAGE):
        return None
    return [SelectChoice(plan.key, _(
        "%(plan)s — %(price)s a month (up to %(accounts)d accounts, %(posts)d posts a "
        "month)", plan=plan.name, price=plans.euros(plan.monthly_cents),
        accounts=plan.max_accounts, posts=plan.max_posts_per_month)) for plan in plans.PLANS]


def adding(plan_key: str | None) -> Preview | None:
    """A new workspace on ``plan_key``. None in local mode."""
    if not enabled():
        return None
    return preview(queries.quantities_adding(plans.get(plan_key).key))


def archiving(client: Client) -> Preview | None:
    """``client`` leaving the agency's subscription. None in local mode or when the SME
    pays for its own workspace (the agency's subscription does not move)."""
    if not enabled() or _client_paid(client):
        return None
    return preview(queries.quantities_without(client))


def restoring(client: Client) -> Preview | None:
    """``client`` coming back on the agency's subscription, on the plan it had."""
    if not enabled() or _client_paid(client):
        return None
    row = client_billing(client.id)
    return preview(queries.quantities_adding(plans.get(row.plan if row else None).key))


def _client_paid(client: Client) -> bool:
    row = client_billing(client.id)
    return row is not None and row.client_paid
