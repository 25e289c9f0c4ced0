"""Forms for the post pages, and the conversion between the client's wall-clock time and
the UTC the services store.

Forms check shape; what a value means (an account of this client, a text that fits a
network, a time in the future) is decided by the services, whose ``ServiceError`` lands
on the field it names (``field_for`` maps service names to form fields).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from agency.approvals.models import ApprovalPolicy, DecisionKind
from agency.approvals.settings import HOURS_MAX, HOURS_MIN
from agency.auth.services import ServiceError
from agency.content.models import CommentVisibility, PostStatus
from agency.networks.rules import NETWORKS, rules_for

from . import options_form

STATUS_LABELS = {
    PostStatus.DRAFT: _l("Draft"),
    PostStatus.IN_REVIEW: _l("In internal review"),
    PostStatus.AWAITING_CLIENT: _l("Awaiting the client"),
    PostStatus.CHANGES_REQUESTED: _l("Changes requested"),
    PostStatus.APPROVED: _l("Approved"),
}
DECISION_LABELS = {
    DecisionKind.INTERNAL_APPROVED: _l("Approved in internal review"),
    DecisionKind.INTERNAL_CHANGES: _l("Changes requested in internal review"),
    DecisionKind.CLIENT_APPROVED: _l("Approved by the client"),
    DecisionKind.CLIENT_CHANGES: _l("Changes requested by the client"),
    DecisionKind.AUTO_APPROVED: _l("Approved automatically at the deadline"),
}
SUBMITTED = {  # what submitting led to, for the message after it
    PostStatus.APPROVED: _l("Approved: no approval is needed for this client."),
    PostStatus.AWAITING_CLIENT: _l("Waiting for the client. Send it for approval when ready."),
    PostStatus.IN_REVIEW: _l("Sent to internal review."),
}
POLICY_LABELS = {
    ApprovalPolicy.NONE: _l("No approval: the agency's save is enough"),
    ApprovalPolicy.CLIENT: _l("The client approves each post"),
    ApprovalPolicy.INTERNAL_THEN_CLIENT: _l("A manager reviews, then the client approves"),
}
TEXT_MAX = 70_000  # above every network's limit; the rules give the precise message


def network_name(network: str) -> str:
    return str(rules_for(network).display_name) if network in NETWORKS else network


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite: naive UTC


def to_local(moment: datetime | None, tz_name: str) -> datetime | None:
    return None if moment is None else _aware(moment).astimezone(ZoneInfo(tz_name))


def local_time(moment: datetime | None, tz_name: str, fmt: str = "medium") -> str:
    """``moment`` (UTC) as the client reads it, in the client's timezone."""
    local = to_local(moment, tz_name)
    return "" if local is None else format_datetime(local, fmt, rebase=False)


def from_local(day: date, clock: time, tz_name: str) -> datetime:
    """The UTC instant of a wall-clock time in ``tz_name``. A time skipped when the clocks
    go forward does not exist there: refused rather than silently moved by an hour."""
    zone = ZoneInfo(tz_name)
    local = datetime.combine(day, clock.replace(second=0, microsecond=0), tzinfo=zone)
    moment = local.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ServiceError(_("This time does not exist on that day in %(tz)s (the clocks "
                             "change). Choose another time.", tz=tz_name),
                           field="scheduled_at")
    return moment


def variant_field(network: str) -> str:
    return f"variant_{network}"


POSITION_PREFIX = "position-"
MAX_POSITION = 1000


def media_positions(formdata) -> dict[str, int]:
    """{media id: position} from the composer's ``position-<id>`` inputs; blank or
    nonsense positions are left out (such files keep the order they were shown in)."""
    positions = {}
    for key in (formdata or {}):
        if not key.startswith(POSITION_PREFIX):
            continue
        try:
            position = int((formdata.get(key) or "").strip())
        except ValueError:
            continue
        if 0 < position <= MAX_POSITION:
            positions[key[len(POSITION_PREFIX):]] = position
    return positions


class PostForm(FlaskForm):
    text = TextAreaField(_l("Text"), validators=[Length(max=TEXT_MAX)])
    # Choices are the client's accounts; the service refuses anything else.
    targets = SelectMultipleField(_l("Publish on"), choices=[], validate_choice=False)
    first_comment = TextAreaField(_l("First comment"), validators=[Length(max=TEXT_MAX)])
    labels = StringField(_l("Labels"), validators=[Length(max=500)],
                         description=_l("Separated by commas, for example: promo, summer"))
    scheduled_date = DateField(_l("Date"), validators=[Optional()])
    scheduled_time = TimeField(_l("Time"), validators=[Optional()])
    # Ticked files of the client's library; a position typed beside each orders them.
    # The service refuses ids that are not this client's.
    media = SelectMultipleField(_l("Images and videos"), choices=[], validate_choice=False)

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data, extra_filters, **kwargs)
        self._positions = media_positions(self.meta.wrap_formdata(self, formdata))

    def variant(self, network: str) -> Field:
        return self[variant_field(network)]

    def media_ids(self) -> list[str]:
        """The ticked files in the order chosen: by the position typed beside each (those
        without one come after), ties in the order they were shown."""
        ticked = list(dict.fromkeys(m for m in (self.media.data or []) if m))
        positions = getattr(self, "_positions", {})

        def order(pair):
            shown, media_id = pair
            position = positions.get(media_id)
            return (position is None, position or 0, shown)

        return [media_id for _, media_id in sorted(enumerate(ticked), key=order)]

    def values(self, tz_name: str, current: datetime | None = None, accounts=()) -> dict:
        """What the services take. ``current`` is the stored schedule: shown and sent
        back unchanged, it is kept exactly (seconds included) rather than re-derived.
        ``accounts`` (the choices) tell which networks the ticked targets are on: only
        those networks' options are read."""
        day, clock = self.scheduled_date.data, self.scheduled_time.data
        if (day is None) != (clock is None):
            raise ServiceError(_("Give both a date and a time, or neither."),
                               field="scheduled_at")
        scheduled = from_local(day, clock, tz_name) if day else None
        if scheduled and current and _aware(current).replace(second=0, microsecond=0) \
                == scheduled:
            scheduled = _aware(current)
        return {
            "text": self.text.data or "",
            "target_ids": list(self.targets.data or []),
            "variants": self.variant_texts(),
            "first_comment": self.first_comment.data or "",
            "labels": [part for part in (self.labels.data or "").split(",") if part.strip()],
            "scheduled_at": scheduled,
            "media_ids": self.media_ids(),
            "options": options_form.values(self, self.target_networks(accounts), tz_name),
        }

    def target_networks(self, accounts) -> set[str]:
        ticked = set(self.targets.data or [])
        return {a.network for a in accounts if str(a.id) in ticked}

    def variant_texts(self) -> dict[str, str]:
        """The variants written (blank ones mean "use the base text")."""
        return {network: self.variant(network).data for network in NETWORKS
                if (self.variant(network).data or "").strip()}

    def fill(self, post, tz_name: str) -> None:
        """Show a saved post in the form, its schedule in the client's timezone."""
        self.text.data = post.text
        self.targets.data = [str(t.social_account_id) for t in post.targets]
        self.first_comment.data = post.first_comment
        self.labels.data = ", ".join(post.labels or [])
        self.media.data = [str(a.media_id) for a in post.attachments]
        self._positions = {}
        local = to_local(post.scheduled_at, tz_name)
        if local is not None:
            self.scheduled_date.data = local.date()
            self.scheduled_time.data = local.time().replace(second=0, microsecond=0)
        for network, text in (post.variants or {}).items():
            if network in NETWORKS:
                self.variant(network).data = text
        options_form.fill(self, post.options or {}, tz_name)

    def field_for(self, name: str | None) -> Field | None:
        """The form field a service's field name points at, if any."""
        if not name:
            return None
        if name.startswith("variants."):
            network = name.split(".", 1)[1]
            return self.variant(network) if network in NETWORKS else None
        if name.startswith("options."):
            return options_form.field_for(self, name)
        return {"text": self.text, "target_ids": self.targets,
                "first_comment": self.first_comment, "labels": self.labels,
                "scheduled_at": self.scheduled_date, "media_ids": self.media}.get(name)


# One optional textarea per network; the page shows those of the networks targeted.
for _network in NETWORKS:
    setattr(PostForm, variant_field(_network), TextAreaField(
        _l("Text for this network"), validators=[Length(max=TEXT_MAX)]))
# And the options per network (agency/content/options_form.py).
options_form.declare(PostForm)


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"), validators=[InputRequired(
        message=_l("Write a comment first.")), Length(max=5000)])
    visibility = RadioField(
        _l("Who sees it"), default=CommentVisibility.INTERNAL.value,
        choices=[SelectChoice(CommentVisibility.INTERNAL.value, _l("The agency only")),
                 SelectChoice(CommentVisibility.CLIENT.value, _l("The agency and the client"))],
    )


class ReviewForm(FlaskForm):
    decision = HiddenField()  # set by the button pressed: "approve" or "changes"
    content_hash = HiddenField()
    comment = TextAreaField(_l("Comment for the author"), validators=[Length(max=5000)])


class SendForm(FlaskForm):
    # Rendered by hand as checkboxes; the view checks each id belongs to this client.
    post_ids = SelectMultipleField(_l("Posts"), choices=[], validate_choice=False)


def _hours(label):
    return IntegerField(label, validators=[
        InputRequired(message=_l("Give a number of hours.")),
        NumberRange(HOURS_MIN, HOURS_MAX, message=_l("Between %(min)d and %(max)d hours."))])


class ApprovalSettingsForm(FlaskForm):
    policy = SelectField(_l("How posts are approved"), validate_choice=False,
                         choices=[SelectChoice(p.value, label)
                                  for p, label in POLICY_LABELS.items()])
    link_hours = _hours(_l("Approval links work for (hours)"))
    reminder_after_hours = _hours(_l("Remind the client after (hours)"))
    escalate_after_hours = _hours(_l("Tell the agency's managers after (hours)"))
    auto_approve = BooleanField(_l("Approve automatically when the link expires"))
    agreed_by = StringField(_l("Name of the client's contact who agreed to this"),
                            validators=[Length(max=254)])

    def fill(self, client) -> None:
        self.policy.data = client.approval_policy
        self.link_hours.data = client.approval_link_hours
        self.reminder_after_hours.data = client.reminder_after_hours
        self.escalate_after_hours.data = client.escalate_after_hours
        self.auto_approve.data = client.auto_approve_at_deadline
        self.agreed_by.data = client.auto_approve_opted_in_by

    def values(self) -> dict:
        return {"policy": self.policy.data, "link_hours": self.link_hours.data,
                "reminder_after_hours": self.reminder_after_hours.data,
                "escalate_after_hours": self.escalate_after_hours.data,
                "auto_approve": bool(self.auto_approve.data),
                "agreed_by": (self.agreed_by.data or "").strip()}


class AccountForm(FlaskForm):
    network = HiddenField(default="sandbox")
    display_name = StringField(_l("Account name"), validators=[
        InputRequired(message=_l("Give the account a name.")), Length(max=120)])
    handle = StringField(_l("Handle (optional)"), validators=[Length(max=120)])
