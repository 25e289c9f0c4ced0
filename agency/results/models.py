"""Results: the figures the networks report, kept as snapshots in time.

- ``PostMetricSnapshot``: one reading of a published post's counters (a publication,
  i.e. one post on one account), taken by the collection job at ages that matter (an
  hour, a day, a week, a month after publishing). The newest reading of a publication
  is its figure; older ones stay, so a report made for a month can be made again.
- ``AccountMetricDay``: one reading per account and day (the client's local day) of
  the account-level figures, followers first. A second reading on the same day
  replaces the first: the day keeps its latest value.

A counter the network does not report is NULL, never 0: "no clicks" and "this network
does not count clicks" read differently to the owner.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from agency.extensions import db
from tenants.ids import new_id
from tenants.scoping import TenantMixin

# The counters every network's reading is mapped onto (see counters.py's NAMES).
POST_COUNTERS = ("impressions", "reach", "reactions", "comments", "shares", "clicks",
                 "saves")


class PostMetricSnapshot(TenantMixin, db.Model):
    __tablename__ = "post_metric_snapshots"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        # The newest reading of each publication, and a client's readings by time.
        Index("ix_post_metric_snapshots_publication", "agency_id", "publication_id",
              "taken_at"),
        Index("ix_post_metric_snapshots_client", "agency_id", "client_id", "taken_at"),
        ForeignKeyConstraint(["agency_id", "publication_id"],
                             ["publications.agency_id", "publications.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["agency_id", "client_id"], ["clients.agency_id", "clients.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    publication_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    network: Mapped[str] = mapped_column(String(32))
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    impressions: Mapped[int | None] = mapped_column(Integer)  # or views
    reach: Mapped[int | None] = mapped_column(Integer)
    reactions: Mapped[int | None] = mapped_column(Integer)  # likes, favourites…
    comments: Mapped[int | None] = mapped_column(Integer)  # replies
    shares: Mapped[int | None] = mapped_column(Integer)  # reposts, boosts…
    clicks: Mapped[int | None] = mapped_column(Integer)  # link clicks
    saves: Mapped[int | None] = mapped_column(Integer)  # saves, bookmarks
    # The network's own counters as it named them (kept for what the columns lack).
    raw: Mapped[dict] = mapped_column(JSON, default=dict)


class AccountMetricDay(TenantMixin, db.Model):
    __tablename__ = "account_metric_days"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        UniqueConstraint("agency_id", "social_account_id", "day"),
        Index("ix_account_metric_days_client", "agency_id", "client_id", "day"),
        ForeignKeyConstraint(["agency_id", "social_account_id"],
                             ["social_accounts.agency_id", "social_accounts.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["agency_id", "client_id"], ["clients.agency_id", "clients.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    social_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    network: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)  # the client's local day
    followers: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                               server_default=func.now())
    raw: Mapped[dict] = mapped_column(JSON, default=dict)


class MonthlyReport(TenantMixin, db.Model):
    """A client's report for a month, sent: the row is written in the same transaction as
    the e-mails are queued, and (client, month) is unique, so a month is sent once
    whatever the retries. ``generated_at`` is the time its figures stand at: the report's
    link shows them as they were then."""

    __tablename__ = "monthly_reports"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        UniqueConstraint("agency_id", "client_id", "month"),
        ForeignKeyConstraint(["agency_id", "client_id"], ["clients.agency_id", "clients.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    month: Mapped[date] = mapped_column(Date)  # its first day
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
