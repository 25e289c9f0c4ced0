"""Every mapped class, imported once so the metadata (and Alembic) sees them all."""

from tenants.models import Agency, Invitation, Membership

from .audit.models import AuditEvent
from .auth.models import ApiToken, User, UserSession
from .clients.models import Client, ClientAssignment, Contact

__all__ = [
    "Agency",
    "ApiToken",
    "AuditEvent",
    "Client",
    "ClientAssignment",
    "Contact",
    "Invitation",
    "Membership",
    "User",
    "UserSession",
]
