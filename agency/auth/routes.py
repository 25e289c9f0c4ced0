"""Accounts: sign-up, sign-in (with the agency chooser), sign-out, password reset,
joining by invitation, and a person's own settings (profile, password, API tokens,
signed-in devices)."""

from __future__ import annotations

import time
import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from agency.access import current_membership
from agency.audit.services import Action, record
from agency.extensions import db, limiter
from agency.main.routes import safe_next
from agency.notifications.mail import send_mail
from tenants.models import Agency, Membership
from tenants.scoping import tenant_get

from . import services
from .forms import (
    ROLE_LABELS,
    AcceptInvitationForm,
    ApiTokenForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    JoinWithAccountForm,
    LoginForm,
    NewPasswordForm,
    ProfileForm,
    SignupForm,
    apply_service_error,
)
from .links import LinkError
from .models import ApiToken, User, UserSession
from .services import ServiceError
from .sessions import (
    end_session,
    memberships_of,
    start_contact_session,
    start_session,
    token_hash,
)

bp = Blueprint("auth", __name__)

PENDING_LOGIN = "pending_login"
PENDING_MAX_AGE = 10 * 60  # seconds to pick an agency after a correct password
FALLBACK_LOCALE = "fr"


def _email_key() -> str:
    # Prefixed so an e-mail bucket can never share a key with an IP bucket.
    return "email:" + (request.form.get("email") or "").strip().lower()


def _begin_session(user: User, membership: Membership) -> None:
    """Sign in as ``membership``; a session this browser held before is ended first."""
    if session.get("sid"):
        end_session()
    start_session(user, membership)
    login_user(user)


def begin_contact_session(user: User, contact) -> None:
    """Sign in to ``contact``'s client area; a session this browser held before is ended
    first. Audited in the contact's agency."""
    if session.get("sid"):
        end_session()
    start_contact_session(user, contact)
    login_user(user)
    record(Action.LOGIN, user, actor_user_id=user.id, actor_label=user.email,
           details={"client_area": str(contact.client_id)})


def _home() -> str:
    if g.get("contact") is not None:
        return url_for("clientarea.index")
    return url_for("clients.index")


def _client_area_target(target: str) -> str:
    """Where a client-area session lands: the page asked for if it is in the client area
    (staff pages would refuse it), else the list of what waits for a decision."""
    home = url_for("clientarea.index")
    return target if target.startswith(home) else home


def _client_areas(user: User):
    from agency.clientarea.queries import client_areas

    return client_areas(user)


# --- sign-up and sign-in ----------------------------------------------------------------

@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])  # per client IP: agencies are not made in bulk
def signup():
    form = SignupForm()
    if request.method == "GET":
        return render_template("auth/signup.html", form=form)
    if form.validate():
        try:
            created = services.create_agency(form.agency_name.data, form.email.data,
                                             form.name.data, form.password.data)
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            _begin_session(created.user, created.membership)
            db.session.commit()
            flash(_("Welcome to Relais. Your agency is ready."), "success")
            return redirect(_home())
    return render_template("auth/signup.html", form=form), 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])  # per client IP (the limiter's default key)
@limiter.limit("5 per minute", key_func=_email_key, methods=["POST"])
@limiter.limit("100 per hour", key_func=_email_key, methods=["POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_home())
        form.next.data = request.args.get("next", "")
        return render_template("auth/login.html", form=form)
    if not form.validate():
        return render_template("auth/login.html", form=form), 422
    result = services.authenticate(form.email.data, form.password.data)
    target = safe_next(form.next.data, _home())
    if result.user is None:
        db.session.commit()  # keeps the failed attempts that authenticate() audited
        # One message for an unknown e-mail and a wrong password: no account probing.
        form.form_errors.append(_("E-mail or password is incorrect."))
        return render_template("auth/login.html", form=form)
    user = result.user
    areas = _client_areas(user)  # the clients whose contact this person is
    if not result.memberships and not areas:
        db.session.commit()  # a password rehash may be pending
        form.form_errors.append(_("Your account is not part of any agency any more. "
                                  "Ask an agency to invite you."))
        return render_template("auth/login.html", form=form)
    if len(result.memberships) + len(areas) > 1:
        if session.get("sid"):
            end_session()
        session[PENDING_LOGIN] = {"user": str(user.id), "at": int(time.time()),
                                  "next": target}
        db.session.commit()
        return redirect(url_for("auth.choose_agency"))
    if not result.memberships:
        begin_contact_session(user, areas[0].contact)
        db.session.commit()
        return redirect(_client_area_target(target))
    _begin_session(user, result.memberships[0])
    record(Action.LOGIN, user, actor_user_id=user.id, actor_label=user.email)
    db.session.commit()
    return redirect(target)


def _pending_login() -> tuple[User, str] | None:
    data = session.get(PENDING_LOGIN)
    if not isinstance(data, dict) or time.time() - data.get("at", 0) > PENDING_MAX_AGE:
        return None
    try:
        user_id = uuid.UUID(data["user"])
    except (KeyError, ValueError):
        return None
    user = db.session.scalars(select(User).where(User.id == user_id)).one_or_none()
    if user is None or not user.is_active:
        return None
    return user, data.get("next") or _home()


@bp.route("/login/agency", methods=["GET", "POST"])
def choose_agency():
    pending = _pending_login()
    if pending is None:
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.login"))
    user, target = pending
    if request.method == "POST":
        if "contact_id" in request.form:  # a client area rather than an agency
            area = _chosen(_client_areas(user), "contact_id", lambda a: a.contact.id)
            begin_contact_session(user, area.contact)
            db.session.commit()
            return redirect(_client_area_target(target))
        membership = _chosen(memberships_of(user), "agency_id", lambda m: m.agency_id)
        _begin_session(user, membership)
        record(Action.LOGIN, user, actor_user_id=user.id, actor_label=user.email)
        db.session.commit()
        return redirect(target)
    return render_template("auth/choose_agency.html", agencies=services.agencies_of(user),
                           areas=_client_areas(user), user=user)


def _chosen(options, field: str, key):
    """The option whose id was posted in ``field``; 404 for anything not one of theirs
    (the same answer as for an id that does not exist)."""
    try:
        chosen = uuid.UUID(request.form.get(field, ""))
    except ValueError:
        abort(404)
    option = next((o for o in options if key(o) == chosen), None)
    if option is None:
        abort(404)
    return option


@bp.post("/logout")
@login_required
def logout():
    record(Action.LOGOUT, current_user._get_current_object())
    db.session.flush()  # while the agency is still the tenant
    end_session()
    logout_user()
    db.session.commit()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


# --- password reset ---------------------------------------------------------------------

def _link_problem(code: int, kind: str):
    """The page for an unusable signed link; it says how to get a working one."""
    return render_template("auth/link_problem.html", code=code, kind=kind), code


def _send_reset_mail(user: User) -> None:
    link = url_for("auth.reset_password", token=services.password_reset_token(user),
                   _external=True)
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    with force_locale(user.locale or FALLBACK_LOCALE):
        subject = _("Reset your Relais password")
        text = render_template("mail/password_reset.txt", user=user, link=link,
                               minutes=minutes)
    send_mail(user.email, subject, text)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if request.method == "GET":
        return render_template("auth/forgot_password.html", form=form, sent=False)
    if not form.validate():
        return render_template("auth/forgot_password.html", form=form, sent=False), 422
    user = services.find_user_by_email(form.email.data)
    if user is not None and user.is_active:
        _send_reset_mail(user)
    db.session.commit()
    # The same page whether or not the address has an account.
    return render_template("auth/forgot_password.html", form=None, sent=True)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = services.user_for_reset_token(token)
    if isinstance(user, LinkError):
        return _link_problem(410 if user is LinkError.EXPIRED else 400, "reset_" + user.value)
    form = NewPasswordForm()
    if request.method == "GET":
        return render_template("auth/reset_password.html", form=form)
    if form.validate():
        try:
            services.reset_password(user, form.password.data)
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            db.session.commit()
            flash(_("Your password has been changed. Sign in with it now."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form), 422


# --- invitations ------------------------------------------------------------------------

@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    invitation = services.invitation_for_token(token)
    if isinstance(invitation, LinkError):
        return _link_problem(410 if invitation is LinkError.EXPIRED else 400,
                             "invitation_" + invitation.value)
    page = {
        "agency_name": tenant_get(Agency, invitation.agency_id).name,
        "role_label": ROLE_LABELS[invitation.role],
        "email": invitation.email,
    }
    has_account = services.find_user_by_email(invitation.email) is not None
    form = JoinWithAccountForm() if has_account else AcceptInvitationForm()
    if request.method == "GET":
        return render_template("auth/invitation.html", form=form, has_account=has_account,
                               **page)
    if form.validate():
        name = form.name.data if "name" in form else ""
        try:
            user, membership = services.accept_invitation(invitation, name, form.password.data)
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            _begin_session(user, membership)
            db.session.commit()
            flash(_("Welcome to %(agency)s.", agency=page["agency_name"]), "success")
            return redirect(_home())
    return render_template("auth/invitation.html", form=form, has_account=has_account,
                           **page), 422


# --- settings ---------------------------------------------------------------------------

def _settings_page(status: int = 200, *, profile=None, password=None, token=None,
                   new_token: str | None = None):
    user = current_user._get_current_object()
    membership = current_membership()
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.membership_id == membership.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()
    devices = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id)
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).all()
    raw_sid = session.get("sid")
    response = current_app.make_response((render_template(
        "auth/settings.html",
        profile_form=profile or ProfileForm(formdata=None, prefix="profile", name=user.name,
                                            locale=user.locale or FALLBACK_LOCALE),
        password_form=password or ChangePasswordForm(formdata=None, prefix="password"),
        token_form=token or ApiTokenForm(formdata=None, prefix="token"),
        tokens=tokens, devices=devices, new_token=new_token,
        current_sid_hash=token_hash(raw_sid) if raw_sid else None,
        role_label=ROLE_LABELS[membership.role],
    ), status))
    if new_token:
        response.headers["Cache-Control"] = "no-store"  # the raw token is on this page
    return response


@bp.get("/settings")
@login_required
def settings():
    return _settings_page()


@bp.post("/settings/profile")
@login_required
def update_profile():
    form = ProfileForm(prefix="profile")
    if form.validate():
        try:
            services.update_profile(current_user._get_current_object(), form.name.data,
                                    form.locale.data)
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            db.session.commit()
            with force_locale(form.locale.data):  # say it in the language just chosen
                flash(_("Your profile is saved."), "success")
            return redirect(url_for("auth.settings"))
    return _settings_page(422, profile=form)


@bp.post("/settings/password")
@login_required
def change_password():
    form = ChangePasswordForm(prefix="password")
    if form.validate():
        user = current_user._get_current_object()
        membership = current_membership()
        try:
            services.change_password(user, form.current_password.data, form.password.data)
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            # Every session ended, this one too: keep the person signed in here only.
            start_session(user, membership)
            login_user(user)
            db.session.commit()
            flash(_("Your password has been changed. Your other devices are signed out."),
                  "success")
            return redirect(url_for("auth.settings"))
    return _settings_page(422, password=form)


@bp.post("/settings/tokens")
@login_required
def create_token():
    form = ApiTokenForm(prefix="token")
    if not form.validate():
        return _settings_page(422, token=form)
    _, raw = services.create_api_token(current_membership(), form.name.data)
    db.session.commit()
    # Shown on this response only: it is never stored, so it cannot be shown again.
    return _settings_page(new_token=raw)


@bp.post("/settings/tokens/<uuid:token_id>/revoke")
@login_required
def revoke_token(token_id: uuid.UUID):
    token = tenant_get(ApiToken, token_id)
    if token.membership_id != current_membership().id:  # a teammate's token
        abort(404)
    services.revoke_api_token(token)
    db.session.commit()
    flash(_("The token has been revoked: it no longer opens the API."), "success")
    return redirect(url_for("auth.settings"))


@bp.post("/settings/sessions/<uuid:session_id>/revoke")
@login_required
def revoke_session(session_id: uuid.UUID):
    user = current_user._get_current_object()
    device = db.session.scalars(
        select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    ).one_or_none()
    if device is None:
        abort(404)
    raw_sid = session.get("sid")
    if raw_sid and device.token_hash == token_hash(raw_sid):
        return logout()  # ending this browser's own session is signing out
    services.end_user_session(device)
    db.session.commit()
    flash(_("That device is signed out."), "success")
    return redirect(url_for("auth.settings"))
