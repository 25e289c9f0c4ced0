"""The checkpoint: a multi-step publish saves its progress before each risky step, the
next attempt (or reconciliation) starts from it, and a stale attempt is stopped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from agency.networks.base import Network, OutcomeUnknown, Published, RetryableError
from agency.publishing import engine
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope

from .conftest import approve_post, run_due

P = PublicationState
pytestmark = pytest.mark.usefixtures("sandbox_in_test")


class TwoSteps(Network):
    """Step one (invisible, like an Instagram container) then step two (the post)."""

    key = "sandbox"
    seen: list[dict] = []
    fail_step_two = True

    def publish(self, outgoing):
        TwoSteps.seen.append(dict(outgoing.progress))
        if "container" not in outgoing.progress:
            outgoing.save_progress({**outgoing.progress, "container": "c-1"})
        if TwoSteps.fail_step_two:
            raise RetryableError("down for a moment")
        return Published(external_id=outgoing.progress.get("container", "c-1") + "-post",
                         url="https://example.test/p")

    def find(self, outgoing):
        TwoSteps.seen.append(dict(outgoing.progress))
        return None


@pytest.fixture
def two_steps(monkeypatch):
    TwoSteps.seen, TwoSteps.fail_step_two = [], True
    monkeypatch.setattr(engine, "adapter_for", lambda network: TwoSteps())
    return TwoSteps


def test_a_retry_continues_from_the_saved_progress(app, db, two_steps):
    approved = approve_post(app, db)
    assert run_due(app) == [("publish", "retrying")]
    [publication] = approved.publications(db)
    assert publication.progress == {"container": "c-1"}
    two_steps.fail_step_two = False
    assert run_due(app, datetime.now(UTC) + timedelta(hours=3)) == [("publish", "published")]
    assert two_steps.seen == [{}, {"container": "c-1"}]  # the container was not made twice
    assert approved.publications(db)[0].external_id == "c-1-post"


def _surface_unknown(monkeypatch) -> list[OutcomeUnknown]:
    """Run the adapter as the engine would, but keep what it raised as "unknown" (the
    engine would record it) for the test to read."""
    raised: list[OutcomeUnknown] = []

    def send(adapter, outgoing, publication_id, account_id):
        try:
            return adapter.publish(outgoing)
        except OutcomeUnknown as error:
            raised.append(error)
            return "stopped"

    monkeypatch.setattr(engine, "_send", send)
    return raised


def test_a_checkpoint_after_the_lease_ran_out_stops_the_attempt(app, db, two_steps,
                                                               monkeypatch):
    approved = approve_post(app, db)
    [publication] = approved.publications(db)
    agency_id = approved.world.agency_id

    def lease_lost(name):
        # Another dispatcher judged the attempt dead while it was still running.
        if name == "after_sending_committed":
            with tenant_scope(agency_id):
                db.session.execute(update(Publication).where(
                    Publication.id == publication.id).values(state=P.UNKNOWN))
                db.session.commit()

    raised = _surface_unknown(monkeypatch)
    monkeypatch.setattr(engine, "crash_hook", lease_lost)
    assert run_due(app) == [("publish", "stopped")]
    assert raised and "ran out of time" in raised[0].reason
    publication = approved.publications(db)[0]
    assert publication.state == P.UNKNOWN and publication.progress == {}


def test_an_older_attempts_checkpoint_is_refused_once_a_newer_one_runs(app, db, two_steps,
                                                                      monkeypatch):
    approved = approve_post(app, db)
    [publication] = approved.publications(db)
    agency_id = approved.world.agency_id

    def overtaken(name):
        # This attempt's lease lapsed; reconciliation sent it again: a newer attempt is
        # now "sending" the same publication.
        if name == "after_sending_committed":
            with tenant_scope(agency_id):
                db.session.execute(update(Publication).where(
                    Publication.id == publication.id).values(
                        attempts=Publication.attempts + 1))
                db.session.commit()

    raised = _surface_unknown(monkeypatch)
    monkeypatch.setattr(engine, "crash_hook", overtaken)
    assert run_due(app) == [("publish", "stopped")]
    publication = approved.publications(db)[0]
    assert raised and publication.state == P.SENDING and publication.progress == {}


class CommentApart(TwoSteps):
    """Finds the post, but posts first comments by a separate call (like Facebook)."""

    def find(self, outgoing):
        return Published(external_id="found-1", url="https://example.test/found-1")


def test_a_post_found_by_reconciliation_says_its_first_comment_is_unconfirmed(
        app, db, monkeypatch):
    approved = approve_post(app, db)
    [publication] = approved.publications(db)
    with tenant_scope(approved.world.agency_id):
        db.session.execute(update(Publication).where(Publication.id == publication.id)
                           .values(state=P.UNKNOWN))
        db.session.flush()
    monkeypatch.setattr(engine, "adapter_for", lambda network: CommentApart())
    build = engine.build
    monkeypatch.setattr(engine, "build", lambda *a, **k: replace(
        build(*a, **k), first_comment="Horaires : 7 h – 19 h"))
    assert engine.reconcile(approved.world.agency_id, publication.id) == "published"
    publication = approved.publications(db)[0]
    assert publication.state == P.PUBLISHED and publication.error_code == "first_comment"
    assert "first comment" in publication.last_error

