"""The current tenant: one per request, job or command, never taken from request input."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from werkzeug.local import LocalProxy


@dataclass(frozen=True)
class TenantContext:
    agency_id: uuid.UUID | None
    user_id: uuid.UUID | None = None


_EMPTY = TenantContext(None, None)
_current: ContextVar[TenantContext] = ContextVar("relais_tenant", default=_EMPTY)


def current_agency_id() -> uuid.UUID | None:
    return _current.get().agency_id


def current_user_id() -> uuid.UUID | None:
    return _current.get().user_id


def current_context() -> TenantContext:
    return _current.get()


def set_tenant(agency_id: uuid.UUID | None, user_id: uuid.UUID | None = None) -> None:
    """Make ``agency_id`` the tenant for the rest of this request, job or command.

    The database is told at once if a transaction is already open, so the ORM filter
    and row-level security never disagree.
    """
    _current.set(TenantContext(agency_id, user_id))
    from .rls import apply_to_open_transaction

    apply_to_open_transaction()


def clear_tenant() -> None:
    _current.set(_EMPTY)


@contextmanager
def tenant_scope(agency_id: uuid.UUID | None, user_id: uuid.UUID | None = None) -> Iterator[None]:
    """Run a block as ``agency_id``; the previous tenant is restored afterwards."""
    previous = _current.get()
    set_tenant(agency_id, user_id)
    try:
        yield
    finally:
        set_tenant(previous.agency_id, previous.user_id)


def _load_current_agency():
    from .models import Agency
    from .scoping import tenant_get_or_none

    agency_id = current_agency_id()
    return tenant_get_or_none(Agency, agency_id) if agency_id else None


current_agency = LocalProxy(_load_current_agency)
