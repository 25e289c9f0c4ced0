"""Every mapped class, imported once so the metadata (and Alembic) sees them all."""

from billing.models import BillingAccount, BillingInvoice, ClientBilling, StripeEvent
from tenants.models import Agency, Invitation, Membership

from .approvals.models import ApprovalItem, ApprovalRequest, Decision
from .audit.models import AuditEvent
from .auth.models import ApiToken, User, UserSession
from .clients.models import Client, ClientAssignment, Contact
from .content.models import Comment, Post, PostMedia, PostTarget, Revision
from .content.slot_models import TimeSlot
from .media.models import Media
from .networks.models import SocialAccount
from .networks.sandbox_models import SandboxPost
from .publishing.models import Publication
from .results.models import AccountMetricDay, MonthlyReport, PostMetricSnapshot

__all__ = [
    "AccountMetricDay",
    "Agency",
    "ApiToken",
    "ApprovalItem",
    "ApprovalRequest",
    "AuditEvent",
    "BillingAccount",
    "BillingInvoice",
    "Client",
    "ClientAssignment",
    "ClientBilling",
    "Comment",
    "Contact",
    "Decision",
    "Invitation",
    "Media",
    "Membership",
    "MonthlyReport",
    "Post",
    "PostMedia",
    "PostMetricSnapshot",
    "PostTarget",
    "Publication",
    "Revision",
    "SandboxPost",
    "SocialAccount",
    "StripeEvent",
    "TimeSlot",
    "User",
    "UserSession",
]
