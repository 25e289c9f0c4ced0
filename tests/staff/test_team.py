from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agency.audit.services import Action
from agency.auth.models import User
from agency.extensions import db
from tenants.context import tenant_scope
from tenants.models import Invitation, Membership
from tenants.roles import Role
from tests.auth.helpers import actions, committed_world, is_signed_in
from tests.factories import PASSWORD, UserFactory, login

LINK = re.compile(r"http://relais\.test(/invitations/\S+)")
GOOD = "Mieux vaut tard que jamais"


@pytest.fixture
def world(db):
    return committed_world()


def _invitations(agency_id) -> list[Invitation]:
    with tenant_scope(agency_id):
        db.session.expire_all()
        return list(db.session.scalars(select(Invitation)))


def _role(agency_id, membership_id) -> Role | None:
    with tenant_scope(agency_id):
        db.session.expire_all()
        return db.session.scalars(
            select(Membership.role).where(Membership.id == membership_id)).one_or_none()


def test_every_member_sees_the_team_but_only_inviters_get_the_form(client, world):
    login(client, world.member)
    response = client.get("/team")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for person in (world.owner, world.admin, world.manager, world.member):
        assert person.email in page
    assert "Owner" in page and "Administrator" in page
    assert 'action="/team/invitations"' not in page
    assert "/role" not in page


@pytest.mark.parametrize("who", ["member", "manager"])
def test_people_without_the_permission_cannot_invite_or_manage(client, world, who):
    login(client, getattr(world, who))
    assert client.post("/team/invitations", data={"email": "x@example.test",
                                                  "role": "member"}).status_code == 403
    path = f"/team/members/{world.member.id}/role"
    assert client.post(path, data={"role": "manager"}).status_code == 403
    assert client.post(f"/team/members/{world.member.id}/remove").status_code == 403
    assert _invitations(world.agency_id) == []


def test_inviting_sends_a_link_that_lets_the_person_join_with_the_role(app, client, world,
                                                                       mail):
    login(client, world.admin)
    response = client.post("/team/invitations",
                           data={"email": "Nouveau@Example.test", "role": "manager"})
    assert response.status_code == 302
    [invitation] = _invitations(world.agency_id)
    assert (invitation.email, invitation.role) == ("nouveau@example.test", Role.MANAGER)
    assert Action.INVITATION_SENT in actions(world.agency_id)

    [message] = mail
    assert message.to == "nouveau@example.test"
    assert world.agency_name in message.subject
    assert world.agency_name in message.text
    path = LINK.search(message.text).group(1)

    page = client.get("/team").get_data(as_text=True)
    assert "nouveau@example.test" in page and "Pending invitations" in page

    newcomer = app.test_client()
    response = newcomer.post(path, data={"name": "Nouveau", "password": GOOD, "confirm": GOOD})
    assert response.status_code == 302
    assert is_signed_in(newcomer)
    with tenant_scope(world.agency_id):
        roles = list(db.session.scalars(
            select(Membership.role).join(User, User.id == Membership.user_id)
            .where(User.email == "nouveau@example.test")))
    assert roles == [Role.MANAGER]


def test_an_admin_cannot_invite_an_owner(client, world, mail):
    login(client, world.admin)
    page = client.get("/team").get_data(as_text=True)
    invite_form = page.split('action="/team/invitations"')[1].split("</form>")[0]
    assert 'value="owner"' not in invite_form and 'value="admin"' in invite_form

    response = client.post("/team/invitations",
                           data={"email": "boss@example.test", "role": "owner"})
    assert response.status_code == 422
    assert 'id="role-error"' in response.get_data(as_text=True)
    assert _invitations(world.agency_id) == []
    assert mail == []


def test_an_owner_can_invite_an_owner(client, world, mail):
    login(client, world.owner)
    response = client.post("/team/invitations",
                           data={"email": "partner@example.test", "role": "owner"})
    assert response.status_code == 302
    assert [i.role for i in _invitations(world.agency_id)] == [Role.OWNER]


def test_inviting_someone_already_in_the_team_is_refused_on_the_field(client, world, mail):
    login(client, world.owner)
    response = client.post("/team/invitations",
                           data={"email": world.member.email, "role": "member"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="email-error"' in page and "already in your team" in page
    assert _invitations(world.agency_id) == [] and mail == []


def test_an_invalid_email_is_refused(client, world):
    login(client, world.owner)
    response = client.post("/team/invitations", data={"email": "nope", "role": "member"})
    assert response.status_code == 422
    assert _invitations(world.agency_id) == []


def test_invitation_mail_uses_the_recipient_s_language(client, world, mail):
    other = UserFactory(email="english@example.test", locale="en")
    assert other.locale == "en"
    db.session.commit()
    login(client, world.owner)
    assert client.post("/team/invitations", data={"email": "english@example.test",
                                                  "role": "member"}).status_code == 302
    client.post("/team/invitations", data={"email": "french@example.test", "role": "member"})
    english, french = mail
    assert "invites you to join" in english.subject
    assert "valid until" in english.text
    assert french.to == "french@example.test"


def test_a_withdrawn_invitation_link_no_longer_works(app, client, world, mail):
    login(client, world.owner)
    client.post("/team/invitations", data={"email": "late@example.test", "role": "member"})
    path = LINK.search(mail[0].text).group(1)
    [invitation] = _invitations(world.agency_id)
    response = client.post(f"/team/invitations/{invitation.id}/revoke")
    assert response.status_code == 302
    assert _invitations(world.agency_id)[0].revoked_at is not None
    assert Action.INVITATION_REVOKED in actions(world.agency_id)
    assert app.test_client().get(path).status_code == 400
    page = client.get("/team").get_data(as_text=True)
    assert "late@example.test" not in page.split("Pending invitations")[1]


def test_changing_a_role(client, world):
    login(client, world.owner)
    response = client.post(f"/team/members/{world.member.id}/role", data={"role": "manager"})
    assert response.status_code == 302
    assert _role(world.agency_id, world.member.id) == Role.MANAGER
    assert Action.ROLE_CHANGED in actions(world.agency_id)


def test_the_last_owner_cannot_be_demoted(client, world):
    login(client, world.owner)
    response = client.post(f"/team/members/{world.owner.id}/role", data={"role": "admin"})
    assert response.status_code == 422
    assert "at least one owner" in response.get_data(as_text=True)
    assert _role(world.agency_id, world.owner.id) == Role.OWNER
    assert Action.ROLE_CHANGED not in actions(world.agency_id)


def test_the_last_owner_cannot_be_removed(client, world):
    login(client, world.owner)
    response = client.post(f"/team/members/{world.owner.id}/remove")
    assert response.status_code == 422
    assert _role(world.agency_id, world.owner.id) == Role.OWNER


def test_an_admin_cannot_touch_an_owner_or_make_one(client, world):
    login(client, world.admin)
    response = client.post(f"/team/members/{world.owner.id}/role", data={"role": "member"})
    assert response.status_code == 422
    assert _role(world.agency_id, world.owner.id) == Role.OWNER
    response = client.post(f"/team/members/{world.member.id}/role", data={"role": "owner"})
    assert response.status_code == 422
    assert _role(world.agency_id, world.member.id) == Role.MEMBER
    assert client.post(f"/team/members/{world.owner.id}/remove").status_code == 422


def test_removing_a_member_signs_them_out_of_the_agency(app, client, world):
    removed = app.test_client()
    login(removed, world.member)
    assert is_signed_in(removed)
    login(client, world.admin)
    response = client.post(f"/team/members/{world.member.id}/remove")
    assert response.status_code == 302
    assert _role(world.agency_id, world.member.id) is None
    assert Action.MEMBER_REMOVED in actions(world.agency_id)
    assert not is_signed_in(removed)
    response = removed.post("/login", data={"email": world.member.email, "password": PASSWORD})
    assert "not part of any agency" in response.get_data(as_text=True)


def test_a_second_owner_lets_the_first_step_down(client, world):
    login(client, world.owner)
    client.post(f"/team/members/{world.admin.id}/role", data={"role": "owner"})
    response = client.post(f"/team/members/{world.owner.id}/role", data={"role": "admin"})
    assert response.status_code == 302
    assert _role(world.agency_id, world.owner.id) == Role.ADMIN
