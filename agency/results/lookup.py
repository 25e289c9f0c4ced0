"""The collection's cross-agency scan: which connected accounts have figures to read now.

An account is due when one of its published posts has a reading due (schedule.py), or
when nothing was read for it yet today (the client's own day, in its time zone). Ids
only: what to read is decided per account, inside its agency, by the job the scan
enqueues (collect.py).

On PostgreSQL this is the SECURITY DEFINER function ``relais_metrics_due`` of migration
0013 (row-level security hides every other agency from the app role); on SQLite the
same question under ``system_scope``, judged in Python (SQLite has no time zones). Keep
the two in step: the tests run both.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, text

from agency.clients.models import Client
from agency.extensions import db
from agency.networks.models import AccountStatus, SocialAccount
from agency.publishing.models import Publication, PublicationState
from tenants.scoping import system_scope

from .models import AccountMetricDay, PostMetricSnapshot
from .schedule import AGES, HORIZON, local_day, reading_due, utc


def accounts_due(now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(agency_id, account_id)`` of every connected account, in any agency, with a
    reading due at ``now``; ordered by agency, then account."""
    now = utc(now)
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            text("SELECT agency_id, account_id FROM relais_metrics_due(:now)"), {"now": now})
        return [(uuid.UUID(str(a)), uuid.UUID(str(b))) for a, b in rows]
    return _accounts_without_rls(now)


def _accounts_without_rls(now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    # Kept in step with relais_metrics_due (migration 0013).
    reason = system_scope("results: accounts with figures to read (ids only)")
    accounts = db.session.execute(
        select(SocialAccount.agency_id, SocialAccount.id, Client.timezone)
        .join(Client, and_(Client.agency_id == SocialAccount.agency_id,
                           Client.id == SocialAccount.client_id))
        .where(SocialAccount.status == AccountStatus.CONNECTED, Client.archived_at.is_(None))
        .execution_options(**reason)).all()
    # Whatever its time zone, a client's today is within a day of UTC's.
    read_days = {(account_id, day) for account_id, day in db.session.execute(
        select(AccountMetricDay.social_account_id, AccountMetricDay.day)
        .where(AccountMetricDay.day >= now.date() - timedelta(days=1))
        .execution_options(**reason))}
    last_taken = (select(func.max(PostMetricSnapshot.taken_at))
                  .where(PostMetricSnapshot.agency_id == Publication.agency_id,
                         PostMetricSnapshot.publication_id == Publication.id)
                  .scalar_subquery())
    published = db.session.execute(
        select(Publication.social_account_id, Publication.published_at, last_taken)
        .where(Publication.state == PublicationState.PUBLISHED,
               Publication.external_id != "",  # marked published by hand: nothing to ask
               Publication.published_at <= now - AGES[0],
               Publication.published_at > now - HORIZON)
        .execution_options(**reason)).all()
    with_posts_due = {account for account, published_at, taken in published
                      if reading_due(published_at, taken, now)}
    due = [(agency_id, account_id) for agency_id, account_id, timezone in accounts
           if account_id in with_posts_due
           or (account_id, local_day(timezone, now)) not in read_days]
    return sorted(due, key=lambda pair: (str(pair[0]), str(pair[1])))
