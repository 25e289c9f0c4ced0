"""Posts: drafts, edits (each a revision), submission, internal review, comments, and
the approval requests that send them to the client.

A post's URL carries no client: ``with_post`` loads the post in the tenant, then its
client as the token's membership may see it, so a post of an unassigned client answers
404 exactly like one that does not exist.

Refusals that depend on the post's state rather than on the request's fields (delete a
submitted post, submit twice, review content that has changed) answer 409.
"""

from __future__ import annotations

import functools
import uuid

from flask import url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, func, select

from agency.access import client_for_view, require
from agency.approvals.models import ApprovalPolicy
from agency.approvals.services import (
    Conflict,
    approvers,
    internal_review,
    pending_posts,
    send_for_approval,
)
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.content import services
from agency.content.lifecycle import Event, InvalidTransition, next_status
from agency.content.models import Comment, Post, Revision
from agency.content.revisions import diff
from agency.extensions import db
from tenants.roles import Permission
from tenants.scoping import tenant_get

from .blueprint import bp, with_client
from .openapi import documents
from .post_schemas import (
    ApprovalRequestCreateSchema,
    ApprovalRequestSchema,
    CommentCreateSchema,
    CommentSchema,
    PostCreateSchema,
    PostListQuerySchema,
    PostPageSchema,
    PostSchema,
    PostUpdateSchema,
    ReviewSchema,
    RevisionDiffQuerySchema,
    RevisionDiffSchema,
    RevisionSchema,
)
from .problems import problem_response
from .queries import LINK_HEADER_DOC, Page, link_header

_LINK_HEADER = LINK_HEADER_DOC
_LOCATION_HEADER = {"Location": {"description": "The new post's URL.",
                                 "schema": {"type": "string"}}}


@bp.errorhandler(Conflict)
def _state_conflict(error: Conflict):
    # More specific than the blueprint's ServiceError handler (422), so it wins for these.
    db.session.rollback()
    return problem_response(409, error.message)


def with_post(view):
    """Replace the ``post_id`` URL argument by the post and its client (404 if the post is
    absent, foreign, or of a client the membership may not see)."""

    @functools.wraps(view)
    def wrapper(*args, post_id, **kwargs):
        post = tenant_get(Post, post_id)
        return view(*args, post=post, client=client_for_view(post.client_id), **kwargs)

    return wrapper


# --- reads ------------------------------------------------------------------------------

def _labelled(label: str):
    """Posts carrying ``label`` (any case). Labels are a JSON list, whose elements each
    backend lists its own way."""
    wanted = label.strip().lower()
    if db.session.get_bind().dialect.name == "postgresql":
        element = func.json_array_elements_text(Post.labels).column_valued()
        return exists(select(1).where(func.lower(element) == wanted))
    element = func.json_each(Post.labels).table_valued("value")
    return exists(select(1).select_from(element).where(func.lower(element.c.value) == wanted))


def post_page(client: Client, args: dict) -> Page:
    """One page of the client's posts, soonest first (unscheduled last, ties broken by
    id so pages never overlap)."""
    query = select(Post).where(Post.client_id == client.id)
    if args.get("status"):
        query = query.where(Post.status == args["status"])
    if args.get("label"):
        query = query.where(_labelled(args["label"]))
    if args.get("start"):
        query = query.where(Post.scheduled_at >= args["start"])
    if args.get("end"):
        query = query.where(Post.scheduled_at < args["end"])
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page, per_page = args["page"], args["per_page"]
    items = db.session.scalars(
        query.order_by(Post.scheduled_at.nulls_last(), Post.created_at, Post.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), page, per_page, total or 0)


def _links(client: Client, page: Page, args: dict) -> str:
    filters = {"per_page": page.per_page}
    if args.get("status"):
        filters["status"] = args["status"].value
    if args.get("label"):
        filters["label"] = args["label"]
    for name, key in (("from", "start"), ("to", "end")):
        if args.get(key):
            filters[name] = args[key].isoformat()

    def url(number: int) -> str:
        return url_for("api.Posts", client_id=client.id, page=number, _external=True,
                       **filters)

    return link_header(page, url)


def _revision(post: Post, number: int, field: str) -> Revision:
    revision = db.session.scalars(select(Revision).where(
        Revision.post_id == post.id, Revision.number == number)).one_or_none()
    if revision is None:
        raise ServiceError(_("This post has no revision %(number)d.", number=number), field)
    return revision


def _posts_to_send(client: Client, post_ids: list[uuid.UUID]) -> list[Post]:
    wanted = list(dict.fromkeys(post_ids))  # once each, in the order given
    found = {p.id: p for p in db.session.scalars(
        select(Post).where(Post.id.in_(wanted), Post.client_id == client.id))}
    if len(found) != len(wanted):
        # Another client's (or agency's) post is refused like an unknown one.
        raise ServiceError(_("Unknown post for this client."), field="post_ids")
    return [found[i] for i in wanted]


# --- posts ------------------------------------------------------------------------------

@bp.route("/clients/<uuid:client_id>/posts", tags=["posts"])
class Posts(MethodView):
    @with_client
    @bp.arguments(PostListQuerySchema, location="query")
    @bp.response(200, PostPageSchema, headers=_LINK_HEADER)
    @documents(bp, 401, 404)
    def get(self, args, client):
        """The client's posts, soonest first

        Filters combine: `status`, `label`, and a period on the scheduled time (`from`
        inclusive, `to` exclusive; unscheduled posts are left out when one is given).
        """
        page = post_page(client, args)
        return page, {"Link": _links(client, page, args)}

    @with_client
    @bp.arguments(PostCreateSchema)
    @bp.response(201, PostSchema, headers=_LOCATION_HEADER)
    @documents(bp, 400, 401, 404, 413, 415)
    def post(self, data, client):
        """Write a draft

        Each targeted network's rules are checked (length as that network counts it,
        first comment); a refusal names the field, e.g. `variants.x`. Nothing is written
        unless every field is accepted.
        """
        post = services.create_post(client, data, current_user.id)
        db.session.commit()
        return post, {"Location": url_for("api.PostItem", post_id=post.id, _external=True)}


@bp.route("/posts/<uuid:post_id>", tags=["posts"])
class PostItem(MethodView):
    @with_post
    @bp.response(200, PostSchema)
    @documents(bp, 401, 404)
    def get(self, post, client):
        """One post"""
        return post

    @with_post
    @bp.arguments(PostUpdateSchema)
    @bp.response(200, PostSchema)
    @documents(bp, 400, 401, 404, 413, 415)
    def patch(self, data, post, client):
        """Change some of a post's fields (only those sent)

        If what would be published changes, a new revision is written
        (`revision_number` and `content_hash` change) and the post goes back to draft:
        decisions taken on the old content no longer count.
        """
        services.update_post(post, client, data, current_user.id)
        db.session.commit()
        return post

    @with_post
    @bp.response(204)
    @documents(bp, 401, 404, 409)
    def delete(self, post, client):
        """Delete a draft

        Only a draft, or a post sent back for changes, can be deleted: anything else has
        been submitted and answers 409.
        """
        try:
            services.delete_draft(post)
        except ServiceError as refused:
            raise Conflict(refused.message) from None
        db.session.commit()
        return None


@bp.route("/posts/<uuid:post_id>/submit", tags=["posts"])
class PostSubmit(MethodView):
    @with_post
    @bp.response(200, PostSchema)
    @documents(bp, 401, 404, 409, 422)
    def post(self, post, client):
        """Submit a draft for approval

        Where it goes depends on the client's approval policy: `in_review` (internal
        review first), `awaiting_client`, or straight to `approved` (no approval). It
        needs accounts to publish on and a scheduled time (422); a post already
        submitted answers 409.
        """
        try:
            next_status(post.status, Event.SUBMIT, ApprovalPolicy(client.approval_policy))
        except InvalidTransition:
            raise Conflict(_("This post has already been submitted.")) from None
        services.submit_post(post, client)
        db.session.commit()
        return post


@bp.route("/posts/<uuid:post_id>/review", tags=["approvals"])
class PostReview(MethodView):
    @with_post
    @require(Permission.POST_REVIEW_INTERNAL)
    @bp.arguments(ReviewSchema)
    @bp.response(200, PostSchema)
    @documents(bp, 400, 401, 403, 404, 409, 413, 415)
    def post(self, data, post, client):
        """Review a post internally, before the client sees it

        Approving sends it on to `awaiting_client`; asking for changes (a `comment` is
        then required) sends it to `changes_requested`. The review is bound to the
        `content_hash` read: 409 if the post changed since, or is no longer in review.
        """
        internal_review(post, client, current_user.id, approve=data["approve"],
                        comment=data["comment"], shown_hash=data["content_hash"])
        db.session.commit()
        return post


# --- revisions --------------------------------------------------------------------------

@bp.route("/posts/<uuid:post_id>/revisions", tags=["posts"])
class PostRevisions(MethodView):
    @with_post
    @bp.response(200, RevisionSchema(many=True))
    @documents(bp, 401, 404)
    def get(self, post, client):
        """Every revision of a post, oldest first"""
        return db.session.scalars(select(Revision).where(Revision.post_id == post.id)
                                  .order_by(Revision.number)).all()


@bp.route("/posts/<uuid:post_id>/revisions/diff", tags=["posts"])
class PostRevisionDiff(MethodView):
    @with_post
    @bp.arguments(RevisionDiffQuerySchema, location="query")
    @bp.response(200, RevisionDiffSchema)
    @documents(bp, 401, 404)
    def get(self, args, post, client):
        """What changed between two revisions (`from` and `to` are revision numbers)"""
        old = _revision(post, args["old"], "from")
        new = _revision(post, args["new"], "to")
        return {"old": old.number, "new": new.number, "changes": diff(old.content, new.content)}


# --- comments ---------------------------------------------------------------------------

@bp.route("/posts/<uuid:post_id>/comments", tags=["posts"])
class PostComments(MethodView):
    @with_post
    @bp.response(200, CommentSchema(many=True))
    @documents(bp, 401, 404)
    def get(self, post, client):
        """The post's comments, oldest first: the agency's and the client's"""
        return db.session.scalars(select(Comment).where(Comment.post_id == post.id)
                                  .order_by(Comment.created_at, Comment.id)).all()

    @with_post
    @bp.arguments(CommentCreateSchema)
    @bp.response(201, CommentSchema)
    @documents(bp, 400, 401, 404, 413, 415)
    def post(self, data, post, client):
        """Comment on a post

        `internal` comments are for the agency's staff only; `client` comments are also
        shown to the client's contacts.
        """
        comment = services.add_comment(post, data["body"], data["visibility"],
                                       user_id=current_user.id,
                                       author_label=current_user.name or current_user.email)
        db.session.commit()
        return comment


# --- approval requests ------------------------------------------------------------------

@bp.route("/clients/<uuid:client_id>/approval-requests", tags=["approvals"])
class ApprovalRequests(MethodView):
    @with_client
    @bp.arguments(ApprovalRequestCreateSchema)
    @bp.response(201, ApprovalRequestSchema)
    @documents(bp, 400, 401, 404, 413, 415)
    def post(self, data, client):
        """Send posts to the client for approval

        Gathers the posts named (or every post awaiting the client) into one request;
        each approving contact is e-mailed a personal link, also returned here. 422 if a
        post is not awaiting the client or the client has no approving contact.
        """
        posts = (_posts_to_send(client, data["post_ids"]) if data["post_ids"]
                 else pending_posts(client))
        sent = send_for_approval(client, posts, current_user.id)
        names = {c.id: c.name for c in approvers(client)}
        db.session.commit()
        request = sent.request
        return {
            "id": request.id, "client_id": request.client_id,
            "created_at": request.created_at,
            "expires_at": request.expires_at, "posts": posts,
            "links": [{"contact_id": contact_id, "contact_name": names.get(contact_id, ""),
                       "url": url} for contact_id, url in sent.links.items()],
        }

