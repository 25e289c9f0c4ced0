"""Test fixtures: one database per run (migrated once), one transaction per test.

With ``DATABASE_URL`` / ``REDIS_URL`` set, the suite runs against them (PostgreSQL as a
non-owner app role, migrations as ``MIGRATION_DATABASE_URL``); otherwise it uses a SQLite
file and an embedded Redis in a temporary folder. Each test runs inside a transaction
that is rolled back (the SQLAlchemy 2 "join into an external transaction" recipe), so the
app's own ``commit()`` calls become savepoints.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

# Property tests judge correctness, not speed: on a loaded machine (CI beside other work)
# generating inputs may take seconds, which must not fail a run.
settings.register_profile("relais", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("relais")

_TMP = Path(tempfile.mkdtemp(prefix="relais-tests-"))
os.environ.setdefault("RELAIS_INSTANCE_PATH", str(_TMP / "instance"))
POSTGRES = bool(os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql")))

from agency import create_app  # noqa: E402
from agency.embedded import ensure_embedded_redis, stop_embedded_redis  # noqa: E402
from agency.extensions import db as _db  # noqa: E402
from tenants.context import clear_tenant  # noqa: E402


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not POSTGRES:
            item.add_marker(skip_pg)


def _check_test_database(url: str) -> None:
    name = make_url(url).database or ""
    if "test" not in name and not os.environ.get("RELAIS_TEST_ANY_DATABASE"):
        pytest.exit(
            f"Refusing to run tests against database {name!r}: its name does not contain "
            "'test'. Point DATABASE_URL at a database made for tests.", returncode=2
        )


@pytest.fixture(scope="session")
def _tmp_root():
    """Removed last, after the embedded Redis that lives in it has stopped."""
    yield _TMP
    shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(_tmp_root):
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    instance = _TMP / "redis"
    url = ensure_embedded_redis(instance)
    yield url
    stop_embedded_redis(instance)


@pytest.fixture(scope="session")
def key_prefix():
    base = os.environ.get("REDIS_KEY_PREFIX", "relais-test:")
    return f"{base}{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="session")
def app(redis_url, key_prefix):
    if POSTGRES:
        _check_test_database(os.environ["DATABASE_URL"])
    app = create_app({
        "TESTING": True,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": key_prefix,
        "RATELIMIT_STORAGE_URI": _limiter_uri(redis_url),
        "RATELIMIT_KEY_PREFIX": key_prefix + "limits",
        "SERVER_NAME": "relais.test",
        # Forms are posted directly in tests; tests/auth checks CSRF refusal with it on.
        "WTF_CSRF_ENABLED": False,
        # Assertions read the source (English) strings; tests/test_i18n.py checks that
        # French is the product's default, and the browser tests run in French.
        "BABEL_DEFAULT_LOCALE": "en",
    })
    app.extensions["relais_mail_memory"] = []
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    yield app
    _drop_own_redis_keys(redis_url, key_prefix)


def _limiter_uri(redis_url: str) -> str:
    from agency.redis_conn import limiter_storage_uri

    return limiter_storage_uri(redis_url)


def _drop_own_redis_keys(redis_url: str, prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter(match=prefix + "*", count=500):
        r.delete(key)


@pytest.fixture
def db(app):
    """A session joined to an outer transaction that is rolled back after the test."""
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        original = _db.session
        _db.session = scoped_session(
            # Objects made in a test stay readable after the app commits: once a request
            # has ended, its tenant is gone and RLS would hide the reload.
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                         expire_on_commit=False)
        )
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            clear_tenant()
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def mail(app):
    box = app.extensions["relais_mail_memory"]
    box.clear()
    return box


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """A test that opens a connection off this machine fails."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith(("127.", "/")) or host in ("localhost", "::1")
        ):
            raise RuntimeError(f"tests may not reach the network ({host})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _reset_limits(app, redis_url, key_prefix):
    """Rate-limit counters start at zero in every test (only this run's keys are touched)."""
    yield
    import redis

    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter(match=f"*{key_prefix}limits*", count=500):
        r.delete(key)
