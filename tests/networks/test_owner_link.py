"""Sending the SME owner a connection link: the token (its own salt, 7 days, what it
names), the staff form (who may send it, 422 on bad input, the audit), the mail (the
client's language, French by default; who sends it and why; the link), the reconnect
action per expired or expiring account, and token health mailing the approving contacts
a reconnect link once per expiry."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from agency.approvals.services import access_for_token
from agency.auth.links import LinkError
from agency.clients.models import Contact
from agency.extensions import db
from agency.networks import owner_link, registry, token_health
from agency.networks.base import AuthExpiredError, Network
from agency.networks.credentials import seal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.owner_link import LINK_MAX_AGE, Refused
from tenants.context import tenant_scope
from tests.factories import login
from tests.fakes.facebook import fake_facebook  # noqa: F401 (fixture)
from tests.networks.owner_support import (
    audit,
    email_of,
    expired_facebook_account,
    make_link,
    owner_world,
    set_client,
    text,
    with_pages,
)

FRENCH_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre")


@pytest.fixture
def world(db):
    return owner_world(db)


@pytest.fixture
def fake(fake_facebook):  # noqa: F811
    return with_pages(fake_facebook)


def send_url(world, account_id=None) -> str:
    if account_id is None:
        return f"/clients/{world.client_id}/owner-link"
    return f"/clients/{world.client_id}/accounts/{account_id}/owner-link"


def link_in(mail) -> str:
    """The path of the owner link a mail carries."""
    [url] = re.findall(r"http://relais\.test/connect/\S+", mail.text)
    return urlsplit(url).path


def parse(app, path: str) -> owner_link.OwnerLink:
    with app.test_request_context():
        return owner_link.parse(path.removeprefix("/connect/"))


# --- the token ----------------------------------------------------------------------------

def test_the_link_names_what_it_is_for_and_lasts_seven_days(app, db, world):
    assert LINK_MAX_AGE == 7 * 24 * 3600
    account_id = uuid.uuid4()
    token = make_link(app, world, ["facebook", "bluesky"], account_id=account_id)
    link = parse(app, token)
    assert (link.agency_id, link.client_id, link.contact_id) == (
        world.agency_id, world.client_id, world.contact_id)
    assert link.networks == ("facebook", "bluesky") and link.account_id == account_id
    assert len(link.jti) == 32 and link.jti != parse(app, make_link(app, world)).jti
    assert link.expires_at == link.issued_at + timedelta(days=7)
    assert parse(app, make_link(app, world, owner_link.ANY)).networks == ()

    token = make_link(app, world)
    issued = parse(app, token).issued_at
    with app.test_request_context():
        assert owner_link.resolve(token, now=issued + timedelta(days=7, seconds=-1))
        with pytest.raises(Refused) as refused:
            owner_link.resolve(token, now=issued + timedelta(days=7))
        assert (refused.value.kind, refused.value.status) == ("expired", 410)
        # Its own salt: never taken for an approval link, nor garbled ones for links.
        assert access_for_token(token) is LinkError.INVALID
        assert owner_link.parse(token[:-2] + "xx") is None
        assert owner_link.parse("") is None


# --- the staff form -----------------------------------------------------------------------

def test_the_client_page_offers_the_link(client, world):
    login(client, world.member)
    assert send_url(world) in text(client.get(f"/clients/{world.client_id}"))
    page = client.get(send_url(world))
    assert page.status_code == 200
    html = text(page)
    assert "Sophie" in html and "sophie@agence-alpha.test" in html
    assert 'value="facebook"' in html and 'value="bluesky"' in html


def test_sending_mails_the_contact_in_english_saying_who_and_why(app, client, world, fake,
                                                                 mail):
    login(client, world.member)
    answer = client.post(send_url(world), data={"contact": str(world.contact_id),
                                                "networks": ["facebook", "bluesky"]})
    assert answer.status_code == 303, text(answer)
    assert answer.headers["Location"].endswith(f"/clients/{world.client_id}#accounts")
    [sent] = mail
    assert sent.to == "sophie@agence-alpha.test"
    assert sent.subject == ("Agence Alpha asks you to connect the accounts of "
                            "Agence Alpha Boulangerie")
    assert sent.text.startswith("Hello Sophie,")
    assert f"{world.member.name}, of Agence Alpha, looks after the social media" in sent.text
    assert "(Facebook, Bluesky)" in sent.text
    assert "Neither Agence Alpha nor Relais ever sees your password" in sent.text
    path = link_in(sent)
    link = parse(app, path)
    assert link.networks == ("facebook", "bluesky") and link.contact_id == world.contact_id
    assert client.get(path).status_code == 200  # the link opens the owner's page
    [event] = audit(world.agency_id, "owner_link.sent")
    assert event.actor_user_id == world.member.user_id
    assert event.details["contact"] == str(world.contact_id)
    assert event.details["jti"] == link.jti
    assert event.details["networks"] == ["facebook", "bluesky"]
    assert path.removeprefix("/connect/") not in str(event.details)  # the link is a secret


def test_the_mail_is_in_french_by_default(app, client, world, fake, mail):
    set_client(db, world.agency_id, world.client_id, language="fr")
    login(client, world.member)
    client.post(send_url(world), data={"contact": str(world.contact_id),
                                       "networks": ["any"]})
    [sent] = mail
    assert sent.text.startswith("Bonjour Sophie,")
    assert any(month in sent.text for month in FRENCH_MONTHS)  # the link's end, in French
    assert world.member.name in sent.text
    assert parse(app, link_in(sent)).networks == ()  # any network


def test_bad_input_is_a_422_and_sends_nothing(app, client, world, fake, mail):
    from agency.clients.models import Client
    from agency.clients.services import create_contact

    with app.test_request_context(), tenant_scope(world.agency_id):
        this = db.session.scalars(select(Client).where(Client.id == world.client_id)).one()
        other = db.session.scalars(select(Client).where(
            Client.id == world.other_client_id)).one()
        no_email = create_contact(this, {"name": "Marc", "email": "", "approves_posts": False})
        elsewhere = create_contact(other, {"name": "Léa", "email": "lea@alpha.test",
                                           "approves_posts": True})
        db.session.commit()
        no_email_id, elsewhere_id = no_email.id, elsewhere.id
    login(client, world.member)
    cases = [
        ({"networks": ["facebook"]}, "Choose who receives the link."),
        ({"contact": str(world.contact_id)}, "Choose at least one network."),
        ({"contact": str(world.contact_id), "networks": ["myspace"]},
         "Choose at least one network."),
        ({"contact": str(no_email_id), "networks": ["facebook"]},
         "Marc has no e-mail address"),
        ({"contact": str(elsewhere_id), "networks": ["facebook"]},
         "Choose who receives the link."),
    ]
    for data, message in cases:
        answer = client.post(send_url(world), data=data)
        assert answer.status_code == 422, data
        assert message in text(answer), data
    assert mail == [] and audit(world.agency_id, "owner_link.sent") == []


def test_a_member_without_client_edit_gets_403(app, client, world, mail, monkeypatch):
    from tenants import roles
    from tenants.roles import Permission, Role

    table = dict(roles.ROLE_PERMISSIONS)
    table[Role.MEMBER] = table[Role.MEMBER] - {Permission.CLIENT_EDIT}
    monkeypatch.setattr(roles, "ROLE_PERMISSIONS", table)
    login(client, world.member)
    assert client.get(send_url(world)).status_code == 403
    data = {"contact": str(world.contact_id), "networks": ["bluesky"]}
    assert client.post(send_url(world), data=data).status_code == 403
    assert f"{send_url(world)}\"" not in text(client.get(f"/clients/{world.client_id}"))
    assert mail == []


def test_a_client_the_member_is_not_on_is_404(client, world, mail):
    login(client, world.member)
    answer = client.post(f"/clients/{world.other_client_id}/owner-link",
                         data={"contact": str(world.contact_id), "networks": ["bluesky"]})
    assert answer.status_code == 404 and mail == []


def test_an_archived_client_sends_nothing(client, world, mail):
    set_client(db, world.agency_id, world.client_id, archived_at=datetime.now(UTC))
    login(client, world.owner)
    answer = client.post(send_url(world), data={"contact": str(world.contact_id),
                                                "networks": ["bluesky"]})
    assert answer.status_code == 303 and mail == []


# --- reconnecting one account -------------------------------------------------------------

def test_an_expired_account_offers_a_reconnect_link(app, client, world, fake, mail):
    account_id = expired_facebook_account(app, world, fake.bakery.id, posts=0)
    login(client, world.member)
    page = text(client.get(f"/clients/{world.client_id}"))
    assert send_url(world, account_id) in page
    assert "Send the owner a reconnect link" in page

    answer = client.post(send_url(world, account_id),
                         data={"contact": str(world.contact_id)})
    assert answer.status_code == 303, text(answer)
    [sent] = mail
    assert sent.subject == "Reconnect Boulangerie Martin for Agence Alpha Boulangerie"
    assert "Boulangerie Martin (Facebook) has stopped working" in sent.text
    link = parse(app, link_in(sent))
    assert link.account_id == account_id and link.networks == ("facebook",)
    owner = app.test_client()
    assert "Reconnect Boulangerie Martin" in text(owner.get(link_in(sent)))
    [event] = audit(world.agency_id, "owner_link.sent")
    assert event.details["account"] == str(account_id)


def test_a_connected_account_offers_no_reconnect_link(app, client, world, fake):
    account_id = expired_facebook_account(app, world, fake.bakery.id, posts=0)
    with tenant_scope(world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        account.status = AccountStatus.CONNECTED
        db.session.commit()
    login(client, world.member)
    assert send_url(world, account_id) not in text(client.get(f"/clients/{world.client_id}"))


def test_another_clients_account_is_404(app, client, world, fake, mail):
    account_id = expired_facebook_account(app, world, fake.bakery.id, posts=0)
    login(client, world.owner)
    answer = client.post(f"/clients/{world.other_client_id}/accounts/{account_id}/owner-link",
                         data={"contact": str(world.contact_id)})
    assert answer.status_code == 404 and mail == []


# --- token health -------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = 24 * 3600


def facebook_account(app, world, credentials: dict) -> uuid.UUID:
    with app.test_request_context(), tenant_scope(world.agency_id):
        account = SocialAccount(client_id=world.client_id, network="facebook",
                                display_name="Boulangerie Martin",
                                settings={"page_id": "42", "external_id": "42"},
                                credentials=seal(credentials), status=AccountStatus.CONNECTED)
        db.session.add(account)
        db.session.commit()
        return account.id


def check(app, world, account_id, now=NOW) -> str:
    with app.test_request_context():
        return token_health.check_account(world.agency_id, account_id, now)


def by_recipient(mail) -> dict:
    return {m.to: m for m in mail}


def test_the_expiry_warning_sends_the_owner_a_reconnect_link_once(app, world, fake, mail):
    expiry = NOW.timestamp() + 10 * DAY
    account_id = facebook_account(app, world, {"page_access_token": "EAA", "refreshable": False,
                                               "expires_at": expiry})

    assert check(app, world, account_id) == token_health.Outcome.WARNED

    sent = by_recipient(mail)
    staff = email_of(world.agency_id, world.member.user_id)
    assert set(sent) == {staff, "sophie@agence-alpha.test"}
    owner = sent["sophie@agence-alpha.test"]
    assert owner.subject == "Reconnect Boulangerie Martin for Agence Alpha Boulangerie"
    assert "Boulangerie Martin (Facebook) stops working on" in owner.text
    assert "Agence Alpha looks after the social media" in owner.text  # no person: the agency
    link = parse(app, link_in(owner))
    assert link.account_id == account_id and link.contact_id == world.contact_id
    with tenant_scope(world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        assert account.settings["owner_link_sent_for"] == f"expiring:{expiry}"
    [event] = audit(world.agency_id, "owner_link.sent")
    assert event.actor_label == "Relais"

    # Once per expiry: not the next day, nor when asked again directly.
    assert check(app, world, account_id, NOW + timedelta(days=1)) == \
        token_health.Outcome.ALREADY_WARNED
    with app.test_request_context(), tenant_scope(world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        assert owner_link.send_reconnect_links(account, "expiring") == 0
    assert len(mail) == 2

    # A new token with its own expiry (reconnected): that one is announced in turn.
    renewed = NOW.timestamp() + 70 * DAY
    with tenant_scope(world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        account.credentials = seal({"page_access_token": "EAA2", "refreshable": False,
                                    "expires_at": renewed})
        db.session.commit()
    assert check(app, world, account_id, NOW + timedelta(days=62)) == \
        token_health.Outcome.WARNED
    assert [m.to for m in mail].count("sophie@agence-alpha.test") == 2


class RevokedFacebook(Network):
    """Facebook as token health sees it when the refresh is refused."""

    key = "facebook"

    def refresh(self, credentials):
        raise AuthExpiredError("Facebook revoked Relais's access: reconnect the Page.")


def test_an_account_expired_by_token_health_sends_the_owner_a_reconnect_link(
        app, world, fake, mail, monkeypatch):
    real = registry._adapters
    monkeypatch.setattr(registry, "_adapters", lambda: {**real(), "facebook": RevokedFacebook})
    account_id = facebook_account(app, world, {"access_token": "x", "refreshable": True,
                                               "expires_at": NOW.timestamp() + 60})

    assert check(app, world, account_id) == token_health.Outcome.EXPIRED

    owner = by_recipient(mail)["sophie@agence-alpha.test"]
    assert "Boulangerie Martin (Facebook) has stopped working" in owner.text
    assert parse(app, link_in(owner)).account_id == account_id
    assert len(mail) == 2  # and the staff's "Reconnect" mail
    assert check(app, world, account_id) == token_health.Outcome.SKIPPED
    assert len(mail) == 2


def test_no_owner_link_for_a_network_a_link_cannot_connect(app, world, mail, monkeypatch):
    monkeypatch.setitem(app.config, "FACEBOOK_APP_ID", "")  # Facebook is not set up here
    account_id = facebook_account(app, world, {"page_access_token": "EAA", "refreshable": False,
                                               "expires_at": NOW.timestamp() + 3 * DAY})
    assert check(app, world, account_id) == token_health.Outcome.WARNED
    assert [m.to for m in mail] == [email_of(world.agency_id, world.member.user_id)]


def test_only_contacts_who_approve_posts_get_it(app, world, fake, mail):
    with tenant_scope(world.agency_id):
        contact = db.session.scalars(select(Contact).where(
            Contact.id == world.contact_id)).one()
        contact.approves_posts = False
        db.session.commit()
    account_id = facebook_account(app, world, {"page_access_token": "EAA", "refreshable": False,
                                               "expires_at": NOW.timestamp() + 3 * DAY})
    assert check(app, world, account_id) == token_health.Outcome.WARNED
    assert "sophie@agence-alpha.test" not in [m.to for m in mail]
