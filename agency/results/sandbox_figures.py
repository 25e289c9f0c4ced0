"""The figures the sandbox network reports: realistic-looking, and deterministic.

Everything is derived from a hash of the post's or the account's id (and the post's age,
or the day): no clock, no random state. Same inputs, same figures, always: the sandbox
adapter (agency/networks/sandbox.py) answers a reading with them, the demo's history
(demo_history.py) writes what those readings would have been, and tests can state them.

The shapes follow what a small business sees on a real network: a post's impressions
grow fast the first day and then level off (a slow tail over a week), so readings never
go down; reach is 60–90 % of impressions, reactions 2–8 % of reach, comments, shares,
clicks and saves a fraction of those; an account starts with 200–3,000 followers and
gains a few a day, give or take.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import date

# Followers are counted from this day on (any fixed day would do: it only anchors growth).
EPOCH = date(2026, 1, 1)


def _unit(*parts: object) -> float:
    """A number in [0, 1), fixed for ``parts``."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _between(low: float, high: float, *parts: object) -> float:
    return low + (high - low) * _unit(*parts)


def post_figures(external_id: str | uuid.UUID, age_seconds: float) -> dict[str, int]:
    """A post's counters ``age_seconds`` after it was published, under the results'
    column names (impressions, reach, reactions, comments, shares, clicks, saves)."""
    key = str(external_id)
    hours = max(0.0, float(age_seconds)) / 3600
    # Most posts stay modest, a few go further (the square skews towards small).
    ceiling = 150 + 3850 * _unit(key, "ceiling") ** 2
    pace = _between(4, 12, key, "pace")  # hours to reach ~63 % of the first wave
    seen = 0.85 * (1 - math.exp(-hours / pace)) + 0.15 * (1 - math.exp(-hours / 168))
    impressions = round(ceiling * seen)
    reach = round(impressions * _between(0.60, 0.90, key, "reach"))
    reactions = round(reach * _between(0.02, 0.08, key, "reactions"))
    return {
        "impressions": impressions,
        "reach": reach,
        "reactions": reactions,
        "comments": round(reactions * _between(0.05, 0.25, key, "comments")),
        "shares": round(reactions * _between(0.03, 0.15, key, "shares")),
        "clicks": round(reach * _between(0.002, 0.015, key, "clicks")),
        "saves": round(reactions * _between(0.02, 0.12, key, "saves")),
    }


def followers(account_id: str | uuid.UUID, day: date) -> int:
    """The account's followers on ``day``: a base, slow growth, a little noise."""
    key = str(account_id)
    base = _between(200, 3000, key, "base")
    daily_gain = base * _between(0.0003, 0.0025, key, "growth")  # 0.03–0.25 % a day
    days = (day - EPOCH).days
    wobble = max(2.0, base * 0.003) * (2 * _unit(key, day.isoformat()) - 1)
    return max(0, round(base + daily_gain * days + wobble))


def account_figures(account_id: str | uuid.UUID, day: date) -> dict[str, int]:
    """What the sandbox reports for the account on ``day`` (``fetch_account_metrics``)."""
    key = str(account_id)
    return {"followers": followers(account_id, day),
            "following": round(_between(40, 400, key, "following"))}
