"""What the X adapter tests share (no tests here): an account on the fake, and Outgoing
built for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.clients.models import Client
from agency.content.services import create_post, submit_post
from agency.networks.base import Outgoing, OutgoingMedia
from agency.networks.connect_oauth import add_choices
from agency.networks.oauth import Choice
from agency.networks.x_api import credentials_from
from tenants.context import tenant_scope
from tests.fakes.x import FakeX, fake_x  # noqa: F401 (fixture)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
                    "0000000a49444154789c636000000002000148afa4710000000049454e44ae426082")
TEXT = "Bonjour, le pain est chaud !"


class Saved(list):
    """A checkpoint that keeps every progress saved, in order."""

    def __call__(self, progress: dict) -> None:
        self.append(dict(progress))

    @property
    def last(self) -> dict:
        return self[-1] if self else {}


@pytest.fixture
def x_fake(app, fake_x):  # noqa: F811
    fake_x.hang_seconds = 1.5
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5  # restored by the fixture's monkeypatch
    fake_x.user = fake_x.add_user("Boulangerie Martin", "boulangeriemartin")
    fake_x.credentials = credentials_from(fake_x.issue_tokens(fake_x.user))
    with app.app_context():
        yield fake_x


def outgoing(fake: FakeX, *, text=TEXT, media=(), first_comment="", thread=None,
             progress=None, credentials=None, saved: Saved | None = None,
             scheduled_at=None, account_id=None) -> Outgoing:
    return Outgoing(
        publication_id=uuid.uuid4(), account_id=account_id or uuid.uuid4(), network="x",
        text=text, media=tuple(media), first_comment=first_comment, scheduled_at=scheduled_at,
        idempotency_key=uuid.uuid4().hex, handle="@boulangeriemartin",
        options={"thread": thread} if thread is not None else {},
        settings={"user_id": fake.user.id, "username": fake.user.username},
        credentials=dict(credentials or fake.credentials), progress=dict(progress or {}),
        checkpoint=saved if saved is not None else Saved())


def photo(name="croissants.png", description="") -> OutgoingMedia:
    return OutgoingMedia(sha256=name.ljust(64, "0")[:64], mime="image/png", kind="image",
                         data=PNG, filename=name, description=description)


def video(size=25, name="four.mp4", mime="video/mp4", kind="video") -> OutgoingMedia:
    return OutgoingMedia(sha256=name.ljust(64, "1")[:64], mime=mime, kind=kind,
                         data=bytes(range(size)), filename=name)


def posts(fake: FakeX) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "POST" and r["path"] == "/2/tweets"]


def calls(fake: FakeX, method: str, path: str) -> list[dict]:
    return [r for r in fake.requests if r["method"] == method and r["path"] == path]


def x_account(app, db, world, fake: FakeX, credentials: dict | None = None, *,
              posts: int = 0) -> uuid.UUID:
    """The fake user connected as an X account of the world's client (as the connect flow
    saves it: connect_oauth.add_choices), with ``posts`` approved posts scheduled on it
    in ten days and more."""
    with app.test_request_context(), tenant_scope(world.agency_id):
        [account] = add_choices(_client(db, world), "x", [Choice(
            external_id=fake.user.id, display_name=fake.user.name,
            handle=f"@{fake.user.username}", credentials=dict(credentials or fake.credentials),
            settings={"user_id": fake.user.id, "username": fake.user.username})])
        db.session.commit()
    for n in range(posts):
        x_post(app, db, world, account.id, text=f"Croissants {n}",
               when=datetime.now(UTC) + timedelta(days=10 + n))
    return account.id


def x_post(app, db, world, account_id: uuid.UUID, *, text: str = TEXT, thread=None,
           first_comment: str = "", when: datetime | None = None) -> uuid.UUID:
    """A post on the X account, approved (the client's policy asks for none): its
    publication is scheduled at ``when`` (a moment ago by default, so due now)."""
    when = when or datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    values = {"text": text, "target_ids": [account_id], "scheduled_at": when,
              "first_comment": first_comment}
    if thread is not None:
        values["options"] = {"x": {"thread": list(thread)}}
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = _client(db, world)
        client.approval_policy = "none"
        post = create_post(client, values, world.owner.user_id, now=when - timedelta(days=1))
        submit_post(post, client)
        db.session.commit()
        return post.id


def _client(db, world) -> Client:
    """The world's client, loaded here (a World carries it, a WorldIds only its id)."""
    client_id = getattr(world, "client_id", None) or world.client.id
    return db.session.scalars(select(Client).where(Client.id == client_id)).one()
