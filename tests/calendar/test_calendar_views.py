"""The calendar pages: month, week and list put each post on its local day, in the
agency's timezone across clients and in the client's own for one client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import escape

from tests.calendar.helpers import NEXT_YEAR, page, shown_on, utc
from tests.factories import login

JAN_15 = f"{NEXT_YEAR}-01-15"
JAN_16 = f"{NEXT_YEAR}-01-16"


def test_anonymous_visitor_is_sent_to_login(client, cal):
    for url in ("/calendar", f"/clients/{cal.world.client.id}/calendar"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_late_evening_utc_post_shows_on_the_next_paris_day_in_every_view(client, cal):
    post = cal.post(when=utc(NEXT_YEAR, 1, 15, 23, 30))
    login(client, cal.world.owner)
    for query in (f"date={JAN_15}", f"view=month&date={JAN_15}", f"view=week&date={JAN_16}",
                  f"view=list&date={JAN_15}"):
        response = client.get(f"/calendar?{query}")
        assert response.status_code == 200, query
        assert shown_on(response, post) == [JAN_16], query
    assert "Europe/Paris" in page(response)


def test_one_clients_calendar_uses_the_clients_timezone(client, cal):
    cal.update(cal.world.client, timezone="America/New_York")
    post = cal.post(when=utc(NEXT_YEAR, 1, 15, 23, 30))
    login(client, cal.world.owner)
    response = client.get(f"/clients/{cal.world.client.id}/calendar?date={JAN_15}")
    assert response.status_code == 200
    assert shown_on(response, post) == [JAN_15]  # 18:30 in New York
    assert "America/New_York" in page(response)
    assert "6:30" in page(response)
    # Across clients it is the agency's timezone again.
    assert shown_on(client.get(f"/calendar?date={JAN_15}"), post) == [JAN_16]


def test_week_view_shows_only_its_week(client, cal):
    monday = datetime(NEXT_YEAR, 1, 4, tzinfo=UTC)
    monday -= timedelta(days=monday.weekday())  # the first Monday of the year or before
    inside = cal.post(when=monday + timedelta(days=2, hours=10))
    outside = cal.post(when=monday + timedelta(days=8, hours=10))
    login(client, cal.world.owner)
    response = client.get(f"/calendar?view=week&date={(monday + timedelta(days=3)).date()}")
    assert shown_on(response, inside) == [(monday + timedelta(days=2)).date().isoformat()]
    assert shown_on(response, outside) == []
    assert page(response).count('class="cal-day') == 7


def test_month_grid_pads_to_whole_weeks_and_list_shows_only_days_with_posts(client, cal):
    post = cal.post(when=utc(NEXT_YEAR, 3, 10, 9))
    login(client, cal.world.owner)
    html = page(client.get(f"/calendar?date={NEXT_YEAR}-03-10"))
    assert html.count('class="cal-day') % 7 == 0
    assert f'data-date="{NEXT_YEAR}-03-01"' in html and f'data-date="{NEXT_YEAR}-03-31"' in html
    listed = client.get(f"/calendar?view=list&date={NEXT_YEAR}-03-10")
    assert shown_on(listed, post) == [f"{NEXT_YEAR}-03-10"]
    assert page(listed).count('class="cal-day') == 1


def test_past_posts_are_shown_on_their_day(client, cal):
    post = cal.post(when=datetime.now(UTC) + timedelta(days=3))
    past = datetime.now(UTC) - timedelta(days=40)
    cal.set_time(post, past)
    login(client, cal.world.owner)
    day = past.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    assert shown_on(client.get(f"/calendar?date={day}"), post) == [day]


def test_posts_without_a_time_are_listed_apart(client, cal):
    post = cal.post(when=None, text="Idea for the spring menu")
    login(client, cal.world.owner)
    response = client.get(f"/calendar?date={JAN_15}")
    assert shown_on(response, post) == [None]
    html = page(response)
    assert "Unscheduled" in html
    assert html.index("Idea for the spring menu") > html.index("Unscheduled")
    chip = html.split(f'data-post-id="{post.id}"')[1].split("</li>")[0]
    assert "draggable" not in chip


def test_chip_shows_time_client_excerpt_networks_and_status(client, cal):
    text = "Our new sourdough is here! " + "Crunchy crust, soft crumb. " * 10
    post = cal.post(when=utc(NEXT_YEAR, 2, 3, 11, 15), text=text, labels=["Promo"])
    login(client, cal.world.owner)
    html = page(client.get(f"/calendar?date={NEXT_YEAR}-02-03"))
    start = html.index(f'data-post-id="{post.id}"')
    chip_start = html.rindex("<li", 0, start)
    chip = html[chip_start:html.index("</details>", start)]
    assert "status-draft" in chip
    assert "Draft" in chip
    assert "12:15" in chip  # 11:15 UTC is 12:15 in Paris in winter
    assert str(escape(cal.world.client.name)) in chip
    assert "Our new sourdough is here!" in chip
    assert text.strip() not in chip  # an excerpt, not the whole text
    assert "Sandbox" in chip
    assert "Promo" in chip
    assert 'draggable="true"' in chip
    assert f"/posts/{post.id}/reschedule" in chip


def test_one_clients_calendar_does_not_repeat_the_client_name_on_chips(client, cal):
    post = cal.post(when=utc(NEXT_YEAR, 2, 3, 11, 15))
    login(client, cal.world.owner)
    html = page(client.get(f"/clients/{cal.world.client.id}/calendar?date={NEXT_YEAR}-02-03"))
    chip = html.split(f'data-post-id="{post.id}"')[1].split("</details>")[0]
    assert 'class="cal-client"' not in chip


def test_every_status_has_its_class(client, cal):
    from agency.content.models import PostStatus

    posts = {}
    for n, status in enumerate(PostStatus):
        posts[status] = cal.post(when=utc(NEXT_YEAR, 2, 1 + n, 10))
        cal.update(posts[status], status=status)
    login(client, cal.world.owner)
    html = page(client.get(f"/calendar?date={NEXT_YEAR}-02-01"))
    for status, post in posts.items():
        opening = html[html.rindex("<li", 0, html.index(f'data-post-id="{post.id}"')):]
        assert opening.startswith(f'<li class="cal-post status-{status.value}'), status


def test_approved_posts_ask_before_moving(client, cal):
    from agency.content.models import PostStatus

    post = cal.post(when=utc(NEXT_YEAR, 2, 1, 10))
    cal.update(post, status=PostStatus.APPROVED)
    login(client, cal.world.owner)
    html = page(client.get(f"/calendar?date={NEXT_YEAR}-02-01"))
    assert "data-confirm-move=" in html.split(f'data-post-id="{post.id}"')[1].split(">")[0]


def test_navigation_links_keep_view_and_filters(client, cal):
    login(client, cal.world.owner)
    html = page(client.get(f"/calendar?view=month&date={NEXT_YEAR}-01-15&status=draft"))
    assert f"date={NEXT_YEAR - 1}-12-01" in html
    assert f"date={NEXT_YEAR}-02-01" in html
    today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    assert f"date={today}" in html
    assert "status=draft" in html
    week = page(client.get(f"/calendar?view=week&date={NEXT_YEAR}-01-15"))
    assert f"date={NEXT_YEAR}-01-08" in week and f"date={NEXT_YEAR}-01-22" in week


def test_unknown_view_and_date_fall_back_to_this_month(client, cal):
    login(client, cal.world.owner)
    response = client.get("/calendar?view=year&date=tomorrow")
    assert response.status_code == 200
    today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    assert f'data-date="{today}"' in page(response)
    assert "cal-month" in page(response)


def test_archived_clients_posts_are_not_draggable_on_their_calendar(client, cal):
    post = cal.post(when=utc(NEXT_YEAR, 2, 1, 10))
    cal.update(cal.world.client, archived_at=datetime.now(UTC))
    login(client, cal.world.owner)
    html = page(client.get(f"/clients/{cal.world.client.id}/calendar?date={NEXT_YEAR}-02-01"))
    assert shown_on_html(html, post)
    assert 'draggable="true"' not in html
    # Archived workspaces are left out of the calendar across clients.
    assert str(post.id) not in page(client.get(f"/calendar?date={NEXT_YEAR}-02-01"))


def shown_on_html(html: str, post) -> bool:
    return f'data-post-id="{post.id}"' in html
