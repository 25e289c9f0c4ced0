"""Plan limits (for the services that add accounts and schedule posts to call) and the
quantities behind a preview of adding or archiving a client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from agency.auth.services import ServiceError
from agency.networks.models import SocialAccount
from billing import limits, queries, services, sync
from tenants.context import tenant_scope
from tests.billing.conftest import subscribe
from tests.factories import make_world


def test_the_plan_limits_accounts_and_posts(app, db, billing_on):
    world = make_world()
    with app.test_request_context(), tenant_scope(world.agency_id):
        limits.check_accounts(world.client, 2)
        with pytest.raises(ServiceError, match="at most 3 accounts"):
            limits.check_accounts(world.client, 3)
        services.change_plan(world.client, "pro")
        limits.check_accounts(world.client, 5)
        with pytest.raises(ServiceError, match="90 posts a month"):
            limits.check_posts(world.client, 90, datetime.now(UTC))


def test_local_mode_limits_nothing(app, db):
    world = make_world()
    with app.test_request_context(), tenant_scope(world.agency_id):
        limits.check_accounts(world.client, 50)
        limits.check_posts(world.client, 5000, datetime.now(UTC))


def test_adding_or_archiving_a_client_can_be_previewed(app, db, billing_on):
    world = make_world()
    sub_id = subscribe(app, billing_on, world)["id"]
    with app.test_request_context(), tenant_scope(world.agency_id):
        assert queries.quantities_adding("pro") == {"essentiel": 2, "pro": 1, "reseau": 0}
        assert queries.quantities_without(world.client) == {"essentiel": 1, "pro": 0,
                                                            "reseau": 0}
        preview = sync.preview(queries.quantities_without(world.client))
    assert preview.proration < 0  # a credit for the rest of the period
    assert preview.difference == -2900
    [call] = billing_on.calls("POST", "/v1/invoices/create_preview")
    assert call["form"]["subscription"] == sub_id
    assert call["form"]["subscription_details[items][0][quantity]"] == "1"


def test_adding_an_account_beyond_the_plan_is_refused(app, db, billing_on):
    from agency.networks.services import add_account

    world = make_world()
    with app.test_request_context(), tenant_scope(world.agency_id):
        existing = db.session.scalar(select(func.count()).select_from(SocialAccount).where(
            SocialAccount.client_id == world.client.id))
        for n in range(3 - existing):  # Essentiel connects three
            add_account(world.client, "sandbox", f"Page {n}")
        with pytest.raises(ServiceError, match="at most 3 accounts"):
            add_account(world.client, "sandbox", "One too many")


def test_submitting_beyond_the_month_s_allowance_is_refused(app, db, billing_on):
    """Essentiel allows 30 posts a month; the month is the client's (Paris) month."""
    from zoneinfo import ZoneInfo

    from agency.content.models import Post, PostStatus
    from agency.content.services import create_post, submit_post
    from agency.networks.services import add_account

    world = make_world()
    paris = ZoneInfo("Europe/Paris")
    year = datetime.now(UTC).year + 1
    with app.test_request_context(), tenant_scope(world.agency_id):
        account = add_account(world.client, "sandbox", "Page")
        for day in range(30):  # 30 planned in March (one of them on the 1st at 00:30)
            moment = datetime(year, 3, 1 + day, 0, 30, tzinfo=paris)
            post = create_post(world.client, {"text": f"n°{day}", "target_ids": [account.id],
                                              "scheduled_at": moment}, None)
            post.status = PostStatus.AWAITING_CLIENT
        db.session.flush()

        def submit(moment):
            post = create_post(world.client, {"text": "one more", "target_ids": [account.id],
                                              "scheduled_at": moment}, None)
            submit_post(post, world.client)
            return post

        with pytest.raises(ServiceError, match="30 posts a month"):
            submit(datetime(year, 3, 31, 23, 30, tzinfo=paris))  # 21:30 UTC: still March
        # 23:30 in Paris on February's last day is 22:30 UTC: February, which has room.
        assert submit(datetime(year, 2, 28, 23, 30, tzinfo=paris)).status != PostStatus.DRAFT
        assert submit(datetime(year, 4, 1, 0, 15, tzinfo=paris)).status != PostStatus.DRAFT
        drafts = db.session.scalar(select(func.count()).select_from(Post).where(
            Post.status == PostStatus.DRAFT))
        assert drafts == 1  # the refused one stays a draft: nothing the agency wrote is lost


def test_a_month_is_the_client_s_own_month(app, db):
    from agency.content.allowance import month_of

    first, start, end = month_of(datetime(2026, 10, 15, 12, tzinfo=UTC), "Europe/Paris")
    assert (first.month, start.isoformat(), end.isoformat()) == (
        10, "2026-09-30T22:00:00+00:00", "2026-10-31T23:00:00+00:00")
