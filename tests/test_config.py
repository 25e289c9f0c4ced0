import pytest

from agency import config
from agency.config import ConfigError, normalise_database_url


def test_postgresql_urls_are_accepted_as_given():
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("RELAIS_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        config.load(str(tmp_path))


def test_production_refuses_to_start_without_token_encryption_key(monkeypatch, tmp_path):
    monkeypatch.setenv("RELAIS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.delenv("TOKEN_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY"):
        config.load(str(tmp_path))


def test_production_uses_secure_cookies(monkeypatch, tmp_path):
    monkeypatch.setenv("RELAIS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", "y" * 48)
    settings = config.load(str(tmp_path))
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SHOW_DEV_OUTBOX"] is False


def test_embedded_defaults_live_under_the_instance_folder(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "MIGRATION_DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = config.load(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'relais.db'}"
    assert settings["MIGRATION_DATABASE_URL"] == settings["SQLALCHEMY_DATABASE_URI"]
    assert settings["REDIS_URL"].startswith("unix://")
    assert settings["EMBEDDED_REDIS"] is True


def test_create_app_has_no_side_effects(tmp_path):
    """Building the app creates no file, database or server (checked in a fresh process,
    since extensions such as the rate limiter are process-wide)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["RELAIS_INSTANCE_PATH"] = str(tmp_path / "instance")
    subprocess.run(
        [sys.executable, "-c", "from agency import create_app; create_app()"],
        check=True, env=env, cwd=os.getcwd(),
    )
    assert not (tmp_path / "instance").exists()
