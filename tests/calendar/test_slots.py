"""A client's weekly publishing slots: adding (validated), removing, and the next free
one, which skips taken times and keeps its wall-clock time across daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from agency.content.slot_models import TimeSlot
from agency.content.slots import add_slot, next_free_slot
from tenants.context import tenant_scope
from tests.calendar.helpers import NEXT_YEAR, page, utc
from tests.factories import login

PARIS = ZoneInfo("Europe/Paris")


def _slots(cal, client=None) -> list[tuple[int, str]]:
    client = client or cal.world.client
    with tenant_scope(cal.agency_id):
        return [(s.weekday, s.time_of_day) for s in cal.db.session.scalars(
            select(TimeSlot).where(TimeSlot.client_id == client.id)
            .order_by(TimeSlot.weekday, TimeSlot.time_of_day))]


def _add(cal, weekday: int, clock: str, client=None) -> TimeSlot:
    with cal.app.test_request_context(), tenant_scope(cal.agency_id):
        slot = add_slot(client or cal.world.client, weekday, clock)
        cal.db.session.flush()
        return slot


def _next(cal, after: datetime, client=None):
    with cal.app.test_request_context(), tenant_scope(cal.agency_id):
        return next_free_slot(client or cal.world.client, after)


# --- the page ---------------------------------------------------------------------------

def test_add_a_slot_and_see_it_listed(client, cal):
    login(client, cal.world.member)
    url = f"/clients/{cal.world.client.id}/slots"
    response = client.post(url, data={"weekday": "1", "time_of_day": "12:30"})
    assert response.status_code == 303
    assert _slots(cal) == [(1, "12:30")]
    html = page(client.get(url))
    assert "Tue 12:30" in html
    assert "Slot Tue 12:30 added." in html


def test_time_is_normalised(client, cal):
    login(client, cal.world.owner)
    client.post(f"/clients/{cal.world.client.id}/slots",
                data={"weekday": "0", "time_of_day": " 9:05 "})
    assert _slots(cal) == [(0, "09:05")]


def test_bad_day_or_time_is_refused_with_422_and_nothing_written(client, cal):
    login(client, cal.world.owner)
    url = f"/clients/{cal.world.client.id}/slots"
    cases = [({"weekday": "1", "time_of_day": "25:00"}, "HH:MM"),
             ({"weekday": "1", "time_of_day": "12h30"}, "HH:MM"),
             ({"weekday": "1", "time_of_day": ""}, "HH:MM"),
             ({"weekday": "7", "time_of_day": "12:30"}, "day of the week"),
             ({"weekday": "Tuesday", "time_of_day": "12:30"}, "day of the week")]
    for data, message in cases:
        response = client.post(url, data=data)
        assert response.status_code == 422, data
        assert message in page(response), data
        assert 'aria-invalid="true"' in page(response), data
    assert _slots(cal) == []


def test_the_same_slot_twice_is_refused(client, cal):
    _add(cal, 1, "12:30")
    login(client, cal.world.owner)
    response = client.post(f"/clients/{cal.world.client.id}/slots",
                           data={"weekday": "1", "time_of_day": "12:30"})
    assert response.status_code == 422
    assert "already exists" in page(response)
    assert _slots(cal) == [(1, "12:30")]


def test_delete_a_slot(client, cal):
    slot = _add(cal, 1, "12:30")
    _add(cal, 3, "18:00")
    login(client, cal.world.member)
    response = client.post(f"/clients/{cal.world.client.id}/slots/{slot.id}/delete")
    assert response.status_code == 303
    assert _slots(cal) == [(3, "18:00")]


def test_a_slot_is_reached_only_through_its_own_client(client, cal):
    slot = _add(cal, 1, "12:30", client=cal.world.other_client)
    login(client, cal.world.owner)
    response = client.post(f"/clients/{cal.world.client.id}/slots/{slot.id}/delete")
    assert response.status_code == 404
    assert _slots(cal, cal.world.other_client) == [(1, "12:30")]


def test_unassigned_member_gets_404_on_slot_pages(client, cal):
    slot = _add(cal, 1, "12:30", client=cal.world.other_client)
    login(client, cal.world.member)
    base = f"/clients/{cal.world.other_client.id}/slots"
    assert client.get(base).status_code == 404
    assert client.get(base + "/next").status_code == 404
    assert client.post(base, data={"weekday": "2", "time_of_day": "10:00"}).status_code == 404
    assert client.post(f"{base}/{slot.id}/delete").status_code == 404
    assert _slots(cal, cal.world.other_client) == [(1, "12:30")]


def test_archived_client_slots_are_read_only(client, cal):
    slot = _add(cal, 1, "12:30")
    cal.update(cal.world.client, archived_at=datetime.now(UTC))
    login(client, cal.world.owner)
    base = f"/clients/{cal.world.client.id}/slots"
    assert client.post(base, data={"weekday": "2", "time_of_day": "10:00"}).status_code == 422
    assert client.post(f"{base}/{slot.id}/delete").status_code == 303
    assert _slots(cal) == [(1, "12:30")]
    assert "Add the slot" not in page(client.get(base))


# --- next_free_slot ---------------------------------------------------------------------

def test_no_slots_means_no_next_slot(cal):
    assert _next(cal, utc(NEXT_YEAR, 1, 4, 12)) is None


def _weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _last_sunday_of_march(year: int) -> date:
    return _weekday_on_or_after(date(year, 3, 25), 6)  # Europe's spring clock change


def _paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def test_next_slot_is_the_first_one_strictly_after(cal):
    _add(cal, 1, "12:30")  # Tuesday
    _add(cal, 3, "09:00")  # Thursday
    tuesday = _weekday_on_or_after(date(NEXT_YEAR, 1, 5), 1)
    assert _next(cal, _paris(tuesday, 0)) == _paris(tuesday, 12, 30).astimezone(UTC)
    assert _next(cal, _paris(tuesday, 12, 30)) == _paris(tuesday + timedelta(days=2), 9)
    assert _next(cal, _paris(tuesday, 12, 29)) == _paris(tuesday, 12, 30)


def test_next_slot_skips_taken_times(cal):
    _add(cal, 1, "12:30")
    tuesday = _weekday_on_or_after(date(NEXT_YEAR, 6, 1), 1)
    cal.post(when=_paris(tuesday, 12, 30))
    # Another client's post at that time does not take this client's slot.
    cal.post(client=cal.world.other_client, when=_paris(tuesday + timedelta(days=7), 12, 30))
    assert _next(cal, _paris(tuesday, 8)) == _paris(tuesday + timedelta(days=7), 12, 30)
    cal.post(when=_paris(tuesday + timedelta(days=7), 12, 30))
    assert _next(cal, _paris(tuesday, 8)) == _paris(tuesday + timedelta(days=14), 12, 30)


def test_next_slot_keeps_its_local_time_across_daylight_saving(cal):
    _add(cal, 1, "10:00")  # Tuesday 10:00 in Paris
    change = _last_sunday_of_march(NEXT_YEAR)
    winter = change - timedelta(days=5)  # the Tuesday before the change
    summer = change + timedelta(days=2)  # the Tuesday after
    assert _next(cal, _paris(winter, 8)) == utc(winter.year, winter.month, winter.day, 9)
    found = _next(cal, _paris(winter, 11))
    assert found == utc(summer.year, summer.month, summer.day, 8)  # 10:00 summer time
    cal.post(when=found)
    later = summer + timedelta(days=7)
    assert _next(cal, _paris(winter, 11)) == utc(later.year, later.month, later.day, 8)


def test_a_slot_time_skipped_by_the_clock_change_is_left_out_that_day(cal):
    _add(cal, 6, "02:30")  # Sunday 02:30 does not exist on the day clocks go forward
    change = _last_sunday_of_march(NEXT_YEAR)
    found = _next(cal, _paris(change - timedelta(days=1), 12))
    assert found == _paris(change + timedelta(days=7), 2, 30)
    assert found.astimezone(PARIS).hour == 2


def test_next_slot_endpoint_for_the_composer(client, cal):
    login(client, cal.world.member)
    url = f"/clients/{cal.world.client.id}/slots/next"
    assert client.get(url).get_json() == {"scheduled_at_local": None,
                                          "scheduled_at": None, "timezone": "Europe/Paris"}
    _add(cal, 1, "12:30")
    after = f"{NEXT_YEAR}-06-01T08:00"
    data = client.get(url, query_string={"after": after}).get_json()
    local = datetime.fromisoformat(data["scheduled_at_local"])
    assert data["timezone"] == "Europe/Paris"
    assert local.weekday() == 1 and local.strftime("%H:%M") == "12:30"
    assert f"{NEXT_YEAR}-06-01" <= data["scheduled_at_local"] < f"{NEXT_YEAR}-06-09"
    assert datetime.fromisoformat(data["scheduled_at"]) == local.replace(
        tzinfo=PARIS).astimezone(UTC)
    bad = client.get(url, query_string={"after": "soon"})
    assert bad.status_code == 422


def test_next_slot_endpoint_uses_the_clients_timezone(client, cal):
    cal.update(cal.world.client, timezone="America/New_York")
    _add(cal, 1, "12:30")
    login(client, cal.world.owner)
    data = client.get(f"/clients/{cal.world.client.id}/slots/next").get_json()
    assert data["timezone"] == "America/New_York"
    assert data["scheduled_at_local"].endswith("T12:30")
    instant = datetime.fromisoformat(data["scheduled_at"])
    assert instant.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "12:30"
    assert instant > datetime.now(UTC)
