"""Reads for the client area: the clients a person is a contact of, what waits for their
decision, and what they decided.

Everything except ``client_areas`` runs inside the contact's agency (the session's
tenant) and filters on the contact's own client: a contact never reads another client's
posts, nor any internal comment (the portal's cards carry client-visible comments only).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from agency.approvals.models import ApprovalItem, ApprovalRequest, Decision, DecisionKind
from agency.approvals.portal import Card, State, portal_cards
from agency.approvals.services import PortalAccess
from agency.auth.models import User
from agency.auth.sessions import contacts_of
from agency.clients.models import Client, Contact
from agency.content.models import Post, PostMedia, PostStatus, Revision
from agency.extensions import db
from agency.media.models import Media
from tenants.context import tenant_scope
from tenants.models import Agency

CLIENT_DECISIONS = (DecisionKind.CLIENT_APPROVED, DecisionKind.CLIENT_CHANGES)
HISTORY_LIMIT = 200


@dataclass
class Area:
    """One client area a person may open: they are a contact of this client."""

    contact: Contact
    client_name: str
    agency_name: str


def client_areas(user: User) -> list[Area]:
    """The user's client areas in every agency, archived clients left out. Each agency's
    rows are read as that agency; the caller's tenant is unchanged afterwards."""
    areas = []
    with tenant_scope(None, user.id):
        for contact in contacts_of(user):
            with tenant_scope(contact.agency_id, user.id):
                client = db.session.scalars(
                    select(Client).where(Client.id == contact.client_id)).one_or_none()
                agency = db.session.scalars(
                    select(Agency).where(Agency.id == contact.agency_id)).one_or_none()
            if client is None or agency is None or client.archived_at is not None:
                continue
            areas.append(Area(contact, client.name, agency.name))
    return sorted(areas, key=lambda a: (a.client_name.lower(), a.agency_name.lower(),
                                        str(a.contact.id)))


def _open_requests(client: Client, now: datetime) -> list[ApprovalRequest]:
    return list(db.session.scalars(
        select(ApprovalRequest)
        .where(ApprovalRequest.client_id == client.id, ApprovalRequest.expires_at > now)
        .order_by(ApprovalRequest.created_at.desc(), ApprovalRequest.id.desc())
    ))


def waiting_cards(contact: Contact, client: Client, *, now: datetime | None = None
                  ) -> list[Card]:
    """The posts waiting for this contact's decision: awaiting the client, in an approval
    request still open, with the content that request sent. Shown as the portal shows
    them (per-network previews, client-visible comments), soonest first; a post sent
    twice appears once. Empty for a contact who does not approve posts."""
    if not contact.approves_posts or contact.client_id != client.id:
        return []
    now = now or datetime.now(UTC)
    cards: dict[uuid.UUID, Card] = {}
    for request in _open_requests(client, now):
        for card in portal_cards(PortalAccess(request, contact, client)):
            if card.state == State.AWAITING:
                cards.setdefault(card.post.id, card)
    return sorted(cards.values(), key=lambda c: (c.post.scheduled_at is None,
                                                 c.post.scheduled_at or datetime.min,
                                                 c.post.created_at or datetime.min))


def access_for_post(contact: Contact, client: Client, post_id: uuid.UUID, shown_hash: str,
                    *, now: datetime | None = None) -> PortalAccess | None:
    """The open request through which this contact decides on ``post_id``, as the
    approval services expect it; ``None`` when no open request of their client holds the
    post (another client's post, another agency's, or none at all) or when they do not
    approve posts. The request that sent the content shown is preferred, else the newest,
    whose check then refuses a stale decision."""
    if not contact.approves_posts or contact.client_id != client.id:
        return None
    now = now or datetime.now(UTC)
    rows = db.session.execute(
        select(ApprovalRequest, ApprovalItem.content_hash)
        .join(ApprovalItem, ApprovalItem.request_id == ApprovalRequest.id)
        .where(ApprovalRequest.client_id == client.id, ApprovalItem.post_id == post_id,
               ApprovalRequest.expires_at > now)
        .order_by(ApprovalRequest.created_at.desc(), ApprovalRequest.id.desc())
    ).all()
    if not rows:
        return None
    request = next((r for r, sent_hash in rows if sent_hash == shown_hash), rows[0][0])
    return PortalAccess(request, contact, client)


def waiting_media(contact: Contact, client: Client, media_id: uuid.UUID, *,
                  now: datetime | None = None) -> Media | None:
    """A file of a post waiting for this contact's decision (awaiting the client, with
    the content an open request sent), or ``None``: nothing else of the client's library
    is theirs to open."""
    if not contact.approves_posts or contact.client_id != client.id:
        return None
    now = now or datetime.now(UTC)
    return db.session.scalars(
        select(Media)
        .join(PostMedia, PostMedia.media_id == Media.id)
        .join(Post, Post.id == PostMedia.post_id)
        .join(ApprovalItem, (ApprovalItem.post_id == Post.id)
              & (ApprovalItem.content_hash == Post.content_hash))
        .join(ApprovalRequest, ApprovalRequest.id == ApprovalItem.request_id)
        .where(Media.id == media_id, Post.client_id == client.id,
               Post.status == PostStatus.AWAITING_CLIENT,
               ApprovalRequest.client_id == client.id, ApprovalRequest.expires_at > now)
        .limit(1)
    ).first()


@dataclass
class PastDecision:
    decision: Decision
    text: str  # what was decided on: that revision's text
    scheduled_at: datetime | None  # when it was to go out, in that revision
    current: bool  # the post is still exactly what was decided on


def _revision_text(content: dict) -> str:
    return content.get("text") or next(iter((content.get("variants") or {}).values()), "")


def past_decisions(contact: Contact, *, limit: int = HISTORY_LIMIT) -> list[PastDecision]:
    """This contact's own decisions on their client's posts, newest first, each with the
    text of the revision it was taken on."""
    decisions = list(db.session.scalars(
        select(Decision)
        .join(Post, Post.id == Decision.post_id)
        .where(Decision.contact_id == contact.id, Post.client_id == contact.client_id,
               Decision.kind.in_(CLIENT_DECISIONS))
        .order_by(Decision.created_at.desc(), Decision.id.desc())
        .limit(limit)
    ))
    if not decisions:
        return []
    post_ids = {d.post_id for d in decisions}
    hashes = dict(db.session.execute(
        select(Post.id, Post.content_hash).where(Post.id.in_(post_ids))).all())
    contents = {(r.post_id, r.number): r.content for r in db.session.scalars(
        select(Revision).where(Revision.post_id.in_(post_ids)))}
    past = []
    for decision in decisions:
        content = contents.get((decision.post_id, decision.revision_number)) or {}
        scheduled = content.get("scheduled_at")
        past.append(PastDecision(
            decision=decision, text=_revision_text(content),
            scheduled_at=datetime.fromisoformat(scheduled) if scheduled else None,
            current=hashes.get(decision.post_id) == decision.content_hash))
    return past
