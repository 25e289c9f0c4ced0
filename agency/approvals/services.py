"""Approvals: internal review, sending posts to the client, and the client's decisions.

Every decision names the content hash it was taken on. A decision on content that has
changed since it was shown is refused (409), as is one on a post no longer awaiting it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from agency.audit.services import record
from agency.auth.links import LinkError, make_link_token, read_link_token
from agency.auth.services import ServiceError
from agency.clients.models import Client, Contact
from agency.content.lifecycle import Event, InvalidTransition, next_status
from agency.content.models import Post, PostStatus
from agency.extensions import db
from agency.notifications.mail import send_mail
from tenants.context import set_tenant

from .models import ApprovalItem, ApprovalPolicy, ApprovalRequest, Decision, DecisionKind

LINK_SALT = "relais.approval-link"


class ApprovalAction:
    SENT = "approval.sent"
    DECIDED = "approval.decided"
    INTERNAL = "approval.internal"


class Conflict(ServiceError):
    """The decision no longer applies (content changed, or already decided): 409."""


def _record_decision(post: Post, kind: DecisionKind, *, user_id=None,
                     contact: Contact | None = None, request_id=None, comment: str = "",
                     label: str = "") -> Decision:
    decision = Decision(post_id=post.id, revision_number=post.revision_number,
                        content_hash=post.content_hash, kind=kind, user_id=user_id,
                        contact_id=contact.id if contact else None, request_id=request_id,
                        comment=comment.strip()[:5000],
                        actor_label=(label or (contact.name if contact else ""))[:254])
    db.session.add(decision)
    db.session.flush()
    actor = {"actor_label": f"{contact.name} <{contact.email}>"} if contact else {}
    record(ApprovalAction.DECIDED if contact else ApprovalAction.INTERNAL, post,
           details={"kind": kind.value, "revision": post.revision_number}, **actor)
    return decision


def _transition(post: Post, client: Client, event: Event) -> None:
    try:
        post.status = next_status(post.status, event, ApprovalPolicy(client.approval_policy))
    except InvalidTransition:
        raise Conflict(_("This post is no longer waiting for this decision.")) from None
    if post.status == PostStatus.APPROVED:
        from agency.publishing.services import schedule_post

        schedule_post(post)


def internal_review(post: Post, client: Client, user_id: uuid.UUID, *, approve: bool,
                    comment: str = "", shown_hash: str | None = None) -> Decision:
    """A manager's review of a post in internal review, bound to the content shown."""
    if shown_hash is not None and shown_hash != post.content_hash:
        raise Conflict(_("The post changed while you were reviewing it. Review it again."))
    if not approve and not comment.strip():
        raise ServiceError(_("Say what should change."), field="comment")
    _transition(post, client, Event.INTERNAL_APPROVE if approve
                else Event.INTERNAL_REQUEST_CHANGES)
    return _record_decision(post, DecisionKind.INTERNAL_APPROVED if approve
                            else DecisionKind.INTERNAL_CHANGES, user_id=user_id,
                            comment=comment)


# --- sending ------------------------------------------------------------------------------

@dataclass
class SentRequest:
    request: ApprovalRequest
    links: dict[uuid.UUID, str]  # contact id -> the contact's link


def approvers(client: Client) -> list[Contact]:
    return list(db.session.scalars(select(Contact).where(
        Contact.client_id == client.id, Contact.approves_posts.is_(True), Contact.email != "",
    ).order_by(Contact.name)))


def pending_posts(client: Client) -> list[Post]:
    """Posts waiting for the client, soonest first."""
    return list(db.session.scalars(select(Post).where(
        Post.client_id == client.id, Post.status == PostStatus.AWAITING_CLIENT,
    ).order_by(Post.scheduled_at.nulls_last(), Post.created_at)))


def link_for(request: ApprovalRequest, contact_id: uuid.UUID) -> str:
    token = make_link_token(LINK_SALT, {"a": str(request.agency_id), "r": str(request.id),
                                        "c": str(contact_id)})
    return url_for("portal.review", token=token, _external=True)


def send_for_approval(client: Client, posts: list[Post], user_id: uuid.UUID | None,
                      *, now: datetime | None = None) -> SentRequest:
    """Gather ``posts`` (all awaiting the client) into one request and e-mail each
    approving contact their own signed link, after the commit."""
    now = now or datetime.now(UTC)
    if not posts:
        raise ServiceError(_("There is no post waiting for the client's approval."))
    if any(p.status != PostStatus.AWAITING_CLIENT or p.client_id != client.id for p in posts):
        raise ServiceError(_("Only posts waiting for the client can be sent."))
    contacts = approvers(client)
    if not contacts:
        raise ServiceError(_("This client has no contact who approves posts. Add one first."))
    request = ApprovalRequest(client_id=client.id, created_by_user_id=user_id,
                              expires_at=now + timedelta(hours=client.approval_link_hours))
    db.session.add(request)
    db.session.flush()
    for position, post in enumerate(posts):
        db.session.add(ApprovalItem(request_id=request.id, post_id=post.id, position=position,
                                    revision_number=post.revision_number,
                                    content_hash=post.content_hash))
    links = {}
    for contact in contacts:
        links[contact.id] = link = link_for(request, contact.id)
        with force_locale(client.language or "fr"):
            send_mail(contact.email,
                      _("%(n)d posts to approve for %(client)s", n=len(posts), client=client.name)
                      if len(posts) > 1 else
                      _("A post to approve for %(client)s", client=client.name),
                      render_template("mail/approval_request.txt", client=client, contact=contact,
                                      posts=posts, link=link, expires_at=request.expires_at))
    db.session.flush()
    record(ApprovalAction.SENT, request, details={"posts": len(posts),
                                                  "contacts": len(contacts)})
    return SentRequest(request, links)


# --- the portal ---------------------------------------------------------------------------

@dataclass
class PortalAccess:
    request: ApprovalRequest
    contact: Contact
    client: Client


def access_for_token(token: str, *, now: datetime | None = None) -> PortalAccess | LinkError:
    """Resolve a portal link; its agency becomes the tenant. Expired → EXPIRED (410),
    tampered or unknown → INVALID (400)."""
    now = now or datetime.now(UTC)
    # The lifetime is the request's own (configurable per client), checked below.
    data = read_link_token(LINK_SALT, token, max_age=10 * 365 * 24 * 3600)
    if isinstance(data, LinkError):
        return data
    try:
        agency_id, request_id, contact_id = (uuid.UUID(data[k]) for k in ("a", "r", "c"))
    except (KeyError, ValueError, TypeError):
        return LinkError.INVALID
    set_tenant(agency_id)
    request = db.session.scalars(select(ApprovalRequest).where(
        ApprovalRequest.id == request_id)).one_or_none()
    contact = db.session.scalars(select(Contact).where(Contact.id == contact_id)).one_or_none()
    if (request is None or contact is None or contact.client_id != request.client_id
            or not contact.approves_posts):
        return LinkError.INVALID
    expires = request.expires_at if request.expires_at.tzinfo else request.expires_at.replace(
        tzinfo=UTC)
    if expires <= now:
        return LinkError.EXPIRED
    client = db.session.scalars(select(Client).where(Client.id == request.client_id)).one()
    if client.archived_at is not None:
        return LinkError.INVALID
    return PortalAccess(request, contact, client)


def decide(access: PortalAccess, post_id: uuid.UUID, *, approve: bool, shown_hash: str,
           comment: str = "") -> Decision:
    """The contact's decision on one post of their request, bound to the content shown."""
    item = next((i for i in access.request.items if i.post_id == post_id), None)
    if item is None:
        raise LookupError(post_id)
    # Locked: two contacts deciding at the same moment are taken one after the other.
    post = db.session.scalars(select(Post).where(Post.id == post_id).with_for_update()).one()
    if shown_hash != post.content_hash or item.content_hash != post.content_hash:
        raise Conflict(_("This post was changed after you opened the page. Look at it again "
                         "before deciding."))
    if not approve and not comment.strip():
        raise ServiceError(_("Tell the agency what to change."), field="comment")
    _transition(post, access.client, Event.CLIENT_APPROVE if approve
                else Event.CLIENT_REQUEST_CHANGES)
    decision = _record_decision(
        post, DecisionKind.CLIENT_APPROVED if approve else DecisionKind.CLIENT_CHANGES,
        contact=access.contact, request_id=access.request.id, comment=comment)
    if comment.strip():
        from agency.content.models import CommentVisibility
        from agency.content.services import add_comment

        add_comment(post, comment, CommentVisibility.CLIENT, contact_id=access.contact.id,
                    author_label=access.contact.name)
    return decision


def approve_all(access: PortalAccess, shown: dict[uuid.UUID, str]) -> list[Decision]:
    """Approve every post shown that still awaits a decision with the content shown.
    Posts changed meanwhile, or already decided, are left for a look of their own."""
    decisions = []
    for item in access.request.items:
        shown_hash = shown.get(item.post_id)
        if shown_hash is None:
            continue
        post = db.session.scalars(select(Post).where(Post.id == item.post_id)).one()
        if (post.status != PostStatus.AWAITING_CLIENT or post.content_hash != shown_hash
                or item.content_hash != post.content_hash):  # changed since it was sent
            continue
        decisions.append(decide(access, item.post_id, approve=True, shown_hash=shown_hash))
    return decisions


# --- the portal's own needs: whose expired link, and telling the agency ---------------------

@dataclass
class LinkOwner:
    agency_name: str
    client: Client


def link_owner(token: str) -> LinkOwner | None:
    """The agency and client of a genuine link, even an expired one, so that the page
    explaining the expiry speaks the client's language and names who to ask; ``None`` for
    a tampered link or one whose request is gone. Its agency becomes the tenant."""
    from tenants.models import Agency

    data = read_link_token(LINK_SALT, token, max_age=10 * 365 * 24 * 3600)
    if isinstance(data, LinkError):
        return None
    try:
        agency_id, request_id = uuid.UUID(data["a"]), uuid.UUID(data["r"])
    except (KeyError, ValueError, TypeError):
        return None
    set_tenant(agency_id)
    request = db.session.scalars(select(ApprovalRequest).where(
        ApprovalRequest.id == request_id)).one_or_none()
    agency = db.session.scalars(select(Agency).where(Agency.id == agency_id)).one_or_none()
    if request is None or agency is None:
        return None
    client = db.session.scalars(select(Client).where(Client.id == request.client_id)).one()
    return LinkOwner(agency.name, client)


def client_time(moment: datetime | None, client: Client, *, weekday: bool = True) -> str:
    """``moment`` as the client reads it: in the client's time zone, in the current
    locale ("mardi 12 mai, 09:30"); the year only when it is not the current one."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from flask_babel import format_datetime

    if moment is None:
        return ""
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    try:
        local = moment.astimezone(ZoneInfo(client.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = moment.astimezone(UTC)
    pattern = ("EEEE " if weekday else "") + "d MMMM"
    if local.year != datetime.now(UTC).year:
        pattern += " y"
    return format_datetime(local, pattern + ", HH:mm", rebase=False)


def decision_recipients(client: Client) -> list:
    """Who hears about a client's decisions: the active staff assigned to the client, or
    the agency's owners when nobody is assigned."""
    from agency.auth.models import User
    from agency.clients.models import ClientAssignment
    from tenants.models import Membership
    from tenants.roles import Role

    staff = (select(User).join(Membership, Membership.user_id == User.id)
             .where(User.is_active_flag.is_(True)).order_by(User.email))
    assigned = list(db.session.scalars(staff.join(
        ClientAssignment, ClientAssignment.membership_id == Membership.id,
    ).where(ClientAssignment.client_id == client.id)))
    return assigned or list(db.session.scalars(staff.where(Membership.role == Role.OWNER)))


def notify_agency_of_decisions(access: PortalAccess, decisions: list[Decision]) -> int:
    """E-mail the client's decisions to the agency (see ``decision_recipients``), each
    person in their own language; delivered after the commit, dropped on rollback.
    Returns how many messages were queued (none when there is no decision)."""
    from flask import current_app
    from flask_babel import ngettext

    from agency.i18n import supported

    if not decisions:
        return 0
    posts = {p.id: p for p in db.session.scalars(select(Post).where(
        Post.id.in_([d.post_id for d in decisions])))}
    approved = [d for d in decisions if d.kind == DecisionKind.CLIENT_APPROVED]
    changes = [d for d in decisions if d.kind == DecisionKind.CLIENT_CHANGES]
    client, who = access.client, access.contact.name
    link = url_for("posts.index", client_id=client.id, _external=True)
    recipients = decision_recipients(client)
    for user in recipients:
        with force_locale(supported(user.locale) or current_app.config["BABEL_DEFAULT_LOCALE"]):
            if changes:  # the more urgent news leads
                subject = ngettext("%(who)s asked for changes on a post for %(client)s",
                                   "%(who)s asked for changes on %(num)d posts for %(client)s",
                                   len(changes), who=who, client=client.name)
            else:
                subject = ngettext("%(who)s approved a post for %(client)s",
                                   "%(who)s approved %(num)d posts for %(client)s",
                                   len(approved), who=who, client=client.name)
            send_mail(user.email, subject, render_template(
                "mail/decision.txt", user=user, who=who, client=client, link=link, when=client_time,
                approved=[(d, posts[d.post_id]) for d in approved],
                changes=[(d, posts[d.post_id]) for d in changes]))
    return len(recipients)
