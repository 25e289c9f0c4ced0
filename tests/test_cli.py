import json

from sqlalchemy import func, select

from agency.auth.sessions import principal_from_api_token
from agency.clients.models import Client, Contact
from agency.demo import DEMO_PASSWORD, OWNER
from tenants.context import tenant_scope
from tenants.models import Membership


def test_agency_create_prints_one_json_object(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["agency", "create", "--name", "Agence Nord",
                                 "--owner-email", "Nord@Example.test",
                                 "--password", "un mot de passe solide"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"agency_id", "user_id", "api_token"} <= data.keys()
    with app.test_request_context():
        user, membership, _ = principal_from_api_token(data["api_token"])
        assert str(user.id) == data["user_id"]
        assert str(membership.agency_id) == data["agency_id"]
        assert user.email == "nord@example.test"


def test_agency_create_refuses_a_weak_password(app, db):
    result = app.test_cli_runner().invoke(args=[
        "agency", "create", "--name", "X", "--owner-email", "x@example.test",
        "--password", "password"])
    assert result.exit_code == 2
    assert "password" in json.loads(result.stderr)["field"]


def test_seed_demo_is_idempotent(app, db):
    from agency.auth.passwords import verify_password
    from agency.auth.services import find_user_by_email

    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        assert OWNER in result.output
    owner = find_user_by_email(OWNER)
    assert verify_password(owner.password_hash, DEMO_PASSWORD)
    from agency.auth.sessions import memberships_of

    with app.test_request_context():
        agency_id = memberships_of(owner)[0].agency_id
    with tenant_scope(agency_id):
        assert db.session.scalar(select(func.count()).select_from(Client)) == 3
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 4
        roles = sorted(m.role.value for m in db.session.scalars(select(Membership)))
        assert roles == ["manager", "member", "owner"]
        # Every client can be published to, one has a week of drafts to approve, one a
        # post its owner approved, due in minutes, and one a post with a picture, waiting
        # for the client.
        from agency.content.models import Post, PostMedia
        from agency.media.models import Media
        from agency.networks.models import SocialAccount

        assert db.session.scalar(select(func.count()).select_from(SocialAccount)) == 3
        from agency.publishing.models import Publication
        from agency.results.demo_history import FOLLOWER_DAYS
        from agency.results.models import AccountMetricDay, PostMetricSnapshot

        # Besides the week's work, three months of published history with its figures
        # (agency/results/demo_history.py), so the results pages have charts to show.
        history = select(Publication.post_id).where(Publication.state == "published")
        assert db.session.scalar(select(func.count()).select_from(Post).where(
            Post.id.not_in(history))) == 5
        [publication] = db.session.scalars(select(Publication).where(
            Publication.state != "published")).all()
        assert publication.state == "scheduled"
        assert db.session.scalar(select(func.count()).select_from(PostMetricSnapshot)) > 0
        days = db.session.scalar(select(func.count()).select_from(AccountMetricDay))
        assert days == 3 * FOLLOWER_DAYS
        [media] = db.session.scalars(select(Media)).all()
        assert (media.kind, media.mime, media.width, media.height) == (
            "image", "image/jpeg", 1080, 1080)
        [attached] = db.session.scalars(select(PostMedia)).all()
        assert attached.media_id == media.id
