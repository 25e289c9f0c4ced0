"""How the engine records what happened to a publication: one function per outcome,
each writing the row (in the caller's transaction) and saying it in one word."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _

from agency.networks.base import RetryableError
from agency.networks.models import AccountStatus, SocialAccount

from . import notify
from .models import HoldReason, Publication, PublicationState
from .services import hold_account

P = PublicationState


def _now() -> datetime:
    return datetime.now(UTC)


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, capped; never sooner than the network asked."""
    config = current_app.config
    ceiling = min(config["PUBLISH_BACKOFF_CAP_SECONDS"],
                  config["PUBLISH_BACKOFF_BASE_SECONDS"] * 2 ** max(0, attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread, never zero
    return max(delay, retry_after or 0.0)


def published(publication: Publication, external_id: str, url: str) -> str:
    publication.state = P.PUBLISHED
    publication.external_id, publication.external_url = external_id[:255], url[:1000]
    publication.published_at = _now()
    publication.lease_expires_at = None
    publication.last_error = publication.error_code = ""
    return "published"


def retry_later(publication: Publication, error: RetryableError) -> str:
    publication.lease_expires_at = publication.queued_at = None
    if publication.attempts >= current_app.config["PUBLISH_MAX_ATTEMPTS"]:
        return fail(publication, _("Gave up after %(n)d attempts. Last answer: %(reason)s",
                                    n=publication.attempts, reason=error.reason), "gave_up")
    publication.state = P.RETRYING
    publication.last_error, publication.error_code = error.reason[:1000], "retrying"
    publication.due_at = _now() + timedelta(
        seconds=backoff_seconds(publication.attempts, error.retry_after))
    return "retrying"


def fail(publication: Publication, reason: str, code: str) -> str:
    publication.state = P.FAILED
    publication.last_error, publication.error_code = reason[:1000], code
    publication.lease_expires_at = None
    notify.problem(publication)
    return "failed"


def hold(publication: Publication, now: datetime) -> None:
    publication.state, publication.held_reason = P.HELD, HoldReason.ACCOUNT
    publication.queued_at = publication.lease_expires_at = None


def account_expired(publication: Publication, account: SocialAccount, *, reason: str) -> str:
    # Nothing went out: the network refused the token. Hold this one with the others.
    publication.state, publication.held_reason = P.HELD, HoldReason.ACCOUNT
    publication.last_error, publication.error_code = reason[:1000], "auth_expired"
    publication.queued_at = publication.lease_expires_at = None
    was_connected = account.status == AccountStatus.CONNECTED
    hold_account(account, reason)
    if was_connected:
        notify.account_expired(account)
    return "held"


def unknown(publication: Publication, reason: str) -> str:
    if publication.attempts >= current_app.config["PUBLISH_MAX_ATTEMPTS"]:
        return needs_attention(publication, reason)
    publication.state = P.UNKNOWN
    publication.last_error, publication.error_code = reason[:1000], "unknown"
    publication.queued_at = publication.lease_expires_at = None
    publication.due_at = _now() + timedelta(
        seconds=current_app.config["PUBLISH_RECONCILE_DELAY_SECONDS"])
    return "unknown"


def needs_attention(publication: Publication, reason: str) -> str:
    publication.state = P.NEEDS_ATTENTION
    publication.last_error = _(
        "We could not confirm whether this went out (%(reason)s). Look at the account: if "
        "the post is there, mark it as published; if not, retry it.", reason=reason)[:1000]
    publication.error_code = "needs_attention"
    publication.queued_at = publication.lease_expires_at = None
    notify.problem(publication)
    return "needs_attention"


def delay(publication: Publication, *, until: datetime) -> str:
    # Not an attempt: our own budget for the account says later.
    publication.state, publication.due_at = P.RETRYING, until
    publication.queued_at, publication.error_code = None, "rate_limited"
    return "delayed"
