"""Approval reminders, escalation to the agency, and what happens at the deadline.

A request is *open* while some of its posts still wait for the client with the content
that was sent (status ``awaiting_client``, hash unchanged): exactly what its links can
still approve. For an open request:

- after ``reminder_after_hours`` each approving contact gets their link again (once);
- after ``escalate_after_hours`` the staff who hear of decisions are told (once);
- at ``expires_at`` the open posts are approved automatically if the client opted in,
  otherwise nothing is approved and the agency is told the request expired. Handling
  the deadline sets ``escalated_at`` to a moment at or after ``expires_at``: that is
  how "deadline handled" is recorded without a column of its own.

Every step is claimed with a conditional UPDATE whose row count says who won, inside the
request's single transaction, so two schedulers running at once never send the same mail
twice; mails leave only after the commit (``send_mail``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from flask import current_app, render_template, url_for
from flask_babel import force_locale, ngettext
from sqlalchemy import and_, exists, or_, select, text, update
from sqlalchemy.orm.attributes import set_committed_value

from agency.audit.services import record
from agency.clients.models import Client
from agency.content.lifecycle import Event, next_status
from agency.content.models import Post, PostStatus
from agency.extensions import db
from agency.i18n import supported
from agency.notifications.mail import send_mail
from agency.notifications.urls import external_urls
from tenants.context import tenant_scope
from tenants.scoping import system_scope

from .models import ApprovalItem, ApprovalPolicy, ApprovalRequest, Decision, DecisionKind
from .services import approvers, client_time, decision_recipients, link_for

log = logging.getLogger(__name__)


class ReminderAction:
    REMINDED = "approval.reminded"
    ESCALATED = "approval.escalated"
    EXPIRED = "approval.expired"
    AUTO_APPROVED = "approval.auto_approved"


class Step(StrEnum):
    REMIND = "remind"
    ESCALATE = "escalate"
    DEADLINE = "deadline"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Timing:
    """What decides which steps are due: a request's moments and its client's delays."""

    created_at: datetime
    expires_at: datetime
    reminded_at: datetime | None
    escalated_at: datetime | None
    reminder_after_hours: int
    escalate_after_hours: int

    @classmethod
    def of(cls, request: ApprovalRequest, client: Client) -> Timing:
        return cls(request.created_at, request.expires_at, request.reminded_at,
                   request.escalated_at, client.reminder_after_hours,
                   client.escalate_after_hours)


def due_steps(timing: Timing, now: datetime) -> list[Step]:
    """The steps due at ``now`` for an open request. Kept in step with the SQL function
    ``relais_due_approval_requests`` (migration 0004)."""
    now, created, expires = _utc(now), _utc(timing.created_at), _utc(timing.expires_at)
    escalated = _utc(timing.escalated_at)
    if now >= expires:
        # After the deadline the link no longer works: reminding is pointless.
        return [] if escalated is not None and escalated >= expires else [Step.DEADLINE]
    steps = []
    if timing.reminded_at is None and now >= created + timedelta(
            hours=timing.reminder_after_hours):
        steps.append(Step.REMIND)
    if escalated is None and now >= created + timedelta(hours=timing.escalate_after_hours):
        steps.append(Step.ESCALATE)
    return steps


# --- the cross-agency scan: the one system path of this module ----------------------------

def due_requests(now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(agency_id, request_id)`` of every open request, in any agency, with a step due.

    Ids only: the work itself is done per request inside its agency (``process_request``).
    On PostgreSQL row-level security hides other agencies from the app role, so the scan
    is the SECURITY DEFINER function of migration 0004; SQLite has no RLS, and the scan is
    a plain query opted out of the ORM's tenant filter."""
    now = _utc(now)
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            text("SELECT agency_id, request_id FROM relais_due_approval_requests(:now)"),
            {"now": now})
        return [(uuid.UUID(str(a)), uuid.UUID(str(r))) for a, r in rows]
    return _due_requests_without_rls(now)


def _open_item_clause():
    return (select(ApprovalItem.id)
            .join(Post, and_(Post.agency_id == ApprovalItem.agency_id,
                             Post.id == ApprovalItem.post_id))
            .where(ApprovalItem.agency_id == ApprovalRequest.agency_id,
                   ApprovalItem.request_id == ApprovalRequest.id,
                   Post.status == PostStatus.AWAITING_CLIENT,
                   Post.content_hash == ApprovalItem.content_hash))


def _due_requests_without_rls(now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    r = ApprovalRequest
    stmt = (select(r.agency_id, r.id, r.created_at, r.expires_at, r.reminded_at,
                   r.escalated_at, Client.reminder_after_hours, Client.escalate_after_hours)
            .join(Client, and_(Client.agency_id == r.agency_id, Client.id == r.client_id))
            .where(Client.archived_at.is_(None), exists(_open_item_clause()),
                   or_(r.reminded_at.is_(None), r.escalated_at.is_(None),
                       r.escalated_at < r.expires_at))
            .order_by(r.expires_at, r.id)
            .execution_options(**system_scope("approval reminders: due requests of every "
                                              "agency (ids only)")))
    return [(row[0], row[1]) for row in db.session.execute(stmt)
            if due_steps(Timing(*row[2:]), now)]


# --- one request, inside its agency --------------------------------------------------------

@dataclass
class Outcome:
    agency_id: uuid.UUID
    request_id: uuid.UUID
    reminded: list[str] = field(default_factory=list)  # contacts' addresses
    escalated: list[str] = field(default_factory=list)  # staff addresses
    auto_approved: list[uuid.UUID] = field(default_factory=list)  # post ids
    expired: bool = False

    def describe(self) -> str:
        done = []
        if self.reminded:
            done.append(f"reminded {len(self.reminded)} contact(s)")
        if self.escalated:
            done.append(f"escalated to {len(self.escalated)} staff")
        if self.auto_approved:
            done.append(f"auto-approved {len(self.auto_approved)} post(s)")
        if self.expired:
            done.append("expired, agency told")
        return f"request {self.request_id}: " + (", ".join(done) or "nothing due")


def process_request(agency_id: uuid.UUID, request_id: uuid.UUID,
                    now: datetime | None = None) -> Outcome:
    """Do whatever is due on one request at ``now``, as its agency, and commit once.

    Idempotent: each step is claimed by a conditional UPDATE, so running it twice, or in
    two processes at once, sends each mail once. A request that is gone, closed, of an
    archived client or of another agency is left alone."""
    now = _utc(now or datetime.now(UTC))
    outcome = Outcome(agency_id, request_id)
    try:
        with external_urls(), tenant_scope(agency_id):
            _process(outcome, now)
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return outcome


def _process(outcome: Outcome, now: datetime) -> None:
    request = db.session.scalars(
        select(ApprovalRequest).where(ApprovalRequest.id == outcome.request_id)
        .execution_options(populate_existing=True)).one_or_none()
    if request is None:
        return
    client = db.session.scalars(select(Client).where(Client.id == request.client_id)).one()
    if client.is_archived:
        return
    open_items = _open_items(request)
    if not open_items:
        return
    steps = due_steps(Timing.of(request, client), now)
    if Step.DEADLINE in steps:
        _deadline(outcome, request, client, open_items, now)
        return
    if Step.REMIND in steps:
        _remind(outcome, request, client, [post for _, post in open_items], now)
    if Step.ESCALATE in steps:
        _escalate(outcome, request, client, [post for _, post in open_items], now)


def _open_items(request: ApprovalRequest) -> list[tuple[ApprovalItem, Post]]:
    rows = db.session.execute(
        select(ApprovalItem, Post)
        .join(Post, and_(Post.agency_id == ApprovalItem.agency_id,
                         Post.id == ApprovalItem.post_id))
        .where(ApprovalItem.request_id == request.id,
               Post.status == PostStatus.AWAITING_CLIENT,
               Post.content_hash == ApprovalItem.content_hash)
        .order_by(ApprovalItem.position)
        .execution_options(populate_existing=True))
    return [(item, post) for item, post in rows]


def _claim(request: ApprovalRequest, column, now: datetime, *condition) -> bool:
    """Set ``column`` to ``now`` only if ``condition`` still holds; True for the winner.
    The row stays locked to this transaction until it commits, so a concurrent claimer
    waits and then finds the condition false."""
    result = db.session.execute(
        update(ApprovalRequest).where(ApprovalRequest.id == request.id, *condition)
        .values({column.key: now}).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    set_committed_value(request, column.key, now)
    return True


def _auto_approval_agreed(client: Client) -> bool:
    return bool(client.auto_approve_at_deadline and client.auto_approve_opted_in_at)


def _staff_locale(user) -> str:
    return supported(user.locale) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _posts_link(client: Client) -> str:
    return url_for("posts.index", client_id=client.id, _external=True)


def _remind(outcome: Outcome, request: ApprovalRequest, client: Client, posts: list[Post],
            now: datetime) -> None:
    if not _claim(request, ApprovalRequest.reminded_at, now,
                  ApprovalRequest.reminded_at.is_(None)):
        return
    contacts = approvers(client)
    for contact in contacts:
        with force_locale(client.language or "fr"):
            send_mail(contact.email,
                      ngettext("Reminder: a post to approve for %(client)s",
                               "Reminder: %(num)d posts to approve for %(client)s",
                               len(posts), client=client.name),
                      render_template("mail/approval_reminder.txt", contact=contact,
                                      client=client, posts=posts, when=client_time,
                                      link=link_for(request, contact.id),
                                      expires_at=request.expires_at,
                                      auto=_auto_approval_agreed(client)))
        outcome.reminded.append(contact.email)
    record(ReminderAction.REMINDED, request,
           details={"posts": len(posts), "contacts": len(contacts)})


def _escalate(outcome: Outcome, request: ApprovalRequest, client: Client, posts: list[Post],
              now: datetime) -> None:
    if not _claim(request, ApprovalRequest.escalated_at, now,
                  ApprovalRequest.escalated_at.is_(None)):
        return
    outcome.escalated = _tell_staff(request, client, posts, expired=False)
    record(ReminderAction.ESCALATED, request,
           details={"posts": len(posts), "staff": len(outcome.escalated)})


def _tell_staff(request: ApprovalRequest, client: Client, posts: list[Post], *,
                expired: bool) -> list[str]:
    told = []
    for user in decision_recipients(client):
        with force_locale(_staff_locale(user)):
            if expired:
                subject = ngettext(
                    "The approval link for %(client)s expired: a post was not approved",
                    "The approval link for %(client)s expired: %(num)d posts were not "
                    "approved", len(posts), client=client.name)
            else:
                subject = ngettext("No answer yet from %(client)s on a post",
                                   "No answer yet from %(client)s on %(num)d posts",
                                   len(posts), client=client.name)
            send_mail(user.email, subject, render_template(
                "mail/approval_escalation.txt", user=user, client=client, posts=posts,
                request=request, when=client_time, link=_posts_link(client), expired=expired,
                auto=_auto_approval_agreed(client)))
        told.append(user.email)
    return told


def _deadline(outcome: Outcome, request: ApprovalRequest, client: Client,
              open_items: list[tuple[ApprovalItem, Post]], now: datetime) -> None:
    deadline_open = or_(ApprovalRequest.escalated_at.is_(None),
                        ApprovalRequest.escalated_at < ApprovalRequest.expires_at)
    if not _claim(request, ApprovalRequest.escalated_at, now, deadline_open):
        return
    approved = []
    if _auto_approval_agreed(client):
        approved = [post for item, post in open_items if _auto_approve(request, client, item)]
    if not approved:
        outcome.expired = True
        posts = [post for _, post in _open_items(request)]
        _tell_staff(request, client, posts, expired=True)
        record(ReminderAction.EXPIRED, request, details={"posts": len(posts)})
        return
    outcome.auto_approved = [post.id for post in approved]
    _tell_auto_approved(request, client, approved)


def _auto_approve(request: ApprovalRequest, client: Client, item: ApprovalItem) -> bool:
    """Approve ``item``'s post if it still waits with the content sent; locked, so a
    contact deciding or the agency editing at this moment is taken before or after."""
    post = db.session.scalars(select(Post).where(Post.id == item.post_id).with_for_update()
                              .execution_options(populate_existing=True)).one()
    if post.status != PostStatus.AWAITING_CLIENT or post.content_hash != item.content_hash:
        return False
    post.status = next_status(post.status, Event.AUTO_APPROVE,
                              ApprovalPolicy(client.approval_policy))
    # The decision names whose consent it rests on; the audit entry says when it was given.
    db.session.add(Decision(post_id=post.id, revision_number=post.revision_number,
                            content_hash=post.content_hash, kind=DecisionKind.AUTO_APPROVED,
                            request_id=request.id,
                            actor_label=client.auto_approve_opted_in_by[:254]))
    db.session.flush()
    from agency.publishing.services import schedule_post

    schedule_post(post)
    record(ReminderAction.AUTO_APPROVED, post, details={
        "kind": DecisionKind.AUTO_APPROVED.value, "revision": post.revision_number,
        "request": str(request.id), "agreed_by": client.auto_approve_opted_in_by,
        "agreed_at": _utc(client.auto_approve_opted_in_at).isoformat()})
    return True


def _tell_auto_approved(request: ApprovalRequest, client: Client,
                        approved: list[Post]) -> None:
    """The agency and the client's approving contacts learn what was approved, and on
    whose consent; the agency also learns which posts changed and still need a request."""
    changed = [post for post in db.session.scalars(
        select(Post).join(ApprovalItem, and_(ApprovalItem.agency_id == Post.agency_id,
                                             ApprovalItem.post_id == Post.id))
        .where(ApprovalItem.request_id == request.id,
               Post.status == PostStatus.AWAITING_CLIENT,
               Post.content_hash != ApprovalItem.content_hash)
        .order_by(ApprovalItem.position))]
    common = {"client": client, "posts": approved, "when": client_time, "request": request,
              "agreed_by": client.auto_approve_opted_in_by,
              "agreed_at": client.auto_approve_opted_in_at}
    for user in decision_recipients(client):
        with force_locale(_staff_locale(user)):
            send_mail(user.email, _auto_subject(client, approved), render_template(
                "mail/auto_approved.txt", name=user.name, changed=changed,
                link=_posts_link(client), **common))
    for contact in approvers(client):
        with force_locale(client.language or "fr"):
            send_mail(contact.email, _auto_subject(client, approved), render_template(
                "mail/auto_approved.txt", name=contact.name, changed=[], link=None,
                **common))


def _auto_subject(client: Client, approved: list[Post]) -> str:
    return ngettext("A post for %(client)s was approved automatically",
                    "%(num)d posts for %(client)s were approved automatically",
                    len(approved), client=client.name)
