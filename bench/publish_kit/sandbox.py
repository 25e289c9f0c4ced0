"""The benchmark's throwaway database (own owner and app roles) and Redis prefix,
made and dropped by it alone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
CLEAN_GROUPS_KEY = "rq:clean_groups"


class Refused(SystemExit):
    """The benchmark cannot run here; said in one clear sentence."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = message


# --- the throwaway database and Redis prefix ---------------------------------------------

class Sandbox:
    """Everything this run creates, so that exactly that is removed at the end."""

    def __init__(self, admin_url: str, redis_url: str):
        self.token = uuid.uuid4().hex[:10]
        self.admin_url = admin_url
        self.redis_url = redis_url
        self.database = f"relais_bench_{self.token}"
        self.owner = f"relais_bench_owner_{self.token}"
        self.app_role = f"relais_bench_app_{self.token}"
        self.prefix = f"relais-bench-{self.token}:"
        self.instance = Path(tempfile.mkdtemp(prefix="relais-bench-publish-"))
        self.created_db = self.redis_reached = False
        self.created_roles: list[str] = []
        self.job_ids: set[str] = set()
        self.worker_names: set[str] = set()
        self.processes: list[subprocess.Popen] = []
        self.profilers: list[subprocess.Popen] = []
        # RQ's workers set this shared throttle key (with a TTL); removed at the end only
        # if it was not there before.
        self.had_clean_groups = True
        host = admin_url.split("@", 1)[-1].rsplit("/", 1)[0]
        self.database_url = f"postgresql+psycopg://{self.app_role}@{host}/{self.database}"
        self.migration_url = f"postgresql+psycopg://{self.owner}@{host}/{self.database}"

    def env(self) -> dict[str, str]:
        return {**os.environ,
                "DATABASE_URL": self.database_url,
                "MIGRATION_DATABASE_URL": self.migration_url,
                "REDIS_URL": self.redis_url,
                "REDIS_KEY_PREFIX": self.prefix,
                "RELAIS_INSTANCE_PATH": str(self.instance),
                "PYTHONUNBUFFERED": "1"}

    def _admin(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5)

    def create(self) -> None:
        import psycopg
        import redis

        try:
            with self._admin() as conn:
                superuser = conn.execute("SELECT rolsuper FROM pg_roles "
                                         "WHERE rolname = current_user").fetchone()[0]
                if not superuser:
                    raise Refused(f"{self.admin_url} is not a superuser: the benchmark "
                                  "creates its own throwaway database and roles.")
                version = conn.execute("SHOW server_version").fetchone()[0]
                for role in (self.owner, self.app_role):
                    conn.execute(f'CREATE ROLE "{role}" LOGIN')
                    self.created_roles.append(role)
                conn.execute(f'CREATE DATABASE "{self.database}" OWNER "{self.owner}"')
                self.created_db = True
        except psycopg.OperationalError as error:
            raise Refused(
                "This benchmark needs a real PostgreSQL (it refuses SQLite): it could not "
                f"connect to {self.admin_url} ({str(error).strip().splitlines()[0]}). Give a "
                "superuser URL with --admin-url or BENCH_POSTGRES_ADMIN_URL.") from None
        try:
            info = redis.Redis.from_url(self.redis_url, socket_connect_timeout=5).info("server")
        except redis.RedisError as error:
            raise Refused(f"This benchmark needs a real Redis: {self.redis_url} answered "
                          f"{str(error).rstrip('.')}. Give one with --redis-url or "
                          "BENCH_REDIS_URL.") from None
        self.redis_reached = True
        self.versions = f"PostgreSQL {version}, Redis {info['redis_version']}"
        r = redis.Redis.from_url(self.redis_url)
        self.had_clean_groups = bool(r.exists(CLEAN_GROUPS_KEY))

    def migrate(self) -> None:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                              cwd=ROOT, env=self.env(), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError("flask db upgrade failed:\n" + done.stderr[-3000:])

    def start(self, name: str, *command: str) -> subprocess.Popen:
        log = open(self.instance / f"{name}.log", "w")  # noqa: SIM115 - closed with the dir
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and commands
            [sys.executable, "-m", "flask", "--app", "wsgi", *command], cwd=ROOT,
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        process.log_path = self.instance / f"{name}.log"
        self.processes.append(process)
        return process

    def profile(self, process, name: str, out_dir: Path) -> None:
        """Sample ``process`` with py-spy until it exits (collapsed stacks, for speedscope
        or flamegraph.pl; read them with ``--profile-summary``)."""
        # On PATH, or beside this interpreter (installed into the project's venv).
        spy = (shutil.which("py-spy")
               or shutil.which("py-spy", path=str(Path(sys.executable).parent)))
        if spy is None:
            raise Refused("--profile needs py-spy on PATH (pip install py-spy).")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.profilers.append(subprocess.Popen(  # noqa: S603 - py-spy on our own process
            [spy, "record", "--pid", str(process.pid), "--rate", "250", "--format", "raw",
             "--output", str(out_dir / f"{name}.txt"), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))

    def stop(self, processes) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # RQ: warm shutdown, deregisters
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tail(self, process) -> str:
        try:
            return "".join(Path(process.log_path).read_text().splitlines(True)[-20:])
        except OSError:
            return ""

    def drop(self) -> None:
        """Remove what this run made, each step whatever became of the others."""
        self.stop(self.processes)
        for profiler in self.profilers:  # they end with the process they sample
            try:
                profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                profiler.send_signal(signal.SIGINT)
                profiler.wait()
        for what, step in (("the Redis keys", self._drop_redis), ("the database", self._drop_pg)):
            try:
                step()
            except Exception as error:  # say so, and go on with the rest
                print(f"warning: could not remove {what} of {self.token}: {error}",
                      file=sys.stderr)
        shutil.rmtree(self.instance, ignore_errors=True)

    def _drop_pg(self) -> None:
        if not self.created_roles:
            return
        with self._admin() as conn:
            if self.created_db:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            for role in reversed(self.created_roles):
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')

    def _drop_redis(self) -> None:
        import redis

        if not self.redis_reached:
            return
        r = redis.Redis.from_url(self.redis_url)
        # Our queues, registries, budgets: every such key carries the run's token. Jobs,
        # results and workers are keyed by id only: those ids were recorded as they came.
        mine = list(r.scan_iter(match=f"*{self.token}*", count=1000))
        for job_id in self.job_ids:
            mine += [f"rq:job:{job_id}", f"rq:results:{job_id}",
                     f"rq:job:{job_id}:dependents", f"rq:executions:{job_id}"]
        for name in self.worker_names:
            mine += [f"rq:worker:{name}"]
            r.srem("rq:workers", f"rq:worker:{name}")
        queues = [k for k in r.smembers("rq:queues") if self.token.encode() in k]
        if queues:
            r.srem("rq:queues", *queues)
        if not self.had_clean_groups:
            mine.append(CLEAN_GROUPS_KEY)
        for start in range(0, len(mine), 500):
            r.delete(*mine[start:start + 500])
