"""Where a post went out: its publications, one per account it was approved for (and
the earlier ones, kept as history), with their state and the network's link.

The post is loaded like every post route (``with_post``: 404 for a post that is absent,
foreign, or of a client the token's membership may not see).
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from agency.publishing import queries
from agency.publishing.models import Publication, PublicationState

from .blueprint import bp
from .openapi import documents
from .posts import with_post
from .schemas import UTCDateTime


class PublicationSchema(ma.Schema):
    id = fields.UUID()
    state = fields.Enum(PublicationState, by_value=True, metadata={
        "description": "`scheduled`, `queued`, `sending`, `published`, `retrying` (tried "
                       "again by itself), `failed` (refused, or out of tries), `unknown` "
                       "(being checked with the network), `needs_attention` (could not be "
                       "confirmed: look at the account), `held` (the account must be "
                       "reconnected)."})
    network = fields.String()
    account_id = fields.UUID()
    account = fields.String(metadata={"description": "The account's display name."})
    scheduled_at = UTCDateTime()
    published_at = UTCDateTime(allow_none=True)
    external_url = fields.String(metadata={
        "description": "The post on the network, once published (may be empty)."})
    attempts = fields.Integer()
    last_error = fields.String(metadata={
        "description": "The latest problem, in words for a person (empty if none)."})
    current = fields.Boolean(metadata={
        "description": "False for history: an earlier version of the post, or an attempt "
                       "replaced by a later one on the same account."})


def _item(publication: Publication, current: bool) -> dict:
    return {
        "id": publication.id, "state": publication.state, "network": publication.network,
        "account_id": publication.social_account_id,
        "account": publication.account.display_name if publication.account else "",
        "scheduled_at": publication.scheduled_at, "published_at": publication.published_at,
        "external_url": publication.external_url, "attempts": publication.attempts,
        "last_error": publication.last_error, "current": current,
    }


@bp.route("/posts/<uuid:post_id>/publications", tags=["publishing"])
class PostPublications(MethodView):
    @with_post
    @bp.response(200, PublicationSchema(many=True))
    @documents(bp, 401, 404)
    def get(self, post, client):
        """Where the post went out, per account

        One publication per account the post was approved for (`current`), then earlier
        ones, newest first. A post published on some accounts and not others is partly
        published: each account says its own state.
        """
        found = queries.for_post(post)
        return ([_item(p, True) for p in found.current]
                + [_item(p, False) for p in found.history])
