"""Sending posts for approval, the client's approval settings, and social accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from agency.clients.models import Client, Contact
from agency.clients.services import create_contact
from agency.extensions import db
from agency.networks.models import SocialAccount
from tenants.context import tenant_scope
from tests.content.helpers import make_post, page
from tests.factories import login


def _awaiting(world, **kwargs):
    return make_post(world, policy="client", submit=True, **kwargs)


def _second_approver(world):
    with tenant_scope(world.agency_id):
        client = db.session.scalars(select(Client).where(Client.id == world.client_id)).one()
        create_contact(client, {"name": "Marc", "email": "marc@alpha.test",
                                "approves_posts": True})
        create_contact(client, {"name": "Compta", "email": "compta@alpha.test"})
        db.session.flush()


def test_send_for_approval_mails_each_approving_contact(client, world, read, mail):
    _second_approver(world)
    first, second = _awaiting(world, text="Un"), _awaiting(world, text="Deux")
    login(client, world.member)
    listing = page(client.get(f"/clients/{world.client_id}/posts"))
    assert "Send for approval" in listing
    url = f"/clients/{world.client_id}/approvals/new"
    form = page(client.get(url))
    assert form.count('name="post_ids"') == 2 and form.count(" checked") == 2
    assert "Sophie" in form and "Marc" in form and "Compta" not in form
    response = client.post(url, data=MultiDict([("post_ids", str(first)),
                                                ("post_ids", str(second))]))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client_id}/posts")
    assert sorted(m.to for m in mail) == ["marc@alpha.test", "sophie@agence-alpha.test"]
    assert all("/a/" in m.text for m in mail)
    [request] = read.requests()
    assert {i.post_id for i in read.items(request.id)} == {first, second}
    # In development the links are shown once on the page the sender lands on.
    landed = page(client.get(response.headers["Location"]))
    assert "development only" in landed
    assert landed.count('href="http://relais.test/a/') == 2
    assert "/a/" not in page(client.get(response.headers["Location"]))


def test_the_links_are_not_shown_outside_development(client, world, app, mail):
    post_id = _awaiting(world)
    login(client, world.member)
    app.config["SHOW_DEV_OUTBOX"] = False
    try:
        response = client.post(f"/clients/{world.client_id}/approvals/new",
                               data={"post_ids": str(post_id)})
        assert response.status_code == 303
        assert "/a/" not in page(client.get(response.headers["Location"]))
    finally:
        app.config["SHOW_DEV_OUTBOX"] = True
    assert len(mail) == 1


def test_only_some_posts_can_be_sent(client, world, read, mail):
    first, second = _awaiting(world), _awaiting(world)
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/approvals/new",
                           data={"post_ids": str(second)})
    assert response.status_code == 303
    [request] = read.requests()
    assert [i.post_id for i in read.items(request.id)] == [second]
    assert first != second


def test_posts_of_another_client_cannot_be_included(client, world, read, mail):
    mine = _awaiting(world)
    theirs = _awaiting(world, client_id=world.other_client_id,
                       targets=[world.other_sandbox_id])
    login(client, world.manager)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/approvals/new",
                           data=MultiDict([("post_ids", str(mine)), ("post_ids", str(theirs))]))
    assert response.status_code == 422
    assert "not this client" in page(response)
    assert read.state() == before and mail == []
    login(client, world.member)
    assert client.get(f"/clients/{world.other_client_id}/approvals/new").status_code == 404


def test_a_draft_cannot_be_sent(client, world, read, mail):
    draft = make_post(world)
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/approvals/new",
                           data={"post_ids": str(draft)})
    assert response.status_code == 422
    assert read.requests() == [] and mail == []


def test_without_an_approving_contact_the_refusal_says_what_to_do(client, world, read, mail):
    post_id = _awaiting(world)
    with tenant_scope(world.agency_id):
        db.session.scalars(select(Contact).where(Contact.id == world.contact_id)).one() \
            .approves_posts = False
        db.session.flush()
    login(client, world.member)
    url = f"/clients/{world.client_id}/approvals/new"
    assert "no contact who approves posts" in page(client.get(url))
    response = client.post(url, data={"post_ids": str(post_id)})
    assert response.status_code == 422
    assert "This client has no contact who approves posts. Add one first." in page(response)
    assert read.requests() == [] and mail == []


def test_the_next_seven_days_filter(client, world):
    soon = _awaiting(world, scheduled_at=datetime.now(UTC) + timedelta(days=2))
    later = _awaiting(world, scheduled_at=datetime.now(UTC) + timedelta(days=20))
    login(client, world.member)
    html = page(client.get(f"/clients/{world.client_id}/approvals/new?within=7"))
    assert str(soon) in html and str(later) not in html


def test_the_posts_list_filters_by_status_soonest_first(client, world):
    late = make_post(world, text="Plus tard",
                     scheduled_at=datetime.now(UTC) + timedelta(days=30))
    early = _awaiting(world, text="Bientôt",
                      scheduled_at=datetime.now(UTC) + timedelta(days=3))
    login(client, world.member)
    html = page(client.get(f"/clients/{world.client_id}/posts"))
    assert html.index(str(early)) < html.index(str(late))
    assert "status-awaiting_client" in html and "status-draft" in html
    assert "Boulangerie Sandbox" in html  # the targets, by account name
    filtered = page(client.get(f"/clients/{world.client_id}/posts?status=draft"))
    assert str(late) in filtered and str(early) not in filtered
    assert client.get(f"/clients/{world.other_client_id}/posts").status_code == 404


def test_approval_settings(client, world, read):
    login(client, world.manager)
    url = f"/clients/{world.client_id}/approval-settings"
    assert 'value="168"' in page(client.get(url))
    data = {"policy": "internal_then_client", "link_hours": "48",
            "reminder_after_hours": "24", "escalate_after_hours": "40"}
    response = client.post(url, data=data)
    assert response.status_code == 303
    saved = read.client(world.client_id)
    assert (saved.approval_policy, saved.approval_link_hours, saved.reminder_after_hours,
            saved.escalate_after_hours, saved.auto_approve_at_deadline) == (
        "internal_then_client", 48, 24, 40, False)
    assert len(read.audit("client.approval_settings_changed")) == 1


def test_approval_settings_refuse_bad_values(client, world, read):
    login(client, world.manager)
    url = f"/clients/{world.client_id}/approval-settings"
    before = read.state()
    for bad in ({"link_hours": "0"}, {"link_hours": "721"}, {"policy": "whatever"}):
        data = {"policy": "client", "link_hours": "48", "reminder_after_hours": "24",
                "escalate_after_hours": "40", **bad}
        assert client.post(url, data=data).status_code == 422
    assert read.state() == before
    assert read.client(world.client_id).approval_link_hours == 168


def test_automatic_approval_needs_the_name_of_who_agreed(client, world, read):
    login(client, world.manager)
    url = f"/clients/{world.client_id}/approval-settings"
    data = {"policy": "client", "link_hours": "72", "reminder_after_hours": "24",
            "escalate_after_hours": "48", "auto_approve": "y"}
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "write the name of the contact who agreed" in page(response)
    assert read.client(world.client_id).auto_approve_at_deadline is False
    assert client.post(url, data={**data, "agreed_by": "Sophie"}).status_code == 303
    saved = read.client(world.client_id)
    assert (saved.auto_approve_at_deadline, saved.auto_approve_opted_in_by) == (True, "Sophie")
    assert saved.auto_approve_opted_in_at is not None
    assert "with the agreement of Sophie" in page(client.get(url))
    data.pop("auto_approve")
    assert client.post(url, data=data).status_code == 303
    saved = read.client(world.client_id)
    assert (saved.auto_approve_at_deadline, saved.auto_approve_opted_in_by,
            saved.auto_approve_opted_in_at) == (False, "", None)


def test_add_a_sandbox_account(client, world, read):
    login(client, world.member)
    url = f"/clients/{world.client_id}/accounts"
    response = client.post(url, data={"network": "sandbox", "display_name": "Vitrine",
                                      "handle": "@vitrine"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client_id}#accounts")
    names = {a.display_name for a in read.all(
        select(SocialAccount).where(SocialAccount.client_id == world.client_id))}
    assert "Vitrine" in names
    before = read.state()
    refused = client.post(url, data={"network": "x", "display_name": "Pas encore"})
    assert refused.status_code == 422
    assert "connected through its own sign-in" in page(refused)
    assert client.post(url, data={"network": "sandbox", "display_name": ""}).status_code == 422
    assert read.state() == before
    assert client.post(f"/clients/{world.other_client_id}/accounts",
                       data={"display_name": "Non"}).status_code == 404


def test_the_accounts_section_of_the_client_page(app, client, world):
    login(client, world.member)
    with app.test_request_context():
        from flask import g, render_template_string

        from tenants.models import Membership

        with tenant_scope(world.agency_id):
            g.membership = db.session.scalars(
                select(Membership).where(Membership.id == world.member.id)).one()
            client_row = db.session.scalars(
                select(Client).where(Client.id == world.client_id)).one()
            html = render_template_string('{% include "clients/_accounts.html" %}',
                                          client=client_row)
    assert "Boulangerie Sandbox" in html and "Boulangerie X" in html
    assert f'action="/clients/{world.client_id}/accounts"' in html


def test_a_member_cannot_change_how_posts_get_approved(client, world):
    """Setting the policy to "none" would let posts out unreviewed: managers and above."""
    login(client, world.member)
    url = f"/clients/{world.client_id}/approval-settings"
    assert client.get(url).status_code == 403
    response = client.post(url, data={"policy": "none", "link_hours": "168",
                                      "reminder_after_hours": "24", "escalate_after_hours": "48"})
    assert response.status_code == 403
