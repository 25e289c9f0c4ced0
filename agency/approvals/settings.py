"""A client's approval settings: the policy, how long links work, when to remind and
escalate, and automatic approval at the deadline (only with the client's recorded consent).
The service flushes; the caller commits once."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db

from .models import ApprovalPolicy

HOURS_MIN, HOURS_MAX = 1, 720  # one hour to thirty days
SETTINGS_CHANGED = "client.approval_settings_changed"
_HOUR_FIELDS = ("link_hours", "reminder_after_hours", "escalate_after_hours")
_COLUMNS = {"link_hours": "approval_link_hours", "reminder_after_hours": "reminder_after_hours",
            "escalate_after_hours": "escalate_after_hours"}


def _hours(values: dict, name: str) -> int:
    try:
        hours = int(values[name])
    except (KeyError, TypeError, ValueError):
        raise ServiceError(_("Give a number of hours."), field=name) from None
    if not HOURS_MIN <= hours <= HOURS_MAX:
        raise ServiceError(_("Between %(min)d and %(max)d hours.", min=HOURS_MIN,
                             max=HOURS_MAX), field=name)
    return hours


def update_approval_settings(client: Client, values: dict, *,
                             now: datetime | None = None) -> bool:
    """Apply the settings, all or nothing (every value is checked before any is set).

    Automatic approval can only be switched on with the name of the client's contact who
    agreed; the name and the moment are recorded, and cleared when it is switched off.
    Returns whether anything changed (an audit entry is written only then)."""
    now = now or datetime.now(UTC)
    try:
        policy = ApprovalPolicy(values.get("policy"))
    except ValueError:
        raise ServiceError(_("Choose how posts are approved."), field="policy") from None
    hours = {name: _hours(values, name) for name in _HOUR_FIELDS}
    auto = bool(values.get("auto_approve"))
    agreed_by = (values.get("agreed_by") or "").strip()
    if auto and not agreed_by and not client.auto_approve_at_deadline:
        raise ServiceError(_("Automatic approval needs the client's agreement: write the "
                             "name of the contact who agreed."), field="agreed_by")
    if len(agreed_by) > 254:
        raise ServiceError(_("At most %(max)d characters.", max=254), field="agreed_by")

    before = _state(client)
    client.approval_policy = policy.value
    for name, column in _COLUMNS.items():
        setattr(client, column, hours[name])
    if not auto:
        client.auto_approve_at_deadline = False
        client.auto_approve_opted_in_by, client.auto_approve_opted_in_at = "", None
    elif not client.auto_approve_at_deadline or (
            agreed_by and agreed_by != client.auto_approve_opted_in_by):
        # A new consent (or a different person's): who and when are what we can show later.
        client.auto_approve_at_deadline = True
        client.auto_approve_opted_in_by, client.auto_approve_opted_in_at = agreed_by, now
    after = _state(client)
    if after == before:
        return False
    db.session.flush()
    record(SETTINGS_CHANGED, client, details={
        key: value for key, value in after.items() if before.get(key) != value})
    return True


def _state(client: Client) -> dict:
    return {"policy": client.approval_policy, "link_hours": client.approval_link_hours,
            "reminder_after_hours": client.reminder_after_hours,
            "escalate_after_hours": client.escalate_after_hours,
            "auto_approve": bool(client.auto_approve_at_deadline),
            "agreed_by": client.auto_approve_opted_in_by or ""}
