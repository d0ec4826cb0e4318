"""Staff accounts, for the review office: create (the initial password is shown once),
reset a password, deactivate or reactivate, unlock after failed logins, end every
login of an account. All but creating end the account's sessions, except unlocking."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from sms.phones import mask_phone
from voting.staff.auth import policy, roles_required
from voting.core.db import get_session
from voting.core.errors import DomainError, NotFoundError
from voting.core.forms import EmptyForm, Form
from voting.staff.models import Role, User
from voting.lists.models import Unit
from voting.audit import audit
from voting.lists import campaigns
from voting.staff import users
from voting.web.confirm import ConfirmForm, Confirmation, ask

bp = Blueprint("staff", __name__, url_prefix="/office/users")
NO_UNIT = "0"


class UserForm(Form):
    username = StringField("用户名（字母、数字）", validators=[DataRequired("请填写用户名"), Length(max=64)])
    display_name = StringField("姓名或显示名", validators=[Length(max=100)])
    role = SelectField("角色", choices=[SelectChoice(r.value, r.label) for r in Role])
    unit = SelectField("所属单位（仅单位联络员）", choices=[])

    units: dict[int, Unit]  # the units offered, by id


def _form() -> UserForm:
    """The form, its units (`form.units`, by id) those of the campaign the pages work on."""
    form = UserForm()
    session = get_session()
    try:
        campaign = campaigns.get_campaign(session, current_app.config.get("DEFAULT_CAMPAIGN_YEAR"))
        units = users.campaign_units(session, campaign.id)
    except NotFoundError:  # no campaign yet: only review-office accounts can be made
        units = []
    form.units = {u.id: u for u in units}
    form.unit.choices = [SelectChoice(NO_UNIT, "—")] + [SelectChoice(str(u.id), u.name) for u in units]
    return form


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.admin)
def index():
    session = get_session()
    form = _form()
    status = 200
    if form.validate_on_submit():
        unit = None if form.unit.data == NO_UNIT else form.units[int(form.unit.data)]
        password = users.new_password()
        user = users.create_user(
            session, form.username.data.strip(), password, Role(form.role.data), unit, (form.display_name.data or "").strip()
        )
        return _show_password(user, password)
    if form.errors:
        status = 400
    accounts = users.accounts(session)
    locked = {user.id for user in accounts if users.is_locked(user, policy())}
    try:
        liaisons = liaisons_confirmation(campaigns.get_campaign(session, current_app.config.get("DEFAULT_CAMPAIGN_YEAR")))
    except NotFoundError:
        liaisons = None
    return render_template("staff/users.html", form=form, accounts=accounts, locked=locked, liaisons=liaisons,
                           action=EmptyForm(formdata=None), phone_form=PhoneForm(formdata=None),
                           mask_phone=mask_phone), status


def liaisons_confirmation(campaign) -> Confirmation:
    waiting = users.units_without_liaison(get_session(), campaign.id)
    named = "、".join(u.name for u in waiting[:8]) + (f" 等 {len(waiting)} 个单位" if len(waiting) > 8 else "")
    return Confirmation(
        title="为各单位建立联络员账号",
        facts=[f"为 {len(waiting)} 个还没有联络员账号的单位各建立一个账号（{named}）。" if waiting
               else "每个单位都已有联络员账号：这次不会建立任何账号。",
               "账号名为 liaison-单位序号，初始密码随机生成，只在下一页显示一次：请当场打印账号凭条，分发给各单位联络员。"],
        button="建立联络员账号", action=url_for("staff.create_liaisons"), back=url_for("staff.index"),
        warning="离开下一页后无法再看到这些密码（遗失时可逐个重设）。", id="confirm-liaisons",
    )


@bp.post("/liaisons")
@roles_required(Role.admin)
def create_liaisons():
    """Every unit without a liaison gets one, once confirmed; the slips with the
    passwords are shown on this response only (never stored in clear, never cached)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    campaign = campaigns.get_campaign(session, current_app.config.get("DEFAULT_CAMPAIGN_YEAR"))
    if (page := ask(liaisons_confirmation(campaign), form)) is not None:
        return page
    made = users.create_liaisons(session, campaign.id)
    audit.record(session, "users.liaisons", actor=current_user.username, campaign_id=campaign.id,
                 detail={"accounts": [user.username for user, _ in made]})
    login = (current_app.config.get("PUBLIC_URL") or request.url_root).rstrip("/") + url_for("auth.login")
    response = make_response(render_template("staff/liaison_slips.html", made=made, login=login, campaign=campaign))
    response.headers["Cache-Control"] = "no-store"
    return response


def _user(user_id: int) -> User:
    user = users.get_user(get_session(), user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/<int:user_id>/active")
@roles_required(Role.admin)
def toggle_active(user_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user(user_id)
    users.set_active(get_session(), user, not user.active, current_user)
    flash(f"已{'启用' if user.active else '停用'} {user.username}。", "info")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>/password")
@roles_required(Role.admin)
def reset_password(user_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user(user_id)
    password = users.reset_password(get_session(), user)
    return _show_password(user, password, reset=True)


@bp.post("/<int:user_id>/unlock")
@roles_required(Role.admin)
def unlock(user_id: int):
    """Lift a lock (or a wait) after failed logins: the count starts again."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user(user_id)
    if users.unlock(get_session(), user, current_user.username):
        flash(f"已解锁 {user.username}：登录失败次数已清零，可以重新登录。", "info")
    else:
        flash(f"{user.username} 没有被锁定，无需解锁。", "info")
    return redirect(url_for(".index"))


class PhoneForm(Form):
    phone = StringField("手机号码", validators=[Length(max=32, message="手机号码太长")])
    clear = HiddenField()  # the 删除 button's value: remove the number


@bp.post("/<int:user_id>/phone")
@roles_required(Role.admin)
def set_phone(user_id: int):
    """A liaison's mobile for the deadline reminders, or its removal (the 删除 button).
    A missing or bad number is refused with what is wrong (the error page, 400),
    nothing stored."""
    form = PhoneForm()
    if not form.validate_on_submit():
        raise DomainError("；".join(e for errors in form.errors.values() for e in errors) or "表单已过期，请刷新后重试")
    user = _user(user_id)
    clear = form.clear.data == "1"
    if not clear and not (form.phone.data or "").strip():
        raise DomainError(f"请填写 {user.username} 的手机号码（要删除已登记的号码，请点“删除”）")
    users.set_phone(get_session(), user, "" if clear else form.phone.data, current_user.username)
    flash(f"已登记 {user.username} 的手机号码 {mask_phone(user.phone)}。" if user.phone
          else f"已删除 {user.username} 的手机号码。", "info")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>/sessions")
@roles_required(Role.admin)
def end_sessions(user_id: int):
    """End every login of the account at once (a lost laptop, a shared computer)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user(user_id)
    users.end_all_sessions(get_session(), user, current_user.username)
    if user.id == current_user.id:
        flash("已结束您本人的全部登录（包括本浏览器），请重新登录。", "info")
        return redirect(url_for("auth.login"))
    flash(f"已结束 {user.username} 的全部登录：其所有浏览器都需要重新登录。", "info")
    return redirect(url_for(".index"))


def _show_password(user: User, password: str, reset: bool = False):
    # Shown on this one response only: never stored in clear, never put in the session
    # cookie by a flash, never cached.
    response = make_response(render_template("staff/user_created.html", user=user, password=password, reset=reset))
    response.headers["Cache-Control"] = "no-store"
    return response
