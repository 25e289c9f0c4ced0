"""The PostgreSQL half of tenant isolation: row-level security under the app's role."""

import os
import random
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from agency.config import normalise_database_url

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def app_engine(app):
    engine = create_engine(normalise_database_url(os.environ["DATABASE_URL"]),
                           pool_size=3, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def owner_engine(app):
    engine = create_engine(normalise_database_url(os.environ["MIGRATION_DATABASE_URL"]))
    yield engine
    engine.dispose()


def _as(conn, agency_id):
    conn.execute(text("SELECT set_config('app.agency_id', :a, true)"), {"a": str(agency_id)})


@pytest.fixture(scope="module")
def two_agencies(app_engine, owner_engine):
    """Two committed agencies with clients, made and removed by this module alone."""
    ids = [uuid.uuid4(), uuid.uuid4()]
    for n, agency_id in enumerate(ids):
        with app_engine.begin() as conn:
            _as(conn, agency_id)
            conn.execute(text("INSERT INTO agencies (id, name) VALUES (:id, :n)"),
                         {"id": agency_id, "n": f"RLS {n}"})
            for i in range(5):
                conn.execute(
                    text("INSERT INTO clients (id, agency_id, name, timezone, language, "
                         "brand_tone, brand_words_use, brand_words_avoid, brand_hashtags) "
                         "VALUES (:id, :a, :n, 'Europe/Paris', 'fr', '', '', '', '')"),
                    {"id": uuid.uuid4(), "a": agency_id, "n": f"rls-{n}-{i}"},
                )
    yield ids
    for agency_id in ids:
        with app_engine.begin() as conn:
            _as(conn, agency_id)
            conn.execute(text("DELETE FROM clients WHERE agency_id = :a"), {"a": agency_id})
            conn.execute(text("DELETE FROM agencies WHERE id = :a"), {"a": agency_id})


def test_every_tenant_table_has_rls_enabled_and_forced(owner_engine):
    with owner_engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r'
              AND (EXISTS (SELECT 1 FROM information_schema.columns col
                           WHERE col.table_schema = n.nspname AND col.table_name = c.relname
                             AND col.column_name = 'agency_id')
                   OR c.relname = 'agencies')
        """)).all()
    assert len(rows) >= 8
    unprotected = [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity)]
    assert unprotected == []


def test_app_role_cannot_bypass_rls(app_engine):
    from tenants.rls import role_problems

    with app_engine.connect() as conn:
        assert role_problems(conn) == []
        row = conn.execute(text(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )).one()
        assert not row.rolsuper and not row.rolbypassrls


def test_no_tenant_set_sees_zero_rows(app_engine, two_agencies):
    with app_engine.connect() as conn:
        for table in ("agencies", "clients", "memberships", "contacts", "audit_events",
                      "api_tokens", "invitations", "client_assignments"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def test_cannot_insert_into_another_agency(app_engine, two_agencies):
    mine, theirs = two_agencies
    with app_engine.connect() as conn, conn.begin():
        _as(conn, mine)
        with pytest.raises(DBAPIError, match="row-level security"):
            conn.execute(
                text("INSERT INTO clients (id, agency_id, name, timezone, language, brand_tone,"
                     " brand_words_use, brand_words_avoid, brand_hashtags) VALUES "
                     "(:id, :a, 'intrus', 'Europe/Paris', 'fr', '', '', '', '')"),
                {"id": uuid.uuid4(), "a": theirs},
            )


def test_cannot_move_a_row_into_another_agency(app_engine, two_agencies):
    mine, theirs = two_agencies
    with app_engine.connect() as conn, conn.begin():
        _as(conn, mine)
        with pytest.raises(DBAPIError):
            conn.execute(text("UPDATE agencies SET id = :t WHERE id = :m"),
                         {"t": theirs, "m": mine})


def test_audit_log_is_append_only_for_the_app_role(app_engine, two_agencies):
    mine, _ = two_agencies
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with app_engine.connect() as conn, conn.begin():
            _as(conn, mine)
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(statement))


def test_tenant_setting_does_not_outlive_its_transaction(app_engine, two_agencies):
    mine, _ = two_agencies
    with app_engine.connect() as conn:
        with conn.begin():
            _as(conn, mine)
            assert conn.execute(text("SELECT count(*) FROM clients")).scalar_one() == 5
        assert conn.execute(text("SELECT count(*) FROM clients")).scalar_one() == 0


def test_alternating_tenants_over_a_small_pool_never_mix(app_engine, two_agencies):
    """5,000 transactions alternating between two agencies over 3 pooled connections."""
    rng = random.Random(42)
    expected = {agency_id: {f"rls-{n}-{i}" for i in range(5)}
                for n, agency_id in enumerate(two_agencies)}
    for _ in range(5000):
        agency_id = rng.choice(two_agencies)
        with app_engine.begin() as conn:
            _as(conn, agency_id)
            rows = conn.execute(text("SELECT agency_id, name FROM clients")).all()
        assert {r.agency_id for r in rows} == {agency_id}
        assert {r.name for r in rows} == expected[agency_id]


def test_an_owner_role_is_refused_in_production_and_warned_about_otherwise(owner_engine,
                                                                           caplog):
    from tenants.rls import UnsafeDatabaseRole, check_app_role

    with pytest.raises(UnsafeDatabaseRole, match="owns"):
        check_app_role(owner_engine, production=True)
    problems = check_app_role(owner_engine, production=False)
    assert any("owns" in p for p in problems)
    assert "UNSAFE DATABASE ROLE" in caplog.text
