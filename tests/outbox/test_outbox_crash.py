"""A dispatch worker killed (SIGKILL) at 30 % and at 70 % of 10,000 messages and
started again sends every message once, but for the one in flight at each kill, which it
sets aside as uncertain (delivered once or not at all, never twice):
the real `pingyi sms dispatch` command in a process of its own, the console sender
delivering into its table, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

from sms.templates import INVITE_LINK, render
from voting.outbox import outbox
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus

MESSAGES = 10_000
LIMIT = 600  # seconds for the whole run: a hung worker fails the test, never hangs CI


def _params(i: int) -> dict[str, str]:
    return {"sign": "平阳县评议办", "date": "5月12日", "unit": "县发改局", "section": "价格科",
            "matter": "咨询价格政策", "link": f"https://p.example.cn/v/{i}", "reply_hint": "", "closes": "6月30日"}


def _worker(database_url: str, instance: str, out: Path) -> subprocess.Popen:
    """The worker's output goes to files, not pipes: a worker logging every message at
    INFO (as production does) would fill a pipe nobody reads yet and stall."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PINGYI_INSTANCE_PATH": instance,
        "FLASK_SECRET_KEY": "crash test",
        "PINGYI_SMS_SENDER": "console",
        # Any time of day, no cap: this test is about crashes.
        "FLASK_SMS_WINDOW_START": "00:00",
        "FLASK_SMS_WINDOW_END": "00:00",
        "FLASK_SMS_DAILY_CAP": "0",
    }
    command = [sys.executable, "-c", "from voting.cli import main; main()", "sms", "dispatch", "--lease", "1", "--batch", "20"]
    return subprocess.Popen(command, env=env, stdout=out.with_suffix(".out").open("w"),
                            stderr=out.with_suffix(".err").open("w"), text=True)


def _delivered(db) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(ConsoleMessage))


def _kill_at(db, worker: subprocess.Popen, count: int, deadline: float) -> None:
    while _delivered(db) < count:
        assert worker.poll() is None, "the worker stopped: see its .err file"
        assert time.monotonic() < deadline, "the worker is too slow"
        time.sleep(0.02)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(app, db, database_url, tmp_path):
    now = datetime.now(timezone.utc)
    db.execute(insert(OutboxMessage), [
        {"key": f"invite:{i}", "phone": f"138{i:08d}", "template": INVITE_LINK, "params": _params(i),
         "text": render(INVITE_LINK, _params(i)), "status": OutboxStatus.pending, "attempts": 0,
         "not_before": now, "last_error": "", "created_at": now}
        for i in range(MESSAGES)
    ])
    db.commit()
    deadline = time.monotonic() + LIMIT
    instance = str(tmp_path / "instance")

    _kill_at(db, _worker(database_url, instance, tmp_path / "worker1"), int(MESSAGES * 0.3), deadline)
    _kill_at(db, _worker(database_url, instance, tmp_path / "worker2"), int(MESSAGES * 0.7), deadline)
    last = _worker(database_url, instance, tmp_path / "worker3")
    last.wait(timeout=max(1, deadline - time.monotonic()))
    out, err = (tmp_path / "worker3.out").read_text(), (tmp_path / "worker3.err").read_text()
    assert last.returncode == 0, err

    db.rollback()
    keys = db.scalars(select(ConsoleMessage.key)).all()
    assert len(keys) == len(set(keys))  # nothing delivered twice
    rows = db.execute(select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.last_error)).all()
    sent = {key for key, status, _ in rows if status == OutboxStatus.sent}
    aside = [(key, error) for key, status, error in rows if status != OutboxStatus.sent]
    assert len(sent) + len(aside) == MESSAGES
    assert sent <= set(keys) and set(keys) <= sent | {key for key, _ in aside}  # every sent one delivered
    # At most the one in flight per kill, set aside for the office to check.
    assert len(aside) <= 2 and all(error.startswith(outbox.UNCERTAIN) for _, error in aside)
    assert {status for _, status, _ in rows} <= {OutboxStatus.sent, OutboxStatus.failed}
    assert "已发送" in out
