"""The second factor's enrolment page draws the provisioning URI as a QR code: inline
SVG in the page (no image URL, no script), with a text alternative, beside the secret
as text; never cached, never logged."""
from __future__ import annotations

import html
import logging
import re

import pyotp
import segno

from voting.staff.auth import QR_TITLE, STAFF_HEADERS

_SVG = re.compile(r'<figure id="totp-qr">\s*(<svg\b.*?</svg>)', re.DOTALL)
_PATH_STEP = re.compile(r"([Mmh])(-?\d+(?:\.\d+)?)(?: (-?\d+(?:\.\d+)?))?")


def drawn_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules (column, row) the SVG's stroked path draws, counted from the
    top-left one. segno draws each run of dark modules of a row as one horizontal line
    through the row's middle: `M`/`m` move, `h` draws."""
    path = re.search(r'<path\b[^>]*\bstroke="#000"[^>]*\bd="([^"]+)"', svg).group(1)
    assert _PATH_STEP.sub("", path) == ""  # nothing in the path this reading skips
    x = y = 0.0
    dark = set()
    for command, first, second in _PATH_STEP.findall(path):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            dark.update((int(x) + i, int(y)) for i in range(int(float(first))))
            x += float(first)
    # The top-left finder pattern's corner is always dark: it is module (0, 0).
    left, top = min(c for c, _ in dark), min(r for _, r in dark)
    return {(c - left, r - top) for c, r in dark}


def qr_modules(code: segno.QRCode) -> set[tuple[int, int]]:
    return {(c, r) for r, row in enumerate(code.matrix) for c, value in enumerate(row) if value}


def encodes(svg: str, uri: str) -> bool:
    """Whether the drawing is the QR code of `uri` at one of the four error levels."""
    drawn = drawn_modules(svg)
    return any(drawn == qr_modules(segno.make(uri, error=level, micro=False)) for level in "lmqh")


def test_the_enrolment_page_shows_the_uri_as_an_inline_qr_code(admin_client, caplog):
    caplog.set_level(logging.INFO)
    response = admin_client.get("/office/account/2fa")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    uri = html.unescape(re.search(r'id="totp-uri"[^>]*>([^<]+)<', page).group(1))
    shown = re.search(r'id="totp-secret"[^>]*>([^<]+)<', page).group(1)
    secret = pyotp.parse_uri(uri).secret
    # The secret for manual entry, in groups of four.
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})*( [A-Z2-7]{1,3})?", shown)
    assert shown.replace(" ", "") == secret

    svg = _SVG.search(page).group(1)
    assert encodes(svg, uri)
    other = pyotp.TOTP(pyotp.random_base32()).provisioning_uri(name="admin", issuer_name="千人评议平台")
    assert not encodes(svg, other)  # the comparison tells codes apart
    # A text alternative, and nothing the staff CSP would block or that fetches anything.
    assert f"<title>{QR_TITLE}</title>" in svg
    assert "<figcaption>" in page
    assert not re.search(r"\sstyle=|<script|<image|href=|<img", svg)
    assert "'unsafe-inline'" not in STAFF_HEADERS["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"] == STAFF_HEADERS["Content-Security-Policy"]

    # The same secret (and so the same code) when the page is opened again; no log has it.
    again = admin_client.get("/office/account/2fa").get_data(as_text=True)
    assert _SVG.search(again).group(1) == svg
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert secret not in logged and uri not in logged and svg[:200] not in logged


def test_no_qr_code_once_enrolled(admin_client, db, admin):
    admin.totp_secret = pyotp.random_base32()
    db.commit()
    page = admin_client.get("/office/account/2fa").get_data(as_text=True)
    assert "已启用" in page and "<svg" not in page and admin.totp_secret not in page
