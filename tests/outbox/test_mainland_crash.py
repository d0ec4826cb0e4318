"""A dispatch worker killed (SIGKILL) in the middle of a provider call, through each
mainland provider's official SDK and its loopback fake (docs/rules.md §4.15): the
real `pingyi sms dispatch` command in a process of its own, the fake holding its
answer to one call it has taken. After a restart no message is lost and none is sent
twice: the call in flight is set aside as uncertain (the provider has it, the
platform cannot know), the calls before it are recorded as sent, the messages after
it go out once. On SQLite and PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.citizens import invitations, open_round
from tests.support.mainland import SIGN
from tests.support.mainland import provider  # noqa: F401 - the fixture
from voting.lists import campaigns
from voting.outbox import outbox
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.survey.models import InviteMode

LIMIT = 120  # seconds for each wait: a hung worker fails the test, never hangs CI
HOLD = 60  # seconds the fake holds its answer to the call in flight (the worker dies first)


def _worker(database_url: str, instance: str, env: dict[str, str], out: Path, parallel: int) -> subprocess.Popen:
    environ = {
        **os.environ, **env,
        "DATABASE_URL": database_url, "PINGYI_INSTANCE_PATH": instance, "FLASK_SECRET_KEY": "crash test",
        "FLASK_SMS_WINDOW_START": "00:00", "FLASK_SMS_WINDOW_END": "00:00", "FLASK_SMS_DAILY_CAP": "0",
        "FLASK_SMS_SIGN": SIGN,
    }
    command = [sys.executable, "-c", "from voting.cli import main; main()", "sms", "dispatch", "--lease", "1",
               "--batch", "50", "--parallel", str(parallel)]
    return subprocess.Popen(command, env=environ, stdout=out.with_suffix(".out").open("w"),
                            stderr=out.with_suffix(".err").open("w"), text=True)


def _wait(condition, worker: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        assert worker.poll() is None, f"the worker stopped before {what}: see its .err file"
        assert time.monotonic() < deadline, f"the worker is too slow: {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("parallel", [1, 4])
def test_a_worker_killed_during_a_call_sends_nothing_twice(app, db, campaign, provider, database_url, tmp_path,
                                                           parallel):
    survey = open_round(app, db, campaign, sections=1, per_section=250, mode=InviteMode.code)
    # The campaign's send window and cap would hold the messages at night.
    campaigns.change_settings(db, campaign, {"sms_window_start": "00:00", "sms_window_end": "00:00",
                                             "sms_daily_cap": "0"})
    db.commit()
    phones = {invitation.phone for invitation in invitations(db, survey)}
    fake = provider.fake
    # Alibaba sends the 250 citizens' own codes as SendBatchSms calls of 100, 100, 50; Tencent
    # one call each. The fake answers the first call at once and holds its answer to the
    # second. One call at a time, the second call is in flight when the worker dies; four,
    # the first wave's calls (Alibaba: all three, Tencent: the first four) were handed over
    # together, and none of their answers was recorded.
    fake.delay_next(0)
    fake.delay_next(HOLD)
    per_call = 100 if provider.name == "aliyun" else 1
    in_flight = per_call if parallel == 1 else (250 if provider.name == "aliyun" else 4)
    instance = str(tmp_path / "instance")

    first = _worker(database_url, instance, provider.env, tmp_path / "worker1", parallel)
    _wait(lambda: len(fake.accepted) >= (2 * per_call if parallel == 1 else in_flight), first, "the held call")
    time.sleep(0.3)  # the worker is waiting for the held answer
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    time.sleep(1.5)  # past the worker's lease (--lease 1)

    last = _worker(database_url, instance, provider.env, tmp_path / "worker2", parallel)
    last.wait(timeout=LIMIT)
    assert last.returncode == 0, (tmp_path / "worker2.err").read_text()

    db.rollback()
    rows = db.execute(select(OutboxMessage.phone, OutboxMessage.status, OutboxMessage.last_error)).all()
    taken = Counter(phone for phone, _ in provider.accepted())
    assert set(taken) == phones and max(taken.values()) == 1  # every citizen's message taken once, none twice
    aside = [phone for phone, status, error in rows if status == OutboxStatus.failed]
    sent = [phone for phone, status, _ in rows if status == OutboxStatus.sent]
    assert len(aside) == in_flight and len(sent) == len(phones) - in_flight
    assert all(error.startswith(outbox.UNCERTAIN) and outbox.HANDED_AND_LOST in error
               for _, status, error in rows if status == OutboxStatus.failed)
    # The uncertain ones are what was in flight: taken by the provider, no answer recorded.
    assert set(aside) <= set(taken)
