"""What every HTML form does with a service's refusal."""

from __future__ import annotations

from flask_wtf import FlaskForm

from agency.auth.services import ServiceError


def apply_service_error(form: FlaskForm, error: ServiceError) -> None:
    """Show a refused write beside the field it names, or above the form when it names
    none (or a hidden one). A form may map service field names with ``field_for``."""
    finder = getattr(form, "field_for", None)
    if finder is not None:
        target = finder(error.field)
    else:
        target = form._fields.get(error.field) if error.field else None
    if target is not None and target.type != "HiddenField":
        target.errors = [*target.errors, error.message]
    else:
        form.form_errors.append(error.message)
