"""Whether an agency, or a client-paid workspace, is in good standing: a pure judgement
from what Stripe last said, the trial, the grace period and the time.

    local   billing is off (no Stripe key): nothing is ever held
    trial   the free trial from signup, no card needed
    good    the subscription pays (active, or Stripe's own trial)
    grace   a payment is overdue (or the trial is over without a subscription): still
            publishing until ``until`` (BILLING_GRACE_DAYS after it began)
    held    the grace period is over, or the subscription ended: publishing is held

A status this module does not know is judged good (and logged): Relais never holds an
agency's work because Stripe added a word.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

log = logging.getLogger(__name__)


class Standing(StrEnum):
    LOCAL = "local"
    TRIAL = "trial"
    GOOD = "good"
    GRACE = "grace"
    HELD = "held"


# Stripe's subscription statuses (https://docs.stripe.com/api/subscriptions/object).
PAYING = frozenset({"active", "trialing"})
OVERDUE = frozenset({"past_due", "incomplete"})  # a payment failed: retried, grace applies
ENDED = frozenset({"canceled", "unpaid", "incomplete_expired", "paused"})


@dataclass(frozen=True)
class Verdict:
    standing: Standing
    until: datetime | None = None  # when a trial or a grace period ends
    reason: str = ""  # the subscription's status, or "trial_over"

    @property
    def held(self) -> bool:
        return self.standing == Standing.HELD


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def judge_subscription(status: str, past_due_since: datetime | None, now: datetime,
                       grace: timedelta) -> Verdict:
    if status in PAYING:
        return Verdict(Standing.GOOD, reason=status)
    if status in OVERDUE:
        since = _utc(past_due_since) or now
        end = since + grace
        return Verdict(Standing.GRACE if now < end else Standing.HELD, end, status)
    if status in ENDED:
        return Verdict(Standing.HELD, reason=status)
    log.warning("billing: unknown subscription status %r judged good", status)
    return Verdict(Standing.GOOD, reason=status)


def judge_account(*, enabled: bool, subscription_id: str | None, status: str,
                  past_due_since: datetime | None, trial_ends_at: datetime,
                  now: datetime, grace: timedelta) -> Verdict:
    """The agency's own standing (it covers every workspace the agency pays for)."""
    if not enabled:
        return Verdict(Standing.LOCAL)
    if not subscription_id:
        trial_end = _utc(trial_ends_at)
        if now < trial_end:
            return Verdict(Standing.TRIAL, trial_end)
        end = trial_end + grace
        return Verdict(Standing.GRACE if now < end else Standing.HELD, end, "trial_over")
    return judge_subscription(status, past_due_since, now, grace)
