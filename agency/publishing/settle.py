"""Writing what went out: the plain "published" settlements of the engine, one by one or
a group's together, and the commit that need not wait for the disk (a settlement lost in
a database crash leaves ``sending``, which reconciliation settles). ``sent`` items are
the engine's ``_Sent``: a publication id, what the network answered, and when."""

from __future__ import annotations

from sqlalchemy import Uuid, bindparam, func, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import DateTime, String

from agency.extensions import db

from .models import Publication
from .models import PublicationState as P


def commit_without_waiting() -> None:
    """Commit a record whose loss in a database crash only delays the truth."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    db.session.commit()


def settle_published(sent) -> str:
    """The common case in one conditional UPDATE (the caller commits): published, if it
    is still ours to settle (a duplicate job or a reconciliation may have settled it
    meanwhile)."""
    done = db.session.execute(
        update(Publication)
        .where(Publication.id == sent.publication_id,
               Publication.state.in_((P.SENDING, P.UNKNOWN)))
        .values(state=P.PUBLISHED, external_id=sent.published.external_id[:255],
                external_url=sent.published.url[:1000], published_at=sent.answered_at,
                lease_expires_at=None, last_error="", error_code="")
        .execution_options(synchronize_session=False)).rowcount
    return "published" if done == 1 else "skipped"


def settle_published_together(sent: list, results: dict) -> None:
    """Several plain "published" settlements, each as ``settle_published`` would write
    it (still only if ours to settle), in one transaction committed without waiting for
    the disk; on PostgreSQL one ``UPDATE … FROM unnest(…)`` for them all."""
    db.session.rollback()  # start clean: nothing of ours is open, an error may be
    if db.session.get_bind().dialect.name != "postgresql":
        for one in sent:  # SQLite has neither arrays nor column names for VALUES
            results[one.publication_id] = settle_published(one)
        commit_without_waiting()
        return
    # One statement whatever the group's size (four arrays, unnested side by side): the
    # same compiled and prepared statement for every group.
    rows = func.unnest(
        bindparam("ids", [one.publication_id for one in sent], type_=ARRAY(Uuid)),
        bindparam("external_ids", [one.published.external_id[:255] for one in sent],
                  type_=ARRAY(String)),
        bindparam("urls", [one.published.url[:1000] for one in sent], type_=ARRAY(String)),
        bindparam("answered", [one.answered_at for one in sent],
                  type_=ARRAY(DateTime(timezone=True))),
    ).table_valued("id", "external_id", "external_url", "published_at").render_derived(
        name="settled")
    done = set(db.session.scalars(
        update(Publication)
        .where(Publication.id == rows.c.id, Publication.state.in_((P.SENDING, P.UNKNOWN)))
        .values(state=P.PUBLISHED, external_id=rows.c.external_id,
                external_url=rows.c.external_url, published_at=rows.c.published_at,
                lease_expires_at=None, last_error="", error_code="")
        .returning(Publication.id)
        .execution_options(synchronize_session=False)))
    commit_without_waiting()
    for one in sent:
        results[one.publication_id] = "published" if one.publication_id in done else "skipped"
