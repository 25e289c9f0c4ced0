"""What the owner-link tests share (test_owner_connect.py, test_owner_link.py): links
made and signed at a chosen time, the steps of the owner's flow, and the readings."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.clients.models import Client
from agency.extensions import db
from agency.networks import owner_link
from agency.networks.credentials import seal
from agency.networks.models import SocialAccount
from agency.publishing.models import Publication
from tenants.context import tenant_scope
from tests.clients.helpers import reduce_world
from tests.factories import make_world

CALLBACK = "http://relais.test/networks/oauth/facebook/callback"
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "X-Robots-Tag": "noindex, nofollow"}


def english(db, world) -> None:
    """Assertions read the English source strings; tests about French set it back."""
    set_client(db, world.agency_id, world.client_id, language="en")


def set_client(db, agency_id, client_id, **values) -> None:
    with tenant_scope(agency_id):
        client = db.session.scalars(select(Client).where(Client.id == client_id)).one()
        for key, value in values.items():
            setattr(client, key, value)
        db.session.commit()


def owner_world(db):
    """An agency whose first client (English) has Sophie, who approves posts."""
    world = reduce_world(make_world())
    english(db, world)
    return world


def with_pages(fake):
    """The fake Graph API with a person administering two Pages."""
    fake.bakery = fake.add_page("Boulangerie Martin", "boulangeriemartin")
    fake.shop = fake.add_page("Fleurs de Léa")
    fake.user = fake.add_user(fake.bakery, fake.shop)
    return fake


@contextmanager
def signed_ago(seconds: float):
    """Tokens signed meanwhile carry a timestamp ``seconds`` in the past."""
    real = TimestampSigner.get_timestamp
    TimestampSigner.get_timestamp = lambda self: real(self) - int(seconds)
    try:
        yield
    finally:
        TimestampSigner.get_timestamp = real


def make_link(app, world, networks=("facebook",), *, account_id=None, client_id=None,
              contact_id=None, agency_id=None) -> str:
    with app.test_request_context():
        token, _jti = owner_link.make_token(
            agency_id=agency_id or world.agency_id, client_id=client_id or world.client_id,
            contact_id=contact_id or world.contact_id,
            networks=list(networks) if networks != owner_link.ANY else networks,
            account_id=account_id)
    return token


def text(response) -> str:
    return response.get_data(as_text=True)


def start(http, token: str, network: str = "facebook") -> str:
    """The state the link page's button sends to Facebook's dialog."""
    answer = http.get(f"/connect/{token}/{network}/start")
    assert answer.status_code == 302, text(answer)
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/v21.0/dialog/oauth"
    # One redirect address registered with Facebook, for staff and owners alike.
    assert query["redirect_uri"] == [CALLBACK] and query["response_type"] == ["code"]
    assert token not in answer.headers["Location"]  # the link travels sealed in the state
    return query["state"][0]


def back_from_facebook(http, fake, state: str):
    code = fake.issue_code(fake.user, CALLBACK)
    return http.get("/networks/oauth/facebook/callback",
                    query_string={"code": code, "state": state})


def sealed_choices(page_html: str) -> str:
    return unescape(re.search(r'name="choices" value="([^"]+)"', page_html).group(1))


def add(http, token: str, sealed: str, *pages: str, network: str = "facebook"):
    return http.post(f"/connect/{token}/{network}/add",
                     data={"choices": sealed, "pages": list(pages)})


def accounts(agency_id, network="facebook") -> list[SocialAccount]:
    with tenant_scope(agency_id):
        return list(db.session.scalars(select(SocialAccount).where(
            SocialAccount.network == network).order_by(SocialAccount.display_name)
            .execution_options(populate_existing=True)))


def audit(agency_id, action) -> list[AuditEvent]:
    with tenant_scope(agency_id):
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def email_of(agency_id, user_id) -> str:
    from agency.auth.models import User

    with tenant_scope(agency_id):
        return db.session.scalars(select(User.email).where(User.id == user_id)).one()


def expired_facebook_account(app, world, page_id: str, *, posts: int = 2) -> uuid.UUID:
    """A Facebook Page account of the world's client whose access was revoked, with
    ``posts`` approved posts held until it is reconnected."""
    from agency.content.services import create_post, submit_post
    from agency.networks.services import add_account
    from agency.publishing.services import hold_account

    with app.test_request_context(), tenant_scope(world.agency_id):
        client = db.session.scalars(select(Client).where(Client.id == world.client_id)).one()
        client.approval_policy = "none"
        account = add_account(client, "sandbox", "Boulangerie Martin")
        for n in range(posts):
            post = create_post(client, {"text": f"Croissants {n}", "target_ids": [account.id],
                                        "scheduled_at": datetime.now(UTC) + timedelta(days=9 + n)},
                               world.owner.user_id)
            submit_post(post, client)
        account.network = "facebook"
        account.settings = {"page_id": page_id, "external_id": page_id,
                            "connected_via": "oauth"}
        account.credentials = seal({"page_access_token": "EAAOldRevoked"})
        assert hold_account(account, "Facebook revoked Relais's access.") == posts
        db.session.commit()
        return account.id


def publications(agency_id, account_id) -> list[Publication]:
    with tenant_scope(agency_id):
        return list(db.session.scalars(select(Publication).where(
            Publication.social_account_id == account_id)
            .execution_options(populate_existing=True)))
