"""The tenant sweep, generated from ``app.url_map``.

Every route that takes an id, HTML and API, every method, must answer 404 to a user of
another agency and to a member not assigned to the client, exactly as for an id that
does not exist; every route that is not explicitly public must refuse anonymous
visitors. A new route whose parameters this file cannot map fails the sweep, so a route
cannot be added without deciding how its isolation is tested.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from agency.auth.models import UserSession
from agency.auth.services import invite
from agency.clients.models import Client, Contact
from agency.clients.services import create_contact
from tenants.context import tenant_scope
from tenants.models import Invitation, Membership
from tenants.roles import Role
from tests.factories import World, login, make_world

SKIPPED_METHODS = {"HEAD", "OPTIONS"}

# Reachable without signing in, on purpose. Each is covered by its own tests.
PUBLIC_ENDPOINTS = {
    "static",
    "main.home",
    "main.set_language",
    "main.healthz",
    "auth.login",
    "auth.choose_agency",
    "auth.signup",
    "auth.forgot_password",
    "auth.reset_password",
    "auth.accept_invitation",
    "notifications.outbox",
    "api.openapi_json",
}

# Routes whose parameter is a signed token, not an id: the token *is* the authority.
# Expired, tampered and replayed tokens are tested in tests/auth.
SIGNED_LINK_ENDPOINTS = {"auth.reset_password", "auth.accept_invitation"}


@dataclass
class Ids:
    client_id: uuid.UUID
    contact_id: uuid.UUID
    membership_id: uuid.UUID
    invitation_id: uuid.UUID
    token_id: uuid.UUID
    session_id: uuid.UUID


def _ids(world: World, client: Client, contact: Contact, session_id: uuid.UUID,
         db) -> Ids:
    from agency.auth.models import ApiToken

    with tenant_scope(world.agency.id):
        token_id = db.session.scalars(select(ApiToken.id)).first()
        invitation_id = db.session.scalars(select(Invitation.id)).first()
    return Ids(client.id, contact.id, world.member.id, invitation_id, token_id, session_id)


@pytest.fixture
def worlds(app, db, client):
    a, b = make_world("Alpha"), make_world("Beta")
    with app.test_request_context(), tenant_scope(a.agency.id):
        invite(a.owner, "newcomer@alpha.test", Role.MEMBER)
        other_contact = create_contact(a.other_client, {"name": "Léa"})
    # A server-side session of Alpha's owner, to aim Beta's requests at.
    other = app.test_client()
    login(other, a.owner)
    session_id = db.session.scalars(
        select(UserSession.id).where(UserSession.user_id == a.owner.user_id)
    ).first()
    db.session.flush()
    return a, b, other_contact, session_id


def _rules(app):
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) - SKIPPED_METHODS)
        yield rule, methods


def _is_api(rule) -> bool:
    return rule.rule.startswith("/api/")


def _snapshot(db, agency_id):
    with tenant_scope(agency_id):
        return {
            "clients": sorted((c.name, c.archived_at is None, c.brand_tone)
                              for c in db.session.scalars(select(Client))),
            "contacts": sorted((c.name, c.email, c.approves_posts)
                               for c in db.session.scalars(select(Contact))),
            "memberships": sorted((str(m.id), m.role.value)
                                  for m in db.session.scalars(select(Membership))),
            "invitations": sorted((i.email, i.revoked_at is None)
                                  for i in db.session.scalars(select(Invitation))),
            "sessions": db.session.scalar(
                select(func.count()).select_from(UserSession)
                .where(UserSession.user_id.in_(select(Membership.user_id)))
            ),
        }


def _call(http, method, url, api_token=None):
    headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
    kwargs = {"headers": headers}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json" if api_token else "data"] = {}
    return http.open(url, method=method, **kwargs)


def test_every_route_with_a_parameter_is_mapped(app):
    mappable = set(Ids.__dataclass_fields__)
    unmapped = []
    for rule, _ in _rules(app):
        if rule.endpoint == "static" or rule.endpoint in SIGNED_LINK_ENDPOINTS:
            continue
        unknown = set(rule.arguments) - mappable
        if unknown:
            unmapped.append(f"{rule.rule} ({', '.join(sorted(unknown))})")
    assert unmapped == [], "add these parameters to the tenant sweep"


def test_foreign_ids_answer_404_everywhere(app, db, client, worlds):
    a, b, _, session_id = worlds
    ids = _ids(a, a.client, a.contact, session_id, db)
    login(client, b.owner)
    before = _snapshot(db, a.agency.id)
    checked = 0
    for rule, methods in _rules(app):
        if (rule.endpoint in SIGNED_LINK_ENDPOINTS or rule.endpoint == "static"
                or not rule.arguments):
            continue
        values = {name: getattr(ids, name) for name in rule.arguments}
        url = app.url_map.bind("relais.test").build(rule.endpoint, values)
        for method in methods:
            token = b.token if _is_api(rule) else None
            response = _call(client, method, url, api_token=token)
            assert response.status_code == 404, f"{method} {rule.rule} -> {response.status_code}"
            checked += 1
    assert checked > 0
    assert _snapshot(db, a.agency.id) == before


def test_unassigned_member_gets_404_on_client_routes(app, db, client, worlds):
    a, _, other_contact, session_id = worlds
    ids = _ids(a, a.other_client, other_contact, session_id, db)
    login(client, a.member)
    from agency.auth.services import create_api_token

    with app.test_request_context(), tenant_scope(a.agency.id):
        _, member_token = create_api_token(a.member, "sweep")
    before = _snapshot(db, a.agency.id)
    checked = 0
    for rule, methods in _rules(app):
        if "client_id" not in rule.arguments:
            continue
        values = {name: getattr(ids, name) for name in rule.arguments}
        url = app.url_map.bind("relais.test").build(rule.endpoint, values)
        for method in methods:
            token = member_token if _is_api(rule) else None
            response = _call(client, method, url, api_token=token)
            assert response.status_code == 404, f"{method} {rule.rule} -> {response.status_code}"
            checked += 1
    assert checked > 0
    assert _snapshot(db, a.agency.id) == before


def test_anonymous_visitors_are_refused(app, db, worlds):
    a, _, _, session_id = worlds
    ids = _ids(a, a.client, a.contact, session_id, db)
    anonymous = app.test_client()
    for rule, methods in _rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        values = {name: getattr(ids, name) for name in rule.arguments}
        url = app.url_map.bind("relais.test").build(rule.endpoint, values)
        for method in methods:
            response = _call(anonymous, method, url)
            if _is_api(rule):
                assert response.status_code == 401, f"{method} {rule.rule}"
            else:
                assert response.status_code in (302, 401), f"{method} {rule.rule}"
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"], f"{method} {rule.rule}"


def test_public_endpoints_exist(app):
    """The public list names real endpoints only (a renamed one must be re-reviewed)."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert PUBLIC_ENDPOINTS - endpoints == set()
