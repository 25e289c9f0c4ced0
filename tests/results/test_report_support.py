"""Helpers for the monthly report's tests (no tests here): the October scene of the
dashboard's tests, a client's language, a real image on the best post, posts planned
for November, and the text of a PDF."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agency.clients.models import Client
from agency.content.models import Post, PostStatus, PostTarget
from agency.extensions import db
from agency.results import periods
from tenants.context import tenant_scope
from tests.results.test_dashboard_support import PARIS, Data, october_scene, paris

OCTOBER = periods.month(2026, 10, PARIS)


def png(size: int = 64) -> bytes:
    """A small PNG image, made with Pillow."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 140, 60)).save(out, "PNG")
    return out.getvalue()


def load_client(client_id) -> Client:
    return db.session.scalars(select(Client).where(Client.id == client_id)).one()


def set_language(world, client_id, language: str) -> None:
    with tenant_scope(world.agency_id):
        load_client(client_id).language = language
        db.session.flush()


def best_post_with_image(app, world, scene):
    """A real image (stored through the media library) on a post that becomes October's
    best: its thumbnail must show in the report."""
    from agency.media.services import store_upload

    with app.test_request_context(), tenant_scope(world.agency_id, world.owner.user_id):
        media = store_upload(load_client(world.client.id), "croissant.png", png(),
                             world.owner.user_id)
        media_id, sha = media.id, media.sha256
    data = Data(world.agency_id, world.client.id)
    [publication] = data.post({scene.ig: "instagram"}, paris(2026, 10, 20, 9, 0),
                              "Pain au chocolat tout chaud", media=[sha])
    data.reading(publication, "instagram", paris(2026, 10, 21, 9, 0), impressions=50,
                 reach=40, reactions=500)
    return media_id


def plan_november(world, scene) -> None:
    """Posts of November: approved (planned), awaiting the client (not planned), and
    an approved one in December (not next month)."""
    with tenant_scope(world.agency_id):
        for status, when, text in (
                (PostStatus.APPROVED, paris(2026, 11, 12, 9, 30), "Galette des rois en avance"),
                (PostStatus.AWAITING_CLIENT, paris(2026, 11, 14, 9, 30), "Pas encore approuvé"),
                (PostStatus.APPROVED, paris(2026, 12, 2, 9, 30), "Décembre déjà"),
                (PostStatus.APPROVED, paris(2026, 11, 30, 23, 30), "Dernier soir de novembre")):
            post = Post(client_id=world.client.id, status=status, text=text,
                        variants={}, scheduled_at=when.astimezone(UTC), revision_number=1,
                        content_hash="0" * 64)
            db.session.add(post)
            db.session.flush()
            for account in (scene.ig, scene.fb):
                db.session.add(PostTarget(post_id=post.id, social_account_id=account))
        db.session.flush()


def scene_for(world):
    scene = october_scene(world)
    plan_november(world, scene)
    return scene


def pdf_text(body: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def pdf_images(body: bytes) -> int:
    from pypdf import PdfReader

    return sum(len(page.images) for page in PdfReader(io.BytesIO(body)).pages)


def flat(text: str) -> str:
    """Whitespace (spaces of every width, line breaks) made single spaces."""
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def later(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)
