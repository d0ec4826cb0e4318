"""Staff accounts from the review office's page."""
from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import PASSWORD, login
from voting.staff.models import Role, User
from voting.lists.models import Unit


def _password(html: str) -> str:
    return re.search(r'<code id="password"[^>]*>([^<]+)</code>', html).group(1)


def test_admin_creates_a_liaison_who_sees_only_their_unit(admin_client, client, db, campaign):
    unit = db.scalar(select(Unit).where(Unit.name == "县教育局"))
    response = admin_client.post(
        "/office/users/", data={"username": "jyj", "display_name": "教育局联络员", "role": "liaison", "unit": str(unit.id)}
    )
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = _password(response.get_data(as_text=True))
    user = db.scalar(select(User).where(User.username == "jyj"))
    assert user.role == Role.liaison and user.unit_id == unit.id and password not in user.password_hash
    admin_client.post("/logout")
    assert login(client, "jyj", password).status_code == 302
    page = client.get("/office/sections").get_data(as_text=True)
    assert "督导科" in page and "县发改局" not in page


def test_bad_account_requests_are_refused_with_a_reason(admin_client, db, campaign):
    response = admin_client.post("/office/users/", data={"username": "x1", "role": "liaison", "unit": "0"})
    assert response.status_code == 400 and "必须指定所属单位" in response.get_data(as_text=True)
    response = admin_client.post("/office/users/", data={"username": "admin", "role": "operator", "unit": "0"})
    assert response.status_code == 409 and "已存在" in response.get_data(as_text=True)
    response = admin_client.post("/office/users/", data={"username": "x2", "role": "king", "unit": "0"})
    assert response.status_code == 400 and "不是有效的选择" in response.get_data(as_text=True)
    response = admin_client.post("/office/users/", data={"username": "有 空格", "role": "operator", "unit": "0"})
    assert response.status_code == 400 and "用户名只能用" in response.get_data(as_text=True)
    assert db.scalar(select(User.username).where(User.username != "admin")) is None


def test_deactivate_and_reset(admin_client, app, db, campaign, admin):
    from voting.staff.users import create_user

    client = app.test_client()  # the operator's own browser
    operator = create_user(db, "op", PASSWORD, Role.operator)
    db.commit()
    assert admin_client.get(f"/office/users/{operator.id}/active").status_code == 405
    assert admin_client.post(f"/office/users/{operator.id}/active").status_code == 302
    assert login(client, "op").status_code == 401
    admin_client.post(f"/office/users/{operator.id}/active")
    new = _password(admin_client.post(f"/office/users/{operator.id}/password").get_data(as_text=True))
    assert login(client, "op").status_code == 401  # the old password no longer works
    assert login(client, "op", new).status_code == 302
    response = admin_client.post(f"/office/users/{admin.id}/active")
    assert response.status_code == 400 and "不能停用自己的账号" in response.get_data(as_text=True)
    assert admin_client.post("/office/users/99999/active").status_code == 404


def test_only_the_review_office_manages_accounts(client, db, campaign):
    from voting.staff.users import create_user

    create_user(db, "op", PASSWORD, Role.operator)
    db.commit()
    login(client, "op")
    assert client.get("/office/users/").status_code == 403
    assert client.post("/office/users/", data={"username": "x", "role": "admin", "unit": "0"}).status_code == 403


def test_every_units_liaison_account_in_one_step_with_printable_slips(admin_client, client, db, campaign):
    jyj = db.scalar(select(Unit).where(Unit.name == "县教育局"))
    admin_client.post("/office/users/", data={"username": "jyj", "role": "liaison", "unit": str(jyj.id)})
    units = db.scalars(select(Unit).where(Unit.campaign_id == campaign.id)).all()
    page = admin_client.get("/office/users/").get_data(as_text=True)
    assert f"为 {len(units) - 1} 个还没有联络员账号的单位各建立一个账号" in page and 'id="confirm-liaisons"' in page
    # Asked first: nothing made.
    asked = admin_client.post("/office/users/liaisons")
    assert asked.status_code == 200 and "请确认：为各单位建立联络员账号" in asked.get_data(as_text=True)
    assert db.scalar(select(User).where(User.username.like("liaison-%"))) is None
    response = admin_client.post("/office/users/liaisons", data={"confirmed": "1"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    slips = response.get_data(as_text=True)
    db.rollback()
    made = db.scalars(select(User).where(User.username.like("liaison-%"))).all()
    assert len(made) == len(units) - 1 and {u.unit_id for u in made} == {u.id for u in units} - {jyj.id}
    assert slips.count('class="slip"') == len(made) and "http://localhost/login" in slips
    # A slip's password logs its liaison in, to the own unit only.
    first = re.search(r"<h2>([^<]+) · 千人评议平台联络员账号</h2>.*?<code>([^<]+)</code>.*?<code class=\"secret\">([^<]+)</code>",
                      slips, re.S)
    unit_name, username, password = first.groups()
    assert login(client, username, password).status_code == 302
    assert db.scalar(select(User).where(User.username == username)).unit.name == unit_name
    # Again: every unit has one, none made.
    again = admin_client.post("/office/users/liaisons", data={"confirmed": "1"}).get_data(as_text=True)
    assert "每个单位都已有联络员账号" in again
    assert len(db.scalars(select(User).where(User.username.like("liaison-%"))).all()) == len(made)


def test_the_command_line_creates_a_liaison_of_a_unit_named_and_refuses_an_unknown_unit(db, campaign, runner):
    unit = db.scalar(select(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.id))
    result = runner.invoke(args=["users", "create", "lianluo", "--role", "liaison", "--unit", unit.name,
                                 "--password", "a-long-enough-passphrase-1"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    created = db.scalar(select(User).where(User.username == "lianluo"))
    assert (created.role, created.unit_id) == (Role.liaison, unit.id)
    unknown = runner.invoke(args=["users", "create", "other", "--role", "liaison", "--unit", "没有这个局"])
    assert unknown.exit_code == 1 and "2021 年度没有单位“没有这个局”" in unknown.output
    assert db.scalar(select(User).where(User.username == "other")) is None
