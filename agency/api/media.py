"""A client's media library: upload (multipart), list, read, delete.

A file's URL carries no client: ``with_media`` loads the file in the tenant, then its
client as the token's membership may see it, so a file of an unassigned client answers
404 exactly like one that does not exist. Uploads take the same size limit as the media
library's own page (larger than every other request's): see ``UPLOAD_LIMITS``.
"""

from __future__ import annotations

import functools

from flask import abort, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from agency.access import client_for_view, require
from agency.approvals.services import Conflict
from agency.clients.models import Client
from agency.extensions import db
from agency.media import services
from agency.media.models import Media
from agency.media.processing import MediaRejected
from agency.media.routes import UPLOAD_MAX_BYTES
from tenants.roles import Permission
from tenants.scoping import tenant_get

from .blueprint import UPLOAD_LIMITS, bp, with_client
from .openapi import documents
from .post_schemas import MediaListQuerySchema, MediaPageSchema, MediaSchema, MediaUploadSchema
from .problems import problem_response
from .queries import LINK_HEADER_DOC, Page, link_header

_LOCATION_HEADER = {"Location": {"description": "The file's URL in the API.",
                                 "schema": {"type": "string"}}}


def with_media(view):
    """Replace the ``media_id`` URL argument by the file and its client (404 if the file
    is absent, foreign, or of a client the membership may not see)."""

    @functools.wraps(view)
    def wrapper(*args, media_id, **kwargs):
        media = tenant_get(Media, media_id)
        return view(*args, media=media, client=client_for_view(media.client_id), **kwargs)

    return wrapper


def multipart_only(view):
    """415 unless the body is a multipart form (checked after the client is loaded)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.mimetype != "multipart/form-data":
            abort(415, _("Send the file as multipart/form-data, in a field named “file”."))
        return view(*args, **kwargs)

    return wrapper


def _refuse_if_archived(client: Client) -> None:
    if client.is_archived:  # answered 409 by the blueprint's handler of Conflict
        raise Conflict(_("This client is archived. Restore it before making changes."))


def media_page(client: Client, page: int, per_page: int) -> Page:
    """One page of the client's files, newest first (ties broken by id)."""
    query = select(Media).where(Media.client_id == client.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Media.created_at.desc(), Media.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(items), page, per_page, total or 0)


@bp.route("/clients/<uuid:client_id>/media", tags=["media"])
class MediaLibrary(MethodView):
    @with_client
    @bp.arguments(MediaListQuerySchema, location="query")
    @bp.response(200, MediaPageSchema, headers=LINK_HEADER_DOC)
    @documents(bp, 401, 404)
    def get(self, args, client):
        """The client's media library, newest first"""
        page = media_page(client, args["page"], args["per_page"])

        def url(number: int) -> str:
            return url_for("api.MediaLibrary", client_id=client.id, page=number,
                           per_page=page.per_page, _external=True)

        return page, {"Link": link_header(page, url)}

    @with_client
    @require(Permission.CLIENT_EDIT)
    @multipart_only
    @bp.arguments(MediaUploadSchema, location="files")
    @bp.response(201, MediaSchema, headers=_LOCATION_HEADER)
    @bp.alt_response(200, schema=MediaSchema, success=True, description=(
        "The same content was already in the client's library: that file, unchanged."))
    @documents(bp, 401, 403, 404, 409, 413, 415)
    def post(self, files, client):
        """Upload an image or a video into the client's library

        Send `multipart/form-data` with the file in the field `file`. The type is read
        from the content, not from the name: other files are refused (415), as are
        files over the size limit (413) or that cannot be read (422). Uploading content
        the library already has answers 200 with the existing file and stores nothing.
        """
        _refuse_if_archived(client)
        upload = files["file"]
        try:
            stored = services.store_file(client, upload.filename, upload.read(),
                                         current_user.id)
        except MediaRejected as refused:
            db.session.rollback()
            return problem_response(refused.status, refused.message,
                                    errors={"file": [refused.message]})
        db.session.commit()
        media = stored.media
        headers = {"Location": url_for("api.MediaItem", media_id=media.id, _external=True)}
        return media, 201 if stored.created else 200, headers


@bp.route("/media/<uuid:media_id>", tags=["media"])
class MediaItem(MethodView):
    @with_media
    @bp.response(200, MediaSchema)
    @documents(bp, 401, 404)
    def get(self, media, client):
        """One file's details"""
        return media

    @with_media
    @require(Permission.CLIENT_EDIT)
    @bp.response(204)
    @documents(bp, 401, 403, 404, 409)
    def delete(self, media, client):
        """Delete a file from the library

        A file attached to a post cannot be deleted (409): remove it from the post
        first. What a client approved must stay publishable.
        """
        _refuse_if_archived(client)
        try:
            services.delete_media(media)
        except services.MediaInUse as refused:
            db.session.rollback()
            return problem_response(409, refused.message)
        db.session.commit()
        return None


UPLOAD_LIMITS["api.MediaLibrary"] = UPLOAD_MAX_BYTES
