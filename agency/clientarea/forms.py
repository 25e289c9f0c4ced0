"""The client area's own forms. Decisions reuse the portal's forms (same fields, same
checks); setting up a sign-in asks for a password, or for the existing account's one."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length


class ChoosePasswordForm(FlaskForm):
    """For a contact without an account: the password rules are the services' (sign-up's)."""

    password = PasswordField(_l("Choose a password"), validators=[DataRequired()])
    confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ.")),
    ])


class ExistingAccountForm(FlaskForm):
    """For an e-mail that already has an account: signing in with it links the contact."""

    password = PasswordField(_l("Your Relais password"),
                             validators=[DataRequired(), Length(max=1024)])
