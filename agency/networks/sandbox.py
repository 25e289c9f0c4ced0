"""The built-in sandbox network: it "publishes" into Relais's own feed page.

It behaves like an outside network on purpose: it stores posts in its own transaction
(so a worker that crashes after it answered leaves a post the publication does not know
about, exactly like a real network), it dedupes on the idempotency key, and each account's
settings can inject latency and failures for demos and tests:

    {"latency_ms": 200, "fail_rate": 0.1, "fail_mode": "retryable"}

``fail_mode``: ``retryable`` (a 503), ``permanent`` (a refusal), ``auth`` (a revoked
token), ``timeout_after_store`` (stores the post, then the answer is lost).

Figures (``fetch_metrics``, ``fetch_account_metrics``) come from
agency/results/sandbox_figures.py: made up, but the same for the same post at the same
age (its age from when the sandbox stored it) and the same account on the same day.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agency.extensions import db
from tenants.ids import new_id

from .base import (
    AuthExpiredError,
    Network,
    OutcomeUnknown,
    Outgoing,
    PermanentError,
    Published,
    RetryableError,
)
from .sandbox_models import SandboxPost

FAIL_MODES = ("retryable", "permanent", "auth", "timeout_after_store")


def feed_url(account_id: uuid.UUID, post_id: uuid.UUID | str) -> str:
    """Where the sandbox shows a post: its fixed address scheme, like a real network's
    (the page itself is agency/networks/routes_sandbox.py)."""
    base = current_app.config.get("PUBLIC_URL") or ""
    return f"{base}/sandbox/{account_id}#p-{post_id}"


def _session() -> Session:
    # Its own session and transaction: what the network stored stays stored whatever
    # happens to the caller's transaction afterwards. (Tests that run inside one rolled
    # back transaction name their connection here; it then nests as a savepoint.)
    bind = current_app.extensions.get("relais_sandbox_bind") or db.engine
    return Session(bind=bind, join_transaction_mode="create_savepoint")


class SandboxNetwork(Network):
    key = "sandbox"
    idempotent_publish = True  # the key is unique per account
    authoritative_find = True  # its storage is ours: absent means never stored
    first_comment_with_post = True  # one row holds both

    def publish(self, outgoing: Outgoing) -> Published:
        settings = outgoing.settings or {}
        latency = float(settings.get("latency_ms") or 0) / 1000
        if latency:
            time.sleep(latency)
        failing = random.random() < float(settings.get("fail_rate") or 0)
        mode = settings.get("fail_mode") or "retryable"
        if failing and mode == "retryable":
            raise RetryableError("The sandbox network is unavailable (simulated).",
                                 retry_after=1)
        if failing and mode == "permanent":
            raise PermanentError("The sandbox network refused this post (simulated).")
        if failing and mode == "auth":
            raise AuthExpiredError("The sandbox account's access was revoked (simulated).")
        published = self._store(outgoing)
        if failing and mode == "timeout_after_store":
            raise OutcomeUnknown("The sandbox network did not answer in time (simulated).")
        return published

    def find(self, outgoing: Outgoing) -> Published | None:
        with _session() as session:
            row = session.scalars(select(SandboxPost).where(
                SandboxPost.social_account_id == outgoing.account_id,
                SandboxPost.idempotency_key == outgoing.idempotency_key,
            )).one_or_none()
            if row is None:
                return None
            return Published(external_id=str(row.id), url=feed_url(outgoing.account_id, row.id))

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        from agency.results.sandbox_figures import post_figures

        try:
            post_id = uuid.UUID(str(external_id))
        except ValueError:
            post_id = None
        created_at = None
        if post_id is not None:
            with _session() as session:
                created_at = session.scalars(select(SandboxPost.created_at).where(
                    SandboxPost.id == post_id,
                    SandboxPost.social_account_id == outgoing.account_id)).one_or_none()
        if created_at is None:  # what a real network answers for a deleted post
            raise PermanentError("The sandbox network has no such post.",
                                 detail=f"sandbox post {external_id}")
        if created_at.tzinfo is None:  # SQLite hands back naive UTC
            created_at = created_at.replace(tzinfo=UTC)
        return post_figures(post_id, (datetime.now(UTC) - created_at).total_seconds())

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        from agency.results.sandbox_figures import account_figures

        return account_figures(outgoing.account_id, datetime.now(UTC).date())

    def _store(self, outgoing: Outgoing) -> Published:
        post_id = new_id()  # known before the commit: reading row.id after it would reload
        with _session() as session:
            row = SandboxPost(
                id=post_id,
                social_account_id=outgoing.account_id, idempotency_key=outgoing.idempotency_key,
                text=outgoing.text, first_comment=outgoing.first_comment,
                media=[m.sha256 for m in outgoing.media],
            )
            session.add(row)
            if session.get_bind().dialect.name == "postgresql":
                # A network's own durability is not Relais's: the sandbox stands in for a
                # remote service at zero latency, so it does not wait for the disk. (Lost
                # in a database crash, the post was never out; the publication, still
                # "sending", is reconciled by find and sent once.)
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = self.find(outgoing)
                if existing is None:  # pragma: no cover - unique key without a row
                    raise
                return existing
            return Published(external_id=str(post_id), url=feed_url(outgoing.account_id, post_id))
