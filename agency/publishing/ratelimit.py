"""Per-account publishing budgets in Redis, so a burst of due posts does not trip a
network's own limits (which would cost retries, or worse, a flagged account).

Two things slow an account down: our budget for its network (a moving window, from the
``limits`` library, the same one that rate-limits logins), and a pause the network itself
asked for (its rate-limit headers said the budget is spent until some time).
"""

from __future__ import annotations

import time
import uuid

from flask import current_app
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from agency.redis_conn import get_redis

# Below each network's documented per-account limit for creating posts: Mastodon allows
# 300 statuses per 3 hours; Bluesky 5,000 points per hour at 3 points per created record.
BUDGETS: dict[str, RateLimitItem] = {
    "mastodon": parse("250/3 hours"),
    "bluesky": parse("1500/hour"),
}


def _limiter() -> MovingWindowRateLimiter:
    ext = current_app.extensions
    if "relais_publish_limiter" not in ext:
        connection = get_redis()
        prefix = current_app.config["REDIS_KEY_PREFIX"] + "publish-budget"
        storage = RedisStorage("redis://", connection_pool=connection.connection_pool,
                               key_prefix=prefix)
        ext["relais_publish_limiter"] = MovingWindowRateLimiter(storage)
    return ext["relais_publish_limiter"]


def _pause_key(account_id: uuid.UUID) -> str:
    return f"{current_app.config['REDIS_KEY_PREFIX']}publish-pause:{account_id}"


# ``wait_seconds`` reads the account's pause itself unless given what was read.
UNREAD = object()


def pauses(account_ids) -> dict[uuid.UUID, float | None]:
    """Each account's pause (epoch seconds, or None), in one read."""
    ids = list(account_ids)
    if not ids:
        return {}
    found = get_redis().mget([_pause_key(account_id) for account_id in ids])
    return {account_id: None if value is None else float(value)
            for account_id, value in zip(ids, found, strict=True)}


def wait_seconds(network: str, account_id: uuid.UUID, *,
                 paused: float | object | None = UNREAD) -> float:
    """0 if the account may publish now (and the attempt is counted), else how long to
    wait. Idempotent on refusal: a refused call takes nothing from the budget.
    ``paused``: the account's pause as ``pauses`` read it just before, if it did."""
    paused_until = get_redis().get(_pause_key(account_id)) if paused is UNREAD else paused
    if paused_until is not None:
        remaining = float(paused_until) - time.time()
        if remaining > 0:
            return remaining
    budget = BUDGETS.get(network)
    if budget is None:
        return 0.0
    limiter = _limiter()
    if limiter.hit(budget, str(account_id)):
        return 0.0
    stats = limiter.get_window_stats(budget, str(account_id))
    return max(1.0, stats.reset_time - time.time())


def pause(account_id: uuid.UUID, until: float) -> None:
    """The network said this account's budget is spent until ``until`` (epoch seconds)."""
    seconds = int(until - time.time()) + 1
    if seconds > 0:
        get_redis().set(_pause_key(account_id), str(until), ex=seconds)
