"""The results as a person clicks through them, in French, against the live server:

the agency's overview lists a client with this month against last; its dashboard, set to
last month with the period form, shows the figures, the SVG charts (with their titles),
the best posts, and exports a CSV; the monthly report ("Bilan mensuel") says the month in
plain sentences, shows the charts and what is planned next, and makes a PDF; the owner
sets the agency's colour and logo, which the report then carries; the report's link is
e-mailed to a contact and opens, signed out, without any staff control; and a contact is
opted in to the monthly report through the contact form.

The client, its sandbox account and three months of history (demo_history.py) are
committed under ``committed_agency``'s agency, which the fixture removes with every
tenant table's rows (the results tables included, checked after the removal).
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlsplit

import pytest
from flask_babel import force_locale
from playwright.sync_api import expect
from sqlalchemy import create_engine, func, select, text

from agency.config import normalise_database_url
from agency.extensions import db as _db

pytestmark = pytest.mark.e2e

CLIENT = "Boulangerie Martin"  # demo_history.py has texts for it
CONTACT, EMAIL = "Léa Martin", "lea@boulangerie-martin.test"
COLOR = "#c0392b"
RESULTS_TABLES = ("post_metric_snapshots", "account_metric_days", "monthly_reports",
                  "publications", "sandbox_posts")


def _results_rows(app, agency_id) -> dict[str, int]:
    """The agency's rows in the results tables, read as the owner role (as the removal)."""
    engine = create_engine(normalise_database_url(app.config["MIGRATION_DATABASE_URL"]))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT set_config('app.agency_id', :a, true)"),
                         {"a": str(agency_id)})
        found = {name: conn.execute(select(func.count()).select_from(table).where(
                     table.c.agency_id == agency_id)).scalar()
                 for name in RESULTS_TABLES for table in [_db.metadata.tables[name]]}
    engine.dispose()
    return found


@pytest.fixture
def left_behind(app):
    """Set up before ``committed_agency`` (so torn down after it): once the agency is
    removed, none of its results rows may remain."""
    agencies: list = []
    yield agencies
    for agency_id in agencies:
        assert set(_results_rows(app, agency_id).values()) == {0}


@pytest.fixture
def public_address(app, live_server, monkeypatch):
    """The app's public address is the live server's: the e-mailed /r/ link opens there."""
    monkeypatch.setitem(app.config, "SERVER_NAME", urlsplit(live_server).netloc)


def _seed(app, agency_id, owner_email: str):
    """The client, its sandbox account and three months of history, committed."""
    from agency import models
    from agency.clients.services import create_client
    from agency.networks.services import add_account
    from agency.results.demo_history import seed_history
    from tenants.context import tenant_scope

    with app.app_context(), app.test_request_context(), tenant_scope(agency_id):
        owner_id = _db.session.scalars(select(models.User.id).where(
            models.User.email == owner_email)).one()
        client = create_client({"name": CLIENT, "language": "fr",
                                "timezone": "Europe/Paris"})
        account = add_account(client, "sandbox", CLIENT, "@martin")
        added = seed_history(client, account, owner_id)
        client_id = client.id
        _db.session.commit()
        _db.session.remove()
    assert added > 40  # about 95 days at four posts a week
    return client_id


def _expected(app, agency_id, client_id) -> dict:
    """What the pages should say, in French: the periods' labels, the figures formatted
    as the pages format them, and the publications counted straight from the table."""
    from agency.clients.models import Client
    from agency.content.models import Post, PostStatus
    from agency.publishing.models import Publication
    from agency.results import export, queries
    from agency.results.periods import current_month
    from agency.results.report import build, default_month, in_language
    from agency.results.routes import number
    from tenants.context import tenant_scope

    def published(period) -> int:
        return _db.session.scalar(select(func.count()).select_from(Publication).where(
            Publication.client_id == client_id, Publication.published_at >= period.start,
            Publication.published_at < period.end))

    with app.app_context(), app.test_request_context(), tenant_scope(agency_id), \
            force_locale("fr"):
        client = _db.session.scalars(select(Client).where(Client.id == client_id)).one()
        last = default_month(client)
        this = current_month(last.zone)
        summary = queries.summary(client, last)
        with in_language(client):
            report = build(client, last)
        planned = _db.session.scalar(select(func.count()).select_from(Post).where(
            Post.client_id == client_id, Post.status == PostStatus.APPROVED,
            Post.scheduled_at >= this.start, Post.scheduled_at < this.end))
        found = {
            "month": last.first.strftime("%Y-%m"), "last": last.label(),
            "before": last.previous().label(), "this": this.label(),
            "posts_this": published(this), "posts_last": published(last),
            "posts_before": published(last.previous()),
            "summary": {key: (number(getattr(summary.current, key)),
                               number(getattr(summary.previous, key)))
                        for key in ("posts", "reach", "impressions", "engagement",
                                    "followers")},
            "best": [post.text for post in summary.best],
            "sentences": list(report.sentences), "planned": min(planned, 40),
            "csv_header": export.header(),
        }
        _db.session.remove()
    assert found["summary"]["posts"] == (str(found["posts_last"]),
                                         str(found["posts_before"]))
    return found


def _chart_titles(page) -> list[str]:
    """Each SVG chart's accessible title: the <title> its aria-labelledby names first."""
    return page.evaluate("""() => [...document.querySelectorAll('svg[role=img].chart')]
        .map(svg => document.getElementById(
            svg.getAttribute('aria-labelledby').split(' ')[0])?.textContent || '')""")


def _watch(page, errors: list[str]) -> None:
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)


def _png(path) -> bytes:
    from PIL import Image

    Image.new("RGB", (120, 40), (192, 57, 43)).save(path, "PNG")
    return path.read_bytes()


def test_results_dashboard_report_branding_and_link(
        app, left_behind, page, browser, live_server, committed_agency, public_address,
        mail, tmp_path):
    agency_id = committed_agency["agency_id"]
    left_behind.append(agency_id)
    client_id = _seed(app, agency_id, committed_agency["email"])
    seeded = _results_rows(app, agency_id)
    assert seeded["monthly_reports"] == 0 and all(
        seeded[name] > 0 for name in RESULTS_TABLES if name != "monthly_reports")
    want = _expected(app, agency_id, client_id)

    # --- sign in; "Résultats" in the main nav: the agency overview ----------------------------
    page.goto("/login")
    page.get_by_label("E-mail").fill(committed_agency["email"])
    page.get_by_label("Mot de passe").fill(committed_agency["password"])
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Clients")).to_be_visible()
    nav = page.get_by_role("navigation", name="Menu principal")
    nav.get_by_role("link", name="Résultats").click()
    expect(page).to_have_url(f"{live_server}/results")
    expect(page.get_by_role("heading", name="Résultats", level=1)).to_be_visible()
    expect(nav.get_by_role("link", name="Résultats")).to_have_attribute("aria-current", "page")
    overview = page.locator("table.results-overview")
    expect(overview.get_by_role("columnheader")).to_have_text(
        ["Client", "Publications", "Portée", "Taux d’engagement", "Évolution des abonnés",
         "À surveiller"])
    line = overview.get_by_role("row").filter(has=page.get_by_role("rowheader", name=CLIENT))
    expect(line).to_have_count(1)
    # This month's posts so far, then last month's in brackets.
    expect(line.get_by_role("cell").first).to_have_text(
        re.compile(rf"^\s*{want['posts_this']}\s*\({want['posts_last']}\)\s*$"))

    # --- the client's dashboard, set to last month with the period form -------------------------
    line.get_by_role("link", name=CLIENT).click()
    expect(page).to_have_url(re.compile(rf"/clients/{client_id}/results$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Résultats · {want['this']}")
    page.get_by_label("Mois", exact=True).fill(want["month"])
    page.get_by_role("button", name="Afficher ce mois").click()
    expect(page).to_have_url(re.compile(rf"/clients/{client_id}/results\?period="
                                        rf"{want['month']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Résultats · {want['last']}")
    figures = page.locator("table.results-summary")
    expect(figures.get_by_role("columnheader")).to_have_text(
        ["Indicateur", want["last"], want["before"], re.compile(r"\S")])
    for label, key in (("Publications mises en ligne", "posts"), ("Portée", "reach"),
                       ("Impressions", "impressions"), ("Engagement", "engagement"),
                       ("Abonnés", "followers")):
        row = figures.get_by_role("row").filter(
            has=page.get_by_role("rowheader", name=label, exact=True))
        now, then = want["summary"][key]
        expect(row.get_by_role("cell").nth(0)).to_have_text(now)
        expect(row.get_by_role("cell").nth(1)).to_have_text(then)
    # Server-drawn SVG charts, each named by its <title> (and described by its <desc>).
    expect(page.locator("svg[role=img].chart")).to_have_count(3)
    assert _chart_titles(page) == ["Impressions par jour de publication", "Abonnés",
                                   "Engagement par réseau"]
    expect(page.get_by_role("img", name=re.compile(r"^Impressions par jour de publication\b"))
           ).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Engagement par réseau\b"))
           ).to_be_visible()
    best = page.locator("section", has=page.get_by_role(
        "heading", name="Meilleures publications")).locator("ol.results-posts > li")
    assert want["best"], "the seeded month has measured posts"
    expect(best).to_have_count(len(want["best"]))
    for item, post_text in zip(best.all(), want["best"], strict=True):
        expect(item).to_contain_text(post_text)
        expect(item).to_contain_text("Sandbox")

    # --- "Exporter en CSV": a download, UTF-8 with a BOM, one row per publication -------------
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Exporter en CSV").click()
    download = downloading.value
    assert download.suggested_filename.endswith(f"-{want['month']}.csv")
    with open(download.path(), "rb") as file:
        raw = file.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == want["csv_header"]
    assert rows[0][:3] == ["Publiée le (heure du client)", "Réseau", "Texte"]
    assert len(rows) - 1 == want["posts_last"]
    for cells in rows[1:]:
        assert len(cells) == len(rows[0])
        assert cells[0].startswith(want["month"]) and cells[1] == "Sandbox"
        assert int(cells[4]) >= 0  # impressions: a plain number
        assert 0 <= float(cells[12]) < 1  # the engagement rate, as a fraction

    # --- the monthly report ----------------------------------------------------------------------
    page.get_by_role("link", name="Bilan mensuel").click()
    expect(page).to_have_url(re.compile(rf"/clients/{client_id}/report\?month="
                                        rf"{want['month']}$"))
    report_url = page.url
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name=CLIENT, level=1)).to_be_visible()
    expect(page.get_by_text(f"Bilan de {want['last']}")).to_be_visible()
    brief = page.locator("section.report-summary")
    expect(brief.get_by_role("heading", name="Ce mois-ci en bref")).to_be_visible()
    expect(brief.get_by_role("listitem")).to_have_text(want["sentences"])
    expect(brief.get_by_role("listitem").first).to_contain_text("Vos publications ont été vues")
    charts = page.locator("section.report-charts svg[role=img]")
    expect(charts).to_have_count(3)
    assert _chart_titles(page) == ["Impressions par jour de publication", "Abonnés",
                                   "Engagement par réseau"]
    expect(page.locator("section.report-best ol.report-posts > li")).to_have_count(
        len(want["best"]))
    planned = page.locator("section.report-planned")
    expect(planned.get_by_role("heading")).to_have_text(
        f"Prévu le mois prochain · {want['this']}")
    if want["planned"]:
        expect(planned.locator("tbody tr")).to_have_count(want["planned"])
    else:
        expect(planned).to_contain_text("Aucune publication validée")
    pdf_link = page.get_by_role("link", name="Télécharger en PDF")
    expect(pdf_link).to_have_attribute("href", f"/clients/{client_id}/report.pdf?month="
                                               f"{want['month']}")
    answer = page.request.get(pdf_link.get_attribute("href"))
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/pdf")
    assert answer.body().startswith(b"%PDF")

    # --- the agency's colour and logo, from the report's staff bar -----------------------------
    expect(page.locator("svg.report-band rect")).to_have_attribute("fill", "#1f4e79")
    expect(page.locator("img.report-logo")).to_have_count(0)
    page.get_by_role("link", name="Couleur et logo").click()
    expect(page).to_have_url(f"{live_server}/settings/report")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Bilans mensuels\u00a0: votre couleur et votre logo")
    page.get_by_label("Couleur", exact=True).fill(COLOR)
    logo = tmp_path / "logo.png"
    _png(logo)
    page.get_by_label("Logo (PNG ou JPEG, 300 Ko au plus)").set_input_files(logo)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("La couleur et le logo des bilans sont enregistrés.")
           ).to_be_visible()
    expect(page.get_by_role("img", name="Votre logo")).to_have_attribute(
        "src", re.compile(r"^data:image/png;base64,"))
    expect(page.get_by_role("img", name=f"Couleur {COLOR}")).to_be_visible()
    page.goto(report_url)
    expect(page.locator("img.report-logo")).to_have_attribute(
        "src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("img.report-logo")).to_have_attribute(
        "alt", re.compile(r"^Agence E2E "))
    expect(page.locator("svg.report-band rect")).to_have_attribute("fill", COLOR)

    # --- a contact with an e-mail, added on the client's page -------------------------------
    staff_bar = page.get_by_role("navigation", name="Bilan")
    expect(staff_bar).to_contain_text("Aucun contact de ce client n’a d’adresse e-mail.")
    staff_bar.get_by_role("link", name="Résultats").click()
    page.locator("p.crumbs").get_by_role("link", name=CLIENT).click()
    expect(page.get_by_role("heading", name=CLIENT, level=1)).to_be_visible()
    page.get_by_role("link", name="Ajouter un contact").click()
    page.get_by_label("Nom", exact=True).fill(CONTACT)
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_role("button", name="Ajouter le contact").click()
    contact_row = page.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=CONTACT))
    expect(contact_row).to_contain_text(EMAIL)
    expect(contact_row.get_by_text("Bilan mensuel")).to_have_count(0)

    # --- the report's link, sent to her from the report page --------------------------------
    # The client page's "Résultats" tab opens this month; the report is last month's.
    tabs = page.get_by_role("navigation", name="Ce client")
    tabs.get_by_role("link", name="Résultats").click()
    expect(page).to_have_url(re.compile(rf"/clients/{client_id}/results$"))
    page.goto(report_url)
    mail.clear()
    staff_bar.get_by_label(CONTACT).check()
    staff_bar.get_by_role("button", name="Envoyer").click()
    expect(page).to_have_url(report_url)
    expect(page.locator(".report-flashes")).to_have_text("Le bilan a été envoyé à 1 contact.")
    [message] = [m for m in mail if m.to == EMAIL]
    assert message.subject.endswith(f"le bilan de {want['last']}")
    assert message.text.startswith(f"Bonjour {CONTACT},")
    [link] = re.findall(r"https?://\S+/r/\S+", message.text)
    assert link.startswith(f"{live_server}/r/")
    shared = page.get_by_label(re.compile(r"^Lien à partager"))
    expect(shared).to_have_value(re.compile(rf"^{re.escape(live_server)}/r/"))

    # --- the link, opened signed out (and by a reader whose browser speaks English) ---------
    stranger = browser.new_context(base_url=live_server, locale="en-US")
    errors: list[str] = []
    try:
        public = stranger.new_page()
        _watch(public, errors)
        public.goto(link)
        expect(public.locator("html")).to_have_attribute("lang", "fr")
        expect(public.get_by_role("heading", name=CLIENT, level=1)).to_be_visible()
        expect(public.get_by_text(f"Bilan de {want['last']}")).to_be_visible()
        expect(public.locator("section.report-summary li")).to_have_text(want["sentences"])
        expect(public.locator("section.report-charts svg[role=img]")).to_have_count(3)
        expect(public.get_by_role("heading", name=re.compile(r"^Prévu le mois prochain"))
               ).to_be_visible()
        expect(public.locator("img.report-logo")).to_have_attribute(
            "src", re.compile(r"^data:image/png;base64,"))
        expect(public.locator("svg.report-band rect")).to_have_attribute("fill", COLOR)
        # No staff control: no staff bar, no way back to the results, no sending, no
        # branding, no month form, no share box; only the PDF.
        expect(public.locator(".report-staff")).to_have_count(0)
        expect(public.locator("form")).to_have_count(0)
        for staff_only in ("Envoyer le lien par e-mail", "Couleur et logo", "Résultats",
                           "Lien à partager"):
            expect(public.get_by_text(staff_only)).to_have_count(0)
        expect(public.get_by_role("link")).to_have_count(1)
        public_pdf = public.get_by_role("link", name="Télécharger en PDF")
        expect(public_pdf).to_have_attribute("href", urlsplit(link).path + ".pdf")
        answer = stranger.request.get(public_pdf.get_attribute("href"))
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("application/pdf")
        assert answer.body().startswith(b"%PDF")
    finally:
        stranger.close()
    assert errors == [], f"the signed-out page reported errors: {errors}"

    # --- the contact opted in to the monthly report through the contact form -----------------
    page.goto(f"/clients/{client_id}")
    page.get_by_role("link", name=f"Modifier {CONTACT}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Modifier {CONTACT}")
    opt_in = page.get_by_label("Reçoit le bilan mensuel")
    expect(opt_in).not_to_be_checked()
    opt_in.check()
    page.get_by_role("button", name="Enregistrer le contact").click()
    expect(page.get_by_role("heading", name=CLIENT, level=1)).to_be_visible()
    expect(contact_row.get_by_text("Bilan mensuel", exact=True)).to_be_visible()
    page.get_by_role("link", name=f"Modifier {CONTACT}").click()
    expect(page.get_by_label("Reçoit le bilan mensuel")).to_be_checked()
