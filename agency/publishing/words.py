"""Publishing in words for a person: the name of each state, why a publication stopped,
and what to do about it. Shared by the health page, the post page and the calendar, so a
state is called the same everywhere."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from agency.content.forms import local_time

from .models import HoldReason, Publication, PublicationState

P = PublicationState

STATE_LABELS = {
    P.SCHEDULED: _l("Scheduled"),
    P.QUEUED: _l("Queued"),
    P.SENDING: _l("Sending"),
    P.PUBLISHED: _l("Published"),
    P.RETRYING: _l("Retrying"),
    P.FAILED: _l("Failed"),
    P.UNKNOWN: _l("Being checked"),
    P.NEEDS_ATTENTION: _l("Needs attention"),
    P.HELD: _l("On hold"),
}

# Where the latest problem still matters: shown as the reason.
_TROUBLED = (P.FAILED, P.NEEDS_ATTENTION, P.RETRYING, P.UNKNOWN, P.HELD)


def state_label(state: PublicationState | str) -> str:
    return str(STATE_LABELS[PublicationState(state)])


def reason(publication: Publication) -> str:
    """Why it stopped or waits, in words (empty when nothing went wrong)."""
    state = publication.state
    if state == P.HELD:
        if publication.held_reason == HoldReason.BILLING:
            return _("The client's billing is not in good standing.")
        account = publication.account
        return (publication.last_error or (account.status_reason if account else "")
                or _("The account's access expired or was revoked."))
    if state not in _TROUBLED:
        return ""
    if publication.last_error:
        return publication.last_error
    if state == P.UNKNOWN:
        return _("The network did not confirm whether it went out.")
    if state == P.RETRYING and publication.error_code == "rate_limited":
        return _("Waiting for the account's publishing limit to allow it.")
    return ""


def advice(publication: Publication, tz_name: str) -> str:
    """What a person should do now (or that nothing is needed, and what happens next)."""
    state = publication.state
    if state == P.SCHEDULED:
        return _("Nothing to do: it goes out on %(when)s.",
                 when=local_time(publication.due_at, tz_name, "d MMM yyyy, HH:mm"))
    if state in (P.QUEUED, P.SENDING):
        return _("Nothing to do: it is going out now.")
    if state == P.PUBLISHED:
        return ""
    if state == P.RETRYING:
        return _("Nothing to do yet: Relais tries again around %(when)s.",
                 when=local_time(publication.due_at, tz_name, "d MMM yyyy, HH:mm"))
    if state == P.UNKNOWN:
        return _("Nothing to do yet: Relais is asking the network whether it went out.")
    if state == P.NEEDS_ATTENTION:
        return _("Look at the account on the network. If the post is there, mark it as "
                 "published (with its link); if it is not, retry it.")
    if state == P.HELD:
        if publication.held_reason == HoldReason.BILLING:
            return _("Settle the client's billing: it goes out once that is done.")
        return _("Reconnect the account on the client's page: it goes out as soon as the "
                 "account works again (at once if its time has passed).")
    return _FAILED_ADVICE.get(publication.error_code, _FAILED_ADVICE[""])()


_FAILED_ADVICE = {
    "refused": lambda: _("The network refused it. Change the post if needed (it will be "
                         "approved again), or retry it if the refusal was temporary."),
    "gave_up": lambda: _("Retry it once the network works again, or publish it by hand and "
                         "mark it as published."),
    "content_missing": lambda: _("Edit the post or reconnect the account, then have it "
                                 "approved again."),
    "unsupported": lambda: _("Publish it by hand on the network, then mark it as published."),
    "": lambda: _("Retry it, or publish it by hand on the network and mark it as published."),
}
