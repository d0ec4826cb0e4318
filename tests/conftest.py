"""Fixtures: every database test runs on SQLite and on PostgreSQL, each on a fresh
database (a file for SQLite, a schema of its own on PostgreSQL).

A part the machine lacks (PostgreSQL, Chromium) skips the tests that need it, with the
reason; with PINGYI_REQUIRE_ALL=1 (set by .ci/run) those skips are failures.
"""
from __future__ import annotations

import io
import logging
import os
import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from voting import create_app
from voting.schema import Base
from voting.staff.models import Role
from voting.core.resources import DATA_DIR
from voting.lists import campaigns, sections
from voting.staff import users

REQUIRE_ALL = os.environ.get("PINGYI_REQUIRE_ALL") == "1"
POSTGRES_URL = os.environ.get("PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECTIONS_CSV = DATA_DIR / "pingyang-2021-sections.csv"
SECTIONS_XLSX = DATA_DIR / "pingyang-2021-sections.xlsx"
PASSWORD = "correct horse battery"


def missing(reason: str) -> None:
    """Skip on a user's machine, fail in CI."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


_postgres_ok: bool | None = None


def postgres_available() -> bool:
    global _postgres_ok
    if _postgres_ok is None:
        try:
            engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            engine.dispose()
            _postgres_ok = True
        except Exception:  # noqa: BLE001 (whatever stops the connection: no PostgreSQL here)
            _postgres_ok = False
    return _postgres_ok


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    if not postgres_available():
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def make_app(database_url: str, tmp_path: Path, **overrides):
    os.environ["PINGYI_INSTANCE_PATH"] = str(tmp_path / "instance")
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test secret",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "JOBS_URL": "immediate",  # a background job runs at once, inside the request that submits it
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app_config() -> dict:
    """Overrides for the `app` fixture; a test module may redefine it."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_config):
    app = make_app(database_url, tmp_path, **app_config)
    engine = app.extensions["pingyi.engine"]
    Base.metadata.create_all(engine)
    yield app
    engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """A session of the test's own, outside any app context: were an app context kept
    pushed, every request of the test would reuse it, and with it `g` (one database
    session for all requests, Flask-Login's cached user shared between clients)."""
    session = app.extensions["pingyi.sessions"]()
    yield session
    session.close()


@pytest.fixture
def campaign(db):
    """The 2021 campaign with the real 363 sections."""
    created = campaigns.create_campaign(db, 2021)
    listed = sections.parse_sections(SECTIONS_CSV.read_bytes(), SECTIONS_CSV.name)
    sections.apply_sections(db, created, listed)
    db.commit()
    return created


# ---- an example year (voting.demo.synthetic.example_bundle) --------------------------------------


@pytest.fixture(scope="module")
def bundle_dir(request, tmp_path_factory) -> Path:
    """An example year's bundle, made once per test module: with the module's
    BUNDLE_SEED (11 unless it sets one), and its online round's votes unless the module
    sets BUNDLE_NETWORK = False."""
    from voting.demo.synthetic import example_bundle

    directory = tmp_path_factory.mktemp("bundle")
    example_bundle(directory, seed=getattr(request.module, "BUNDLE_SEED", 11),
                   network=getattr(request.module, "BUNDLE_NETWORK", True))
    return directory


@pytest.fixture(scope="module")
def offline_year(bundle_dir) -> pd.DataFrame:
    """The example year's sections as the offline scoring scores them."""
    from voting.components.bundle import score_bundle

    return score_bundle(bundle_dir).sections


@pytest.fixture
def year(db, campaign, bundle_dir):
    """The campaign with the example year loaded through the platform's imports."""
    from voting.demo.campaign import load_bundle

    load_bundle(db, campaign, bundle_dir)
    db.commit()
    return campaign


def daily_only(bundle_dir: Path, target: Path) -> Path:
    """A copy of the bundle in `target` without the online round's votes: the year as
    it stands before the online round."""
    target.mkdir()
    for path in bundle_dir.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    votes = (bundle_dir / "votes.csv").read_text(encoding="utf-8-sig").splitlines()
    (target / "votes.csv").write_text("\n".join(v for v in votes if ",NET," not in v), encoding="utf-8")
    return target


@pytest.fixture
def admin(db):
    user = users.create_user(db, "admin", PASSWORD, Role.admin)
    db.commit()
    return user


def login(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def admin_client(client, admin):
    assert login(client, "admin").status_code == 302
    return client


def xlsx_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame, encoding: str = "utf-8") -> bytes:
    return frame.to_csv(index=False).encode(encoding)


# The browser fixtures, once for every test module (see tests/support/browser.py). Imported last:
# tests.support.browser imports `missing` from here.
@pytest.fixture(autouse=True)
def logger_levels():
    """Each test starts with the loggers as they were: a command run in the test's process
    (`pingyi demo` quietens werkzeug, alembic and huey for its terminal) must not silence
    the lines a later test reads. A logger made during the test is set back to its
    defaults (no level of its own, enabled)."""
    def loggers() -> list[logging.Logger]:
        return [logging.getLogger(), *(logger for logger in logging.root.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger))]

    before = {logger: (logger.level, logger.disabled) for logger in loggers()}
    yield
    for logger in loggers():
        logger.setLevel(before.get(logger, (logging.NOTSET, False))[0])
        logger.disabled = before.get(logger, (logging.NOTSET, False))[1]


from tests.support.browser import browser, live_server, page  # noqa: E402, F401
