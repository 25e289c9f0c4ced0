"""Fixtures of the results tests: a world, a scripted network, a queue of its own."""

from __future__ import annotations

import uuid

import pytest
import redis
from rq import Queue

from agency.networks import registry
from agency.results import counters
from tests.factories import make_world

# The fakes' own fixtures, for the networks' tests here.
from tests.fakes.facebook import fake_facebook  # noqa: F401
from tests.fakes.instagram import fake_instagram  # noqa: F401
from tests.fakes.linkedin import fake_linkedin  # noqa: F401
from tests.fakes.x import fake_x  # noqa: F401
from tests.results.support import ScriptedNetwork


def _pdf_renders() -> bool:
    try:
        import weasyprint  # noqa: F401  (loads Pango: OSError where it is missing)
    except (ImportError, OSError):
        return False
    return True


def pytest_collection_modifyitems(config, items):
    # As the browser tests without Chromium: a machine without Pango skips the report's
    # tests with a reason; CI installs it (.ci/run).
    if _pdf_renders():
        return
    skip = pytest.mark.skip(reason="WeasyPrint needs Pango "
                                   "(apt-get install libpango-1.0-0 libpangoft2-1.0-0)")
    for item in items:
        if item.get_closest_marker("pdf"):
            item.add_marker(skip)


@pytest.fixture
def world(db):
    return make_world()


@pytest.fixture
def scripted(monkeypatch):
    real = registry._adapters
    monkeypatch.setattr(registry, "_adapters",
                        lambda: {**real(), ScriptedNetwork.key: ScriptedNetwork})
    monkeypatch.setitem(counters.NAMES, ScriptedNetwork.key, counters.NAMES["mastodon"])
    for name, value in {"account": {"followers": 120}, "accounts": {}, "posts": {},
                        "calls": [], "renewed": None, "limited_until": None}.items():
        monkeypatch.setattr(ScriptedNetwork, name, value)
    return ScriptedNetwork


@pytest.fixture
def queue(app, redis_url):
    connection = redis.Redis.from_url(redis_url)
    q = Queue(f"test-results-{uuid.uuid4().hex}", connection=connection)
    yield q
    q.delete(delete_jobs=True)
