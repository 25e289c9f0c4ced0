"""Holds, never losses: publishing follows billing standing, and nothing is deleted.

``apply_holds`` makes every workspace's publications match its standing (see
standing.py): held (``held``, reason ``billing``) when the agency's subscription, or the
workspace's own for a client-paid one, is past due beyond the grace period or ended;
resumed on their own when it is in good standing again. It is idempotent and judges
with the time, so the periodic check notices a grace period running out without any
webhook. It returns the transitions, for the e-mails.

A publication created while its workspace is held is held from the start, and one that
becomes due again through the ORM (an account reconnected, a person's retry) is held
too: the ``before_flush`` hook below sees them whoever writes them (the publishing
services know nothing of billing). Work queued for a worker is held as well (its job
then finds it no longer queued); only a publication being sent when the hold begins
finishes, and if it comes back as ``retrying`` (through the engine's own UPDATE, which no
hook sees), the periodic check holds it (within 15 minutes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from agency.clients.models import Client
from agency.extensions import db
from agency.publishing.models import HoldReason, Publication, PublicationState
from agency.publishing.services import hold_client_billing, resume_client_billing

from .accounts import account_verdict, client_verdict, ensure_account, workspaces
from .models import BillingAccount, ClientBilling
from .stripe_client import enabled


@dataclass(frozen=True)
class Transition:
    held: bool  # True: publishing was just held; False: it just resumed
    client: Client | None = None  # None: the agency's own subscription (its workspaces)
    reason: str = ""


def apply_holds(*, now: datetime | None = None) -> list[Transition]:
    """Hold or resume each workspace of the current agency by its standing. Idempotent;
    flushes. Returns what changed (an agency held, a client-paid workspace resumed…)."""
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    account = ensure_account(lock=True)
    verdict = account_verdict(account, now)
    transitions = []
    if verdict.held != (account.held_at is not None):
        account.held_at = now if verdict.held else None
        transitions.append(Transition(verdict.held, None, verdict.reason))
    for client, row in workspaces(include_archived=True):
        if row is not None and row.client_paid:
            own = client_verdict(row, now)
            held = enabled() and own.held
            if held != (row.held_at is not None):
                row.held_at = now if held else None
                transitions.append(Transition(held, client, own.reason))
        else:
            held = verdict.held
        if held:
            hold_client_billing(client)
        else:
            resume_client_billing(client, now=now)
    db.session.flush()
    return transitions


def held_client_ids(client_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these workspaces have their publishing held for billing right now."""
    if not client_ids:
        return set()
    # Plain selects (no populate_existing): rows already in the session keep the
    # changes not flushed yet, such as a hold being lifted in this very transaction.
    account = db.session.scalars(select(BillingAccount)).one_or_none()
    rows = {row.client_id: row for row in db.session.scalars(
        select(ClientBilling).where(ClientBilling.client_id.in_(client_ids)))}
    held = set()
    for client_id in client_ids:
        row = rows.get(client_id)
        if row is not None and row.client_paid:
            if row.held_at is not None:
                held.add(client_id)
        elif account is not None and account.held_at is not None:
            held.add(client_id)
    return held


# Work that becomes due on its own (scheduled or retrying), the states the dispatcher
# claims: while its workspace is held, it is held instead.
_DUE_STATES = (None, PublicationState.SCHEDULED, PublicationState.RETRYING)


def _becoming_due(session: Session) -> list[Publication]:
    found = [obj for obj in session.new
             if isinstance(obj, Publication) and obj.state in _DUE_STATES]
    for obj in session.dirty:
        if (isinstance(obj, Publication) and obj.state in _DUE_STATES
                and inspect(obj).attrs.state.history.has_changes()):
            found.append(obj)  # a reconnected account's work, a person's retry
    return found


@event.listens_for(Session, "before_flush")
def _hold_due_publications(session: Session, flush_context, instances) -> None:
    due = _becoming_due(session)
    if not due:
        return
    with session.no_autoflush:
        held = held_client_ids({publication.client_id for publication in due})
    for publication in due:
        if publication.client_id in held:
            publication.state = PublicationState.HELD
            publication.held_reason = HoldReason.BILLING
