"""The tenant (the Agency), memberships and roles, the tenant context and its enforcement.

The rule: every tenant row is reached through the current tenant, set once per request
from the authenticated principal. It is enforced twice: in the ORM (``scoping``) and, on
PostgreSQL, by row-level security (``rls``).
"""

from .context import current_agency, current_agency_id, tenant_scope
from .scoping import TenantMixin, tenant_get

__all__ = ["TenantMixin", "current_agency", "current_agency_id", "tenant_get", "tenant_scope"]
