"""A worker or dispatcher that SIGKILLs itself at one named point, for the process-level
crash tests of test_chaos.py. Otherwise exactly ``flask --app wsgi worker|dispatcher``.

    python -m tests.publishing.crashing worker after_claim
    python -m tests.publishing.crashing worker after_sending_committed
    python -m tests.publishing.crashing worker after_network_answered
    python -m tests.publishing.crashing dispatcher after_claim

``worker after_claim``: the job was taken from the queue, nothing done with it yet.
``dispatcher after_claim``: the claim (``queued``) is committed, the job not enqueued.
The two engine points are the engine's own ``crash_hook`` (agency/publishing/engine.py).
"""

from __future__ import annotations

import os
import signal
import sys

ENGINE_POINTS = ("after_sending_committed", "after_network_answered")


def _die(*_args, **_kwargs) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(role: str, point: str) -> None:
    from agency.publishing import dispatch, engine, jobs

    if role == "dispatcher" and point == "after_claim":
        # dispatch_once calls the module's enqueue() right after committing its claim.
        dispatch.enqueue = lambda claimed: _die() if claimed else None
    elif role == "worker" and point == "after_claim":
        # RQ resolves "agency.publishing.jobs.publish[_many]" when the job starts.
        jobs.publish = jobs.publish_many = _die
    elif role == "worker" and point in ENGINE_POINTS:
        engine.crash_hook = lambda name: _die() if name == point else None
    else:
        raise SystemExit(f"unknown crash point: {role} {point}")


def main() -> None:
    role, point = sys.argv[1], sys.argv[2]
    arm(role, point)
    from flask.cli import main as flask

    sys.argv = ["flask", "--app", "wsgi", role]
    flask()


if __name__ == "__main__":
    main()
