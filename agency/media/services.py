"""Media writes: storing an upload once per content, and deleting it.

Services flush and never commit. Files are written before the row is flushed, so a
committed row always has its file (a failed transaction can leave an orphan file, which
is harmless: same content, same key, reused by the next upload of it). Deleted files are
removed only once the deletion has committed, so a rolled-back delete loses nothing.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass

from flask_babel import ngettext
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db

from .models import Media
from .processing import THUMB_EXT, process
from .storage import get_storage, media_key


class MediaInUse(ServiceError):
    """A file still attached to a post; answered with 409."""

    status = 409


class MediaAction:
    UPLOADED = "media.uploaded"
    DELETED = "media.deleted"


def clean_name(filename: str | None) -> str:
    """A display name from what the browser sent: last path part, no control characters,
    at most 255 characters. Only ever shown, never used in a path."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:255]


@dataclass(frozen=True)
class Stored:
    media: Media
    created: bool  # False: the same content was already in the library


def store_upload(client: Client, filename: str | None, data: bytes,
                 user_id: uuid.UUID | None) -> Media:
    """Check, clean and store one file for ``client``; returns its row.

    Idempotent for the same content: uploading bytes that clean to an already stored
    file returns the existing row and writes nothing. Raises ``MediaRejected`` (a
    ``ServiceError`` with ``status`` 413, 415 or 422) for refused files.
    """
    return store_file(client, filename, data, user_id).media


def store_file(client: Client, filename: str | None, data: bytes,
               user_id: uuid.UUID | None) -> Stored:
    """``store_upload``, also saying whether the file is new to the library (the API
    answers 201 for a new file and 200 for content it already had)."""
    processed = process(data)
    existing = db.session.scalars(
        select(Media).where(Media.client_id == client.id, Media.sha256 == processed.sha256)
    ).one_or_none()
    if existing is not None:
        return Stored(existing, created=False)

    storage = get_storage()
    key = media_key(client.agency_id, client.id, processed.sha256, processed.ext)
    storage.put(key, processed.data)
    thumb_key = None
    if processed.thumb is not None:
        thumb_key = media_key(client.agency_id, client.id, processed.sha256, THUMB_EXT,
                              thumb=True)
        storage.put(thumb_key, processed.thumb)

    media = Media(
        agency_id=client.agency_id, client_id=client.id, kind=processed.kind,
        mime=processed.mime, size=len(processed.data), sha256=processed.sha256,
        width=processed.width, height=processed.height, original_name=clean_name(filename),
        storage_key=key, thumb_key=thumb_key, uploaded_by_user_id=user_id,
    )
    db.session.add(media)
    db.session.flush()
    record(MediaAction.UPLOADED, media,
           details={"client_id": str(client.id), "kind": media.kind, "size": media.size})
    return Stored(media, created=True)


def delete_media(media: Media) -> None:
    """Delete the row and its files, and audit it. A file attached to a post is refused
    (a ``ServiceError`` with status 409): what a client approved must stay publishable."""
    from agency.content.models import PostMedia

    in_use = db.session.scalar(select(func.count()).select_from(PostMedia)
                               .where(PostMedia.media_id == media.id))
    if in_use:
        raise MediaInUse(ngettext(
            "This file is used by %(num)d post: remove it from the post first.",
            "This file is used by %(num)d posts: remove it from those posts first.",
            in_use))
    keys = [k for k in (media.storage_key, media.thumb_key) if k]
    record(MediaAction.DELETED, media,
           details={"client_id": str(media.client_id), "name": media.original_name,
                    "sha256": media.sha256})
    db.session.delete(media)
    db.session.flush()
    db.session().info.setdefault(_PENDING_DELETES, []).extend(keys)


_PENDING_DELETES = "relais_media_pending_deletes"


@event.listens_for(Session, "after_commit")
def _delete_committed_files(session: Session) -> None:
    keys = session.info.pop(_PENDING_DELETES, None)
    if keys:
        storage = get_storage()
        for key in keys:
            storage.delete(key)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_deletes(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_PENDING_DELETES, None)
