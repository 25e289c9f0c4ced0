"""Settling a publication whose outcome is unknown (a crash or a timeout after sending):
ask the network (``find``), or send again where that cannot make a second post (the
same idempotency key within the network's window, or a search whose "not there" is
proof); what cannot be settled becomes ``needs_attention``, never a blind resend. Only
the job (jobs.reconcile) calls this, through ``engine.reconcile``."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _

from agency.extensions import db
from agency.networks.base import AuthExpiredError, Network, OutcomeUnknown, RetryableError
from agency.networks.credentials import CredentialsUnreadable

from . import engine, outcomes, ratelimit
from .models import Publication, PublicationState
from .outcomes import backoff_seconds
from .outgoing import ContentMissing

P = PublicationState


def reconcile(agency_id: uuid.UUID, publication_id: uuid.UUID) -> str:
    """Settle an ``unknown`` publication: published if the network has it; sent again
    only where that cannot make a second post; otherwise ``needs_attention``."""
    return engine._in_tenant(agency_id, _reconcile, publication_id)


def _reconcile(publication_id: uuid.UUID) -> str:
    publication = engine._load(publication_id)
    if publication is None or publication.state != P.UNKNOWN:
        db.session.rollback()
        return "skipped"
    account = publication.account
    try:
        adapter = engine.adapter_for(publication.network)
        outgoing = engine.build(publication, account, db.session)
    except (KeyError, ContentMissing, CredentialsUnreadable) as problem:
        outcomes.needs_attention(publication, str(problem))
        db.session.commit()
        return "needs_attention"
    if not adapter.authoritative_find and adapter.idempotent_publish and \
            _within_idempotency_window(adapter, publication):
        # One call with the same key settles it for certain (the network returns the post
        # it made, or makes the one it never got), where a search would cost many calls
        # and still not be sure.
        publication.state, publication.queued_at = P.QUEUED, engine._now()
        db.session.commit()
        return engine._publish(publication_id)
    # Ask the network with no transaction open, then write only if it is still unknown:
    # SQLite refuses a write to a transaction that read before another process wrote
    # (the answer would be lost, again at every try), and a duplicate job that settled
    # it meanwhile must not be overwritten.
    db.session.commit()  # nothing written yet: only ends the transaction
    error: RetryableError | OutcomeUnknown | AuthExpiredError | None = None
    try:
        found = adapter.find(outgoing)
    except (RetryableError, OutcomeUnknown, AuthExpiredError) as problem:
        found, error = None, problem
    publication = engine._load(publication_id, lock=True)
    if publication is None or publication.state != P.UNKNOWN:
        db.session.rollback()
        return "skipped"
    if error is not None:
        # The network cannot tell us now: ask again later (counted, so it ends).
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            ratelimit.pause(publication.social_account_id, time.time() + retry_after)
        publication.attempts += 1
        if publication.attempts >= current_app.config["PUBLISH_MAX_ATTEMPTS"]:
            outcomes.needs_attention(publication, error.reason)
        else:
            publication.queued_at = None
            publication.due_at = engine._now() + timedelta(
                seconds=backoff_seconds(publication.attempts, retry_after))
        db.session.commit()
        return "later"
    if found is not None:
        outcomes.published(publication, found.external_id, found.url)
        if outgoing.first_comment.strip() and not adapter.first_comment_with_post:
            # The post is out, but whether its first comment followed is not known
            # (the attempt may have stopped between the two calls): say so.
            publication.last_error = _(
                "Published, but Relais could not confirm its first comment: look at the "
                "post and add the comment by hand if it is missing.")
            publication.error_code = "first_comment"
        db.session.commit()
        return "published"
    if adapter.authoritative_find:
        # Certainly not there: sending it now cannot make a second post.
        publication.state, publication.queued_at = P.QUEUED, engine._now()
        db.session.commit()
        return engine._publish(publication_id)
    outcomes.needs_attention(publication,
                             publication.last_error or _("no answer from the network"))
    db.session.commit()
    return "needs_attention"


def _within_idempotency_window(adapter: Network, publication: Publication) -> bool:
    window = getattr(adapter, "idempotency_window_seconds", None)
    if window is None:
        return True
    sent = engine._utc(publication.sent_at)
    # Leave a margin: the retry must reach the network well inside the window.
    return sent is not None and engine._now() - sent < timedelta(seconds=window * 0.8)
