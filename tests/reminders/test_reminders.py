"""Reminders to the client, escalation to the agency, and the deadline."""

from __future__ import annotations

from urllib.parse import urlsplit

from agency.approvals.models import ApprovalRequest, Decision, DecisionKind
from agency.approvals.reminders import due_requests, process_request
from agency.approvals.services import LINK_SALT
from agency.approvals.settings import update_approval_settings
from agency.audit.models import AuditEvent
from agency.auth.links import read_link_token
from agency.auth.models import User
from agency.clients.services import create_contact
from agency.content.models import Post, PostStatus
from agency.content.services import submit_post, update_post
from tenants.context import tenant_scope

from .conftest import T0, at, send_posts, set_client


def _email(read, membership) -> str:
    with tenant_scope(read.agency_id):  # Reader expires everything it reads past
        user_id = membership.user_id
    return read.one(User, user_id).email


def _process(sent, hours):
    return process_request(sent.agency_id, sent.request_id, at(hours))


def _opt_in(db, world, who="Sophie Martin"):
    with tenant_scope(world.agency.id):
        client = db.session.get(type(world.client), world.client.id)
        update_approval_settings(client, {
            "policy": "client", "link_hours": 168, "reminder_after_hours": 48,
            "escalate_after_hours": 72, "auto_approve": True, "agreed_by": who}, now=T0)
        db.session.commit()


def _edit_and_resubmit(app, db, world, post_id):
    with app.test_request_context(), tenant_scope(world.agency.id):
        post = db.session.get(Post, post_id)
        update_post(post, world.client, {"text": "Croissants au beurre"}, world.owner.user_id)
        submit_post(post, world.client)
        db.session.commit()


# --- reminders --------------------------------------------------------------------------

def test_no_reminder_before_the_delay(app, db, world, sent, read, mail):
    assert _process(sent, 47.9).describe().endswith("nothing due")
    assert mail == []
    assert read.one(ApprovalRequest, sent.request_id).reminded_at is None
    assert due_requests(at(47.9)) == []


def test_each_approving_contact_is_reminded_once_with_their_own_link(app, db, world, read,
                                                                     client, mail):
    with tenant_scope(world.agency.id):
        create_contact(world.client, {"name": "Marc", "email": "marc@alpha.test",
                                      "approves_posts": True})
        create_contact(world.client, {"name": "Léa", "email": "lea@alpha.test",
                                      "approves_posts": False})
        db.session.commit()
    sent = send_posts(app, db, world)
    assert due_requests(at(48)) == [(world.agency.id, sent.request_id)]

    outcome = _process(sent, 48)

    assert sorted(outcome.reminded) == ["marc@alpha.test", "sophie@agence-alpha.test"]
    assert sorted(m.to for m in mail) == ["marc@alpha.test", "sophie@agence-alpha.test"]
    sophie = next(m for m in mail if m.to == "sophie@agence-alpha.test")
    assert sophie.subject == "Reminder: 2 posts to approve for Agence Alpha Boulangerie"
    assert "2 posts for Agence Alpha Boulangerie are still waiting" in sophie.text
    assert "Croissants tout chauds" in sophie.text and "Pain de campagne" in sophie.text
    link = next(line for line in sophie.text.splitlines() if "/a/" in line).strip()
    # Her link, not Marc's (the same payload: the signature's timestamp may differ by a
    # second from the link first sent).
    def payload(url):
        return read_link_token(LINK_SALT, urlsplit(url).path.rsplit("/", 1)[-1], 3600)

    assert payload(link) == payload(sent.links[world.contact.id])
    assert payload(link)["c"] == str(world.contact.id)
    assert client.get(urlsplit(link).path).status_code == 200  # and it still works
    assert read.one(ApprovalRequest, sent.request_id).reminded_at is not None
    assert [e.action for e in read.all(AuditEvent, AuditEvent.action == "approval.reminded")
            ] == ["approval.reminded"]

    mail.clear()
    assert _process(sent, 49).reminded == []  # processed again: nothing more
    assert mail == []
    assert due_requests(at(49)) == []


def test_the_reminder_speaks_the_clients_language(app, db, world, sent, mail):
    set_client(db, world, language="fr")
    _process(sent, 48)
    assert len(mail) == 1
    assert mail[0].text.startswith("Bonjour Sophie,")
    assert "lundi 17 juin 2030, 10:00" in mail[0].text  # the deadline, Paris time, French


def test_the_reminder_mentions_automatic_approval_when_agreed(app, db, world, sent, mail):
    _opt_in(db, world)
    _process(sent, 48)
    assert "will be approved automatically" in mail[0].text


def test_posts_decided_or_changed_are_not_reminded_of(app, db, world, read, mail):
    sent = send_posts(app, db, world, texts=("Un", "Deux"))
    _edit_and_resubmit(app, db, world, sent.post_ids[0])
    _process(sent, 48)
    assert "A post for Agence Alpha Boulangerie is still waiting" in mail[0].text
    assert "Deux" in mail[0].text and "Croissants" not in mail[0].text


def test_a_request_with_nothing_left_to_approve_is_not_due(app, db, world, read, mail):
    sent = send_posts(app, db, world, texts=("Un",))
    with tenant_scope(world.agency.id):
        db.session.get(Post, sent.post_ids[0]).status = PostStatus.APPROVED
        db.session.commit()
    assert due_requests(at(200)) == []
    assert _process(sent, 200).describe().endswith("nothing due")
    assert mail == []


def test_another_agency_cannot_process_the_request(app, db, world, sent, read, mail):
    from tests.factories import make_world

    other = make_world("Agence Beta")
    outcome = process_request(other.agency.id, sent.request_id, at(48))
    assert outcome.describe().endswith("nothing due") and mail == []
    assert read.one(ApprovalRequest, sent.request_id).reminded_at is None


def test_an_archived_clients_request_is_left_alone(app, db, world, sent, mail):
    set_client(db, world, archived_at=T0)
    assert due_requests(at(48)) == []
    assert _process(sent, 48).describe().endswith("nothing due")
    assert mail == []


# --- escalation -------------------------------------------------------------------------

def test_the_assigned_staff_are_told_once_after_the_escalation_delay(app, db, world, sent,
                                                                     read, mail):
    _process(sent, 48)
    mail.clear()
    assert _process(sent, 71.9).escalated == []
    outcome = _process(sent, 72)
    member = _email(read, world.member)
    assert outcome.escalated == [member] and outcome.reminded == []
    assert [m.to for m in mail] == [member]  # assigned to this client; nobody else
    message = mail[0]
    assert message.subject == "No answer yet from Agence Alpha Boulangerie on 2 posts"
    assert "sent for approval on Monday 10 June 2030, 10:00" in message.text
    assert "A reminder was sent to the client on Wednesday 12 June 2030, 10:00" in message.text
    assert f"/clients/{sent.client_id}/posts" in message.text
    assert f"/posts/{sent.post_ids[0]}" in message.text
    assert read.one(ApprovalRequest, sent.request_id).escalated_at is not None

    mail.clear()
    assert _process(sent, 80).escalated == []
    assert mail == []


def test_reminder_and_escalation_both_go_when_both_are_due(app, db, world, sent, read, mail):
    outcome = _process(sent, 100)  # the scheduler was down for days
    assert outcome.reminded == ["sophie@agence-alpha.test"]
    assert outcome.escalated == [_email(read, world.member)]


# --- the deadline -----------------------------------------------------------------------

def test_with_consent_unchanged_posts_are_approved_automatically(app, db, world, read, mail):
    _opt_in(db, world)
    sent = send_posts(app, db, world, texts=("Croissants tout chauds", "Pain de campagne",
                                             "Fermé lundi"))
    edited, kept = sent.post_ids[0], sent.post_ids[1:]
    _edit_and_resubmit(app, db, world, edited)
    _process(sent, 100)  # reminded and escalated...
    assert due_requests(at(167.9)) == []  # ...and the deadline not yet
    mail.clear()

    outcome = _process(sent, 168)

    assert outcome.auto_approved == kept
    assert {p: read.one(Post, p).status for p in sent.post_ids} == {
        edited: PostStatus.AWAITING_CLIENT, kept[0]: PostStatus.APPROVED,
        kept[1]: PostStatus.APPROVED}
    decisions = [(d.post_id, d.kind, d.request_id, d.actor_label, d.content_hash)
                 for d in read.all(Decision)]
    assert sorted(d[0] for d in decisions) == sorted(kept)
    for post_id, kind, request_id, label, decided_hash in decisions:
        assert kind == DecisionKind.AUTO_APPROVED and request_id == sent.request_id
        assert label == "Sophie Martin"  # whose consent it rests on
        assert decided_hash == read.one(Post, post_id).content_hash
    audits = read.all(AuditEvent, AuditEvent.action == "approval.auto_approved")
    assert sorted(a.target_id for a in audits) == sorted(str(p) for p in kept)
    assert audits[0].details["agreed_by"] == "Sophie Martin"

    member = _email(read, world.member)
    assert sorted(m.to for m in mail) == sorted([member, "sophie@agence-alpha.test"])
    for message in mail:
        assert message.subject == ("2 posts for Agence Alpha Boulangerie were approved "
                                   "automatically")
        assert "Pain de campagne" in message.text and "Fermé lundi" in message.text
        assert ("Sophie Martin agreed to automatic approval on behalf of Agence Alpha "
                "Boulangerie on Monday 10 June 2030, 10:00") in message.text
    staff = next(m for m in mail if m.to == member)
    assert "changed after it was sent, so it was not approved" in staff.text
    assert f"/posts/{edited}" in staff.text

    mail.clear()
    assert _process(sent, 169).auto_approved == []
    assert mail == [] and due_requests(at(169)) == []


def test_without_consent_nothing_is_approved_and_the_agency_is_told(app, db, world, sent,
                                                                    read, mail):
    assert due_requests(at(168)) == [(world.agency.id, sent.request_id)]
    outcome = _process(sent, 168)
    assert outcome.expired and outcome.auto_approved == []
    assert outcome.reminded == []  # the link no longer works: no reminder after the deadline
    assert [read.one(Post, p).status for p in sent.post_ids] == [PostStatus.AWAITING_CLIENT] * 2
    assert read.all(Decision) == []
    member = _email(read, world.member)
    assert [m.to for m in mail] == [member]  # the agency only
    assert mail[0].subject == ("The approval link for Agence Alpha Boulangerie expired: "
                               "2 posts were not approved")
    assert "the client has not agreed to automatic approval" in mail[0].text
    assert [e.action for e in read.all(AuditEvent, AuditEvent.action == "approval.expired")
            ] == ["approval.expired"]

    mail.clear()
    assert not _process(sent, 200).expired
    assert mail == [] and due_requests(at(200)) == []


def test_the_switch_alone_is_not_consent(app, db, world, sent, read, mail):
    set_client(db, world, auto_approve_at_deadline=True, auto_approve_opted_in_at=None)
    outcome = _process(sent, 168)
    assert outcome.expired and outcome.auto_approved == []
    assert read.all(Decision) == []


# --- two schedulers at once -------------------------------------------------------------

def test_a_step_already_claimed_elsewhere_is_not_done_again(app, db, world, sent, read, mail,
                                                            monkeypatch):
    from agency.approvals import reminders

    _process(sent, 48)
    _process(sent, 168)
    mail.clear()
    # A second scheduler that read the request before the first committed still believes
    # every step is due: the conditional UPDATE is what stops it.
    monkeypatch.setattr(reminders, "due_steps", lambda timing, now: [reminders.Step.REMIND])
    assert _process(sent, 60).reminded == []
    monkeypatch.setattr(reminders, "due_steps", lambda timing, now: [reminders.Step.DEADLINE])
    assert not _process(sent, 170).expired
    assert mail == []
