"""A file attached to a post cannot be deleted from the library: what a client approved
must stay publishable. The library says which files are in use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agency.content.models import Post
from agency.content.services import create_post, update_post
from agency.extensions import db
from agency.networks.services import add_account
from tenants.context import tenant_scope
from tests.factories import login
from tests.media.helpers import media_rows, two_colour_jpeg, upload


def _attached_post(world, media_id):
    with tenant_scope(world.agency.id):
        account = add_account(world.client, "sandbox", "Page")
        post = create_post(world.client, {
            "text": "Vitrine", "target_ids": [account.id], "media_ids": [media_id],
            "scheduled_at": datetime.now(UTC) + timedelta(days=2)}, world.owner.user_id)
        db.session.flush()
        return post.id


def test_a_file_used_by_a_post_is_not_deleted_and_the_page_says_why(client, world,
                                                                    media_root):
    login(client, world.owner)
    assert upload(client, world.client.id, (two_colour_jpeg(), "vitrine.jpg")).status_code == 303
    [media] = media_rows(world.agency.id)
    post_id = _attached_post(world, media.id)

    library = client.get(f"/clients/{world.client.id}/media").get_data(as_text=True)
    assert "Used in 1 post." in library
    assert f"/media/{media.id}/delete" not in library  # no button that would only fail

    response = client.post(f"/media/{media.id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client.id}/media")
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This file is used by 1 post: remove it from the post first." in shown
    assert [m.id for m in media_rows(world.agency.id)] == [media.id]
    assert (media_root / media.storage_key).is_file()
    assert (media_root / media.thumb_key).is_file()

    # Once no post uses it, it can go.
    with tenant_scope(world.agency.id):
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        update_post(post, world.client, {"media_ids": []}, world.owner.user_id)
        db.session.flush()
    assert client.post(f"/media/{media.id}/delete").status_code == 303
    assert media_rows(world.agency.id) == []
    assert not (media_root / media.storage_key).exists()
