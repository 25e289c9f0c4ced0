"""Alembic environment.

Migrations run as the owner role (MIGRATION_DATABASE_URL). After upgrading, the app
role (the user of DATABASE_URL) is granted exactly what it needs on every table, so a
new table is never left unreachable or over-privileged.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import create_engine, make_url

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def migration_url() -> str:
    return current_app.config["MIGRATION_DATABASE_URL"]


def app_role() -> str | None:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).username


def run_migrations_offline():
    context.configure(url=migration_url(), target_metadata=target_db.metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("render_as_batch", True)  # SQLite alters tables by copying them

    url = make_url(migration_url())
    if url.get_backend_name() == "sqlite" and url.database:
        # The embedded default lives in instance/, which may not exist yet.
        import os

        os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_db.metadata,
            **conf_args,
        )
        with context.begin_transaction():
            context.run_migrations()
            role = app_role()
            if role and not getattr(config.cmd_opts, "autogenerate", False):
                from tenants.rls import grant_app_role

                grant_app_role(connection, role)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
