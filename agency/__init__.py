"""Relais: the Flask application factory.

``create_app`` reads settings and binds extensions; it opens no connection and
creates nothing, so importing or building the app is always cheap and safe.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from . import config as config_module
from .extensions import babel, csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    instance_path = os.environ.get("RELAIS_INSTANCE_PATH", str(PROJECT_ROOT / "instance"))
    app = Flask(__name__, instance_path=instance_path)
    app.config.from_mapping(config_module.load(app.instance_path))
    if config:
        app.config.update(config)

    from . import database, models  # noqa: F401 - engine settings and every mapped class

    _init_extensions(app)
    _register_blueprints(app)

    from . import cli, security, web

    web.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from .i18n import select_locale, select_timezone
    from .redis_conn import limiter_storage_uri

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage_uri(app.config["REDIS_URL"]))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config["REDIS_KEY_PREFIX"] + "limits")
    limiter.init_app(app)
    login_manager.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from billing.routes import bp as billing_bp

    from .api import init_app as init_api
    from .approvals.portal import bp as portal_bp
    from .audit.routes import bp as audit_bp
    from .auth.routes import bp as auth_bp
    from .clientarea.routes import bp as clientarea_bp
    from .clients.routes import bp as clients_bp
    from .content.calendar import bp as calendar_bp
    from .content.routes import bp as posts_bp
    from .main.routes import bp as main_bp
    from .media.public import bp as public_media_bp
    from .media.routes import bp as media_bp
    from .networks.routes_bluesky import bp as bluesky_bp
    from .networks.routes_mastodon import bp as mastodon_bp
    from .networks.routes_oauth import bp as connect_bp
    from .networks.routes_owner import bp as owner_connect_bp
    from .networks.routes_sandbox import bp as sandbox_bp
    from .notifications.routes import bp as notifications_bp
    from .publishing.routes import bp as publishing_bp
    from .results.routes import bp as results_bp
    from .staff.routes import bp as staff_bp

    for bp in (main_bp, auth_bp, clients_bp, staff_bp, audit_bp, notifications_bp, posts_bp,
               calendar_bp, portal_bp, media_bp, clientarea_bp):
        app.register_blueprint(bp)
    app.register_blueprint(mastodon_bp)
    app.register_blueprint(connect_bp)
    app.register_blueprint(owner_connect_bp)
    app.register_blueprint(bluesky_bp)
    app.register_blueprint(publishing_bp)
    app.register_blueprint(sandbox_bp)
    app.register_blueprint(public_media_bp)
    app.register_blueprint(billing_bp)
    app.register_blueprint(results_bp)
    from .results.report_routes import bp as reports_bp  # the monthly report
    app.register_blueprint(reports_bp)
    init_api(app)
