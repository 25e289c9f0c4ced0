"""Publications to hold and resume: an approved post on a sandbox account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agency.extensions import db
from agency.publishing.models import Publication
from tenants.context import tenant_scope


def approved_post(app, agency_id, client, *, user_id=None, hours: int = 48):
    """A post of ``client`` approved without review, scheduled ``hours`` ahead."""
    from agency.content.services import create_post, submit_post
    from agency.networks.services import add_account

    with app.test_request_context(), tenant_scope(agency_id):
        policy, client.approval_policy = client.approval_policy, "none"
        account = add_account(client, "sandbox", "Page")
        post = create_post(client, {"text": "Bonjour", "target_ids": [account.id],
                                    "scheduled_at": datetime.now(UTC) + timedelta(hours=hours)},
                           user_id)
        submit_post(post, client)
        client.approval_policy = policy
        db.session.flush()
        return post.id


def states(agency_id, client_id) -> list[tuple[str, str]]:
    with tenant_scope(agency_id):
        return sorted((p.state.value, p.held_reason) for p in db.session.scalars(
            select(Publication).where(Publication.client_id == client_id)
            .execution_options(populate_existing=True)))
