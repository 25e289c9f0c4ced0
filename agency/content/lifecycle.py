"""The post approval state machine, as a pure function.

    draft ─submit─▶ in_review (internal_then_client) ─internal_approve─▶ awaiting_client
          ─submit─▶ awaiting_client (client)          ─client_approve──▶ approved
          ─submit─▶ approved (none)
    in_review / awaiting_client ─request_changes─▶ changes_requested
    any state ─edit─▶ draft (the new content needs the decisions again)

Nothing reaches ``approved`` without the decisions its policy requires: that property is
checked by a hypothesis state-machine test.
"""

from __future__ import annotations

from enum import StrEnum

from agency.approvals.models import ApprovalPolicy

from .models import PostStatus


class Event(StrEnum):
    SUBMIT = "submit"
    INTERNAL_APPROVE = "internal_approve"
    INTERNAL_REQUEST_CHANGES = "internal_request_changes"
    CLIENT_APPROVE = "client_approve"
    CLIENT_REQUEST_CHANGES = "client_request_changes"
    AUTO_APPROVE = "auto_approve"
    EDIT = "edit"


class InvalidTransition(ValueError):
    def __init__(self, status: PostStatus, event: Event):
        super().__init__(f"cannot {event.value} a post that is {status.value}")
        self.status = status
        self.event = event


S, E = PostStatus, Event

_AFTER_SUBMIT = {
    ApprovalPolicy.NONE: S.APPROVED,
    ApprovalPolicy.CLIENT: S.AWAITING_CLIENT,
    ApprovalPolicy.INTERNAL_THEN_CLIENT: S.IN_REVIEW,
}

_TRANSITIONS: dict[tuple[PostStatus, Event], PostStatus] = {
    (S.IN_REVIEW, E.INTERNAL_APPROVE): S.AWAITING_CLIENT,
    (S.IN_REVIEW, E.INTERNAL_REQUEST_CHANGES): S.CHANGES_REQUESTED,
    (S.AWAITING_CLIENT, E.CLIENT_APPROVE): S.APPROVED,
    (S.AWAITING_CLIENT, E.CLIENT_REQUEST_CHANGES): S.CHANGES_REQUESTED,
    (S.AWAITING_CLIENT, E.AUTO_APPROVE): S.APPROVED,
}


def next_status(status: PostStatus, event: Event, policy: ApprovalPolicy) -> PostStatus:
    """The status after ``event``; raises ``InvalidTransition`` when it does not apply."""
    if event is Event.EDIT:
        return S.DRAFT
    if event is Event.SUBMIT:
        if status in (S.DRAFT, S.CHANGES_REQUESTED):
            return _AFTER_SUBMIT[policy]
        raise InvalidTransition(status, event)
    try:
        return _TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransition(status, event) from None


def required_decisions(policy: ApprovalPolicy) -> tuple[Event, ...]:
    """The decisions that must be taken, in order, on one content for it to be approved."""
    return {
        ApprovalPolicy.NONE: (),
        ApprovalPolicy.CLIENT: (Event.CLIENT_APPROVE,),
        ApprovalPolicy.INTERNAL_THEN_CLIENT: (Event.INTERNAL_APPROVE, Event.CLIENT_APPROVE),
    }[policy]
