"""The approval state machine, driven through the real services by hypothesis.

Whatever order people act in — editing, submitting, reviewing, sending, deciding on
fresh or stale content — a post is ``approved`` only with the decisions its client's
policy requires, all taken on the content it now has, and that content is its latest
revision.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from agency.approvals import services as approvals
from agency.approvals.models import ApprovalPolicy, Decision, DecisionKind
from agency.auth.services import ServiceError
from agency.content import services as content
from agency.content.lifecycle import Event, required_decisions
from agency.content.models import PostStatus, Revision
from agency.networks.services import add_account
from tenants.context import set_tenant
from tests.factories import make_world

SERIAL = itertools.count()
# Stale decisions must be tried, but fresh ones are what lets a walk reach approval.
MOSTLY_FRESH = st.sampled_from([False, False, False, True])
REACHED: set[ApprovalPolicy] = set()  # which policies the run drove all the way to approved

REQUIRED_KINDS = {
    Event.INTERNAL_APPROVE: DecisionKind.INTERNAL_APPROVED,
    Event.CLIENT_APPROVE: DecisionKind.CLIENT_APPROVED,
}


def _machine(db, app):
    class PostLifecycle(RuleBasedStateMachine):
        @initialize(policy=st.sampled_from(list(ApprovalPolicy)))
        def setup(self, policy):
            self.world = make_world(f"Agence {next(SERIAL)}")
            set_tenant(self.world.agency.id, self.world.owner.user_id)
            self.client = self.world.client
            self.client.approval_policy = policy.value
            self.policy = policy
            self.account = add_account(self.client, "sandbox", "Page")
            self.post = content.create_post(
                self.client,
                {"text": "Bonjour", "target_ids": [self.account.id],
                 "scheduled_at": datetime.now(UTC) + timedelta(days=3)},
                self.world.owner.user_id,
            )
            self.stale_hashes: list[str] = []
            self.access = None
            self.edits = 0

        # --- what people do -------------------------------------------------------------

        @rule()
        def edit(self):
            self.edits += 1
            self.stale_hashes.append(self.post.content_hash)
            content.update_post(self.post, self.client, {"text": f"Bonjour {self.edits}"},
                                self.world.owner.user_id)

        @rule()
        def submit(self):
            try:
                content.submit_post(self.post, self.client)
            except ServiceError:
                assert self.post.status not in (PostStatus.DRAFT, PostStatus.CHANGES_REQUESTED)

        @rule(approve=st.booleans(), stale=MOSTLY_FRESH)
        def internal_review(self, approve, stale):
            shown = self.stale_hashes[-1] if stale and self.stale_hashes else self.post.content_hash
            with contextlib.suppress(ServiceError):
                approvals.internal_review(self.post, self.client, self.world.manager.user_id,
                                          approve=approve, comment="à revoir",
                                          shown_hash=shown)

        @precondition(lambda self: self.post.status == PostStatus.AWAITING_CLIENT)
        @rule()
        def send(self):
            sent = approvals.send_for_approval(self.client, [self.post],
                                               self.world.owner.user_id)
            self.access = approvals.PortalAccess(sent.request, self.world.contact, self.client)

        @precondition(lambda self: self.access is not None)
        @rule(approve=st.booleans(), stale=MOSTLY_FRESH)
        def client_decides(self, approve, stale):
            shown = self.stale_hashes[-1] if stale and self.stale_hashes else self.post.content_hash
            with contextlib.suppress(ServiceError):
                approvals.decide(self.access, self.post.id, approve=approve, shown_hash=shown,
                                 comment="" if approve else "Changez la photo")

        @precondition(lambda self: self.access is not None)
        @rule()
        def approve_all(self):
            approvals.approve_all(self.access, {self.post.id: self.post.content_hash})

        # --- what must always hold ------------------------------------------------------

        @invariant()
        def approved_only_with_the_required_decisions_on_this_content(self):
            if self.post.status != PostStatus.APPROVED:
                return
            REACHED.add(self.policy)
            decisions = list(db.session.scalars(
                select(Decision).where(Decision.post_id == self.post.id,
                                       Decision.content_hash == self.post.content_hash)
                .order_by(Decision.created_at, Decision.id)
            ))
            kinds = [d.kind for d in decisions]
            wanted = [REQUIRED_KINDS[e] for e in required_decisions(self.policy)]
            position = 0
            for kind in kinds:  # the required ones, in order, on this exact content
                if position < len(wanted) and kind == wanted[position]:
                    position += 1
            assert position == len(wanted), (self.policy, kinds)

        @invariant()
        def the_post_hash_is_its_latest_revision(self):
            latest = db.session.scalars(
                select(Revision).where(Revision.post_id == self.post.id)
                .order_by(Revision.number.desc()).limit(1)
            ).one()
            assert latest.number == self.post.revision_number
            assert latest.content_hash == self.post.content_hash

        @invariant()
        def no_decision_counts_for_other_content(self):
            for decision in db.session.scalars(
                select(Decision).where(Decision.post_id == self.post.id)
            ):
                revision = db.session.scalars(select(Revision).where(
                    Revision.post_id == self.post.id,
                    Revision.number == decision.revision_number)).one()
                assert revision.content_hash == decision.content_hash

    return PostLifecycle


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_nothing_is_approved_without_its_decisions(app, db):
    machine = _machine(db, app)
    with app.test_request_context():
        run_state_machine_as_test(machine, settings=settings(
            max_examples=150, stateful_step_count=20, deadline=None,
            derandomize=True,  # the same walk every run: CI and laptops agree
            suppress_health_check=[HealthCheck.function_scoped_fixture,
                                   HealthCheck.too_slow],
        ))
    # The property means little unless the walk really reached approval under each policy.
    assert set(ApprovalPolicy) == REACHED
