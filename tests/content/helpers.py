"""Helpers for the post page tests: a world reduced to ids (a refused write rolls the
session back, which expires every object a test holds), a reader that looks at the
database as the world's agency, and posts made through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

from markupsafe import escape
from sqlalchemy import func, select

from agency.approvals.models import ApprovalItem, ApprovalRequest, Decision
from agency.audit.models import AuditEvent
from agency.clients.models import Client
from agency.content import services
from agency.content.models import Comment, Post, PostTarget, Revision
from agency.extensions import db
from agency.networks.models import SocialAccount
from agency.networks.services import add_account
from tenants.context import tenant_scope

NEXT_YEAR = datetime.now(UTC).year + 1


def _person(membership) -> SimpleNamespace:
    return SimpleNamespace(id=membership.id, agency_id=membership.agency_id,
                           user_id=membership.user_id, email=membership.user.email,
                           name=membership.user.name)


@dataclass
class Ids:
    agency_id: object
    owner: SimpleNamespace
    manager: SimpleNamespace
    member: SimpleNamespace
    client_id: object
    other_client_id: object
    contact_id: object
    sandbox_id: object  # the client's sandbox account
    x_id: object  # the client's X account
    other_sandbox_id: object  # the other client's sandbox account


def build_world(world) -> Ids:
    with tenant_scope(world.agency.id):
        sandbox = add_account(world.client, "sandbox", "Boulangerie Sandbox")
        x = SocialAccount(client_id=world.client.id, network="x", display_name="Boulangerie X",
                          handle="@boulangerie")
        db.session.add(x)
        other = add_account(world.other_client, "sandbox", "Garage Sandbox")
        db.session.flush()
        return Ids(world.agency.id, _person(world.owner), _person(world.manager),
                   _person(world.member), world.client.id, world.other_client.id,
                   world.contact.id, sandbox.id, x.id, other.id)


class Reader:
    """Reads as one agency, always fresh from the database."""

    def __init__(self, agency_id):
        self.agency_id = agency_id

    def all(self, statement):
        # Detached after reading: an object a test holds must never be refreshed later
        # outside its tenant, nor handed back to a view from the identity map.
        with tenant_scope(self.agency_id):
            db.session.expire_all()
            rows = list(db.session.scalars(statement))
            db.session.expunge_all()
            return rows

    def count(self, model, *where) -> int:
        return self.all(select(func.count()).select_from(model).where(*where))[0]

    def post(self, post_id) -> Post:
        [post] = self.all(select(Post).where(Post.id == post_id))
        return post

    def posts(self, client_id) -> list[Post]:
        return self.all(select(Post).where(Post.client_id == client_id))

    def targets(self, post_id) -> set:
        return set(self.all(select(PostTarget.social_account_id)
                            .where(PostTarget.post_id == post_id)))

    def revisions(self, post_id) -> list[Revision]:
        return self.all(select(Revision).where(Revision.post_id == post_id)
                        .order_by(Revision.number))

    def decisions(self, post_id) -> list[Decision]:
        return self.all(select(Decision).where(Decision.post_id == post_id))

    def comments(self, post_id) -> list[Comment]:
        return self.all(select(Comment).where(Comment.post_id == post_id)
                        .order_by(Comment.created_at))

    def requests(self) -> list[ApprovalRequest]:
        return self.all(select(ApprovalRequest))

    def items(self, request_id) -> list[ApprovalItem]:
        return self.all(select(ApprovalItem).where(ApprovalItem.request_id == request_id))

    def client(self, client_id) -> Client:
        [client] = self.all(select(Client).where(Client.id == client_id))
        return client

    def audit(self, action: str) -> list[AuditEvent]:
        return self.all(select(AuditEvent).where(AuditEvent.action == action))

    def state(self) -> dict:
        """Counts of everything the post pages write, to prove that nothing was."""
        return {model.__name__: self.count(model) for model in (
            Post, PostTarget, Revision, Comment, Decision, ApprovalRequest, ApprovalItem,
            AuditEvent)}


def make_post(ids: Ids, *, client_id=None, targets=None, text="Bonjour !", policy=None,
              scheduled_at=None, submit=False, **values) -> object:
    """A post made through the services (and submitted, if asked); returns its id."""
    with tenant_scope(ids.agency_id):
        client = db.session.scalars(
            select(Client).where(Client.id == (client_id or ids.client_id))).one()
        if policy is not None:
            client.approval_policy = policy
        scheduled = scheduled_at or datetime(NEXT_YEAR, 7, 14, 8, 0, tzinfo=UTC)
        post = services.create_post(client, {
            "text": text, "target_ids": targets or [ids.sandbox_id],
            "scheduled_at": scheduled, **values}, ids.owner.user_id)
        if submit:
            services.submit_post(post, client)
        db.session.flush()
        return post.id


def page(response) -> str:
    return response.get_data(as_text=True)


def shows(response, text: str) -> bool:
    return str(escape(text)) in page(response)
