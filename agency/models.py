"""Every mapped class, imported once so the metadata (and Alembic) sees them all."""

from tenants.models import Agency, Invitation, Membership

from .approvals.models import ApprovalItem, ApprovalRequest, Decision
from .audit.models import AuditEvent
from .auth.models import ApiToken, User, UserSession
from .clients.models import Client, ClientAssignment, Contact
from .content.models import Comment, Post, PostTarget, Revision
from .content.slot_models import TimeSlot
from .media.models import Media
from .networks.models import SocialAccount

__all__ = [
    "Agency",
    "ApiToken",
    "ApprovalItem",
    "ApprovalRequest",
    "AuditEvent",
    "Client",
    "ClientAssignment",
    "Comment",
    "Contact",
    "Decision",
    "Invitation",
    "Media",
    "Membership",
    "Post",
    "PostTarget",
    "Revision",
    "SocialAccount",
    "TimeSlot",
    "User",
    "UserSession",
]
