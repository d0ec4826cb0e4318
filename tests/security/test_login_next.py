"""Where a staff login goes afterwards (`next`), on SQLite and PostgreSQL: only ever a
path of this site (voting.staff.auth.local_path), through the password form and through the
second step, never a 500.

The sweep is of what a browser reads differently from a plain "starts with one /"
check: every C0 control character and DEL (a browser drops tab, CR and LF anywhere, and
C0 controls and spaces at either end: `/<tab>/evil.example` is `//evil.example`),
percent-encodings of those and of slashes and backslashes (once and twice), Unicode
look-alikes of "/" and "\\" and invisible or non-ASCII spaces, backslashes (a browser
reads "\\" as "/"), and schemes. Each must end on a same-site path (one "/" and then
no "/" or "\\") or the dashboard; an ordinary path still comes back."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from werkzeug.security import generate_password_hash

from tests.conftest import PASSWORD
from voting.staff import auth
from voting.staff.auth import local_path
from voting.core.errors_web import NUL_REFUSED

DASHBOARD = "/office/"
T0 = 1_800_000_000.0
EVIL = "evil.example"


def _encoded(value: str) -> str:
    """`value` as it stands in a query string (every byte but letters percent-encoded)."""
    return quote(value, safe="")


def hostile() -> list[str]:
    """Raw `next` values, as they appear in the URL after `next=`."""
    raw = []
    for code in [*range(0x20), 0x7F]:
        byte = f"%{code:02X}"
        raw += [f"/{byte}/{EVIL}", f"{byte}//{EVIL}", f"{byte}/{byte}/{EVIL}", f"/{byte}%5C{EVIL}",
                f"/{byte}", f"{byte}javascript:alert(1)"]
    raw += [
        # percent-encoded, once and twice
        f"/%0a/{EVIL}", f"/%0d/{EVIL}", "/%0d/x", "/%0a%0d/x", f"%2f%2f{EVIL}", f"/%2f/{EVIL}",
        f"%2F%2F{EVIL}", f"%5c%5c{EVIL}", f"/%5c{EVIL}", f"%2f%5c{EVIL}", f"%5c/{EVIL}", f"/%252f%252f{EVIL}",
        f"%252f%252f{EVIL}", f"/%2509/{EVIL}", f"/%255c{EVIL}", f"/%25%32%66/{EVIL}",
        # schemes and hosts
        "javascript:alert(1)", _encoded("javascript:alert(document.cookie)"), "JaVaScRiPt:alert(1)",
        _encoded("java\tscript:alert(1)"), _encoded("data:text/html,<script>alert(1)</script>"),
        _encoded("data:,x"), f"http://{EVIL}", f"https://{EVIL}/office/", f"https:{EVIL}", f"https:/{EVIL}",
        f"http:%2f%2f{EVIL}", f"ftp://{EVIL}", f"//{EVIL}", f"///{EVIL}", f"////{EVIL}", f"//{EVIL}/office/",
        _encoded(f"//user@{EVIL}"), _encoded(f"/\\{EVIL}"), _encoded(f"/\\\\{EVIL}"), _encoded(f"\\\\{EVIL}"),
        _encoded(f"\\/{EVIL}"), _encoded(f"/\\/{EVIL}"), _encoded(f"/office\\..\\\\{EVIL}"),
        _encoded(f" //{EVIL}"), _encoded(f"/ /{EVIL}"), EVIL, _encoded(f"{EVIL}/office/"), "", "%20",
    ]
    # Unicode: look-alikes of "/" and "\", invisible and non-ASCII spaces, line separators
    for char in ("\uff0f", "\uff3c", "\u2215", "\u2044", "\u29f8", "\ufe68", "\u00a0", "\u2000", "\u3000",
                 "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u2028", "\u2029", "\u0085",
                 "\u202e", "\ufffe"):
        raw += [_encoded(f"/{char}/{EVIL}"), _encoded(f"{char}/{EVIL}"), _encoded(f"/{char}{EVIL}"),
                _encoded(f"{char}{char}{EVIL}"), _encoded(f"{char}//{EVIL}")]
    return raw


HOSTILE = hostile()


def same_site(location: str) -> bool:
    """A Location a browser reads as a path of this site."""
    return location == DASHBOARD or (
        re.match(r"^/(?![/\\])", location) is not None
        and all(0x21 <= ord(c) < 0x7F for c in location)  # sent as a URI: nothing a browser would drop
        and "\\" not in location and not urlsplit(location).netloc and not urlsplit(location).scheme
    )


@pytest.fixture
def quick_admin(db, admin):
    """The admin with a password hash that takes no time: hundreds of logins here test
    where they land, not the hash."""
    admin.password_hash = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")
    db.commit()
    return admin


def landed(response, raw: str) -> str | None:
    """What is wrong with where a login with `next={raw}` went, if anything. A NUL byte
    in the query is refused before any view (voting.core.errors_web.check_input): a 400."""
    location = response.headers.get("Location", "")
    if "%00" in raw and response.status_code == 400 and NUL_REFUSED in response.get_data(as_text=True):
        return None
    if response.status_code != 302 or not same_site(location):
        return f"{response.status_code} Location {location!r}"
    return None


@pytest.fixture
def clock(monkeypatch):
    moment = [T0]
    monkeypatch.setattr(auth, "now", lambda: moment[0])
    return moment


def test_a_password_login_lands_only_on_this_site(app, quick_admin):
    assert len(HOSTILE) >= 300 and len(set(HOSTILE)) == len(HOSTILE)
    failures = []
    for raw in HOSTILE:
        browser = app.test_client()
        wrong = landed(browser.post(f"/login?next={raw}", data={"username": "admin", "password": PASSWORD}), raw)
        if wrong:
            failures.append(f"next={raw}: {wrong}")
    assert failures == [], "\n".join(failures)
    # An ordinary page still comes back.
    for target, expected in (("/office/rounds?x=1", "/office/rounds?x=1"),
                             ("/office/users/", "/office/users/"),
                             ("/office/sections?q=县教育局 预算科",
                              "/office/sections?q=%E5%8E%BF%E6%95%99%E8%82%B2%E5%B1%80%20%E9%A2%84%E7%AE%97%E7%A7%91"),
                             ("/office/rounds?x=1\t", "/office/rounds?x=1")):  # what a browser drops, dropped
        browser = app.test_client()
        response = browser.post(f"/login?next={_encoded(target)}", data={"username": "admin", "password": PASSWORD})
        assert response.status_code == 302 and response.headers["Location"] == expected, target
        page = browser.get(expected)  # logged in: the page itself (or its canonical URL), not the login
        assert not page.headers.get("Location", "").startswith("/login"), target


def test_the_second_step_lands_only_on_this_site(clock, app, db, quick_admin):
    quick_admin.totp_secret = secret = pyotp.random_base32()
    db.commit()
    failures = []
    for raw in (raw for raw in HOSTILE if "%00" not in raw):  # NUL: refused before any view (above)
        clock[0] += 30  # a code is good once: the next step's
        browser = app.test_client()
        first = browser.post(f"/login?next={raw}", data={"username": "admin", "password": PASSWORD})
        # The password hands over to the code page with a next that is already safe...
        step = urlsplit(first.headers.get("Location", ""))
        carried = parse_qs(step.query).get("next", [None])[0]
        unsafe = carried is not None and local_path(carried) != carried
        if first.status_code != 302 or step.path != "/login/2fa" or unsafe:
            failures.append(f"password, next={raw}: {first.status_code} {first.headers.get('Location')!r}")
        page = browser.get(f"/login/2fa?next={raw}").get_data(as_text=True)
        action = re.search(r'action="([^"]*)"', page).group(1).replace("&amp;", "&")
        shown = parse_qs(urlsplit(action).query).get("next", [None])[0]
        if shown is not None and local_path(shown) != shown:
            failures.append(f"code page, next={raw}: action {action!r}")
        # ...and the code step refuses a hostile next of its own.
        response = browser.post(f"/login/2fa/verify?next={raw}", data={"code": pyotp.TOTP(secret).at(clock[0])})
        wrong = landed(response, raw)
        if wrong:
            failures.append(f"code, next={raw}: {wrong}")
    assert failures == [], "\n".join(failures)


def test_an_expired_second_step_keeps_only_a_safe_next(clock, app, quick_admin):
    browser = app.test_client()
    for raw in (f"/%09/{EVIL}", f"/%0d/{EVIL}", _encoded(f"/\uff0f{EVIL}")):
        response = browser.get(f"/login/2fa?next={raw}")  # no half-login: back to the password
        assert response.status_code == 302
        assert parse_qs(urlsplit(response.headers["Location"]).query).get("next") is None


# ---- the rule itself, for any text ------------------------------------------------------

_BROWSER_DROPS = re.compile(r"[\t\n\r]")


def browser_reads(location: str) -> tuple[str, str]:
    """(scheme, host) a browser finds in a Location header, after dropping what it drops
    and reading "\\" as "/"."""
    cleaned = _BROWSER_DROPS.sub("", location).strip("".join(chr(c) for c in range(0x21))).replace("\\", "/")
    parts = urlsplit(cleaned)
    return parts.scheme, parts.netloc


PIECES = [*"/\\:.%@?#ae 09xX", "\t", "\n", "\r", "\x00", "\x0b", "\x1f", "\x7f", "\u00a0", "\u200b", "\uff0f",
          "\uff3c", "\u2215", "%2f", "%5c", "%09", "%0d", "%252f", "//", "http:", "javascript:", "evil.example"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_local_path_never_names_another_site(target):
    found = local_path(target)
    if found is None:
        return
    assert found.startswith("/") and found[1:2] not in ("/", "\\")
    assert found.isprintable() and "\\" not in found and "\t" not in found
    assert browser_reads(found) == ("", "") and browser_reads(unquote(found)) == ("", "")
    assert local_path(found) == found
