from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.audit.services import Action
from agency.auth.models import User
from agency.auth.services import invite, revoke_invitation
from agency.extensions import db
from tenants.context import set_tenant, tenant_scope
from tenants.models import Invitation, Membership
from tenants.roles import Role
from tests.auth.helpers import actions, committed_world, is_signed_in
from tests.factories import PASSWORD

GOOD = "Sous les pavés, la plage"


@pytest.fixture
def world(db):
    return committed_world()


def _invite(app, world, email="newcomer@example.test", role=Role.MANAGER):
    with app.test_request_context(), tenant_scope(world.agency_id):
        inviter = db.session.scalars(
            select(Membership).where(Membership.id == world.owner.id)).one()
        invitation, token = invite(inviter, email, role)
        invitation_id = invitation.id
        db.session.commit()
    set_tenant(None)
    return invitation_id, f"/invitations/{token}"


def test_accepting_creates_the_account_and_membership_with_the_role(app, client, world):
    agency_id = world.agency_id
    invitation_id, path = _invite(app, world)
    page = client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Agence Alpha" in text and "Manager" in text and 'name="name"' in text

    response = client.post(path, data={"name": "Nina", "password": GOOD, "confirm": GOOD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/clients")
    assert is_signed_in(client)
    user = db.session.scalars(select(User).where(User.email == "newcomer@example.test")).one()
    with tenant_scope(agency_id):
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == user.id)).one()
        assert membership.role == Role.MANAGER
        invitation = db.session.scalars(
            select(Invitation).where(Invitation.id == invitation_id)).one()
        assert invitation.accepted_at is not None
    assert Action.INVITATION_ACCEPTED in actions(agency_id)

    # Accepted: the link is spent.
    assert app.test_client().get(path).status_code == 400


def test_an_existing_account_joins_with_its_password_only(app, client, db):
    alpha, beta = committed_world("Alpha"), committed_world("Beta")
    beta_id, email = beta.agency_id, alpha.manager.email
    _, path = _invite(app, beta, email=email, role=Role.MEMBER)
    text = client.get(path).get_data(as_text=True)
    assert 'name="name"' not in text and "already has a Relais account" in text

    response = client.post(path, data={"password": "not my password at all"})
    assert response.status_code == 422
    assert 'id="password-error"' in response.get_data(as_text=True)
    assert not is_signed_in(client)

    response = client.post(path, data={"password": PASSWORD})
    assert response.status_code == 302
    with client.session_transaction() as cookie_session:
        assert cookie_session["agency_id"] == str(beta_id)
    with tenant_scope(beta_id):
        roles = [m.role for m in db.session.scalars(select(Membership)
                                                    .join(User, User.id == Membership.user_id)
                                                    .where(User.email == email))]
    assert roles == [Role.MEMBER]


def test_an_expired_invitation_answers_410(app, client, world):
    invitation_id, path = _invite(app, world)
    with tenant_scope(world.agency_id):
        invitation = db.session.scalars(
            select(Invitation).where(Invitation.id == invitation_id)).one()
        invitation.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    response = client.post(path, data={"name": "Nina", "password": GOOD, "confirm": GOOD})
    assert response.status_code == 410
    assert db.session.scalars(
        select(User).where(User.email == "newcomer@example.test")).one_or_none() is None


def test_an_invitation_older_than_its_max_age_answers_410(app, client, world, monkeypatch):
    _, path = _invite(app, world)
    monkeypatch.setitem(app.config, "INVITATION_MAX_AGE", -1)
    assert client.get(path).status_code == 410


def test_a_tampered_invitation_answers_400(app, client, world):
    _, path = _invite(app, world)
    tampered = path[:-4] + ("AAAA" if not path.endswith("AAAA") else "BBBB")
    assert client.get(tampered).status_code == 400
    assert client.post(tampered, data={"name": "N", "password": GOOD,
                                       "confirm": GOOD}).status_code == 400
    assert client.get("/invitations/nonsense").status_code == 400


def test_a_revoked_invitation_answers_400(app, client, world):
    invitation_id, path = _invite(app, world)
    with app.test_request_context(), tenant_scope(world.agency_id):
        revoke_invitation(db.session.scalars(
            select(Invitation).where(Invitation.id == invitation_id)).one())
        db.session.commit()
    set_tenant(None)
    assert client.get(path).status_code == 400


def test_weak_password_on_acceptance_writes_nothing(app, client, world):
    _, path = _invite(app, world)
    response = client.post(path, data={"name": "Nina", "password": "password1234",
                                       "confirm": "password1234"})
    assert response.status_code == 422
    assert "too common" in response.get_data(as_text=True)
    assert db.session.scalars(
        select(User).where(User.email == "newcomer@example.test")).one_or_none() is None
    assert client.get(path).status_code == 200  # still usable
