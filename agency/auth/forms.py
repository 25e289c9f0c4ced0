"""Account forms: sign-up, sign-in, passwords, invitations, settings.

Password rules are not repeated here: the services judge them (``password_problem``) and
the view puts their message on the field, so every form states the same rules.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from agency.forms import apply_service_error  # noqa: F401 - re-exported for the views
from tenants.roles import Role

ROLE_LABELS = {
    Role.OWNER: _l("Owner"),
    Role.ADMIN: _l("Administrator"),
    Role.MANAGER: _l("Manager"),
    Role.MEMBER: _l("Member"),
}

LANGUAGE_CHOICES = [SelectChoice("fr", "Français"), SelectChoice("en", "English")]


class ValidEmail:
    """An e-mail address with a plausible shape (no DNS lookup).

    ``.test`` and ``.localhost`` addresses are accepted outside production, for demos
    and tests.
    """

    def __call__(self, form, field):
        from email_validator import EmailNotValidError, validate_email

        try:
            validate_email(
                (field.data or "").strip(), check_deliverability=False,
                test_environment=not current_app.config["PRODUCTION"],
            )
        except EmailNotValidError:
            raise ValidationError(_l("Enter a valid e-mail address.")) from None


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class SignupForm(FlaskForm):
    agency_name = StringField(_l("Agency name"), filters=[_strip],
                              validators=[DataRequired(), Length(max=120)])
    name = StringField(_l("Your name"), filters=[_strip],
                       validators=[DataRequired(), Length(max=120)])
    email = StringField(_l("E-mail"), filters=[_strip],
                        validators=[DataRequired(), Length(max=254), ValidEmail()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ.")),
    ])


class LoginForm(FlaskForm):
    email = StringField(_l("E-mail"), filters=[_strip],
                        validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    email = StringField(_l("E-mail"), filters=[_strip],
                        validators=[DataRequired(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired()])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ.")),
    ])


class AcceptInvitationForm(FlaskForm):
    """For a person without an account yet: a name and a password."""

    name = StringField(_l("Your name"), filters=[_strip],
                       validators=[DataRequired(), Length(max=120)])
    password = PasswordField(_l("Choose a password"), validators=[DataRequired()])
    confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ.")),
    ])


class JoinWithAccountForm(FlaskForm):
    """For a person who already has an account: proving it is theirs is enough."""

    password = PasswordField(_l("Your Relais password"),
                             validators=[DataRequired(), Length(max=1024)])


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), filters=[_strip],
                       validators=[DataRequired(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(), Length(max=1024)])
    password = PasswordField(_l("New password"), validators=[DataRequired()])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ.")),
    ])


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Token name"), filters=[_strip],
                       validators=[DataRequired(), Length(max=80)],
                       description=_l("For example the tool that will use it."))
