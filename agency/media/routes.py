"""A client's media library: the grid, uploads, serving files and thumbnails, deleting.

Each view loads (a client through ``client_for_view``; a file through ``tenant_get``,
then its client the same way, so a foreign or unassigned one is a 404), checks, acts
through a service and commits once. Files are served only to signed-in staff who may see
the client, never from a public URL.
"""

from __future__ import annotations

import os
import uuid
from io import UnsupportedOperation
from pathlib import PurePosixPath

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.utils import secure_filename
from werkzeug.wsgi import wrap_file

from agency.access import can, client_for_view, require
from agency.extensions import csrf, db
from tenants.roles import Permission
from tenants.scoping import tenant_get

from . import services
from .models import Media
from .processing import ACCEPTED, IMAGE_MAX_BYTES, MB, VIDEO_MAX_BYTES, MediaRejected
from .storage import InvalidKey, get_storage

bp = Blueprint("media", __name__)

# One video at its limit and the form around it. Only this route accepts more than the
# app-wide MAX_CONTENT_LENGTH; every other request stays small.
UPLOAD_MAX_BYTES = VIDEO_MAX_BYTES + MB
CACHE_SECONDS = 3600
ACCEPT_ATTR = ",".join(sorted({f.mime for f in ACCEPTED.values()}))


def human_size(size: int) -> str:
    if size >= MB:
        return _("%(n)s MB", n=format_decimal(round(size / MB, 1)))
    return _("%(n)s KB", n=format_decimal(max(1, round(size / 1024))))


@bp.app_template_filter("media_size")
def _media_size_filter(size: int) -> str:
    return human_size(size)


def uses_of(client) -> dict[uuid.UUID, int]:
    """How many posts use each of the client's files (files in no post are left out)."""
    from agency.content.models import PostMedia

    return dict(db.session.execute(
        select(PostMedia.media_id, func.count(PostMedia.post_id))
        .join(Media, Media.id == PostMedia.media_id)
        .where(Media.client_id == client.id).group_by(PostMedia.media_id)
    ).all())


def _allowed(permission: Permission) -> None:
    # Judged after loading: what a person may not see is a 404 before it is a 403.
    if not can(permission):
        abort(403)


def _library(client, status: int = 200, stored=(), refused=()):
    items = db.session.scalars(
        select(Media).where(Media.client_id == client.id)
        .order_by(Media.created_at.desc(), Media.id.desc())
    ).all()
    return render_template(
        "media/library.html", client=client, items=items, stored=stored, refused=refused,
        in_use=uses_of(client),
        accept=ACCEPT_ATTR, image_mb=IMAGE_MAX_BYTES // MB, video_mb=VIDEO_MAX_BYTES // MB,
    ), status


@bp.get("/clients/<uuid:client_id>/media")
@require()
def library(client_id: uuid.UUID):
    return _library(client_for_view(client_id))


@bp.post("/clients/<uuid:client_id>/media")
@csrf.exempt
@require()
def upload(client_id: uuid.UUID):
    # The limit is raised before the body is parsed, and the global CSRF check would
    # parse it first (against the 1 MB limit): so CSRF is checked here, right after.
    request.max_content_length = UPLOAD_MAX_BYTES
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    client = client_for_view(client_id)
    _allowed(Permission.CLIENT_EDIT)
    if client.is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return redirect(url_for("media.library", client_id=client.id), code=303)

    uploads = [f for f in request.files.getlist("files") if f and f.filename]
    if not uploads:
        return _library(client, 422, refused=[("", _("Choose at least one file."))])
    stored, refused, statuses = [], [], set()
    for upload_file in uploads:
        name = services.clean_name(upload_file.filename)
        try:
            stored.append(services.store_upload(client, upload_file.filename,
                                                upload_file.read(), current_user.id))
        except MediaRejected as error:
            refused.append((name, error.message))
            statuses.add(error.status)
    if stored:
        db.session.commit()
    if not refused:
        flash(ngettext("%(num)d file added.", "%(num)d files added.", len(stored)), "success")
        return redirect(url_for("media.library", client_id=client.id), code=303)
    if stored:
        return _library(client, 201, stored=stored, refused=refused)
    return _library(client, statuses.pop() if len(statuses) == 1 else 422, refused=refused)


def _load(media_id: uuid.UUID) -> Media:
    media = tenant_get(Media, media_id)
    client_for_view(media.client_id)
    return media


def _download_name(media: Media, key: str, suffix: str = "") -> str:
    ext = PurePosixPath(key).suffix
    stem = PurePosixPath(secure_filename(media.original_name)).stem or "media"
    return f"{stem[:100]}{suffix}{ext}"


def _send(key: str, mimetype: str, name: str, etag: str):
    try:
        handle = get_storage().open(key)
    except (FileNotFoundError, InvalidKey):
        abort(404)
    try:
        size = os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, UnsupportedOperation):
        size = None
    response = current_app.response_class(wrap_file(request.environ, handle),
                                          mimetype=mimetype, direct_passthrough=True)
    if size is not None:
        response.content_length = size
    response.headers.set("Content-Disposition", "inline", filename=name)
    # Uploaded bytes must never be read as HTML or script, whatever they contain.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.max_age = CACHE_SECONDS
    response.set_etag(etag)
    # Ranges: browsers seek in videos.
    return response.make_conditional(request, accept_ranges=True, complete_length=size)


def serve(media: Media, *, thumb: bool = False):
    """The stored file (or its thumbnail; 404 for a video, which has none), private and
    never sniffed. The caller has already decided that the requester may see it."""
    if not thumb:
        return _send(media.storage_key, media.mime,
                     _download_name(media, media.storage_key), media.sha256)
    if not media.thumb_key:
        abort(404)
    return _send(media.thumb_key, "image/webp",
                 _download_name(media, media.thumb_key, "-thumb"), media.sha256 + "-thumb")


@bp.get("/media/<uuid:media_id>")
@require()
def file(media_id: uuid.UUID):
    return serve(_load(media_id))


@bp.get("/media/<uuid:media_id>/thumb")
@require()
def thumb(media_id: uuid.UUID):
    return serve(_load(media_id), thumb=True)


@bp.post("/media/<uuid:media_id>/delete")
@require()
def delete(media_id: uuid.UUID):
    media = _load(media_id)
    _allowed(Permission.CLIENT_EDIT)
    client_id = media.client_id
    if client_for_view(client_id).is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return redirect(url_for("media.library", client_id=client_id), code=303)
    try:
        services.delete_media(media)
    except services.MediaInUse as refused:
        flash(refused.message, "error")
        return redirect(url_for("media.library", client_id=client_id), code=303)
    db.session.commit()
    flash(_("The file was deleted."), "success")
    return redirect(url_for("media.library", client_id=client_id), code=303)
