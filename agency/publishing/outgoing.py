"""What exactly goes out for one publication: the approved revision's content, resolved
for its network and account (its variant, its media files, its credentials)."""

from __future__ import annotations

from sqlalchemy import select

from agency.content.models import Revision
from agency.media.models import Media
from agency.media.public import public_media_url
from agency.media.storage import get_storage
from agency.networks.base import Outgoing, OutgoingMedia
from agency.networks.credentials import unseal
from agency.networks.models import SocialAccount

from .models import Publication


class ContentMissing(RuntimeError):
    """The approved content can no longer be assembled (a media file is gone)."""


def build(publication: Publication, account: SocialAccount, session,
          revision: Revision | None = None) -> Outgoing:
    """Never what the post says now: what was approved (the publication's revision,
    loaded here unless the caller has it already)."""
    if revision is None or revision.id != publication.revision_id:
        revision = session.scalars(select(Revision).where(
            Revision.id == publication.revision_id)).one()
    content = revision.content
    text = (content.get("variants") or {}).get(publication.network) or content.get("text") or ""
    checksums = list(content.get("media") or [])
    media = []
    if checksums:
        rows = {m.sha256: m for m in session.scalars(select(Media).where(
            Media.client_id == publication.client_id, Media.sha256.in_(checksums)))}
        storage = get_storage()
        for sha in checksums:
            row = rows.get(sha)
            if row is None:
                raise ContentMissing(f"media {sha[:12]} is no longer in the library")
            with storage.open(row.storage_key) as handle:
                data = handle.read()
            media.append(OutgoingMedia(sha256=sha, mime=row.mime, kind=row.kind, data=data,
                                       filename=row.original_name or f"{sha[:12]}",
                                       url=public_media_url(row.storage_key, row.mime, sha)))
    return Outgoing(
        publication_id=publication.id, account_id=account.id, network=publication.network,
        text=text, media=tuple(media), first_comment=content.get("first_comment") or "",
        scheduled_at=publication.scheduled_at, idempotency_key=publication.idempotency_key,
        handle=account.handle,
        options=dict((content.get("options") or {}).get(publication.network) or {}),
        settings=dict(account.settings or {}),
        credentials=unseal(account.credentials), progress=dict(publication.progress or {}),
    )
