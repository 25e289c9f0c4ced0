"""The monthly report's content and staff pages: the plain-language summary from known
readings (English and French), next month's plan, the page in the client's language
whatever the reader's, the best post's image read from the storage, and 404 for clients
a member does not see."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from agency.results import report
from tenants.context import tenant_scope
from tests.factories import login, make_world
from tests.results.test_dashboard_support import AS_OF
from tests.results.test_report_support import (
    OCTOBER,
    best_post_with_image,
    flat,
    load_client,
    scene_for,
    set_language,
)

pytestmark = pytest.mark.pdf  # the report's pages link to, or are, its PDF


@pytest.fixture
def world(db):
    return make_world("Agence Rapport")


@pytest.fixture
def scene(app, world):
    return scene_for(world)


def sentences_of(app, world, language: str) -> list[str]:
    set_language(world, world.client.id, language)
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = load_client(world.client.id)
        with report.in_language(client):
            return report.build(client, OCTOBER, as_of=AS_OF).sentences


def test_the_summary_in_english(app, world, scene):
    # At AS_OF: impressions 500 + 200 against September's 300; engagement 55 against
    # 10; 4 posts of 9 planned; followers 1,410 (+210); the best post is Instagram's.
    assert sentences_of(app, world, "en") == [
        "Your posts were seen 700 times, +133% compared with September.",
        "4 posts were published, of 9 planned.",
        "You gained 210 new followers (1,410 in all).",
        "People liked, commented on, shared or saved your posts 55 times, +450% compared "
        "with September.",
        "Your best post went out on Instagram on 3 October: “Nos croissants du dimanche”.",
    ]


def test_the_summary_in_french_speaks_french_numbers_and_months(app, world, scene):
    said = [flat(s) for s in sentences_of(app, world, "fr")]
    assert "700" in said[0] and "+133 %" in said[0] and "septembre" in said[0]
    assert "1 410" in said[2] and "210" in said[2]
    assert "55" in said[3] and "+450 %" in said[3]
    assert "3 octobre" in said[4] and "Nos croissants du dimanche" in said[4]


def test_the_summary_in_french_words(app, world, scene):
    # Spaces compared as plain spaces: French puts narrow or non-breaking ones before
    # "%", ":" and inside « », and in 1 410, depending on the CLDR version.
    assert [flat(s) for s in sentences_of(app, world, "fr")] == [
        "Vos publications ont été vues 700 fois, +133 % par rapport à septembre.",
        "4 publications ont été mises en ligne, sur 9 prévues.",
        "Vous avez gagné 210 nouveaux abonnés (1 410 au total).",
        "Vos publications ont été aimées, commentées, partagées ou enregistrées 55 fois, "
        "+450 % par rapport à septembre.",
        "Votre meilleure publication est parue sur Instagram le 3 octobre : « Nos "
        "croissants du dimanche ».",
    ]


def test_signed_percent_and_unknown_changes(app):
    with app.test_request_context(), force_locale("en"):
        assert report.signed_percent(0.18) == "+18%"
        assert report.signed_percent(-0.05) == "−5%"
        assert report.signed_percent(0.001) == "±0%"
    with app.test_request_context(), force_locale("fr"):
        assert flat(report.signed_percent(0.18)) == "+18 %"


def test_a_month_without_figures_says_so(app, world):
    set_language(world, world.client.id, "en")
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = load_client(world.client.id)
        with report.in_language(client):
            built = report.build(client, OCTOBER, as_of=AS_OF)
    assert built.sentences == ["Nothing was published in October."]
    assert built.planned == [] and built.summary.best == []


def test_next_month_lists_approved_posts_in_the_clients_days(app, world, scene):
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = load_client(world.client.id)
        with report.in_language(client):
            built = report.build(client, OCTOBER, as_of=AS_OF)
    assert built.next_period.first.isoformat() == "2026-11-01"
    # Approved posts of November, already out or not ("Novembre" went out at 00:30 on
    # the 1st); awaiting the client is not planned; December is not next month; 23:30
    # on 30 November in Paris (22:30 UTC) still is.
    assert [p.text for p in built.planned] == ["Novembre", "Galette des rois en avance",
                                               "Dernier soir de novembre"]
    assert built.planned[1].networks == ["Facebook", "Instagram"]


def test_the_staff_page_in_the_clients_language(client, world, scene):
    set_language(world, world.client.id, "en")
    login(client, world.owner)
    client.post("/language", data={"lang": "fr", "next": "/results"})  # the reader's own
    response = client.get(f"/clients/{world.client.id}/report?month=2026-10")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Report for October 2026" in html
    assert "Your posts were seen" in html and "compared with September" in html
    assert html.count("<svg") >= 4  # the band and three charts
    assert "Galette des rois en avance" in html and "Pas encore approuvé" not in html
    assert "Agence Rapport" in html  # the agency's name (white label)
    assert f"/clients/{world.client.id}/report.pdf?month=2026-10" in html
    assert "/r/" in html  # the link to share
    assert "<script" not in html and "style=" not in html  # the CSP's rules
    assert "Garage" not in html  # the agency's other client


def test_the_staff_page_is_french_by_default(client, world, scene):
    login(client, world.owner)
    html = client.get(f"/clients/{world.client.id}/report?month=2026-10").get_data(
        as_text=True)
    assert '<html lang="fr">' in html
    assert "octobre 2026" in html and "novembre 2026" in html
    assert "1\u202f580" in html or "1\u00a0580" in html  # read now: every reading


def test_without_a_month_the_last_complete_month(client, world):
    login(client, world.owner)
    response = client.get(f"/clients/{world.client.id}/report")
    assert response.status_code == 200


@pytest.mark.parametrize("month", ["2026-13", "<script>", "last30", "2026-10-01"])
def test_a_month_it_cannot_read_is_a_400_with_a_message(client, world, month):
    login(client, world.owner)
    response = client.get(f"/clients/{world.client.id}/report?month={month}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html and "<script>" not in html
    assert client.get(f"/clients/{world.client.id}/report.pdf?month={month}"
                      ).status_code == 400


def test_the_best_posts_image_comes_from_the_storage(client, app, world, scene):
    media_id = best_post_with_image(app, world, scene)
    login(client, world.owner)
    html = client.get(f"/clients/{world.client.id}/report?month=2026-10").get_data(
        as_text=True)
    assert "Pain au chocolat tout chaud" in html
    assert 'class="report-thumb" src="data:image/' in html
    assert f"/media/{media_id}" not in html  # embedded, not fetched by the reader


def test_a_member_sees_only_the_clients_assigned_to_them(client, world, scene):
    login(client, world.member)
    assert client.get(f"/clients/{world.client.id}/report?month=2026-10").status_code == 200
    for path in ("report", "report.pdf"):
        response = client.get(f"/clients/{world.other_client.id}/{path}?month=2026-10")
        assert response.status_code == 404


def test_another_agencys_staff_get_404(client, world, scene):
    other = make_world("Agence Ailleurs")
    login(client, other.owner)
    for path in ("report", "report.pdf"):
        response = client.get(f"/clients/{world.client.id}/{path}?month=2026-10")
        assert response.status_code == 404


def test_the_dashboard_links_to_the_monthly_report(client, world):
    login(client, world.owner)
    html = client.get(f"/clients/{world.client.id}/results?period=2026-10").get_data(
        as_text=True)
    assert f"/clients/{world.client.id}/report?month=2026-10" in html
