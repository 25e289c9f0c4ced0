"""The one path by which tenant rows are read and written in the ORM.

Every SELECT, UPDATE and DELETE that touches a ``TenantMixin`` model is filtered to the
current tenant by a ``do_orm_execute`` hook, and every flush refuses a tenant row that
belongs to another agency. With no tenant set, tenant queries match nothing (fail
closed), exactly as row-level security does on PostgreSQL.

Cross-tenant system work opts out explicitly with ``system_scope()`` so that it is
named, greppable and rare.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from flask import abort
from sqlalchemy import ForeignKey, Uuid, event, select
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

from .context import current_agency_id

SYSTEM_SCOPE = "relais_system_scope"


class TenantMixin:
    """A row owned by one agency. Composite foreign keys use ``(agency_id, id)``."""

    @declared_attr
    def agency_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            Uuid, ForeignKey("agencies.id", ondelete="CASCADE"), nullable=False
        )


class TenantViolation(RuntimeError):
    """A write tried to place a row in an agency other than the current one."""


def system_scope(reason: str) -> dict:
    """Execution options for a deliberate cross-tenant read; ``reason`` documents it."""
    return {SYSTEM_SCOPE: reason}


M = TypeVar("M")


def tenant_get_or_none(model: type[M], object_id) -> M | None:
    """Load ``model`` by id within the current tenant, or ``None``.

    Never uses the identity map, so an object cached from another tenant cannot leak.
    """
    from agency.extensions import db

    try:
        key = object_id if isinstance(object_id, uuid.UUID) else uuid.UUID(str(object_id))
    except (TypeError, ValueError, AttributeError):
        return None
    return db.session.scalars(select(model).where(model.id == key)).one_or_none()


def tenant_get(model: type[M], object_id) -> M:
    """Load ``model`` by id within the current tenant; 404 for absent *and* foreign ids."""
    obj = tenant_get_or_none(model, object_id)
    if obj is None:
        abort(404)
    return obj


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get(SYSTEM_SCOPE):
        return
    tenant = current_agency_id()
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantMixin,
            lambda cls: cls.agency_id == tenant,
            include_aliases=True,
        )
    )
    from .models import Agency

    state.statement = state.statement.options(
        with_loader_criteria(Agency, lambda cls: cls.id == tenant, include_aliases=True)
    )


@event.listens_for(Session, "before_flush")
def _refuse_foreign_rows(session: Session, flush_context, instances) -> None:
    if session.info.get(SYSTEM_SCOPE):
        return
    tenant = current_agency_id()
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantMixin):
            continue
        if obj.agency_id is None and tenant is not None:
            obj.agency_id = tenant
        if obj.agency_id != tenant:
            raise TenantViolation(
                f"{type(obj).__name__} of agency {obj.agency_id} written while the "
                f"current agency is {tenant}"
            )
