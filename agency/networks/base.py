"""The interface every network adapter implements, and the errors it speaks in.

Adapters are plain objects: they take an ``Outgoing`` (what to publish, already resolved
from the approved revision, with the account's credentials) and talk HTTP to the network.
They never touch the database: the publishing engine records what they return. That keeps
each adapter testable against a fake server alone, and keeps the exactly-once bookkeeping
in one place (agency/publishing/engine.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from flask_babel import gettext as _

log = logging.getLogger(__name__)


class NetworkError(Exception):
    """Base of what an adapter raises. ``reason`` is fit to show a person (it is shown on
    the post and on the publishing health page); ``detail`` is for the logs."""

    def __init__(self, reason: str, *, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class RetryableError(NetworkError):
    """Nothing was published, and trying again later may work (5xx, 429, network down
    before the request was sent). ``retry_after`` in seconds when the network said."""

    def __init__(self, reason: str, *, retry_after: float | None = None, detail: str = ""):
        super().__init__(reason, detail=detail)
        self.retry_after = retry_after


class PermanentError(NetworkError):
    """The network refused this content for good (too long, bad media): no retry."""


class AuthExpiredError(NetworkError):
    """The account's token was revoked or expired: the account needs reconnecting, and
    its publications wait (held) until it is."""


class OutcomeUnknown(NetworkError):
    """The request may have reached the network (a timeout after sending, a dropped
    connection). Never retried blindly: settled by ``find`` or an idempotent retry."""


@dataclass(frozen=True)
class OutgoingMedia:
    sha256: str
    mime: str
    kind: str  # "image" | "video"
    data: bytes
    filename: str
    description: str = ""
    # A signed address the file can be fetched at for a day (agency/media/public.py), for
    # the networks that download media themselves (Instagram, Google Business Profile);
    # "" when Relais has no PUBLIC_URL, which those adapters refuse clearly.
    url: str = ""


@dataclass(frozen=True)
class Outgoing:
    """One publication, resolved: exactly the approved content for one account."""

    publication_id: uuid.UUID
    account_id: uuid.UUID
    network: str
    text: str
    media: tuple[OutgoingMedia, ...]
    first_comment: str
    scheduled_at: datetime | None
    idempotency_key: str
    handle: str = ""
    # The post's options for this network, as approved (revision content "options"):
    # Google Business Profile's topic/call to action/event/offer, Instagram's kind, a
    # location tag, X's thread… Each adapter documents the keys it reads; {} when none.
    options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # the account's, not secret
    credentials: dict[str, Any] = field(default_factory=dict)  # decrypted, never logged
    # What earlier attempts of this publication saved (see ``checkpoint``); {} at first.
    progress: dict[str, Any] = field(default_factory=dict)
    # ``checkpoint(progress)`` saves the complete new progress (committed at once) before
    # a step that could make something visible, so a retry or ``find`` continues from it.
    # Raises ``OutcomeUnknown`` when the publication is no longer this attempt's (its
    # lease ran out): the adapter must stop there. None where there is no attempt
    # (``find`` during reconciliation; adapter tests may pass their own).
    checkpoint: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)

    def save_progress(self, progress: dict[str, Any]) -> None:
        if self.checkpoint is not None:
            self.checkpoint(progress)

    @classmethod
    def for_account(cls, account_id: uuid.UUID, network: str, *, handle: str = "",
                    settings: dict[str, Any] | None = None,
                    credentials: dict[str, Any] | None = None) -> Outgoing:
        """An account's connection alone, for a read that concerns no publication
        (``fetch_account_metrics``): no content, the nil publication id, no key."""
        return cls(publication_id=uuid.UUID(int=0), account_id=account_id, network=network,
                   text="", media=(), first_comment="", scheduled_at=None,
                   idempotency_key="", handle=handle, settings=dict(settings or {}),
                   credentials=dict(credentials or {}))


def counts(body: Any, names: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """The integer counters of a network's answer ``body`` (a dict), renamed by ``names``
    (``(theirs, ours)`` pairs). A counter the answer lacks is left out, never 0: "not
    reported" and "none" read differently to the owner."""
    if not isinstance(body, dict):
        return {}
    return {ours: body[theirs] for theirs, ours in names
            if isinstance(body.get(theirs), int) and not isinstance(body[theirs], bool)}


@dataclass(frozen=True)
class Published:
    external_id: str
    url: str


class Network:
    """What an adapter provides. Subclasses set the class attributes truthfully: the
    engine's reconciliation depends on them.

    Credential expiry (read by agency/networks/token_health.py): the credentials dict an
    adapter's connect flow stores may carry ``expires_at`` (epoch seconds, when the access
    stops working) and ``refreshable`` (bool: ``refresh`` can renew it without a person).
    Without ``expires_at`` the credentials are taken not to expire. Refreshable ones are
    renewed ahead of expiry (``TOKEN_REFRESH_AHEAD_SECONDS``); the others get the agency
    warned ``TOKEN_EXPIRY_WARNING_DAYS`` before, so a person reconnects in time.
    """

    key: ClassVar[str]
    # A retry with the same idempotency key cannot create a second post (Mastodon's
    # Idempotency-Key within its window; a record key derived from the publication).
    idempotent_publish: ClassVar[bool] = False
    # ``find`` answering None means "certainly not published" (not merely "not seen").
    authoritative_find: ClassVar[bool] = False
    # The first comment is stored with the post itself, so a post ``find`` finds has it;
    # otherwise (a separate reply or comment call) a found post may lack it.
    first_comment_with_post: ClassVar[bool] = False
    # Reading figures (``fetch_metrics``, ``fetch_account_metrics``) spends the same budget
    # as publishing, so a read refused for the rate limit pauses the account's posts too
    # (agency/results/collect.py). False where the network counts reads apart (X and
    # LinkedIn limit each endpoint on its own): a spent read budget never delays a post.
    reads_share_limits: ClassVar[bool] = True

    def publish(self, outgoing: Outgoing) -> Published:
        raise NotImplementedError

    def find(self, outgoing: Outgoing) -> Published | None:
        """The post this publication made, if the network has it. Raises
        ``RetryableError`` when the network cannot answer now."""
        raise NotImplementedError

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        """Counters of a published post (likes, reposts, replies…); used by results."""
        return {}

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        """Counters of the account itself, read now (``followers`` first; others as the
        network names them), from ``Outgoing.for_account``: its settings and credentials
        as ``fetch_metrics`` gets them. {} when the network reports none. Raises the same
        errors as ``fetch_metrics``; used by results, once per account and collection."""
        return {}

    def note_first_comment_failure(self, outgoing: Outgoing, error: NetworkError,
                                   network_name: str) -> None:
        """The post is out but its first comment is not: say so in
        ``first_comment_error`` (the engine shows it; the publication stays published)."""
        if isinstance(error, OutcomeUnknown):
            self.first_comment_error = _(
                "The post is out, but %(network)s did not confirm its first comment: check "
                "the post on %(network)s and add the comment by hand if it is missing.",
                network=network_name)
        else:
            self.first_comment_error = _(
                "The post is out, but its first comment could not be added: %(reason)s",
                reason=error.reason)
        log.warning("%s: first comment of publication %s not posted: %s (%s)", self.key,
                    outgoing.publication_id, error.reason, error.detail)

    def credentials_after_use(self) -> dict[str, Any] | None:
        """New credentials to store if the adapter refreshed them (a renewed session)."""
        return None

    def refresh(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        """Renew ``credentials`` before they expire; the complete new credentials to store
        (with their new ``expires_at``), or None when there is nothing to refresh (the
        default). Raises ``AuthExpiredError`` when the network refuses (the account must
        be reconnected by a person), ``RetryableError``/``OutcomeUnknown`` when it cannot
        answer now (tried again at the next check). Never touches the database."""
        return None
