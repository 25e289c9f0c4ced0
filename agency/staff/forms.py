"""Team forms: inviting someone and changing a member's role."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from agency.auth.forms import ROLE_LABELS, ValidEmail
from tenants.roles import GRANTABLE, Role

# Most powerful first, as roles are listed everywhere.
ROLE_ORDER = [Role.OWNER, Role.ADMIN, Role.MANAGER, Role.MEMBER]


def grantable_choices(actor_role: Role) -> list[SelectChoice]:
    """The roles ``actor_role`` may hand out, as select choices; nobody is offered more."""
    allowed = GRANTABLE[Role(actor_role)]
    return [SelectChoice(role.value, ROLE_LABELS[role]) for role in ROLE_ORDER if role in allowed]


class InviteForm(FlaskForm):
    email = StringField(_l("E-mail"), filters=[lambda v: v.strip() if v else v],
                        validators=[DataRequired(), Length(max=254), ValidEmail()])
    role = SelectField(_l("Role"), validators=[DataRequired()])

    def __init__(self, actor_role: Role, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = grantable_choices(actor_role)
        if self.role.data is None and self.role.choices:
            self.role.data = Role.MEMBER.value


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), validators=[DataRequired()])

    def __init__(self, actor_role: Role, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = grantable_choices(actor_role)
