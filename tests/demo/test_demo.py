"""The demo campaign a newcomer clicks through."""
from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from sqlalchemy import func, select

from scoring import columns as C
from sms.phones import normalize_phone
from tests.conftest import login
from voting.demo.campaign import prepare_demo, synth_objects
from voting.staff.models import Role, User
from voting.lists.models import RoundKind, SectionList, ServiceObject
from voting.lists import campaigns, history
from voting.scores import scorecards


def test_synthetic_objects_are_valid_and_distinct():
    frame = synth_objects(random.Random(1), 300, penalized=120)
    phones = [normalize_phone(p) for p in frame["手机号码"]]
    assert len(set(phones)) == 300
    assert (frame["是否处罚对象"] == "是").sum() == 120
    assert frame["姓名"].str.len().between(2, 3).all()


def test_prepare_demo_builds_the_campaign_once(db):
    logins = prepare_demo(db, echo=lambda _: None)
    db.commit()
    campaign = campaigns.get_campaign(db, 2021)
    statuses = history.section_statuses(db, campaign)
    assert len(statuses) == 363 and statuses[C.EXEMPT].sum() == 8
    assert statuses[C.PREVIOUS_UNSATISFIED].sum() == 10
    evaluated = int((~statuses[C.EXEMPT]).sum())
    assert db.scalar(select(func.count()).select_from(SectionList)) == evaluated
    # Every enforcement section reported its 100 penalized objects.
    lists = db.scalars(select(SectionList)).all()
    enforcement = set(statuses.loc[statuses["is_enforcement"], "id"])
    assert all(sl.penalized >= 100 for sl in lists if sl.section_id in enforcement)
    stored = db.scalar(select(func.count()).select_from(ServiceObject).where(ServiceObject.round == RoundKind.H1))
    assert stored == sum(sl.objects for sl in lists)
    assert {(u, r) for u, _, r in logins} == {("admin", "评议办管理员"), ("liaison-gaj", "单位联络员（县公安局）")}

    # A second start keeps the data and gives fresh passwords that work.
    again = prepare_demo(db, echo=lambda _: None)
    db.commit()
    assert db.scalar(select(func.count()).select_from(ServiceObject)) == stored
    assert {p for _, p, _ in again}.isdisjoint({p for _, p, _ in logins})
    liaison = db.scalar(select(User).where(User.username == "liaison-gaj"))
    assert liaison.role == Role.liaison and liaison.unit.name == "县公安局"


def test_demo_logins_work(app, client, db):
    logins = prepare_demo(db, echo=lambda _: None)
    db.commit()
    for username, password, _ in logins:
        assert login(client, username, password).status_code == 302
        page = client.get("/office/sections").get_data(as_text=True)
        assert ("县发改局" in page) == (username == "admin")
        client.post("/logout")


def test_demo_command_without_server(database_url, tmp_path):
    from tests.conftest import make_app

    app = make_app(database_url, tmp_path)
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "已导入参评科室名单：363 个科室" in result.output
    assert "用户名 admin 密码 " in result.output
    app.extensions["pingyi.engine"].dispose()


@contextlib.contextmanager
def running_demo(tmp_path):
    """The quick start's own command, as a user runs it: a real process on a real
    port. Yields (base URL, admin password, what it printed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PINGYI_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from voting.cli import main; main()", "demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output = ""
        while "数据库" not in output:
            line = process.stdout.readline()
            assert line, f"demo exited early:\n{output}"
            output += line
        password = re.search(r"用户名 admin 密码 (\S+)", output).group(1)
        # Keep reading what it prints (its request and SMS log lines): a full pipe would
        # stall the server.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the demo never served"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", password, output
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_pingyi_demo_serves_the_site(tmp_path):
    with running_demo(tmp_path) as (base, password, output):
        page = urllib.request.urlopen(f"{base}/login", timeout=5).read().decode()
        assert "工作人员登录" in page and len(password) >= 10
        assert "sqlite:///" in output and str(tmp_path) in output


def test_demo_has_a_whole_year_to_score(app, client, db):
    """Every score page of the demo has something to show: the daily stage, the
    shortlist, the online round and the final lists."""
    logins = prepare_demo(db, echo=lambda _: None)
    db.commit()
    card = scorecards.campaign_scorecard(db, campaigns.get_campaign(db, 2021))
    assert card.network_held and int(card.sections[C.SHORTLIST].notna().sum()) == 110
    assert int((card.sections[C.RESULT] == C.SATISFIED).sum()) == 10
    assert not [w for w in card.warnings if "主管单位" in w]  # every unit's supervisor scores are in
    admin = next(password for username, password, _ in logins if username == "admin")
    login(client, "admin", admin)
    assert "满意单位（10 个）" in client.get("/office/scores/final").get_data(as_text=True)
