"""One Redis connection pool per process, from ``REDIS_URL``."""

from __future__ import annotations

import redis
from flask import current_app


def limiter_storage_uri(redis_url: str) -> str:
    # The limits library names Unix sockets redis+unix://; everything else passes as given.
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


def get_redis() -> redis.Redis:
    ext = current_app.extensions
    if "relais_redis" not in ext:
        ext["relais_redis"] = redis.Redis.from_url(current_app.config["REDIS_URL"])
    return ext["relais_redis"]
