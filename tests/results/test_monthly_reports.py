"""The monthly report, sent on its own at the start of the client's month to the
contacts who opted in: the scan finds exactly the clients due (both backends; on
PostgreSQL through its SECURITY DEFINER function), the job sends once whatever the
retries, and the link shows the figures as they stood when it was sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from agency.clients.services import archive_client, create_contact, update_contact
from agency.extensions import db
from agency.periodic import PERIODIC_JOBS
from agency.results import jobs, report_due
from agency.results.models import MonthlyReport
from tenants.context import tenant_scope
from tests.factories import make_world
from tests.results.test_report_support import load_client, scene_for

pytestmark = pytest.mark.pdf  # the e-mail carries the report's summary

# 1 November 2026, 07:30 UTC = 08:30 in Paris (winter time): Paris is due.
DUE = datetime(2026, 11, 1, 7, 30, tzinfo=UTC)


@pytest.fixture
def world(db):
    return make_world("Agence Mensuelle")


def opt_in(app, world, client_id, email="gerant@boulangerie.test"):
    with app.test_request_context(), tenant_scope(world.agency_id):
        contact = create_contact(load_client(client_id), {
            "name": "Gérant", "email": email, "receives_reports": True})
        db.session.commit()
        return contact.id


def due_here(world, now):
    return [(client, month) for agency, client, month in report_due.clients_due(now)
            if agency == world.agency_id]


def test_the_job_is_declared_as_periodic_work():
    assert ("monthly-reports", 3600, "agency.results.jobs:run_monthly_reports") in PERIODIC_JOBS


def test_due_from_eight_on_the_first_until_the_seventh_in_the_client_s_time(app, world):
    opt_in(app, world, world.client.id)
    assert due_here(world, datetime(2026, 11, 1, 6, 59, tzinfo=UTC)) == []  # 07:59 Paris
    assert due_here(world, DUE) == [(world.client.id, date(2026, 10, 1))]
    assert due_here(world, datetime(2026, 11, 7, 22, 0, tzinfo=UTC)) == [
        (world.client.id, date(2026, 10, 1))]  # 23:00 on the 7th
    assert due_here(world, datetime(2026, 11, 7, 23, 30, tzinfo=UTC)) == []  # the 8th
    # A client in Réunion (UTC+4) is due four hours earlier than Paris, once.
    with tenant_scope(world.agency_id):
        load_client(world.other_client.id).timezone = "Indian/Reunion"
        db.session.commit()
    opt_in(app, world, world.other_client.id, "reunion@garage.test")
    assert due_here(world, datetime(2026, 11, 1, 4, 30, tzinfo=UTC)) == [
        (world.other_client.id, date(2026, 10, 1))]


def test_only_active_clients_with_a_contact_opted_in_with_an_address(app, world):
    assert due_here(world, DUE) == []  # nobody opted in
    contact = opt_in(app, world, world.client.id)
    with app.test_request_context(), tenant_scope(world.agency_id):
        from agency.clients.models import Contact

        update_contact(db.session.get(Contact, contact), {"receives_reports": False})
        db.session.commit()
    assert due_here(world, DUE) == []
    opt_in(app, world, world.other_client.id, "garage@garage.test")
    with app.test_request_context(), tenant_scope(world.agency_id):
        archive_client(load_client(world.other_client.id))
        db.session.commit()
    assert due_here(world, DUE) == []


def test_sent_once_to_those_who_opted_in_whatever_the_retries(app, world, mail, queue):
    scene_for(world)
    opt_in(app, world, world.client.id)  # Sophie, the approver, did not opt in
    with app.test_request_context():
        assert jobs.run_monthly_reports(now=DUE, queue=queue) >= 1
        assert f"report-{world.client.id}-2026-10" in queue.job_ids
        item = f"{world.client.id}/2026-10"
        assert jobs.monthly_report_job(str(world.agency_id), item) == "sent to 1"
        assert jobs.monthly_report_job(str(world.agency_id), item) == "nothing to send"
    assert [m.to for m in mail] == ["gerant@boulangerie.test"]
    assert "Vos publications ont été vues" in mail[0].text  # the client's language
    with tenant_scope(world.agency_id):
        [row] = db.session.scalars(select(MonthlyReport)).all()
        assert (row.month, row.recipients) == (date(2026, 10, 1), 1)
    assert due_here(world, DUE) == []  # the scan no longer finds it
    # The month's report keeps the figures as they stood when it was sent.
    from agency.results import periods, report_send

    with app.test_request_context(), tenant_scope(world.agency_id):
        client = load_client(world.client.id)
        october = periods.month(2026, 10, ZoneInfo("Europe/Paris"))
        assert report_send.figures_as_sent(client, october) == row.generated_at
        november = periods.month(2026, 11, ZoneInfo("Europe/Paris"))
        assert report_send.figures_as_sent(client, november) is None


def test_opting_in_needs_an_email_address(app, world):
    from agency.auth.services import ServiceError

    with app.test_request_context(), tenant_scope(world.agency_id), \
            pytest.raises(ServiceError, match="receives the monthly report needs an e-mail"):
        create_contact(load_client(world.client.id), {"name": "Sans adresse",
                                                     "receives_reports": True})


def test_another_agency_s_clients_are_not_this_agency_s_business(app, world):
    other = make_world("Agence Voisine")
    opt_in(app, other, other.client.id, "voisin@voisine.test")
    assert due_here(world, DUE) == []
    with tenant_scope(world.agency_id):
        assert db.session.scalar(select(func.count()).select_from(MonthlyReport)) == 0


@pytest.mark.postgres
def test_on_postgresql_the_scan_goes_through_its_function(app, world):
    from sqlalchemy import text

    opt_in(app, world, world.client.id)
    with tenant_scope(world.agency_id):
        found = db.session.execute(text(
            "SELECT client_id FROM relais_reports_due(:now)"), {"now": DUE}).all()
    assert (world.client.id,) in [(row[0],) for row in found]
    # The app role alone, without the function, sees no other agency's clients.
    other = make_world("Agence Cachée")
    opt_in(app, other, other.client.id, "cache@cachee.test")
    with tenant_scope(world.agency_id):

        visible = db.session.execute(text("SELECT id FROM clients")).scalars().all()
        assert other.client.id not in visible
