"""A client's recurring publishing slots ("Tuesday 12:30"), in the client's own timezone.

A slot is a wall-clock time, not an instant: "12:30" stays 12:30 for the client across
daylight-saving changes, so it is stored as a weekday and an ``HH:MM`` string and turned
into UTC only for one given date (see ``agency.content.slots``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from agency.extensions import db
from tenants.ids import new_id
from tenants.scoping import TenantMixin


class TimeSlot(TenantMixin, db.Model):
    __tablename__ = "time_slots"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        # Also the index the slot list and the next-free-slot search read through.
        UniqueConstraint("agency_id", "client_id", "weekday", "time_of_day"),
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        ForeignKeyConstraint(
            ["agency_id", "client_id"], ["clients.agency_id", "clients.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday, as datetime.weekday()
    time_of_day: Mapped[str] = mapped_column(String(5))  # "HH:MM", zero-padded, sorts as text
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
