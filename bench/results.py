"""The results pages at scale: a client with two years of figures and ~5,000 posts.

Measures, in one run on the configured database (PostgreSQL with DATABASE_URL /
MIGRATION_DATABASE_URL, else the embedded SQLite), through the app's own HTTP stack
(Flask's test client, signed in):

- dashboard: a month of the big client (7 sandbox accounts, a post a day on each for
  two years, their readings and daily followers) against the same page for a small
  client (one account, two months), and against the client's ordinary page (baseline);
- statements: how many SQL statements each page runs, for the small and the big client
  (the dashboard's must not grow with the number of posts), and for the agency
  overview with 2 and with 200 clients;
- overview: the agency overview with 200 clients;
- the monthly report of the big client: its page, and its PDF (WeasyPrint).

Targets (issue 7): dashboard p95 < 200 ms on PostgreSQL, statements constant, a monthly
PDF in under 3 s. The data is
created here (one agency) and removed afterwards.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RELAIS_INSTANCE_PATH", tempfile.mkdtemp(prefix="relais-bench-"))

from sqlalchemy import event, func, select

from agency import create_app
from agency.embedded import ensure_embedded_redis, stop_embedded_redis
from agency.extensions import db
from tenants.context import set_tenant

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "60"))
ACCOUNTS, DAYS, CLIENTS = 7, 730, 200
PASSWORD = "un mot de passe de banc d'essai"
EVERY_DAY = {weekday: 8 + weekday for weekday in range(7)}


def _seed(app) -> dict:
    from agency.auth.services import create_agency
    from agency.clients.services import create_client
    from agency.networks.services import add_account
    from agency.publishing.models import Publication
    from agency.results.demo_history import seed_history

    email = f"bench-{uuid.uuid4().hex[:8]}@bench.test"
    with app.test_request_context():
        created = create_agency("Agence banc d'essai", email, "Banc", PASSWORD)
        agency_id, user_id = created.agency.id, created.user.id
        db.session.commit()
        set_tenant(agency_id)
        big, small = (create_client({"name": name}) for name in ("Grand client", "Petit"))
        for n in range(ACCOUNTS):
            account = add_account(big, "sandbox", f"Page {n}")
            seed_history(big, account, user_id, post_days=DAYS, follower_days=DAYS,
                         weekdays=EVERY_DAY)
            db.session.commit()
        seed_history(small, add_account(small, "sandbox", "Page"), user_id)
        ids = {"agency": agency_id, "user": user_id, "email": email, "big": big.id,
               "small": small.id}
        db.session.commit()
        ids["posts"] = db.session.scalar(select(func.count()).select_from(Publication).where(
            Publication.client_id == big.id))
    return ids


def _more_clients(app, agency_id) -> None:
    from agency.clients.services import create_client

    with app.test_request_context():
        set_tenant(agency_id)
        for n in range(CLIENTS - 2):
            create_client({"name": f"Client {n:03d}"})
        db.session.commit()


def _time(fn, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _fmt(samples: list[float]) -> str:
    ordered = sorted(samples)
    return (f"median {statistics.median(ordered) * 1e3:7.1f} ms   "
            f"p95 {ordered[int(len(ordered) * 0.95)] * 1e3:7.1f} ms")


def main() -> None:
    from tests.committed import remove_agency

    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = False  # the bench signs in with a plain POST
    if app.config["EMBEDDED_REDIS"]:  # signing in counts attempts in Redis
        ensure_embedded_redis(app.instance_path)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        started = time.perf_counter()
        ids = _seed(app)
        seeded = time.perf_counter() - started
        backend = db.engine.dialect.name
        statements = []

        def counted(*_args):
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", counted)
        try:
            http = app.test_client()
            response = http.post("/login", data={"email": ids["email"],
                                                 "password": PASSWORD})
            assert response.status_code in (302, 303), response.status_code
            today = datetime.now(UTC)
            month = f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"
            pages = {
                "baseline": f"/clients/{ids['big']}",
                "small": f"/clients/{ids['small']}/results?period={month}",
                "big": f"/clients/{ids['big']}/results?period={month}",
                "overview": "/results",
            }

            def get(path):
                response = http.get(path)
                assert response.status_code == 200, (path, response.status_code)

            def count(path) -> int:
                # The fewest of three: a signed-in session's occasional bookkeeping (its
                # last-seen time) is not the page's.
                found = []
                for _ in range(3):
                    statements.clear()
                    get(path)
                    found.append(len(statements))
                return min(found)

            counts = {name: count(path) for name, path in pages.items()}
            samples = {name: [] for name in ("baseline", "small", "big")}
            for name in samples:  # warm every path
                _time(partial(get, pages[name]), 5)
            for _ in range(10):  # interleaved, so machine noise hits all alike
                for name in samples:
                    samples[name] += _time(partial(get, pages[name]), max(1, ROUNDS // 10))
            report = f"/clients/{ids['big']}/report?month={month}"
            pdf = f"/clients/{ids['big']}/report.pdf?month={month}"
            get(pdf)  # warm WeasyPrint (fonts)
            report_html, report_pdf = [], []
            for _ in range(max(3, ROUNDS // 6)):
                report_html += _time(partial(get, report), 1)
                report_pdf += _time(partial(get, pdf), 1)
            _more_clients(app, ids["agency"])
            counts["overview_200"] = count(pages["overview"])
            overview = _time(lambda: get(pages["overview"]), max(10, ROUNDS // 3))
        finally:
            event.remove(db.engine, "before_cursor_execute", counted)
            db.session.remove()
            remove_agency(app, ids["agency"], ids["user"])
            if app.config["EMBEDDED_REDIS"]:
                stop_embedded_redis(app.instance_path)

    median = statistics.median
    print(f"results pages, {backend}; big client: {ids['posts']} publications over {DAYS} "
          f"days on {ACCOUNTS} accounts (seeded in {seeded:.1f} s); {ROUNDS} requests each")
    print(f"  baseline (client page)      : {_fmt(samples['baseline'])}")
    print(f"  dashboard, small client     : {_fmt(samples['small'])}")
    print(f"  dashboard, big client       : {_fmt(samples['big'])}")
    big, small, base = (median(samples[name]) for name in ("big", "small", "baseline"))
    print(f"  big/baseline (median)       : {big / base:.2f}")
    print(f"  big/small (median)          : {big / small:.2f}")
    print(f"  statements per request      : client page {counts['baseline']}, dashboard "
          f"small {counts['small']}, big {counts['big']}; overview with 2 clients "
          f"{counts['overview']}, with {CLIENTS} {counts['overview_200']}")
    print(f"  overview, {CLIENTS} clients        : {_fmt(overview)}")
    print(f"  monthly report, big client  : page {_fmt(report_html)}")
    print(f"                                PDF  {_fmt(report_pdf)}")


if __name__ == "__main__":
    main()
