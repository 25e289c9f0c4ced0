"""Reads of the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from agency.extensions import db

from .models import AuditEvent

PAGE_SIZE = 50


@dataclass
class EventPage:
    events: list[AuditEvent]
    page: int
    total: int
    per_page: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def event_page(page: int = 1, action: str | None = None, per_page: int = PAGE_SIZE) -> EventPage:
    """One page of the current agency's audit log, newest first, optionally one action."""
    query = select(AuditEvent)
    count = select(func.count()).select_from(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
        count = count.where(AuditEvent.action == action)
    total = db.session.scalar(count) or 0
    page = max(1, page)
    # Ids are time-ordered (UUIDv7): they break ties between events of one transaction.
    events = db.session.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return EventPage(list(events), page, total, per_page)
