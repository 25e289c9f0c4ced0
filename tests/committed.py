"""Data committed for real (browser tests, several processes), and its removal."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from agency.config import normalise_database_url
from agency.extensions import db as _db


def remove_agency(app, agency_id, user_id) -> None:
    """As the owner role (the app role may not delete audit rows), children first."""
    from agency import models

    engine = create_engine(normalise_database_url(app.config["MIGRATION_DATABASE_URL"]))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT set_config('app.agency_id', :a, true)"),
                         {"a": str(agency_id)})
        # Every tenant table, children first (the metadata knows the order).
        for table in reversed(_db.metadata.sorted_tables):
            if "agency_id" in table.c:
                conn.execute(table.delete().where(table.c.agency_id == agency_id))
        conn.execute(models.Agency.__table__.delete().where(models.Agency.id == agency_id))
        conn.execute(models.UserSession.__table__.delete()
                     .where(models.UserSession.user_id == user_id))
        conn.execute(models.User.__table__.delete().where(models.User.id == user_id))
    engine.dispose()
