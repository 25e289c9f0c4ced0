"""Assigning staff to a client, and what it changes for a member."""

from __future__ import annotations

import uuid

import pytest

from tests.clients.helpers import page, reduce_world, shows
from tests.factories import login, make_world


def test_staff_page_lists_the_team_and_explains_roles(client, world):
    login(client, world.manager)
    response = client.get(f"/clients/{world.client_id}/staff")
    html = page(response)
    assert response.status_code == 200
    for person in (world.owner, world.admin, world.manager, world.member):
        assert shows(response, person.email)
        assert f'value="{person.id}"' in html
    assert "see every client anyway" in html
    member_box = html.split(f'value="{world.member.id}"')[1].split(">")[0]
    assert "checked" in member_box  # the member is assigned in make_world
    manager_box = html.split(f'value="{world.manager.id}"')[1].split(">")[0]
    assert "checked" not in manager_box


def test_assigning_and_unassigning_changes_what_the_member_sees(app, client, world, read):
    login(client, world.manager)
    url = f"/clients/{world.other_client_id}/staff"
    response = client.post(url, data={"staff": [str(world.member.id), str(world.admin.id)]})
    assert response.status_code == 303
    assert read.assigned(world.other_client_id) == {world.member.id, world.admin.id}
    assert len(read.audit("client.staff_changed", world.other_client_id)) == 1

    member = app.test_client()
    login(member, world.member)
    assert shows(member.get("/clients"), world.other_client_name)
    assert member.get(f"/clients/{world.other_client_id}").status_code == 200

    assert client.post(url, data={}).status_code == 303  # every box unticked
    assert read.assigned(world.other_client_id) == set()
    assert not shows(member.get("/clients"), world.other_client_name)
    assert member.get(f"/clients/{world.other_client_id}").status_code == 404


def test_saving_the_same_staff_twice_records_one_change(client, world, read):
    login(client, world.manager)
    url = f"/clients/{world.other_client_id}/staff"
    for _ in range(2):
        assert client.post(url, data={"staff": [str(world.member.id)]}).status_code == 303
    assert len(read.audit("client.staff_changed", world.other_client_id)) == 1


@pytest.mark.parametrize("bad", ["not-a-uuid", str(uuid.uuid4())])
def test_unknown_team_member_is_refused(client, world, read, bad):
    login(client, world.manager)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/staff",
                           data={"staff": [str(world.manager.id), bad]})
    assert response.status_code == 422
    assert "Unknown team member." in page(response)
    assert 'id="staff-error"' in page(response)
    assert read.state() == before


def test_member_of_another_agency_cannot_be_assigned(client, world, read):
    foreign = reduce_world(make_world("Beta")).member
    login(client, world.manager)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/staff",
                           data={"staff": [str(foreign.id)]})
    assert response.status_code == 422
    assert read.state() == before


def test_member_cannot_assign_staff(client, world, read):
    login(client, world.member)
    before = read.state()
    url = f"/clients/{world.client_id}/staff"
    assert client.get(url).status_code == 403
    assert client.post(url, data={"staff": [str(world.member.id)]}).status_code == 403
    assert read.state() == before
