"""What the public blueprints (citizens' voting pages, the evaluators' login and
ballot) share: their own CSRF check, their security headers and their error pages.

CSRF: these blueprints are exempt from CSRFProtect's global check and check the form
token themselves (`check_csrf_token`). CSRFProtect also demands a Referer on HTTPS
(WTF_CSRF_SSL_STRICT), which a page served with `no-referrer` never sends, so in
production every vote would fail; the token in the session, and the Lax session
cookie, are the protection.

Every response says `Referrer-Policy: no-referrer` and `Cache-Control: no-store`: a
phone's browser shared in a family must not show a vote or a ballot from its cache,
nor hand a link's token to another site.

Every field of these forms is sent once (radio buttons and text inputs, no multiple
choice): a field sent twice is refused with 400 (`refuse_repeated_fields`) rather
than one of its values taken, which would leave which answer counts (a vote's choice,
a ballot's mark) to whichever reader looks first.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from voting.core.errors import DomainError
from voting.core.errors_web import MESSAGES
from voting.core.extensions import csrf

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
}

Page = Callable[[int, str, str], object]  # (status, title, message) -> response

# The blueprints given the public pages' treatment (make_public): their pages extend
# citizen_base.html and carry no staff menu.
PUBLIC_BLUEPRINTS: set[str] = set()


def check_csrf_token() -> None:
    if request.method not in current_app.config["WTF_CSRF_METHODS"] or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    try:
        validate_csrf(request.form.get(field) or request.headers.get("X-CSRFToken"))
    except ValidationError as error:
        raise CSRFError(error.args[0]) from None
    g.csrf_valid = True  # the forms need not check it again


def refuse_repeated_fields() -> None:
    """400 for a form that sends a field more than once (see the module's docstring)."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    for name, values in request.form.lists():
        if len(values) > 1:
            raise DomainError(f"提交的内容中“{name[:40]}”出现了 {len(values)} 次，每项只能提交一次。请刷新页面后重新提交。")


def _private(response):
    response.headers.update(SECURITY_HEADERS)
    return response


def message_page(status: int, title: str, message: str):
    """A public page that says one thing (a refusal, an error, a thanks) with `status`:
    the `page` most public blueprints give make_public."""
    return render_template("survey/citizen_message.html", title=title, message=message, status=status), status


def make_public(
    bp: Blueprint, page: Page, *, csrf_message: str, unexpected_message: str,
    csrf_page: Callable[[], object] | None = None, too_many_page: Callable[[str], object] | None = None,
) -> None:
    """Give `bp` the public pages' CSRF check, their refusal of a repeated field,
    headers and error pages, each shown with `page`: a stale form (400,
    `csrf_message`, or `csrf_page()`), a domain error with its status, an HTTP error
    (429 with the limit's own message, or `too_many_page(message)`), anything
    unexpected (500, `unexpected_message`; logged with the method and path only: never
    the form, a vote or a ballot)."""
    PUBLIC_BLUEPRINTS.add(bp.name)
    csrf.exempt(bp)
    bp.before_request(check_csrf_token)
    bp.before_request(refuse_repeated_fields)
    bp.after_request(_private)

    def csrf_failed(_error: CSRFError):
        return csrf_page() if csrf_page else page(400, "页面已过期", csrf_message)

    # A view's error has rolled the request's writes back before these run (voting/core/db.py,
    # the request's unit of work).
    def domain(error: DomainError):
        return page(error.status, MESSAGES.get(error.status, MESSAGES[400])[0], str(error))

    def http(error: HTTPException):
        status = error.code or 500
        title, message = MESSAGES.get(status, MESSAGES[400] if status < 500 else MESSAGES[500])
        if status == 429 and isinstance(error.description, str):
            message = error.description
        if status == 429 and too_many_page:
            return too_many_page(message)
        return page(status, title, message)

    def unexpected(_error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return page(500, "系统繁忙", unexpected_message)

    bp.register_error_handler(CSRFError, csrf_failed)
    bp.register_error_handler(DomainError, domain)
    bp.register_error_handler(HTTPException, http)
    bp.register_error_handler(Exception, unexpected)
