"""What the Instagram adapter tests share (no tests of its own): the fake with short
container waits, and publications built by hand (as publishing/outgoing.py would)."""

from __future__ import annotations

import uuid

import pytest

from agency.networks.base import Outgoing, OutgoingMedia
from agency.networks.instagram import InstagramNetwork
from tests.fakes.instagram import FakeInstagram, fake_instagram  # noqa: F401 (fixture)

PUBLIC = "https://relais.example"
TEXT = "Croissants tout chauds ! #boulangerie"


@pytest.fixture
def instagram(app, fake_instagram, monkeypatch):  # noqa: F811
    fake_instagram.hang_seconds = 1.5
    monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 0.5)
    # Short waits: the tests poll a local fake.
    monkeypatch.setattr(InstagramNetwork, "container_wait_seconds", 0.5)
    monkeypatch.setattr(InstagramNetwork, "container_poll_seconds", 0.01)
    monkeypatch.setattr(InstagramNetwork, "container_poll_max_seconds", 0.02)
    fake_instagram.page = fake_instagram.add_page("Boulangerie Martin", "boulangeriemartin")
    fake_instagram.ig = fake_instagram.page.instagram.id
    with app.app_context():
        yield fake_instagram


def photo(name: str = "croissants", description: str = "") -> OutgoingMedia:
    return OutgoingMedia(sha256=uuid.uuid4().hex * 2, mime="image/jpeg", kind="image",
                         data=b"\xff\xd8\xff", filename=f"{name}.jpg",
                         description=description, url=f"{PUBLIC}/m/{name}.jpg")


def video(name: str = "fournil") -> OutgoingMedia:
    return OutgoingMedia(sha256=uuid.uuid4().hex * 2, mime="video/mp4", kind="video",
                         data=b"\x00\x00\x00\x18ftypmp42", filename=f"{name}.mp4",
                         url=f"{PUBLIC}/m/{name}.mp4")


def outgoing(fake: FakeInstagram, *, text: str = TEXT, media=None, first_comment: str = "",
             scheduled_at=None, options: dict | None = None, progress: dict | None = None,
             saved: list | None = None, token: str | None = None) -> Outgoing:
    """A publication for the fake's account; ``saved`` collects its checkpoints."""
    return Outgoing(
        publication_id=uuid.uuid4(), account_id=uuid.uuid4(), network="instagram",
        text=text, media=tuple(media if media is not None else [photo()]),
        first_comment=first_comment, scheduled_at=scheduled_at,
        idempotency_key=uuid.uuid4().hex, handle="@boulangeriemartin",
        options=dict(options or {}),
        settings={"ig_user_id": fake.ig, "page_id": fake.page.id,
                  "username": "boulangeriemartin"},
        credentials={"page_access_token": token or fake.page.token},
        progress=dict(progress or {}),
        checkpoint=saved.append if saved is not None else None)


def form(request: dict) -> dict:
    """A request's form fields, one value each."""
    return {k: v[0] for k, v in request["form"].items()}
