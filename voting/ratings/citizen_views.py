"""The public rating address (评议二维码扫码后打开的页面): `GET /r/<token>`, what a
code's QR code holds (voting/ratings/codes.py signs it, voting/ratings/views.py prints
it on the posters).

For now it says which place the code is of (the section or the window, its unit) and
that rating opens later; the rating form itself comes with the citizens' ratings. An
address that is not one of ours is a 404, a stopped code a 410, each with its message
for the citizen. Nothing is written (a QR scanner's preview opens the address too).

The blueprint's CSRF check, `no-referrer` and `no-store` headers and error pages are
the public pages' (voting/web/public.py).
"""
from __future__ import annotations

from flask import Blueprint, render_template

from voting.core.db import get_session
from voting.core.extensions import limiter
from voting.ratings import codes, places
from voting.web.public import make_public

bp = Blueprint("ratings", __name__)

ADDRESS_LIMIT = "600 per minute"  # generous: many phones share one carrier address
TOO_MANY = "操作过于频繁，请稍等一分钟后再试。"
NOT_OPEN = "扫码评价页面建设中，暂不接受评价。"


def _page(status: int, title: str, message: str):
    return render_template("survey/citizen_message.html", title=title, message=message, status=status), status


make_public(
    bp, _page,
    csrf_message="页面已过期，请重新扫描窗口张贴的二维码。",
    unexpected_message="系统暂时出现问题，请稍后重新扫描二维码再试。",
)


@bp.get("/r/<token>")
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
def rate(token: str):
    """The place a live code is of; 404 for an unknown address, 410 for a stopped code."""
    session = get_session()
    try:
        code = codes.code_from_token(session, token)
    except codes.UnknownCodeError as error:
        return _page(404, "二维码无效", str(error))
    except codes.RevokedCodeError as error:
        return _page(410, "二维码已停用", str(error))
    place = places.place_of(session, code)
    return render_template("ratings/rate.html", place=place, code=code, message=NOT_OPEN)
