"""Engine-level settings for the embedded SQLite default.

- Foreign keys are enforced (SQLite leaves them off by default), so the composite
  tenant keys hold there too.
- WAL and a busy timeout let the web process and workers share the file.
- pysqlite's own transaction handling is replaced by explicit BEGIN, the documented
  recipe that makes SAVEPOINT (and so nested transactions) behave. It is BEGIN
  IMMEDIATE: a transaction that reads then writes (a worker settling a publication)
  would otherwise fail at once with "database is locked" when another process wrote
  meanwhile, busy timeout or not; taking the write lock up front makes it wait its turn.
  One writer at a time is SQLite's rule anyway; PostgreSQL is for real concurrency.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 5000")
    cursor.close()
    # SQLite's lower() folds ASCII only; searches must find "Pâtisserie" from "PÂTISSERIE"
    # as PostgreSQL's ILIKE does.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
