"""Links in mails sent outside a request (jobs, commands)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_request_context

from tenants.context import current_context, set_tenant


@contextmanager
def external_urls() -> Iterator[None]:
    """Make ``url_for(..., _external=True)`` work: a job or command has no request to
    take the host from, so ``PUBLIC_URL`` stands in for one."""
    app = current_app._get_current_object()
    if has_request_context() or app.config.get("SERVER_NAME"):
        yield
        return
    base = app.config.get("PUBLIC_URL") or "http://localhost:5000"
    tenant = current_context()
    try:
        with app.test_request_context(base_url=base):
            yield
    finally:
        # The stand-in request's teardown forgets the tenant, as after any request; the
        # work around it (a job, a command) is still that tenant's.
        set_tenant(tenant.agency_id, tenant.user_id)
