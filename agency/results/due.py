"""What one account has to read: its published posts whose next reading is due.

Loaded inside the account's agency (the collection's run, collect.py), as plain values:
nothing here is an ORM object once the transaction ends and the network is called.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from agency.content.models import Revision
from agency.extensions import db
from agency.media.models import Media
from agency.networks.base import Outgoing, OutgoingMedia
from agency.networks.models import SocialAccount
from agency.publishing.models import Publication, PublicationState

from .models import PostMetricSnapshot
from .schedule import AGES, HORIZON, reading_due

MAX_READS_PER_RUN = 40  # posts per run: a backlog is read over the next runs


@dataclass(frozen=True)
class DuePost:
    publication_id: uuid.UUID
    client_id: uuid.UUID
    external_id: str
    outgoing: Outgoing  # as the engine would build it, less the files' bytes


def due_posts(account: SocialAccount, settings: dict, credentials: dict,
              now: datetime) -> tuple[DuePost, ...]:
    """The account's published posts with a reading due at ``now`` (schedule.py), newest
    first, at most ``MAX_READS_PER_RUN``, each with what its adapter needs to ask for
    its counters (its id on the network, the approved content, the account's access)."""
    last_taken = (select(func.max(PostMetricSnapshot.taken_at))
                  .where(PostMetricSnapshot.agency_id == Publication.agency_id,
                         PostMetricSnapshot.publication_id == Publication.id)
                  .scalar_subquery())
    rows = db.session.execute(
        select(Publication.id, Publication.client_id, Publication.external_id,
               Publication.published_at, Publication.revision_id, Publication.scheduled_at,
               Publication.idempotency_key, Publication.progress, last_taken)
        .where(Publication.social_account_id == account.id,
               Publication.state == PublicationState.PUBLISHED,
               Publication.external_id != "",  # marked published by hand: nothing to ask
               Publication.published_at <= now - AGES[0],
               Publication.published_at > now - HORIZON)
        .order_by(Publication.published_at.desc())).all()
    rows = [r for r in rows if reading_due(r.published_at, r[-1], now)]
    rows = rows[:MAX_READS_PER_RUN]
    if not rows:
        return ()
    contents = {revision_id: content for revision_id, content in db.session.execute(
        select(Revision.id, Revision.content).where(
            Revision.id.in_({r.revision_id for r in rows})))}
    media = _media(account.client_id, contents.values())
    due = []
    for row in rows:
        content = contents.get(row.revision_id) or {}
        network = account.network
        outgoing = Outgoing(
            publication_id=row.id, account_id=account.id, network=network,
            text=(content.get("variants") or {}).get(network) or content.get("text") or "",
            media=tuple(media[sha] for sha in content.get("media") or [] if sha in media),
            first_comment=content.get("first_comment") or "",
            scheduled_at=row.scheduled_at, idempotency_key=row.idempotency_key,
            handle=account.handle,
            options=dict((content.get("options") or {}).get(network) or {}),
            settings=settings, credentials=credentials, progress=dict(row.progress or {}))
        due.append(DuePost(row.id, row.client_id, row.external_id, outgoing))
    return tuple(due)


def _media(client_id: uuid.UUID, contents) -> dict[str, OutgoingMedia]:
    """The kinds of the posts' files, without their bytes: a reading needs to know a
    video from a photo (Facebook counts shares on one only), never the file itself."""
    checksums = {sha for content in contents for sha in (content.get("media") or [])}
    if not checksums:
        return {}
    rows = db.session.execute(select(Media.sha256, Media.mime, Media.kind).where(
        Media.client_id == client_id, Media.sha256.in_(checksums)))
    return {sha: OutgoingMedia(sha256=sha, mime=mime, kind=kind, data=b"", filename="")
            for sha, mime, kind in rows}
