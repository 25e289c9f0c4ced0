"""What the results tests share (no tests here): accounts of a world's clients, posts as
the engine leaves them once published, readings, and a network whose answers a test
writes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from agency.clients.models import Client
from agency.content.services import create_post, submit_post
from agency.extensions import db as _db
from agency.networks.base import Network
from agency.networks.credentials import seal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.services import add_account
from agency.publishing.models import Publication, PublicationState
from agency.results.models import AccountMetricDay, PostMetricSnapshot
from tenants.context import tenant_scope

NOW = datetime(2030, 6, 10, 8, 0, tzinfo=UTC)


class ScriptedNetwork(Network):
    """A network whose answers the test writes: ``account`` (a dict, or an exception to
    raise) for the account's counters, ``posts[external_id]`` for a post's. Calls are
    remembered; its counters are named as Mastodon's adapter names them."""

    key = "scripted"
    account: object = None
    accounts: dict = {}  # account id → an answer, overriding ``account``
    posts: dict = {}
    calls: list = []
    renewed: dict | None = None
    limited_until: float | None = None

    def fetch_account_metrics(self, outgoing):
        type(self).calls.append(("account", outgoing.account_id))
        return self._answer(self.accounts.get(outgoing.account_id, self.account))

    def fetch_metrics(self, outgoing, external_id):
        type(self).calls.append(("post", external_id))
        return self._answer(self.posts.get(external_id, {"likes": 1}))

    @staticmethod
    def _answer(answer):
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer or {})

    def credentials_after_use(self):
        return self.renewed

    @property
    def rate_limited_until(self):
        return self.limited_until


def make_account(app, db, world, *, network: str = ScriptedNetwork.key, client=None,
                 credentials: dict | None = None, settings: dict | None = None,
                 status: AccountStatus = AccountStatus.CONNECTED,
                 agency_id=None) -> uuid.UUID:
    """An account of the world's client (or ``client``) on ``network``."""
    with app.test_request_context(), tenant_scope(agency_id or world.agency_id):
        client = client or world.client
        client = db.session.scalars(select(Client).where(Client.id == client.id)).one()
        account = add_account(client, "sandbox", f"{client.name} ({network})")
        account.network = network
        account.settings = dict(settings or {})
        account.credentials = seal(credentials) if credentials else ""
        account.status = status
        db.session.commit()
        return account.id


def publish(app, db, world, account_id: uuid.UUID, published_at: datetime, *,
            external_id: str | None = None, client=None) -> uuid.UUID:
    """A post approved without asking (the client's policy) and published on the account
    at ``published_at``, recorded as the engine records it (``external_id=""``: marked
    published by hand, with no id on the network); its publication's id."""
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = client or world.client
        client = db.session.scalars(select(Client).where(Client.id == client.id)).one()
        client.approval_policy = "none"
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        # The composer checks the text by the network's rules: a made-up network has
        # none, so the post is written as for the sandbox, then goes out on the network.
        network, account.network = account.network, "sandbox"
        post = create_post(client, {"text": f"Croissants {uuid.uuid4().hex[:6]}",
                                    "target_ids": [account_id],
                                    "scheduled_at": datetime.now(UTC) + timedelta(days=1)},
                           world.owner.user_id)
        submit_post(post, client)
        account.network = network
        publication = db.session.scalars(select(Publication).where(
            Publication.post_id == post.id)).one()
        publication.network = network
        publication.state = PublicationState.PUBLISHED
        publication.external_id = (f"ext-{publication.id.hex[:12]}" if external_id is None
                                   else external_id)
        publication.external_url = f"https://example.test/{publication.external_id}"
        publication.sent_at = publication.published_at = published_at
        publication.attempts = 1
        db.session.commit()
        return publication.id


def read(app, db, world, publication_id: uuid.UUID, taken_at: datetime) -> None:
    """A reading of the publication taken at ``taken_at``."""
    with tenant_scope(world.agency_id):
        publication = db.session.scalars(select(Publication).where(
            Publication.id == publication_id)).one()
        db.session.add(PostMetricSnapshot(
            client_id=publication.client_id, publication_id=publication_id,
            network=publication.network, taken_at=taken_at, reactions=1, raw={}))
        db.session.commit()


def read_day(app, db, world, account_id: uuid.UUID, day: date, followers: int = 100) -> None:
    with tenant_scope(world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        db.session.add(AccountMetricDay(
            client_id=account.client_id, social_account_id=account_id,
            network=account.network, day=day, followers=followers, taken_at=NOW, raw={}))
        db.session.commit()


def snapshots(world, publication_id=None) -> list[PostMetricSnapshot]:
    with tenant_scope(world.agency_id):
        _db.session.expire_all()
        query = select(PostMetricSnapshot).order_by(PostMetricSnapshot.taken_at)
        if publication_id is not None:
            query = query.where(PostMetricSnapshot.publication_id == publication_id)
        return list(_db.session.scalars(query))


def days(world, account_id) -> list[AccountMetricDay]:
    with tenant_scope(world.agency_id):
        _db.session.expire_all()
        return list(_db.session.scalars(select(AccountMetricDay).where(
            AccountMetricDay.social_account_id == account_id).order_by(AccountMetricDay.day)))
