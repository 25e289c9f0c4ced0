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

import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agency.extensions import db
from tenants.context import current_agency_id
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
        if "relais_sandbox_bind" not in current_app.extensions and \
                db.engine.dialect.name == "postgresql" and db.engine.driver == "psycopg":
            return self._store_pipelined(outgoing, post_id)
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

    def _store_pipelined(self, outgoing: Outgoing, post_id: uuid.UUID) -> Published:
        """The same store as the ORM's, in its own transaction, sent to PostgreSQL in one
        round trip (psycopg's pipeline) on a connection the sandbox keeps: the tenant
        (row-level security checks the row against it), the commit not waiting for the
        disk (see above), and the insert, which makes nothing when the key was already
        used (the first post is then the answer). A connection found broken is replaced
        and the store sent once more: the key makes that safe whether or not the first
        one reached the database."""
        import psycopg

        agency_id = current_agency_id()
        if agency_id is None:  # pragma: no cover - the engine always runs in a tenant
            raise RuntimeError("the sandbox stores posts only inside a tenant")
        try:
            stored = _insert_pipelined(_own_connection(), agency_id, outgoing, post_id)
        except psycopg.OperationalError:
            _drop_own_connection()
            stored = _insert_pipelined(_own_connection(), agency_id, outgoing, post_id)
        if not stored:  # the key was used before: that post is the answer
            existing = self.find(outgoing)
            if existing is None:  # pragma: no cover - unique key without a row
                raise RuntimeError("the sandbox's idempotency key has no post")
            return existing
        return Published(external_id=str(post_id), url=feed_url(outgoing.account_id, post_id))


# The sandbox's own PostgreSQL connection, one per process and thread, kept while it
# works: a post costs one round trip, not a pool checkout with its ping as well.
_held = threading.local()
_inherited: list = []  # a parent's connection seen after a fork: never used nor closed


def _own_connection():
    import psycopg

    url = db.engine.url
    held = getattr(_held, "connection", None)
    if held is not None:
        pid, held_url, connection = held
        if pid != os.getpid():
            _inherited.append(connection)  # closing it would end the parent's session
        elif held_url == url and not connection.closed:
            return connection
        else:
            connection.close()
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # Autocommit: the transaction is spelled out inside the pipeline (BEGIN … COMMIT),
    # so that starting and ending it costs no round trip of its own.
    connection = psycopg.connect(conninfo, autocommit=True)
    _held.connection = (os.getpid(), url, connection)
    return connection


def _drop_own_connection() -> None:
    held = getattr(_held, "connection", None)
    _held.connection = None
    if held is not None and held[0] == os.getpid():
        held[2].close()


def _insert_pipelined(connection, agency_id: uuid.UUID, outgoing: Outgoing,
                      post_id: uuid.UUID) -> bool:
    """Whether a post was made (False: the key had made one already)."""
    from psycopg.pq import TransactionStatus
    from psycopg.types.json import Json

    try:
        with connection.pipeline():
            connection.execute("BEGIN")
            connection.execute(
                "SELECT set_config('app.agency_id', %s, true), "
                "set_config('app.user_id', '', true), "
                "set_config('synchronous_commit', 'off', true)", (str(agency_id),))
            inserted = connection.cursor()
            inserted.execute(
                "INSERT INTO sandbox_posts (id, agency_id, social_account_id, "
                "idempotency_key, text, first_comment, media) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (agency_id, social_account_id, idempotency_key) DO NOTHING "
                "RETURNING id",
                (post_id, agency_id, outgoing.account_id, outgoing.idempotency_key,
                 outgoing.text, outgoing.first_comment,
                 Json([m.sha256 for m in outgoing.media])))
            connection.execute("COMMIT")
        return inserted.fetchone() is not None
    except BaseException:
        try:  # nothing half-done stays open on the kept connection
            if connection.info.transaction_status != TransactionStatus.IDLE:
                connection.execute("ROLLBACK")
        except Exception:
            _drop_own_connection()
        raise
