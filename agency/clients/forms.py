"""Forms for client workspaces, their contacts and their assigned staff.

Forms check shape (required, lengths that the columns can hold); what a value means
(a known timezone, a valid e-mail address...) is decided by the services, whose
``ServiceError`` lands on the field it names.
"""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .services import (
    ADDRESS_LINE_MAX,
    CITY_MAX,
    LANGUAGES,
    POSTAL_CODE_MAX,
    countries,
    known_timezones,
    valid_timezone,
)

NAME_MAX = 120  # clients.name and contacts.name are VARCHAR(120)
NOTES_MAX = 4000
HASHTAGS_MAX = 1000

# Where French agencies' clients usually are, offered before the full list.
COMMON_TIMEZONES = (
    ("Europe/Paris", _l("Mainland France (Paris)")),
    ("America/Martinique", _l("Martinique")),
    ("America/Guadeloupe", _l("Guadeloupe")),
    ("America/Cayenne", _l("French Guiana")),
    ("Indian/Reunion", _l("Réunion")),
    ("Indian/Mayotte", _l("Mayotte")),
    ("Pacific/Noumea", _l("New Caledonia")),
    ("Pacific/Tahiti", _l("French Polynesia (Tahiti)")),
    ("Pacific/Wallis", _l("Wallis and Futuna")),
    ("America/Miquelon", _l("Saint Pierre and Miquelon")),
    ("Europe/Brussels", _l("Belgium")),
    ("Europe/Luxembourg", _l("Luxembourg")),
    ("Europe/Zurich", _l("Switzerland")),
    ("Europe/Monaco", _l("Monaco")),
    ("America/Toronto", _l("Quebec (Montreal)")),
)

LANGUAGE_CHOICES = [SelectChoice("fr", "Français"), SelectChoice("en", "English")]


def timezone_label(name: str) -> str:
    """A person-friendly name for a timezone, with the IANA name for precision."""
    for value, label in COMMON_TIMEZONES:
        if value == name:
            return f"{label} — {name}"
    return name.replace("_", " ")


# Region/City names only: the legacy aliases (US/Eastern, Etc/GMT+3...) stay valid for
# existing clients but would only lengthen the list.
_REGIONS = ("Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/",
            "Australia/", "Europe/", "Indian/", "Pacific/")


def timezone_choices(current: str | None = None) -> list[SelectChoice]:
    """Common French-speaking zones first, then every region's zones by name; a current
    value outside both is kept, so saving a form never changes it silently."""
    available = known_timezones()
    common_group, all_group = str(_l("Common")), str(_l("All time zones"))
    common = [SelectChoice(v, f"{label} — {v}", optgroup=common_group)
              for v, label in COMMON_TIMEZONES if v in available]
    taken = {c.value for c in common}
    rest = sorted(tz for tz in available if tz not in taken and tz.startswith(_REGIONS))
    if current and current in available and current not in taken and current not in rest:
        common.insert(0, SelectChoice(current, current, optgroup=common_group))
    return common + [SelectChoice(tz, tz.replace("_", " "), optgroup=all_group)
                     for tz in rest]


def country_name(code: str) -> str:
    """A country's name in the reader's language ("France", "Belgique")."""
    locale = get_locale()
    return (locale.territories.get(code) if locale else None) or code


def country_choices(current: str | None = None) -> list[SelectChoice]:
    """France first (most clients are there), then every country by its name; a current
    value outside the list is kept, so saving never changes it silently."""
    codes = sorted(countries() - {"FR"}, key=lambda c: country_name(c).casefold())
    if current and current not in countries():
        codes.insert(0, current)
    return [SelectChoice(code, country_name(code)) for code in ["FR", *codes]]


class ClientForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("A client needs a name.")),
                    Length(max=NAME_MAX, message=_l("At most %(max)d characters."))],
    )
    # Choices are checked below, with clearer messages than WTForms' own.
    timezone = SelectField(_l("Time zone"), default="Europe/Paris", validate_choice=False)
    language = SelectField(_l("Language of the posts"), choices=LANGUAGE_CHOICES,
                           default="fr", validate_choice=False)
    brand_tone = TextAreaField(
        _l("Tone of voice"), validators=[Length(max=NOTES_MAX)],
        description=_l("For example: warm and local, uses \"vous\", a touch of humour."),
    )
    brand_words_use = TextAreaField(_l("Words to use"), validators=[Length(max=NOTES_MAX)])
    brand_words_avoid = TextAreaField(_l("Words to avoid"), validators=[Length(max=NOTES_MAX)])
    brand_hashtags = StringField(
        _l("Hashtags"), validators=[Length(max=HASHTAGS_MAX)],
        description=_l("Separated by spaces, for example: #lyon #boulangerie"),
    )
    # Where the business is (optional): its posts' location tag is shown with it.
    address_line = StringField(
        _l("Street address"), validators=[Length(max=ADDRESS_LINE_MAX, message=_l(
            "At most %(max)d characters."))],
        description=_l("For example: 12 rue des Lilas"))
    postal_code = StringField(_l("Postal code"), validators=[Length(
        max=POSTAL_CODE_MAX, message=_l("Enter a valid postal code."))])
    city = StringField(_l("City"), validators=[Length(max=CITY_MAX, message=_l(
        "At most %(max)d characters."))])
    # Checked by the service, with clearer messages than WTForms' own.
    country = SelectField(_l("Country"), default="FR", validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices(self.timezone.data)
        self.country.choices = country_choices(self.country.data)

    # Also checked by the services; checking here shows every problem in one go.
    def validate_timezone(self, field):
        if not valid_timezone(field.data or ""):
            raise ValidationError(_l("Unknown time zone."))

    def validate_language(self, field):
        if field.data not in LANGUAGES:
            raise ValidationError(_l("Choose French or English."))

    def values(self) -> dict:
        return {
            "name": self.name.data or "",
            "timezone": self.timezone.data or "",
            "language": self.language.data or "",
            "brand_tone": (self.brand_tone.data or "").strip(),
            "brand_words_use": (self.brand_words_use.data or "").strip(),
            "brand_words_avoid": (self.brand_words_avoid.data or "").strip(),
            "brand_hashtags": (self.brand_hashtags.data or "").strip(),
            "address_line": self.address_line.data or "",
            "postal_code": self.postal_code.data or "",
            "city": self.city.data or "",
            "country": self.country.data or "FR",
        }


class ContactForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("A contact needs a name.")),
                    Length(max=NAME_MAX, message=_l("At most %(max)d characters."))],
    )
    email = EmailField(
        _l("E-mail"),
        validators=[Optional(), Length(max=254, message=_l("Enter a valid e-mail address."))],
    )
    phone = TelField(
        _l("Phone"),
        validators=[Optional(), Length(max=32, message=_l("Enter a valid phone number."))],
    )
    approves_posts = BooleanField(_l("Approves posts"))
    receives_reports = BooleanField(_l("Receives the monthly report"))

    def values(self) -> dict:
        return {
            "name": self.name.data or "",
            "email": (self.email.data or "").strip(),
            "phone": (self.phone.data or "").strip(),
            "approves_posts": bool(self.approves_posts.data),
            "receives_reports": bool(self.receives_reports.data),
        }


class NewClientForm(ClientForm):
    """A new client: its profile, and (billing on, for those who manage it) its plan.
    ``confirmed`` is set by the page that showed the price before creating."""

    plan = SelectField(_l("Plan"), validate_choice=False)
    confirmed = HiddenField()
    proration_date = HiddenField()

    def offer_plans(self, plans: list[SelectChoice] | None) -> None:
        """The plans to choose from, or None to leave the choice out (billing off, or
        the person does not manage billing: the default plan applies)."""
        if plans is None:
            del self.plan
        else:
            self.plan.choices = plans
            if not self.plan.data:
                self.plan.data = plans[0].value

    def chosen_plan(self) -> str | None:
        return self.plan.data if "plan" in self else None


class StaffForm(FlaskForm):
    # Rendered by hand as a table of checkboxes; ids are checked by the service.
    staff = SelectMultipleField(_l("Assigned staff"), choices=[], validate_choice=False)
