"""Publishing throughput, lateness and worker memory, against bare RQ (issue 4).

Runs against a real PostgreSQL and Redis, with the sandbox network at zero latency, and
prints in one run:

- baseline: bare RQ throughput for a no-op job (``agency.publishing.queues.ping``) on the
  same worker class and process count (``flask --app wsgi worker``, AppSimpleWorker);
- relais:   publish throughput for ``--posts`` publications all due in the same second T,
            through the real dispatcher and workers, and their ratio to the baseline;
- lateness: published_at - T for each of them (p50, p99, max), and a check that each was
            published exactly once (sandbox_posts counted per idempotency key);
- memory:   the RSS of ONE worker sampled at 10%, 50% and 100% of ``--memory-jobs``
            publications (the whole engine path), and its growth after the warm-up.

Both throughputs are measured the same way: the worker processes are started and idle
first, then the clock runs from the moment the work exists (jobs enqueued / T) to the last
job finished (RQ's ended_at / the last published_at). Process start-up is in neither.

It touches nothing it did not create: a throwaway database with its own owner and app
roles on the local PostgreSQL (``--admin-url``, superuser, default
postgresql://postgres@127.0.0.1:5432/postgres), migrated with ``flask db upgrade``, and
Redis keys under a unique prefix on ``--redis-url`` (default db 14); all of it is dropped
at the end. A target missed prints MISS but does not fail the run: machines are noisy.

    .venv/bin/python bench/publish.py [--posts 1000] [--workers 2] [--memory-jobs 10000]

``--latency-ms`` gives the sandbox a real network's answer time (the issue's figures are
at 0); ``--profile DIR`` records the relais phase's processes with py-spy.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.publish_kit.sandbox import ADMIN_URL, REDIS_URL, Refused, Sandbox  # noqa: E402
from bench.publish_kit.world import (  # noqa: E402
    World,
    aware,
    calibrated_lead,
    wait_published,
)

# Targets from issue 4 (on a 2-core machine with 2 workers).
TARGET_RATIO = 0.5
TARGET_P99 = 2.0
TARGET_MAX = 5.0
# "Flat": what one worker may still grow between 10% and 100% of the memory run.
FLAT_BOUND_MIB = 10.0


# --- measuring -----------------------------------------------------------------------------

def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of them at or below."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_for_workers(box: Sandbox, processes, timeout: float = 90) -> None:
    from redis import Redis
    from rq import Queue, Worker

    connection = Redis.from_url(box.redis_url)
    queue = Queue(box.prefix + "publish", connection=connection)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited ({process.returncode}):\n"
                                   + box.log_tail(process))
        workers = [w for w in Worker.all(connection=connection, queue=queue)
                   if w.pid in {process.pid for process in processes}]
        box.worker_names.update(w.name for w in workers)
        if len(workers) == len(processes):
            return
        time.sleep(0.2)
    raise RuntimeError("the workers did not register in time")


def baseline(box: Sandbox, jobs: int, label: str) -> float:
    """Bare RQ: ``jobs`` no-op jobs onto the idle workers; jobs per second."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job

    connection = Redis.from_url(box.redis_url)
    queue = Queue(box.prefix + "publish", connection=connection)
    ids = [f"bench-ping-{box.token}-{label}-{n}" for n in range(jobs)]
    box.job_ids.update(ids)
    registry = queue.finished_job_registry
    done_before = registry.count
    start = datetime.now(UTC)
    with connection.pipeline() as pipe:  # as the dispatcher enqueues: one pipeline per batch
        for job_id in ids:
            queue.enqueue_call("agency.publishing.queues.ping", job_id=job_id, result_ttl=600,
                               pipeline=pipe)
        pipe.execute()
    deadline = time.monotonic() + 300
    while (done := registry.count - done_before) < jobs:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done}/{jobs} no-op jobs finished")
        time.sleep(0.05)
    ended = [job.ended_at for job in Job.fetch_many(ids, connection=connection)]
    last = max(aware(moment) for moment in ended)
    return jobs / (last - start).total_seconds()


# --- the run -------------------------------------------------------------------------------

def run(args, box: Sandbox) -> dict:
    figures: dict = {}
    box.create()
    box.migrate()
    for key, value in box.env().items():
        os.environ[key] = value
    from agency import create_app

    app = create_app()
    with app.app_context():
        world = World(app, args.accounts, box.token, args.latency_ms)
    print(f"  database {box.database}, Redis prefix {box.prefix} (both dropped at the end)",
          flush=True)

    # 1. Bare RQ on idle workers of the same class and count.
    workers = [box.start(f"worker-{n}", "worker") for n in range(args.workers)]
    wait_for_workers(box, workers)
    baseline(box, min(200, args.posts), "warm-up")  # the first job's imports, connections
    figures["baseline"] = baseline(box, args.posts, "timed")
    print(f"  bare RQ: {figures['baseline']:.1f} jobs/s", flush=True)

    # 2. Relais: every publication due at T, dispatcher and workers up before T.
    dispatcher = box.start("dispatcher", "dispatcher")
    if args.profile:
        for n, process in enumerate([*workers, dispatcher]):
            box.profile(process, "dispatcher" if process is dispatcher else f"worker-{n}",
                        Path(args.profile))
    lead = args.lead or calibrated_lead(app, world, args.posts)
    created_at = time.time()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=math.ceil(lead))
    with app.app_context():
        world.approved_posts(args.posts, 1, due, label="Bench")
    spare = (due - datetime.now(UTC)).total_seconds()
    print(f"  {args.posts} approved posts created in {time.time() - created_at:.1f} s, "
          f"due at T = {due:%H:%M:%S} ({spare:.1f} s from now)", flush=True)
    if spare < 1:
        raise RuntimeError(f"setting up took longer than the lead ({lead:.0f} s): the "
                           "publications were due before the setup ended; give a larger "
                           "--lead")
    time.sleep(max(0.0, spare))
    wait_published(world, due, args.posts, args.timeout, [*workers, dispatcher], box)
    rows = world.publications(due)
    box.job_ids.update(f"publish-{row.id}" for row in rows)
    lateness = sorted((aware(row.published_at) - due).total_seconds() for row in rows)
    queued = sorted((aware(row.queued_at) - due).total_seconds() for row in rows
                    if row.queued_at)
    sandbox = world.sandbox_counts()
    keys = {row.idempotency_key for row in rows}
    figures.update(
        relais=len(rows) / lateness[-1] if lateness[-1] > 0 else float("inf"),
        p50=statistics.median(lateness), p99=percentile(lateness, 0.99), max=lateness[-1],
        first=lateness[0], queued_first=queued[0] if queued else None,
        queued_last=queued[-1] if queued else None,
        published=sum(1 for row in rows if row.state == "published"), total=len(rows),
        duplicates=sum(1 for key in keys if sandbox.get(key, 0) > 1),
        missing=sum(1 for key in keys if sandbox.get(key, 0) == 0),
        stray=sum(1 for key in sandbox if key not in keys),
        retried=sum(1 for row in rows if row.attempts != 1 or row.dispatches != 1),
    )
    figures["ratio"] = figures["relais"] / figures["baseline"]
    print(f"  relais: {figures['relais']:.1f} publications/s, lateness max "
          f"{figures['max']:.2f} s", flush=True)
    box.stop([*workers, dispatcher])
    if args.profile:
        print(f"  py-spy profiles of the relais phase in {args.profile}/", flush=True)

    # 3. Memory: one worker through --memory-jobs publications, the whole engine path.
    if args.memory_jobs:
        memory_due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        width = len(world.account_ids)
        started = time.time()
        with app.app_context():
            world.approved_posts(math.ceil(args.memory_jobs / width), width, memory_due,
                                 label="Memory", publications=args.memory_jobs)
        print(f"  {args.memory_jobs} publications for the memory run created in "
              f"{time.time() - started:.1f} s", flush=True)
        worker = box.start("memory-worker", "worker")
        wait_for_workers(box, [worker])
        figures["rss_idle"] = rss_mib(worker.pid)
        dispatcher = box.start("memory-dispatcher", "dispatcher")
        marks = {0.1: None, 0.5: None, 1.0: None}

        def sample(published: int) -> None:
            for fraction in marks:
                if marks[fraction] is None and published >= fraction * args.memory_jobs:
                    marks[fraction] = (published, rss_mib(worker.pid))

        started = time.time()
        wait_published(world, memory_due, args.memory_jobs, args.timeout + args.memory_jobs,
                       [worker, dispatcher], box, on_progress=sample)
        figures["memory_seconds"] = time.time() - started
        figures["rss"] = marks
        box.stop([worker, dispatcher])
        figures["memory_published"] = world.counts(memory_due)[0]
    with app.app_context():
        box.job_ids.update(f"{kind}-{pid}" for pid in world.all_publication_ids()
                           for kind in ("publish", "reconcile"))
        from agency.extensions import db

        db.engine.dispose()
    return figures


def report(args, box: Sandbox, figures: dict) -> None:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    cpus = os.cpu_count()
    print()
    print(f"publishing, {box.versions}, {cpus} CPUs ({platform.machine()}), "
          f"{args.workers} worker process(es) (flask worker: AppSimpleWorker)")
    print(f"{args.posts} publications due in the same second on {args.accounts} sandbox "
          f"accounts (latency {args.latency_ms} ms)")
    rows = [
        ("bare RQ, no-op job", f"{figures['baseline']:8.1f} jobs/s", "", ""),
        ("relais publish", f"{figures['relais']:8.1f} pub/s", "", ""),
        ("ratio relais / RQ", f"{figures['ratio']:8.2f}", f">= {TARGET_RATIO}",
         verdict(figures["ratio"] >= TARGET_RATIO)),
        ("lateness p50", f"{figures['p50']:8.2f} s", "", ""),
        ("lateness p99", f"{figures['p99']:8.2f} s", f"<= {TARGET_P99:g} s",
         verdict(figures["p99"] <= TARGET_P99)),
        ("lateness max", f"{figures['max']:8.2f} s", f"<= {TARGET_MAX:g} s",
         verdict(figures["max"] <= TARGET_MAX)),
    ]
    once = (figures["published"] == figures["total"] == args.posts and not figures["duplicates"]
            and not figures["missing"] and not figures["stray"])
    rows.append(("published exactly once",
                 f"{figures['published']:>4}/{figures['total']}", "dup 0, missing 0",
                 verdict(once)))
    for name, value, target, ok in rows:
        print(f"  {name:<24} {value:<18} {target:<18} {ok}")
    print(f"  (first published at T+{figures['first']:.2f} s; claimed by the dispatcher "
          f"between T+{figures['queued_first']:.2f} and T+{figures['queued_last']:.2f} s; "
          f"duplicates {figures['duplicates']}, missing {figures['missing']}, "
          f"stray {figures['stray']}, not first-time {figures['retried']})")
    if "rss" in figures:
        marks = figures["rss"]
        samples = "  ".join(f"{int(f * 100)}% {m[1]:.1f}" for f, m in marks.items())
        growth = marks[1.0][1] - marks[0.1][1]
        per_k = growth / max(1, (marks[1.0][0] - marks[0.1][0])) * 1000
        print(f"  worker RSS over {args.memory_jobs} publications (1 worker, "
              f"{args.memory_jobs / figures['memory_seconds']:.0f} pub/s): idle "
              f"{figures['rss_idle']:.1f}  {samples} MiB")
        print(f"  {'RSS growth after 10%':<24} {growth:+8.1f} MiB"
              f"{'':<6} {'<= ' + format(FLAT_BOUND_MIB, 'g') + ' MiB':<18} "
              f"{verdict(growth <= FLAT_BOUND_MIB)}   ({per_k:+.2f} MiB per 1000 jobs)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000,
                        help="publications due in the same second (one post each)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--memory-jobs", type=int, default=10000,
                        help="publications through one worker for the memory run; 0 skips")
    parser.add_argument("--accounts", type=int, default=50, help="sandbox accounts")
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="the sandbox network's answer time (0: the issue's figures; "
                             "a real network takes 100-500 ms)")
    parser.add_argument("--lead", type=float, default=0,
                        help="seconds from the start of the setup to T (default: 5 s more "
                             "than 1.5 times the setup's time, timed on 20 posts)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds after T to wait for every publication")
    parser.add_argument("--profile", metavar="DIR", default="",
                        help="record the relais phase's workers and dispatcher with py-spy "
                             "into DIR (collapsed stacks)")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_POSTGRES_ADMIN_URL",
                                                              ADMIN_URL),
                        help="a PostgreSQL superuser, to create the throwaway database")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", REDIS_URL))
    args = parser.parse_args(argv)
    box = Sandbox(args.admin_url, args.redis_url)
    box.load_before = os.getloadavg()
    print(f"bench/publish.py: {args.posts} posts, {args.workers} workers, "
          f"{args.memory_jobs} memory jobs", flush=True)
    try:
        figures = run(args, box)
    except Refused as refused:
        print(f"bench/publish.py: {refused.message}", file=sys.stderr)
        return refused.code
    finally:
        box.drop()
    report(args, box, figures)
    before, after = box.load_before[0], os.getloadavg()[0]
    busy = before > 0.5 * (os.cpu_count() or 1)  # the run itself loads it afterwards
    print(f"  load average (1 min): {before:.2f} before, {after:.2f} after"
          + ("  - a busy machine: these figures are below what it can do" if busy else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
