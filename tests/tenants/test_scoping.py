"""The ORM half of tenant isolation: scoped reads, refused foreign writes, fail-closed."""

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from agency.clients.models import Client, Contact
from tenants.context import tenant_scope
from tenants.models import Agency
from tenants.scoping import TenantViolation, tenant_get, tenant_get_or_none
from tests.factories import make_world


def test_queries_see_only_the_current_agency(db):
    a, b = make_world("Alpha"), make_world("Beta")
    with tenant_scope(a.agency.id):
        names = set(db.session.scalars(select(Client.name)))
        assert names == {"Alpha Boulangerie", "Alpha Garage"}
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
        assert db.session.scalars(select(Agency)).all() == [a.agency]
    with tenant_scope(b.agency.id):
        assert set(db.session.scalars(select(Client.name))) == {"Beta Boulangerie",
                                                                 "Beta Garage"}


def test_no_tenant_sees_nothing(db):
    make_world("Alpha")
    with tenant_scope(None):
        assert db.session.scalars(select(Client)).all() == []
        assert db.session.scalars(select(Agency)).all() == []


def test_tenant_get_answers_404_for_foreign_and_missing_ids(app, db):
    a, b = make_world("Alpha"), make_world("Beta")
    with app.test_request_context(), tenant_scope(b.agency.id):
        assert tenant_get_or_none(Client, a.client.id) is None
        assert tenant_get_or_none(Client, "not-a-uuid") is None
        with pytest.raises(NotFound):
            tenant_get(Client, a.client.id)
        assert tenant_get(Client, b.client.id) == b.client


def test_identity_map_cannot_leak_a_foreign_object(db):
    a, b = make_world("Alpha"), make_world("Beta")
    # a.client is in the session's identity map; a scoped lookup must still miss it.
    with tenant_scope(b.agency.id):
        assert tenant_get_or_none(Client, a.client.id) is None


def test_writing_into_another_agency_is_refused(db):
    a, b = make_world("Alpha"), make_world("Beta")
    with tenant_scope(b.agency.id):
        db.session.add(Client(agency_id=a.agency.id, name="Intrus"))
        with pytest.raises(TenantViolation):
            db.session.flush()
        db.session.rollback()


def test_new_rows_take_the_current_agency(db):
    a = make_world("Alpha")
    with tenant_scope(a.agency.id):
        client = Client(name="Sans agence explicite")
        db.session.add(client)
        db.session.flush()
        assert client.agency_id == a.agency.id


def test_updates_and_deletes_are_scoped(db):
    from sqlalchemy import update

    a, b = make_world("Alpha"), make_world("Beta")
    with tenant_scope(b.agency.id):
        db.session.execute(update(Client).values(brand_tone="changé"))
    with tenant_scope(a.agency.id):
        tones = set(db.session.scalars(select(Client.brand_tone)))
        assert "changé" not in tones


def test_composite_keys_forbid_pointing_into_another_agency(db):
    """Even bypassing the ORM checks, a contact cannot reference another agency's client."""
    from sqlalchemy.exc import IntegrityError

    a, b = make_world("Alpha"), make_world("Beta")
    with tenant_scope(b.agency.id):
        savepoint = db.session.begin_nested()
        db.session.add(Contact(agency_id=b.agency.id, client_id=a.client.id, name="X"))
        with pytest.raises(IntegrityError):
            db.session.flush()
        savepoint.rollback()


def test_code_never_calls_session_get_on_tenant_models(app):
    """``session.get`` skips the tenant filter (identity map): tenant rows never use it."""
    from agency.extensions import db as _db
    from tenants.models import Agency
    from tenants.scoping import TenantMixin

    tenant_models = {m.class_.__name__ for m in _db.Model.registry.mappers
                     if issubclass(m.class_, TenantMixin)} | {Agency.__name__}
    offenders = []
    for root in ("agency", "tenants", "billing"):
        for path in Path(root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "get" and node.args
                        and ast.unparse(node.func.value).endswith("session")
                        and ast.unparse(node.args[0]) in tenant_models):
                    offenders.append(f"{path}:{node.lineno}")
    assert offenders == []
