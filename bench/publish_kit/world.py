"""The benchmark's data: an agency, sandbox accounts and approved posts due at once."""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from .sandbox import Sandbox


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class World:
    """An agency with one client (approval policy "none") and its sandbox accounts."""

    def __init__(self, app, accounts: int, token: str, latency_ms: int = 0):
        from agency.auth.services import create_agency
        from agency.clients.services import create_client
        from agency.extensions import db
        from agency.networks.services import add_account
        from tenants.context import tenant_scope

        self.app = app
        with app.test_request_context():
            created = create_agency("Bench agency", f"bench-{token}@example.test", "Bench",
                                    "bench correct horse battery staple")
            self.agency_id, self.user_id = created.agency.id, created.user.id
            with tenant_scope(self.agency_id):
                client = create_client({"name": "Boulangerie du banc"})
                client.approval_policy = "none"
                self.client_id = client.id
                self.account_ids = []
                for n in range(accounts):
                    account = add_account(client, "sandbox", f"Page {n + 1}")
                    account.settings = {"latency_ms": latency_ms}
                    self.account_ids.append(account.id)
            db.session.commit()

    def approved_posts(self, count: int, targets_per_post: int, scheduled_at: datetime,
                       *, label: str, publications: int | None = None) -> None:
        """``count`` posts, each on ``targets_per_post`` accounts (taken in turn), approved
        through the services, so their publications are scheduled at ``scheduled_at``.
        Committed in batches; ``publications`` caps the total."""
        from agency.clients.models import Client
        from agency.content.services import create_post, submit_post
        from agency.extensions import db
        from tenants.context import tenant_scope
        from tenants.scoping import tenant_get

        remaining = publications if publications is not None else count * targets_per_post
        cursor = 0
        with self.app.test_request_context(), tenant_scope(self.agency_id):
            for n in range(count):
                if remaining <= 0:
                    break
                client = tenant_get(Client, self.client_id)
                width = min(targets_per_post, remaining)
                targets = [self.account_ids[(cursor + i) % len(self.account_ids)]
                           for i in range(width)]
                cursor += width
                remaining -= width
                post = create_post(client, {"text": f"{label} {n}: croissants tout chauds",
                                            "target_ids": targets,
                                            "scheduled_at": scheduled_at},
                                   self.user_id, now=scheduled_at - timedelta(days=1))
                submit_post(post, client)
                if n % 50 == 49:
                    db.session.commit()
            db.session.commit()

    @contextmanager
    def scope(self):
        from agency.extensions import db
        from tenants.context import tenant_scope

        with self.app.app_context(), tenant_scope(self.agency_id):
            try:
                yield db.session
            finally:
                db.session.rollback()

    def counts(self, scheduled_at: datetime) -> tuple[int, int]:
        """(published, all) among the publications due at ``scheduled_at``."""
        from sqlalchemy import func, select

        from agency.publishing.models import Publication, PublicationState

        with self.scope() as session:
            rows = dict(session.execute(
                select(Publication.state, func.count())
                .where(Publication.scheduled_at == scheduled_at)
                .group_by(Publication.state)).all())
        return rows.get(PublicationState.PUBLISHED, 0), sum(rows.values())

    def publications(self, scheduled_at: datetime) -> list:
        from sqlalchemy import select

        from agency.publishing.models import Publication

        with self.scope() as session:
            return list(session.execute(
                select(Publication.id, Publication.state, Publication.published_at,
                       Publication.queued_at, Publication.idempotency_key,
                       Publication.attempts, Publication.dispatches)
                .where(Publication.scheduled_at == scheduled_at)).all())

    def sandbox_counts(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from agency.networks.sandbox_models import SandboxPost

        with self.scope() as session:
            return dict(session.execute(
                select(SandboxPost.idempotency_key, func.count())
                .group_by(SandboxPost.idempotency_key)).all())

    def all_publication_ids(self) -> list[uuid.UUID]:
        from sqlalchemy import select

        from agency.publishing.models import Publication

        with self.scope() as session:
            return list(session.scalars(select(Publication.id)))


def calibrated_lead(app, world: World, posts: int) -> float:
    """Seconds from now to T: half as long again as creating ``posts`` posts should take
    here, plus 5 s, so that T falls after the setup even on a busy machine. Timed on a
    few posts scheduled a day ahead (they never become due in this run)."""
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    with app.app_context():
        world.approved_posts(10, 1, later, label="Warm-up")
        sample, started = 20, time.perf_counter()
        world.approved_posts(sample, 1, later, label="Calibration")
    per_post = (time.perf_counter() - started) / sample
    return 5 + 1.5 * per_post * posts


def wait_published(world: World, scheduled_at: datetime, expected: int, timeout: float,
                   processes, box: Sandbox, on_progress=None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        published = world.counts(scheduled_at)[0]
        if on_progress:
            on_progress(published)
        if published >= expected:
            return
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a process exited ({process.returncode}):\n"
                                   + box.log_tail(process))
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {published}/{expected} published after {timeout:.0f} s")
        time.sleep(0.25)
