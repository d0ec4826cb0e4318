"""Staff login (Flask-Login), roles, and the login rate limit (Flask-Limiter)."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from voting.db import get_session
from voting.forms import EmptyForm, Form
from voting.models import Role, User
from voting.services.users import authenticate

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
login_manager.session_protection = "strong"
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    return user if user is not None and user.active else None


def init_app(app: Flask) -> None:
    # Flask-Login's own context processor loads the user for every template, and with
    # "strong" session protection that rewrites a citizen's session cookie (and sends
    # a remember-cookie deletion) on every page: templates get the lazy proxy instead,
    # so only the pages that show the staff user load it.
    login_manager.init_app(app, add_context_processor=False)
    app.context_processor(lambda: {"current_user": current_user})
    csrf.init_app(app)
    limiter.init_app(app)
    app.register_blueprint(bp)


class LoginForm(Form):
    username = StringField("用户名", validators=[DataRequired("请填写用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请填写密码"), Length(max=256)])


def _login_limit() -> str:
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="登录尝试过于频繁,请稍后再试。")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("office.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(get_session(), form.username.data, form.password.data)
        if user is None:
            flash("用户名或密码错误。", "error")
            return render_template("login.html", form=form), 401
        login_user(user)
        return redirect(_safe_next() or url_for("office.dashboard"))
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


def _safe_next() -> str | None:
    target = request.args.get("next", "")
    # Only a path on this site: no scheme, no host, no protocol-relative //evil.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if EmptyForm().validate_on_submit():
        logout_user()
        flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


def roles_required(*roles: Role) -> Callable:
    """The view needs a logged-in user with one of `roles`; anyone else gets 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
