"""What a workspace's plan allows: connected accounts and posts a month.

The checks raise ``ServiceError`` with a message fit for the agency's staff; the
services that add an account or schedule a post call them before writing. In local mode
(no Stripe key) nothing is limited.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from agency.auth.services import ServiceError

from . import plans
from .accounts import client_billing
from .stripe_client import enabled


def plan_of(client_id) -> plans.Plan:
    row = client_billing(client_id)
    return plans.get(row.plan if row is not None else None)


def check_accounts(client, connected: int) -> None:
    """Refuse one more connected account beyond the plan's limit (``connected`` is how
    many the workspace has now)."""
    plan = plan_of(client.id)
    if enabled() and connected >= plan.max_accounts:
        raise ServiceError(_("The %(plan)s plan connects at most %(max)d accounts. Choose "
                             "a larger plan for %(client)s on the billing page.",
                             plan=plan.name, max=plan.max_accounts, client=client.name))


def check_posts(client, scheduled_this_month: int, month: datetime) -> None:
    """Refuse one more post in ``month`` beyond the plan's limit."""
    plan = plan_of(client.id)
    if enabled() and scheduled_this_month >= plan.max_posts_per_month:
        raise ServiceError(_("The %(plan)s plan allows %(max)d posts a month, and %(client)s "
                             "has them all in %(month)s. Choose a larger plan on the "
                             "billing page.", plan=plan.name, max=plan.max_posts_per_month,
                             client=client.name, month=month.strftime("%m/%Y")))
