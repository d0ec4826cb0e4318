"""The Flask extensions every part of the app uses, made here and initialised by the
app factory (voting.create_app): the rate limiter (`limiter`, Flask-Limiter), the
global CSRF check (`csrf`, Flask-WTF) and the staff login (`login_manager`,
Flask-Login; its user loader and the login pages are voting/staff/auth.py's)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

# A view function, its "module.function", or a blueprint.
Exempted = TypeVar("Exempted", bound=Callable[..., Any] | Blueprint | str)


class PublicAwareCSRFProtect(CSRFProtect):
    """Flask-WTF's global CSRF check that keeps, as the project's own record, what it
    is told to leave out (`exempt`): the public blueprints (voting/web/public.py,
    make_public: the citizens' and evaluators' pages, which check the token
    themselves) and the SMS webhooks (voting/outbox/views.py, signed by Twilio instead).
    Those are the public requests, outside the staff session (voting/staff/auth.py):
    `is_public` says whether an endpoint is one."""

    def __init__(self, app: Flask | None = None) -> None:
        self.public_blueprints: set[str] = set()  # by name
        self.public_views: set[str] = set()  # "module.function", as the view is defined
        super().__init__(app)

    def exempt(self, view: Exempted) -> Exempted:
        if isinstance(view, Blueprint):
            self.public_blueprints.add(view.name)
        elif isinstance(view, str):
            self.public_views.add(view)
        else:
            self.public_views.add(f"{view.__module__}.{view.__name__}")
        return super().exempt(view)

    def is_public(self, app: Flask, endpoint: str | None) -> bool:
        """Whether `endpoint` of `app` is exempt: its blueprint, or its view."""
        if endpoint is None:
            return False
        if endpoint.rpartition(".")[0] in self.public_blueprints:
            return True
        view = app.view_functions.get(endpoint)
        return view is not None and f"{view.__module__}.{view.__name__}" in self.public_views


limiter = Limiter(key_func=get_remote_address, default_limits=[])
csrf = PublicAwareCSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
login_manager.session_protection = "strong"
