"""Moving a post to another day (drag and drop, or the small form without JavaScript):
the time of day is kept in the client's timezone, the service makes a new revision and
voids approvals, and a refused move changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agency.content.models import PostStatus
from agency.content.services import submit_post
from agency.content.slots import as_utc
from tenants.context import tenant_scope
from tests.calendar.helpers import NEXT_YEAR, in_days, page, utc
from tests.factories import login, make_world

PARIS = ZoneInfo("Europe/Paris")
HTMX = {"HX-Request": "true"}


def _move(client, post, day: str, headers=HTMX, **extra):
    return client.post(f"/posts/{post.id}/reschedule", data={"date": day, **extra},
                       headers=headers)


def test_move_keeps_the_paris_time_of_day_across_the_daylight_saving_change(client, cal):
    # 10:00 in Paris is 09:00 UTC on March 20 (winter) and 08:00 UTC on April 2 (summer).
    post = cal.post(when=datetime(NEXT_YEAR, 3, 20, 10, tzinfo=PARIS))
    assert as_utc(cal.reload(post).scheduled_at) == utc(NEXT_YEAR, 3, 20, 9)
    login(client, cal.world.owner)
    response = _move(client, post, f"{NEXT_YEAR}-04-02", display="agency")
    assert response.status_code == 200, page(response)
    moved = as_utc(cal.reload(post).scheduled_at)
    assert moved == utc(NEXT_YEAR, 4, 2, 8)
    assert moved.astimezone(PARIS).hour == 10
    # The answer is the post's chip, placed on its new day.
    assert f'data-post-id="{post.id}"' in page(response)
    assert f'data-day="{NEXT_YEAR}-04-02"' in page(response)
    assert page(response).lstrip().startswith("<li")


def test_move_works_in_the_clients_own_timezone(client, cal):
    cal.update(cal.world.client, timezone="America/New_York")
    new_york = ZoneInfo("America/New_York")
    # 21:00 in New York is already the next day in UTC and in Paris.
    post = cal.post(when=datetime(NEXT_YEAR, 3, 1, 21, tzinfo=new_york))
    login(client, cal.world.owner)
    assert _move(client, post, f"{NEXT_YEAR}-03-20").status_code == 200
    moved = as_utc(cal.reload(post).scheduled_at).astimezone(new_york)
    assert (moved.date().isoformat(), moved.hour) == (f"{NEXT_YEAR}-03-20", 21)


def test_move_into_the_past_is_refused_and_changes_nothing(client, cal):
    post = cal.post(when=in_days(5))
    before = cal.reload(post)
    state = (before.scheduled_at, before.revision_number, before.status, before.content_hash)
    login(client, cal.world.owner)
    yesterday = (datetime.now(PARIS) - timedelta(days=1)).date().isoformat()
    response = _move(client, post, yesterday)
    assert response.status_code == 422
    assert "Choose a time in the future." in page(response)
    after = cal.reload(post)
    assert (after.scheduled_at, after.revision_number, after.status,
            after.content_hash) == state
    assert len(cal.revisions(post)) == 1


def test_move_makes_a_new_revision_and_sends_an_approved_post_back_to_draft(client, cal):
    cal.update(cal.world.client, approval_policy="none")
    post = cal.post(when=utc(NEXT_YEAR, 5, 4, 8))
    with cal.app.test_request_context(), tenant_scope(cal.agency_id):
        assert submit_post(post, cal.world.client) == PostStatus.APPROVED
        cal.db.session.flush()
    login(client, cal.world.owner)
    assert _move(client, post, f"{NEXT_YEAR}-05-06").status_code == 200
    after = cal.reload(post)
    assert after.status == PostStatus.DRAFT
    revisions = cal.revisions(post)
    assert [r.number for r in revisions] == [1, 2]
    assert revisions[1].content["scheduled_at"] == utc(NEXT_YEAR, 5, 6, 8).isoformat()
    assert revisions[1].content_hash == after.content_hash != revisions[0].content_hash


def test_dropping_a_post_on_its_own_day_changes_nothing(client, cal):
    post = cal.post(when=utc(NEXT_YEAR, 5, 4, 8))
    login(client, cal.world.owner)
    response = _move(client, post, f"{NEXT_YEAR}-05-04")
    assert response.status_code == 200
    assert len(cal.revisions(post)) == 1


def test_a_plain_form_post_redirects_back(client, cal):
    post = cal.post(when=utc(NEXT_YEAR, 5, 4, 8))
    login(client, cal.world.owner)
    back = f"/calendar?view=week&date={NEXT_YEAR}-05-04"
    response = _move(client, post, f"{NEXT_YEAR}-05-05", headers={}, next=back)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(back)
    assert as_utc(cal.reload(post).scheduled_at) == utc(NEXT_YEAR, 5, 5, 8)
    # Another site is never a place to go back to.
    response = _move(client, post, f"{NEXT_YEAR}-05-06", headers={},
                     next="https://evil.example/")
    assert response.status_code == 303
    assert "evil" not in response.headers["Location"]
    assert f"/clients/{cal.world.client.id}/calendar" in response.headers["Location"]


def test_a_refused_plain_form_post_shows_the_form_again(client, cal):
    post = cal.post(when=in_days(5))
    login(client, cal.world.owner)
    response = _move(client, post, "not a date", headers={})
    assert response.status_code == 422
    html = page(response)
    assert "Choose a date." in html
    assert 'name="date"' in html and 'aria-invalid="true"' in html


def test_unreadable_date_posts_without_time_and_archived_clients_are_refused(client, cal):
    post = cal.post(when=in_days(5))
    idea = cal.post(when=None)
    login(client, cal.world.owner)
    assert _move(client, post, "").status_code == 422
    assert _move(client, post, f"{NEXT_YEAR}-02-30").status_code == 422
    response = _move(client, idea, f"{NEXT_YEAR}-02-03")
    assert response.status_code == 422
    assert "no time yet" in page(response)
    assert cal.reload(idea).scheduled_at is None
    cal.update(cal.world.client, archived_at=datetime.now(UTC))
    response = _move(client, post, f"{NEXT_YEAR}-02-03")
    assert response.status_code == 422
    assert "archived" in page(response)


def test_member_cannot_move_a_post_of_an_unassigned_client(client, cal):
    theirs = cal.post(when=in_days(5))
    other = cal.post(client=cal.world.other_client, when=in_days(5))
    before = cal.reload(other).scheduled_at
    login(client, cal.world.member)
    assert _move(client, other, f"{NEXT_YEAR}-02-03").status_code == 404
    assert cal.reload(other).scheduled_at == before
    assert _move(client, theirs, f"{NEXT_YEAR}-02-03").status_code == 200


def test_another_agencys_post_answers_404(client, cal):
    post = cal.post(when=in_days(5))
    beta = make_world("Beta")
    login(client, beta.owner)
    assert _move(client, post, f"{NEXT_YEAR}-02-03").status_code == 404
    assert len(cal.revisions(post)) == 1


def test_the_drag_and_drop_request_needs_the_csrf_token(app, client, cal):
    post = cal.post(when=in_days(5))
    login(client, cal.world.owner)
    html = page(client.get("/calendar"))
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert _move(client, post, f"{NEXT_YEAR}-02-03").status_code == 400
        assert len(cal.revisions(post)) == 1
        response = _move(client, post, f"{NEXT_YEAR}-02-03",
                         headers={**HTMX, "X-CSRFToken": token})
        assert response.status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert len(cal.revisions(post)) == 2
