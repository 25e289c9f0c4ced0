"""What other packages call when something billing follows changes. Kept tiny and
import-light (the services are imported on call), so that the caller's module never
depends on billing's at import time."""

from __future__ import annotations


def client_changed(client) -> None:
    """A client workspace was created, archived or restored: the agency's subscription
    quantities follow (after the commit, by a worker). Flushes; the caller commits."""
    from .services import client_changed as changed

    changed(client)


def client_created(client, plan_key: str | None = None) -> None:
    """A new workspace: on ``plan_key`` (the default plan when None), counted in the
    agency's subscription. Flushes; the caller commits."""
    from .services import client_created as created

    created(client, plan_key)


def sync_now(proration_date: int | None = None) -> bool:
    """Bring Stripe in step at once, at the proration time a preview showed, so the
    invoice says what the person confirmed. False when Stripe could not be reached: the
    change is kept and the worker's job (or the periodic check) sends it."""
    from .stripe_client import BillingUnavailable
    from .sync import sync_subscription

    try:
        sync_subscription(proration_date=proration_date)
    except BillingUnavailable:
        return False
    return True


def limits_apply() -> bool:
    """Whether the plans' limits are enforced (billing on)."""
    from .stripe_client import enabled

    return enabled()


def check_posts(client, planned_in_month: int, month) -> None:
    """Refuse one more post in ``month`` beyond the client's plan (``ServiceError``)."""
    from .limits import check_posts as check

    check(client, planned_in_month, month)
