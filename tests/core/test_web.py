"""Staff login, roles, CSRF, error pages: each with its status and a Chinese message,
never a stack trace."""
from __future__ import annotations

import re
from io import BytesIO

import pytest

from tests.conftest import PASSWORD, login, make_app
from voting.schema import Base
from voting.staff.models import Role


def test_pages_need_login(client, db, campaign):
    for path in ("/office/", "/office/sections", "/office/import/objects", "/office/import/history"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_wrong_password_and_unknown_user_look_the_same(client, admin):
    wrong = login(client, "admin", "wrong password")
    unknown = login(client, "nobody", "wrong password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).replace('value="admin"', "") == unknown.get_data(as_text=True).replace(
        'value="nobody"', ""
    )


def test_login_logout(client, admin, campaign):
    response = login(client, "admin")
    assert response.status_code == 302 and response.headers["Location"] == "/office/"
    assert "363" in client.get("/office/").get_data(as_text=True)
    assert client.get("/logout").status_code == 405  # no state change on GET
    assert client.get("/office/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/office/").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(client, admin, target):
    response = client.post(f"/login?next={target}", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/office/"


def test_inactive_user_cannot_log_in(client, db, admin):
    admin.active = False
    db.commit()
    assert login(client, "admin").status_code == 401


def test_auditor_reads_but_cannot_import(client, db, campaign):
    from voting.staff.users import create_user

    create_user(db, "auditor", PASSWORD, Role.auditor)
    db.commit()
    login(client, "auditor")
    assert client.get("/office/sections").status_code == 200
    for path in ("/office/import/objects", "/office/import/sections", "/office/import/history"):
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize(("path", "status", "text"), [("/no/such/page", 404, "页面不存在"), ("/office/imports/999999", 404, "页面不存在")])
def test_not_found_pages_are_chinese(admin_client, path, status, text):
    response = admin_client.get(path)
    assert response.status_code == status and text in response.get_data(as_text=True)


def test_post_only_endpoint_refuses_get(admin_client, campaign):
    response = admin_client.get("/office/import/sections/confirm")
    assert response.status_code == 405 and "请求方式不允许" in response.get_data(as_text=True)


def test_upload_over_the_size_limit_is_413(db, campaign, admin, database_url, tmp_path):
    app = make_app(database_url, tmp_path, MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    login(client, "admin")
    response = client.post(
        "/office/import/history", data={"file": (BytesIO(b"x" * 4096), "big.csv")}, content_type="multipart/form-data"
    )
    assert response.status_code == 413 and "文件太大" in response.get_data(as_text=True)
    app.extensions["pingyi.engine"].dispose()


def test_missing_file_and_wrong_type_are_form_errors(admin_client, campaign):
    response = admin_client.post("/office/import/history", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择文件" in response.get_data(as_text=True)
    response = admin_client.post(
        "/office/import/history", data={"file": (BytesIO(b"x"), "h.pdf")}, content_type="multipart/form-data"
    )
    assert response.status_code == 400 and "只接受 .xlsx 或 .csv 文件" in response.get_data(as_text=True)


def test_unexpected_error_shows_a_chinese_page_without_trace(database_url, tmp_path):
    app = make_app(database_url, tmp_path, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and "系统错误" in body
    assert "secret internals" not in body and "Traceback" not in body
    app.extensions["pingyi.engine"].dispose()


@pytest.fixture
def csrf_app(database_url, tmp_path):
    app = make_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    Base.metadata.create_all(app.extensions["pingyi.engine"])
    yield app
    app.extensions["pingyi.engine"].dispose()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_post_without_or_with_a_foreign_csrf_token_is_refused(csrf_app):
    from voting.core.db import get_session
    from voting.staff.users import create_user

    with csrf_app.app_context():
        create_user(get_session(), "admin", PASSWORD, Role.admin)
        get_session().commit()
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    other = csrf_app.test_client()
    foreign = _token(other.get("/login").get_data(as_text=True))
    client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": foreign})
    assert response.status_code == 400
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_login_is_rate_limited(database_url, tmp_path):
    app = make_app(database_url, tmp_path, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    Base.metadata.create_all(app.extensions["pingyi.engine"])
    client = app.test_client()
    statuses = [login(client, "admin", "guess").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert "过于频繁" in login(client, "admin", "guess").get_data(as_text=True)
    app.extensions["pingyi.engine"].dispose()


def test_health(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json() == {"status": "ready", "database": "ok"}


def test_not_ready_without_the_database_but_still_alive(tmp_path):
    """Nothing listens on port 1: readiness fails (503, no error text), liveness holds."""
    app = make_app("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2", tmp_path)
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert client.get("/healthz").status_code == 200
    app.extensions["pingyi.engine"].dispose()


def test_campaign_created_from_the_dashboard(admin_client, db):
    assert "还没有评议活动" in admin_client.get("/office/").get_data(as_text=True)
    assert admin_client.post("/office/campaigns", data={"year": "1999"}).status_code == 302
    assert "年度应在 2000–2100 之间" in admin_client.get("/office/").get_data(as_text=True)
    assert admin_client.post("/office/campaigns", data={"year": "2021"}).status_code == 302
    assert "2021年度千人评机关中层科室活动" in admin_client.get("/office/").get_data(as_text=True)
    response = admin_client.post("/office/campaigns", data={"year": "2021"})
    assert response.status_code == 409 and "已存在" in response.get_data(as_text=True)


def test_upload_times_are_shown_in_beijing_time(admin_client, db, campaign):
    from datetime import datetime, timezone

    from voting.lists.models import ObjectImport, RoundKind

    db.add(ObjectImport(campaign_id=campaign.id, round=RoundKind.H1, filename="x.csv", rows_read=1, stored=1,
                        duplicates=0, report={}, created_at=datetime(2021, 6, 9, 17, 30, tzinfo=timezone.utc)))
    db.commit()
    assert "2021-06-10 01:30" in admin_client.get("/office/").get_data(as_text=True)


@pytest.mark.parametrize(("config", "missing"), [({"DATABASE_URL": "sqlite://"}, "FLASK_SECRET_KEY"), ({"SECRET_KEY": "k"}, "DATABASE_URL")])
def test_production_refuses_to_start_without_its_secrets(tmp_path, monkeypatch, config, missing):
    from voting import create_app
    from voting.core.config import ConfigError

    monkeypatch.setenv("PINGYI_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=missing):
        create_app({"PRODUCTION": True, "SECRET_KEY": None, "DATABASE_URL": None, **config})


def test_outside_production_a_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    from voting import create_app

    monkeypatch.setenv("PINGYI_INSTANCE_PATH", str(tmp_path))
    first = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": None}).config["SECRET_KEY"]
    second = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": None}).config["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
