"""Helpers for the publishing pages' tests: approved posts (the client asks for no
approval, so submitting schedules their publications) whose publications are then put
in the state each test needs, directly, as the engine would have left them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from agency.clients.models import Client
from agency.extensions import db
from agency.networks.services import add_account
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope
from tests.content.helpers import NEXT_YEAR, Ids, make_post

P = PublicationState
# 8:00 UTC in July is 10:00 in Paris, 18:00 in Nouméa.
WHEN = datetime(NEXT_YEAR, 7, 14, 8, 0, tzinfo=UTC)


def sandbox_accounts(ids: Ids, *names: str, client_id=None) -> list:
    """More sandbox accounts for a client; returns their ids."""
    with tenant_scope(ids.agency_id):
        client = db.session.scalars(
            select(Client).where(Client.id == (client_id or ids.client_id))).one()
        made = [add_account(client, "sandbox", name).id for name in names]
        db.session.flush()
        return made


def approved_post(ids: Ids, targets, *, client_id=None, text="Croissants tout chauds",
                  **values):
    """A post approved at once (policy "none"): one scheduled publication per target."""
    return make_post(ids, client_id=client_id, targets=list(targets), text=text,
                     policy="none", submit=True, scheduled_at=WHEN, **values)


def publications(ids: Ids, post_id) -> dict:
    """The post's publications by account id (the latest one of each)."""
    with tenant_scope(ids.agency_id):
        db.session.expire_all()
        found = {}
        for publication in db.session.scalars(
                select(Publication).where(Publication.post_id == post_id)
                .order_by(Publication.id)):
            found[publication.social_account_id] = publication
        db.session.expunge_all()
        return found


def set_state(ids: Ids, post_id, account_id, state: PublicationState, **fields):
    """Put one publication of a post in ``state`` (with any other column given), as the
    engine would have; returns its id."""
    with tenant_scope(ids.agency_id):
        publication = db.session.scalars(select(Publication).where(
            Publication.post_id == post_id, Publication.social_account_id == account_id)
            .order_by(Publication.id.desc())).first()
        publication.state = state
        if state == P.PUBLISHED:
            fields.setdefault("published_at", WHEN)
        for name, value in fields.items():
            setattr(publication, name, value)
        db.session.flush()
        return publication.id
