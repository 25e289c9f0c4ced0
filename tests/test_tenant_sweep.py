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
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from agency.approvals.models import ApprovalRequest, Decision
from agency.auth.models import UserSession
from agency.auth.services import invite
from agency.clients.models import Client, Contact
from agency.clients.services import create_contact
from agency.content.models import Comment, Post
from agency.content.slot_models import TimeSlot
from agency.media.models import Media
from agency.networks.models import SocialAccount
from agency.publishing.models import Publication
from tenants.context import tenant_scope
from tenants.models import Invitation, Membership
from tenants.roles import Role
from tests.factories import World, login, make_world

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
# A 1×1 PNG, for a media row in each world.
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
                     "0000000a49444154789c636000000002000148afa4710000000049454e44ae426082")

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
    "portal.review",
    "portal.decide",
    "portal.approve_all",
    "portal.media",
    "portal.media_thumb",
    "clientarea.accept",
    "public_media.fetch",
    # The owner's connection link (tests/networks/test_owner_connect.py).
    "owner_connect.page",
    "owner_connect.start",
    "owner_connect.add",
    "owner_connect.bluesky",
    # Stripe's webhook: its signature is the check (tests/billing/test_webhook_http.py).
    "billing.webhook",
    # Where Stripe's Checkout sends an SME owner back: thanks, nothing about anyone
    # (tests/billing/test_checkout.py).
    "billing.owner_checkout_done",
    # The monthly report's signed link (tests/results/test_report_links.py).
    "reports.public_html",
    "reports.public_pdf",
}

# Routes whose parameter is a signed token, not an id: the token *is* the authority.
# Expired, tampered and replayed tokens are tested in tests/auth.
# Expired, tampered and replayed tokens are tested in tests/auth and tests/approvals.
SIGNED_LINK_ENDPOINTS = {"auth.reset_password", "auth.accept_invitation", "portal.review",
                         "portal.decide", "portal.approve_all"}
# The Mastodon sign-in's return: its signed state names agency, person and client, and it
# still needs the same person signed in (tests/networks/test_mastodon_connect.py).
SIGNED_LINK_ENDPOINTS |= {"mastodon.callback"}
# The OAuth networks' return (Facebook…): the signed state names agency, person, client
# and network, and needs the same person signed in (tests/networks/test_oauth.py).
SIGNED_LINK_ENDPOINTS |= {"connect.callback"}
# The client area's sign-in invitation (tested in tests/clientarea).
SIGNED_LINK_ENDPOINTS |= {"clientarea.accept"}
# The portal's images and videos (tested in tests/approvals/test_portal_media.py).
SIGNED_LINK_ENDPOINTS |= {"portal.media", "portal.media_thumb"}
# Media a network fetches itself (Instagram, Google): the signature names the file
# (tests/media/test_public_media.py).
SIGNED_LINK_ENDPOINTS |= {"public_media.fetch"}
# The owner's connection link: the signature names agency, client, contact and networks;
# expired, tampered, archived-client and other-agency links are refused in
# tests/networks/test_owner_connect.py and test_owner_link.py. The OAuth callback
# (connect.callback, above) also takes a state bound to such a link, without a sign-in
# (tests/networks/test_owner_connect.py); any other state still needs the person signed in.
SIGNED_LINK_ENDPOINTS |= {"owner_connect.page", "owner_connect.start", "owner_connect.add",
                          "owner_connect.bluesky"}
# The monthly report's link: the signature names agency, client and month; tampered,
# expired, archived-client and other-client links are refused in
# tests/results/test_report_links.py.
SIGNED_LINK_ENDPOINTS |= {"reports.public_html", "reports.public_pdf"}


@dataclass
class Ids:
    client_id: uuid.UUID
    contact_id: uuid.UUID
    membership_id: uuid.UUID
    invitation_id: uuid.UUID
    token_id: uuid.UUID
    session_id: uuid.UUID
    account_id: uuid.UUID
    post_id: uuid.UUID
    comment_id: uuid.UUID
    request_id: uuid.UUID
    slot_id: uuid.UUID
    media_id: uuid.UUID
    publication_id: uuid.UUID
    network: str = "facebook"  # the OAuth connect routes' network key


# Parameters that place a route inside one client workspace: an unassigned member must
# get 404 on every such route.
CLIENT_SCOPED = {"client_id", "contact_id", "account_id", "post_id", "comment_id",
                 "request_id", "slot_id", "media_id"}
CLIENT_SCOPED |= {"publication_id"}


def _client_objects(client: Client, user_id) -> dict:
    """An account, a post awaiting approval (with a comment and a request), a time slot."""
    from agency.approvals.services import send_for_approval
    from agency.content.models import CommentVisibility
    from agency.content.services import add_comment, create_post, submit_post
    from agency.media.services import store_upload
    from agency.networks.services import add_account

    account = add_account(client, "sandbox", "Page")
    post = create_post(client, {"text": "Bonjour", "target_ids": [account.id],
                                "scheduled_at": datetime.now(UTC) + timedelta(days=2)},
                       user_id)
    comment = add_comment(post, "Note", CommentVisibility.INTERNAL, user_id=user_id)
    submit_post(post, client)
    request = send_for_approval(client, [post], user_id).request
    slot_id = _add_slot(client)
    media = store_upload(client, "photo.png", _PNG, user_id)
    publication_id = _failed_publication(client, account, user_id)
    return {"account_id": account.id, "post_id": post.id, "comment_id": comment.id,
            "request_id": request.id, "slot_id": slot_id, "media_id": media.id,
            "publication_id": publication_id}


def _failed_publication(client: Client, account, user_id):
    """A post approved without review (so it has a publication), which then failed: the
    state in which retry and mark-as-published would act."""
    from agency.content.services import create_post, submit_post
    from agency.extensions import db
    from agency.publishing.models import PublicationState

    policy, client.approval_policy = client.approval_policy, "none"
    post = create_post(client, {"text": "Publié", "target_ids": [account.id],
                                "scheduled_at": datetime.now(UTC) + timedelta(days=3)},
                       user_id)
    submit_post(post, client)
    client.approval_policy = policy
    [publication] = db.session.scalars(select(Publication).where(
        Publication.post_id == post.id)).all()
    publication.state = PublicationState.FAILED
    db.session.flush()
    return publication.id


def _add_slot(client: Client):
    from agency.extensions import db

    slot = TimeSlot(client_id=client.id, weekday=1, time_of_day="12:30")
    db.session.add(slot)
    db.session.flush()
    return slot.id


def _ids(world: World, client: Client, contact: Contact, session_id: uuid.UUID,
         db, objects: dict) -> Ids:
    from agency.auth.models import ApiToken

    with tenant_scope(world.agency.id):
        token_id = db.session.scalars(select(ApiToken.id)).first()
        invitation_id = db.session.scalars(select(Invitation.id)).first()
    return Ids(client.id, contact.id, world.member.id, invitation_id, token_id, session_id,
               **objects)


@pytest.fixture
def worlds(app, db, client):
    a, b = make_world("Alpha"), make_world("Beta")
    with app.test_request_context(), tenant_scope(a.agency.id, a.owner.user_id):
        invite(a.owner, "newcomer@alpha.test", Role.MEMBER)
        other_contact = create_contact(a.other_client, {"name": "Léa",
                                                        "email": "lea@alpha.test",
                                                        "approves_posts": True})
        a.objects = _client_objects(a.client, a.owner.user_id)
        a.other_objects = _client_objects(a.other_client, a.owner.user_id)
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
            "posts": sorted((p.status.value, p.content_hash, str(p.scheduled_at))
                            for p in db.session.scalars(select(Post))),
            "accounts": sorted((a.display_name, a.status.value)
                               for a in db.session.scalars(select(SocialAccount))),
            "publications": sorted((p.state.value, p.attempts, p.external_url)
                                   for p in db.session.scalars(select(Publication))),
            "sandbox_settings": sorted(str(a.settings) for a in
                                       db.session.scalars(select(SocialAccount))),
            **{table.__tablename__: db.session.scalar(select(func.count()).select_from(table))
               for table in (Comment, Decision, ApprovalRequest, TimeSlot, Media)},
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
    ids = _ids(a, a.client, a.contact, session_id, db, a.objects)
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
    ids = _ids(a, a.other_client, other_contact, session_id, db, a.other_objects)
    login(client, a.member)
    from agency.auth.services import create_api_token

    with app.test_request_context(), tenant_scope(a.agency.id):
        _, member_token = create_api_token(a.member, "sweep")
    before = _snapshot(db, a.agency.id)
    checked = 0
    for rule, methods in _rules(app):
        if not rule.arguments & CLIENT_SCOPED or rule.endpoint in SIGNED_LINK_ENDPOINTS:
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
    ids = _ids(a, a.client, a.contact, session_id, db, a.objects)
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


# --- a client contact's own sign-in (the client area) -------------------------------------

def _sign_in_contact(app, db, http, world: World) -> None:
    """Give the world's approving contact her own sign-in and sign her in with it."""
    from agency.clientarea.services import (
        accept_sign_in,
        invitation_for_token,
        invite_to_sign_in,
    )
    from tests.factories import PASSWORD

    with app.test_request_context(), tenant_scope(world.agency.id):
        token = invite_to_sign_in(world.contact, world.client)
        accept_sign_in(invitation_for_token(token), PASSWORD)
        email = world.contact.email
    db.session.flush()
    response = http.post("/login", data={"email": email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/client-area")


def test_a_contact_sees_only_their_own_client(app, db, client, worlds):
    """A contact of Alpha's first client: every client-area route answers 404 with the
    other client's ids and with Beta's; every staff route is refused (403, the API 401),
    even with their own client's ids; their pages show no other client's post and no
    internal comment; nothing changes anywhere."""
    from agency.content.models import CommentVisibility
    from agency.content.services import add_comment

    a, b, other_contact, session_id = worlds
    with app.test_request_context(), tenant_scope(b.agency.id, b.owner.user_id):
        b.objects = _client_objects(b.client, b.owner.user_id)
    with app.test_request_context(), tenant_scope(a.agency.id, a.owner.user_id):
        post = db.session.scalars(select(Post).where(Post.id == a.objects["post_id"])).one()
        add_comment(post, "Interne: ne pas montrer", CommentVisibility.INTERNAL,
                    user_id=a.owner.user_id)
    own = _ids(a, a.client, a.contact, session_id, db, a.objects)
    foreign = [_ids(a, a.other_client, other_contact, session_id, db, a.other_objects),
               _ids(b, b.client, b.contact, session_id, db, b.objects)]
    _sign_in_contact(app, db, client, a)
    before = (_snapshot(db, a.agency.id), _snapshot(db, b.agency.id))
    mappable = set(Ids.__dataclass_fields__)
    build = app.url_map.bind("relais.test").build
    checked = 0
    for rule, methods in _rules(app):
        if (rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint == "auth.logout"
                or set(rule.arguments) - mappable):
            continue
        area = rule.endpoint.startswith("clientarea.")
        if area and not rule.arguments:
            continue  # the contact's own pages: read below
        for ids in (foreign if area else [own]):
            url = build(rule.endpoint, {name: getattr(ids, name) for name in rule.arguments})
            for method in methods:
                response = _call(client, method, url)
                expected = 404 if area else 401 if _is_api(rule) else 403
                assert response.status_code == expected, (
                    f"{method} {rule.rule} -> {response.status_code}")
                checked += 1
    assert checked > 0
    pages = client.get("/client-area").get_data(as_text=True) + client.get(
        "/client-area/decisions").get_data(as_text=True)
    assert f'id="post-{a.objects["post_id"]}"' in pages
    for other in (a.other_objects, b.objects):
        assert str(other["post_id"]) not in pages
    assert "Interne: ne pas montrer" not in pages
    assert (_snapshot(db, a.agency.id), _snapshot(db, b.agency.id)) == before
