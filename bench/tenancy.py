"""What tenant isolation costs per transaction.

Measures, in one run on the configured database (PostgreSQL with DATABASE_URL /
MIGRATION_DATABASE_URL, else the embedded SQLite):

- baseline: a Core SELECT of one agency's clients with an explicit WHERE, no hooks;
- orm:      the same read through the ORM, tenant hooks bypassed (system scope, explicit
            WHERE): what the ORM itself costs;
- relais:   the same read through the ORM with the tenant hooks (scoping criteria and,
            on PostgreSQL, set_config at the start of the transaction under RLS).

The hooks' own cost is relais/orm; relais/baseline adds the ORM's object loading.

Prints the median and p95 per transaction for both and their ratio. The data (one
agency of 50 clients among 20 agencies) is created here and removed afterwards.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RELAIS_INSTANCE_PATH", tempfile.mkdtemp(prefix="relais-bench-"))

from sqlalchemy import select

from agency import create_app
from agency.clients.models import Client
from agency.extensions import db
from tenants.context import set_tenant
from tenants.ids import new_id
from tenants.models import Agency
from tenants.scoping import system_scope

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3000"))
AGENCIES, CLIENTS = 20, 50


def _seed() -> list:
    ids = []
    for n in range(AGENCIES):
        agency_id = new_id()
        set_tenant(agency_id)
        db.session.add(Agency(id=agency_id, name=f"bench {n}"))
        db.session.flush()
        db.session.add_all(Client(name=f"client {i}") for i in range(CLIENTS))
        db.session.commit()
        ids.append(agency_id)
    return ids


def _cleanup(ids) -> None:
    for agency_id in ids:
        set_tenant(agency_id)
        db.session.execute(Client.__table__.delete().where(Client.agency_id == agency_id))
        db.session.execute(Agency.__table__.delete().where(Agency.id == agency_id))
        db.session.commit()


def _time(fn, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    app = create_app()
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        ids = _seed()
        target = ids[len(ids) // 2]
        table = Client.__table__
        engine = db.engine

        def baseline():
            with engine.connect() as conn, conn.begin():
                if conn.dialect.name == "postgresql":
                    # RLS is forced, so even the baseline must name its tenant.
                    conn.exec_driver_sql(
                        "SELECT set_config('app.agency_id', %(a)s, true)", {"a": str(target)})
                rows = conn.execute(select(table.c.id, table.c.name)
                                    .where(table.c.agency_id == target)).all()
            assert len(rows) == CLIENTS

        def orm():
            set_tenant(target)
            rows = db.session.scalars(
                select(Client).where(Client.agency_id == target)
                .execution_options(**system_scope("benchmark: the ORM without hooks"))
            ).all()
            db.session.commit()
            assert len(rows) == CLIENTS

        def relais():
            set_tenant(target)
            rows = db.session.scalars(select(Client)).all()
            db.session.commit()
            assert len(rows) == CLIENTS

        try:
            for fn in (baseline, orm, relais):  # warm every path
                _time(fn, 100)
            base, plain, ours = [], [], []
            for _ in range(10):  # interleaved, so machine noise hits all three alike
                base += _time(baseline, ROUNDS // 10)
                plain += _time(orm, ROUNDS // 10)
                ours += _time(relais, ROUNDS // 10)
        finally:
            _cleanup(ids)
        backend = engine.dialect.name

    def fmt(samples):
        ordered = sorted(samples)
        return (f"median {statistics.median(ordered) * 1e6:8.1f} µs   "
                f"p95 {ordered[int(len(ordered) * 0.95)] * 1e6:8.1f} µs")

    print(f"tenant-scoped read of {CLIENTS} clients, {ROUNDS} transactions, {backend}")
    print(f"  baseline (Core, explicit WHERE): {fmt(base)}")
    print(f"  orm      (ORM, hooks bypassed) : {fmt(plain)}")
    print(f"  relais   (ORM + tenant hooks)  : {fmt(ours)}")
    median = statistics.median
    print(f"  tenant hooks, relais/orm       : {median(ours) / median(plain):.2f}")
    print(f"  relais/baseline                : {median(ours) / median(base):.2f}")


if __name__ == "__main__":
    main()
