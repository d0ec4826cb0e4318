"""The production deployment, run for real on one machine (README: Configuration,
**Deploying**): one PostgreSQL schema built by `pingyi db upgrade`, `pingyi check-config`
passing, TWO gunicorn app servers (`-c python:voting.gunicorn_conf`, 2 workers each,
FLASK_PRODUCTION=true, rate limits in Redis, JSON logs) and TWO `pingyi sms dispatch`
workers, all at once.

The data come from the benchmarks' own setup functions (bench/vote_bench.py,
bench/ballot_bench.py): an open H1 round with INVITATIONS invitations and an open
online round with EVALUATORS evaluators; each of them gets its SMS in the outbox (the
link; the login name and one-time password) through the outbox service.

Then, at the same time: the two dispatch workers drain the outbox, citizens vote with
each request going to a random one of the two servers (DOUBLE_VOTES of them from two
browsers on the two servers, submitting at the same instant), evaluators log in and
submit their ballots (DOUBLE_BALLOTS of them twice, the same way). Afterwards: one vote
per invitation, one ballot per evaluator, every message sent exactly once, the losers of
the races got the "already" page (409), never a 5xx; the staff login limit is counted
once across both servers (Redis), not per process; every log line is JSON and every
request's id is in the access log.

Client addresses: the servers run with FLASK_PROXY_FIX=1 as behind one load balancer,
and each simulated phone sends an X-Forwarded-For of its own (all of them would
otherwise be 127.0.0.1 and share the per-address limits).
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sms.templates import INVITE_LINK, ONLINE_ACCOUNT, SCRUBBED
from sms.tokens import LinkTokens
from tests.conftest import missing
from voting.core.db import make_engine
from voting.lists.models import Campaign
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus
from voting.online.models import Evaluator, OnlineRound
from voting.survey.models import Invitation, Vote
from voting.lists import campaigns
from voting.outbox import outbox

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import ballot_bench  # noqa: E402 (found through bench/, put on the path above)
import loadgen  # noqa: E402
import vote_bench  # noqa: E402

INVITATIONS = 240
EVALUATORS = 24
DOUBLE_VOTES = 30  # of the invitations, voted from two browsers on the two servers at once
DOUBLE_BALLOTS = 6  # of the evaluators, the same
CLIENT_THREADS = 6
SECRET = vote_bench.SECRET  # the key the bench signs its links and seals its phones with (41 characters)
PUBLIC_URL = "https://pingyi.example.gov.cn"
LOGIN_LIMIT = 5  # staff login attempts per minute and client address, shared by both servers
SENT = re.compile(r"^console sender: \S+ to \S+ not sent \(key ([^)]+)\)$")  # a worker's line per message
LIMIT = 240  # seconds: a hung server or worker fails the test, never hangs it


def _redis():
    try:
        import redis
    except ImportError:
        return None
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception:  # noqa: BLE001 - any failure: no Redis here
        return None
    return client


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from voting.cli import main; main()", *args]


def _environment(url: str, instance: Path, prefix: str) -> dict[str, str]:
    """What production needs (README, Configuration), for the servers, the workers and
    the commands alike."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "FLASK_PRODUCTION": "true",
        "FLASK_SECRET_KEY": SECRET,
        "FLASK_PHONE_KEY": SECRET,
        "FLASK_PUBLIC_URL": PUBLIC_URL,
        "FLASK_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "FLASK_RATELIMIT_KEY_PREFIX": prefix,  # this test's keys only: removed at the end
        "FLASK_SESSION_COOKIE_SECURE": "false",  # the test's clients speak plain HTTP
        "FLASK_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per minute",
        "FLASK_PROXY_FIX": "1",
        "FLASK_LOG_FORMAT": "json",
        "PINGYI_SMS_SENDER": "console",
        "PINGYI_INSTANCE_PATH": str(instance),
        "WEB_CONCURRENCY": "2",
    }


def _wait_healthy(base: str, server: subprocess.Popen, deadline: float) -> None:
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
            return
        except OSError:
            assert server.poll() is None, f"gunicorn at {base} exited with {server.returncode}: see its log files"
            assert time.monotonic() < deadline, f"gunicorn at {base} did not answer /healthz"
            time.sleep(0.2)


def _setup(url: str) -> tuple[list[str], list[tuple[str, str]], list[int]]:
    """The benches' data in one schema (one campaign, one phone key), and every SMS in
    the outbox."""
    links = vote_bench.setup(url, INVITATIONS)
    accounts, candidates = ballot_bench.setup(url, EVALUATORS, SECRET)  # into the same 2021 campaign

    engine = make_engine(url, SECRET)
    tokens = LinkTokens(SECRET)
    with Session(engine) as session:
        campaign = session.scalars(select(Campaign)).one()
        # Any hour of the day and no daily cap: this test is about the deployment.
        campaigns.change_settings(session, campaign, {"sms_window_start": "00:00", "sms_window_end": "00:00",
                                                      "sms_daily_cap": 0})
        invitations = {i.id: i for i in session.scalars(select(Invitation))}
        for token in links:
            invitation = invitations[tokens.read(token).invitation_id]
            params = {"sign": "平阳县评议办", "date": "5月12日", "unit": "县发改局", "section": "价格科",
                      "matter": "办理营业执照", "link": f"{PUBLIC_URL}/v/{token}", "reply_hint": "", "closes": "6月30日"}
            message = outbox.enqueue(session, key=f"invite:{invitation.id}", phone=invitation.phone,
                                     template=INVITE_LINK, params=params, campaign_id=campaign.id)
            invitation.message_id = message.id
        online = session.scalars(select(OnlineRound)).one()
        by_login = {e.login: e for e in session.scalars(select(Evaluator))}
        for login, password in accounts:
            evaluator = by_login[login]
            params = {"sign": "平阳县评议办", "year": "2021", "closes": "6月30日", "link": f"{PUBLIC_URL}/e/login",
                      "login": login, "password": password}
            message = outbox.enqueue(session, key=f"account:{evaluator.id}:deploy", phone=evaluator.phone,
                                     template=ONLINE_ACCOUNT, params=params, campaign_id=online.campaign_id)
            evaluator.message_id = message.id
        session.commit()
    engine.dispose()
    return links, accounts, candidates


class Client:
    """One phone's browser: its own cookies, its own address, a request id per request
    (kept, to be found in the servers' access logs)."""

    def __init__(self, address: str, request_ids: list[str]):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), loadgen.NoRedirect())
        self.address = address
        self.request_ids = request_ids

    def go(self, base: str, path: str, data: dict | None = None) -> tuple[int, str]:
        # Letters only: an id with 11 digits in a row looks like a phone number, which the
        # app's redaction would mask, so the app would replace it with one of its own.
        request_id = "deploy-" + "".join(random.choices(string.ascii_lowercase, k=20))
        request = urllib.request.Request(
            f"{base}{path}", data=urllib.parse.urlencode(data).encode() if data is not None else None,
            headers={"X-Forwarded-For": self.address, "X-Request-ID": request_id},
            method="POST" if data is not None else "GET",
        )
        status, _, body = loadgen.timed(self.opener, request)
        self.request_ids.append((request_id, request.get_method(), base, path[:3], status))
        return status, body.decode("utf-8", "replace")


class Run:
    """What the client threads saw: every response's status, and what went wrong."""

    def __init__(self, bases: list[str]):
        self.bases = bases
        self.lock = threading.Lock()
        self.statuses: list[tuple[str, int]] = []
        self.problems: list[str] = []
        self.request_ids: list[tuple] = []  # (id, method, server, path, status) of every request
        self.addresses = iter(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}" for n in range(1, 10**6))
        self.votes = self.ballots = self.refused_votes = self.refused_ballots = 0

    def client(self) -> Client:
        with self.lock:
            return Client(next(self.addresses), self.request_ids)

    def seen(self, what: str, status: int, expected: int | tuple[int, ...]) -> bool:
        with self.lock:
            self.statuses.append((what, status))
            if status not in (expected if isinstance(expected, tuple) else (expected,)):
                self.problems.append(f"{what}: {status}, expected {expected}")
                return False
        return True

    def base(self) -> str:
        return random.choice(self.bases)

    # ---- citizens ------------------------------------------------------------------

    def open_vote(self, browser: Client, token: str, base: str | None = None) -> str | None:
        """The link and the page; the page's CSRF token."""
        status, _ = browser.go(base or self.base(), f"/v/{token}")
        if not self.seen("GET /v/<token>", status, 303):
            return None
        status, page = browser.go(base or self.base(), "/v")
        csrf = loadgen.csrf_token(page)
        if not self.seen("GET /v", status, 200) or not csrf:
            return None
        return csrf

    def post_vote(self, browser: Client, csrf: str, base: str | None = None) -> tuple[int, str]:
        choice = random.choice(["satisfied", "basic", "unsatisfied"])
        status, page = browser.go(base or self.base(), "/v", {"csrf_token": csrf, "choice": choice, "comment": ""})
        return status, page

    def vote(self, token: str) -> None:
        browser = self.client()
        csrf = self.open_vote(browser, token)
        if csrf is None:
            return
        status, _ = self.post_vote(browser, csrf)
        if self.seen("POST /v", status, 303):
            with self.lock:
                self.votes += 1

    def vote_twice(self, token: str) -> None:
        """Two browsers, one per server, submit the same invitation's vote at once."""
        barrier = threading.Barrier(2, timeout=60)
        outcomes: list[tuple[int, str]] = []

        def one(base: str) -> None:
            browser = self.client()
            csrf = self.open_vote(browser, token, base)
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return
            if csrf is None:
                return
            outcome = self.post_vote(browser, csrf, base)
            with self.lock:
                outcomes.append(outcome)

        self._both(one, barrier)
        self._race("POST /v twice", outcomes, "您已评价过", "votes", "refused_votes")

    # ---- evaluators ----------------------------------------------------------------

    def log_in(self, browser: Client, login: str, password: str, base: str | None = None) -> bool:
        status, page = browser.go(base or self.base(), "/e/login")
        csrf = loadgen.csrf_token(page)
        if not self.seen("GET /e/login", status, 200) or not csrf:
            return False
        status, _ = browser.go(base or self.base(), "/e/login", {"csrf_token": csrf, "login": login, "password": password})
        return self.seen("POST /e/login", status, 303)

    def open_ballot(self, browser: Client, base: str | None = None) -> dict | None:
        """The ballot page read as a person fills it in: the campaign's numbers of 满意
        and 不满意 at random, the rest 基本满意; the form to post."""
        status, page = browser.go(base or self.base(), "/e/ballot")
        csrf = loadgen.csrf_token(page)
        marks = ballot_bench.draw_marks(page, random.Random(), ballot_bench.CANDIDATES)
        if not self.seen("GET /e/ballot", status, 200) or not csrf or marks is None:
            with self.lock:
                self.problems.append(f"ballot page: no ballot of {ballot_bench.CANDIDATES} candidates or no CSRF token "
                                     f"(csrf {bool(csrf)})")
            return None
        return {"csrf_token": csrf, **marks}

    def ballot(self, account: tuple[str, str]) -> None:
        browser = self.client()
        if not self.log_in(browser, *account):
            return
        form = self.open_ballot(browser)
        if form is None:
            return
        status, _ = browser.go(self.base(), "/e/ballot", form)
        if self.seen("POST /e/ballot", status, 303):
            with self.lock:
                self.ballots += 1

    def ballot_twice(self, account: tuple[str, str]) -> None:
        """Two browsers, one per server, log in with the same password (before either
        ballot is in) and submit at once."""
        barrier = threading.Barrier(2, timeout=60)
        outcomes: list[tuple[int, str]] = []

        def one(base: str) -> None:
            browser = self.client()
            form = self.open_ballot(browser, base) if self.log_in(browser, *account, base=base) else None
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return
            if form is None:
                return
            outcome = browser.go(base, "/e/ballot", form)
            with self.lock:
                outcomes.append(outcome)

        self._both(one, barrier)
        self._race("POST /e/ballot twice", outcomes, "选票已提交", "ballots", "refused_ballots")

    # ---- races ---------------------------------------------------------------------

    def _both(self, one, barrier: threading.Barrier) -> None:
        threads = [threading.Thread(target=one, args=(base,)) for base in self.bases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        if barrier.broken:
            with self.lock:
                self.problems.append("a race's two browsers did not both get to submit")

    def _race(self, what: str, outcomes: list[tuple[int, str]], already: str, won: str, lost: str) -> None:
        """One of two simultaneous submits stands (303), the other is told it is too late."""
        for status, _ in outcomes:
            with self.lock:
                self.statuses.append((what, status))
        statuses = sorted(status for status, _ in outcomes)
        with self.lock:
            if statuses != [303, 409] or already not in next(page for status, page in outcomes if status == 409):
                self.problems.append(f"{what}: {statuses}, expected one 303 and one 409 ({already})")
                return
            setattr(self, won, getattr(self, won) + 1)
            setattr(self, lost, getattr(self, lost) + 1)


def _staff_logins(bases: list[str]) -> list[int]:
    """Wrong staff passwords from one client address, alternating between the servers:
    each page fetched from one server, its form posted to the other."""
    browser = Client("198.51.100.7", [])
    statuses = []
    for attempt in range(LOGIN_LIMIT + 2):
        status, page = browser.go(bases[attempt % 2], "/login")
        assert status == 200 and loadgen.csrf_token(page), status
        status, _ = browser.go(bases[(attempt + 1) % 2], "/login",
                               {"csrf_token": loadgen.csrf_token(page), "username": "nobody", "password": f"guess {attempt}"})
        statuses.append(status)
    return statuses


def _json_lines(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"{path.name} line {number} is not JSON: {line[:200]}")
        assert isinstance(record, dict), f"{path.name} line {number}: {line[:200]}"
        records.append(record)
    return records


def _outputs(stem: Path, files: list) -> dict:
    """A process's stdout and stderr into files (stem.out, stem.err), never pipes: a
    process logging every request or message would fill a pipe nobody reads and stall."""
    out, err = stem.with_suffix(".out").open("w"), stem.with_suffix(".err").open("w")
    files += [out, err]
    return {"stdout": out, "stderr": err}


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_servers_and_two_workers_lose_and_double_nothing(database_url, tmp_path):
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if not gunicorn:
        missing("gunicorn is not installed: .venv/bin/pip install '.[bench]'")
    redis_client = _redis()
    if redis_client is None:
        missing("Redis is not reachable at 127.0.0.1:6379 (or the redis package is not installed)")
    started = time.monotonic()
    deadline = started + LIMIT
    prefix = f"pingyi-deploy-test-{uuid.uuid4().hex[:12]}"
    env = _environment(database_url, tmp_path / "instance", prefix)
    processes: list[subprocess.Popen] = []
    files: list = []
    try:
        # ---- the database, once; the configuration, before anything starts ----------
        upgrade = subprocess.run(_cli("db", "upgrade"), env=env, capture_output=True, text=True, timeout=120,
                                 check=False)
        assert upgrade.returncode == 0, upgrade.stderr[-3000:]
        checked = subprocess.run(_cli("check-config"), env=env, capture_output=True, text=True, timeout=60,
                                 check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr[-3000:]
        assert "配置检查通过" in checked.stdout and "生产环境" in checked.stdout, checked.stdout

        links, accounts, candidates = _setup(database_url)
        engine = make_engine(database_url, SECRET)
        with Session(engine) as session:
            messages = session.scalar(select(func.count()).select_from(OutboxMessage))
        assert messages == INVITATIONS + EVALUATORS

        # ---- two app servers ------------------------------------------------------------
        bases = []
        for name in ("app1", "app2"):
            port = loadgen.free_port()
            processes.append(subprocess.Popen(
                [gunicorn, "-c", "python:voting.gunicorn_conf", "-w", "2", "-b", f"127.0.0.1:{port}", "voting:create_app()"],
                env=env, cwd=str(ROOT), **_outputs(tmp_path / name, files),
            ))
            bases.append(f"http://127.0.0.1:{port}")
        for base, server in zip(bases, processes):
            _wait_healthy(base, server, deadline)
            for path, answer in (("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready", "database": "ok"})):
                with urllib.request.urlopen(f"{base}{path}", timeout=5) as response:
                    assert (response.status, json.loads(response.read())) == (200, answer), (base, path)

        # ---- the login rate limit is one count across both servers (Redis) -----------
        statuses = _staff_logins(bases)
        # Per process, neither server would have seen more than 4 of the 7 attempts.
        assert statuses == [401] * LOGIN_LIMIT + [429] * 2, statuses
        assert any(True for _ in redis_client.scan_iter(match=f"*{prefix}*"))

        # ---- everything at once: two dispatch workers, citizens, evaluators -----------
        for name in ("worker1", "worker2"):
            processes.append(subprocess.Popen(
                _cli("sms", "dispatch", "--batch", "10", "--rate", "25", "--name", name), env=env, cwd=str(ROOT),
                **_outputs(tmp_path / name, files),
            ))
        workers = processes[2:]
        run = Run(bases)
        shuffled_links = random.sample(links, len(links))
        shuffled_accounts = random.sample(accounts, len(accounts))
        jobs = ([(run.vote_twice, token) for token in shuffled_links[:DOUBLE_VOTES]]
                + [(run.vote, token) for token in shuffled_links[DOUBLE_VOTES:]]
                + [(run.ballot_twice, account) for account in shuffled_accounts[:DOUBLE_BALLOTS]]
                + [(run.ballot, account) for account in shuffled_accounts[DOUBLE_BALLOTS:]])
        random.shuffle(jobs)
        with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
            for future in [pool.submit(job, arg) for job, arg in jobs]:
                future.result(timeout=max(1, deadline - time.monotonic()))
        for worker in workers:
            worker.wait(timeout=max(1, deadline - time.monotonic()))
        load_seconds = time.monotonic() - started
        for name, worker in zip(("worker1", "worker2"), workers):
            assert worker.returncode == 0, (tmp_path / f"{name}.err").read_text()[-3000:]

        # ---- what the clients saw ---------------------------------------------------------
        server_errors = [(what, status) for what, status in run.statuses if status >= 500]
        assert server_errors == [], server_errors
        assert run.problems == [], run.problems[:20]
        assert run.votes == INVITATIONS and run.refused_votes == DOUBLE_VOTES
        assert run.ballots == EVALUATORS and run.refused_ballots == DOUBLE_BALLOTS

        # ---- what the database holds ----------------------------------------------------
        with Session(engine) as session:
            votes = session.scalar(select(func.count()).select_from(Vote))
            voted = session.scalar(select(func.count(Vote.invitation_id.distinct())))
            assert (votes, voted) == (INVITATIONS, INVITATIONS)
            keys = session.scalars(select(ConsoleMessage.key)).all()
            assert len(keys) == len(set(keys)) == messages, (len(keys), len(set(keys)), messages)
            statuses = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
            assert statuses == {OutboxStatus.sent: messages}
            # The one-time passwords left the outbox rows once sent.
            passwords = session.scalars(select(OutboxMessage.params["password"].as_string())
                                        .where(OutboxMessage.template == ONLINE_ACCOUNT)).all()
            assert set(passwords) == {SCRUBBED}
        engine.dispose()
        # Each worker's own account: both took part, and no message went out from both.
        sent_by = {}
        for name in ("worker1", "worker2"):
            report = re.search(r"已发送 (\d+) 条", (tmp_path / f"{name}.out").read_text(encoding="utf-8"))
            assert report, (tmp_path / f"{name}.out").read_text(encoding="utf-8")
            sent_by[name] = {found.group(1) for record in _json_lines(tmp_path / f"{name}.err")
                             if (found := SENT.search(record.get("message", "")))}
            assert len(sent_by[name]) == int(report.group(1)) > 0, (name, report.group(0), len(sent_by[name]))
        assert not sent_by["worker1"] & sent_by["worker2"]
        assert sent_by["worker1"] | sent_by["worker2"] == set(keys)
        # One ballot per evaluator, one "has voted" row and one consumed password each,
        # 110 marks with the campaign's numbers of 满意 and 不满意 (the bench's check).
        assert ballot_bench.check_database(database_url, EVALUATORS, len(candidates), SECRET)

        # ---- the logs: JSON lines, every request's id, no link token or password ------
        access: dict[str, list[dict]] = {}
        for name in ("app1", "app2"):
            records = _json_lines(tmp_path / f"{name}.out") + _json_lines(tmp_path / f"{name}.err")
            access[name] = [r for r in records if "status" in r and "path" in r]
            assert access[name], f"{name} logged no request"
            assert all(r.get("request_id") for r in access[name]), [r for r in access[name] if not r.get("request_id")][:3]
            assert {"time", "level", "logger", "message"} <= set(records[0]), records[0]
        logged_ids = {r["request_id"] for lines in access.values() for r in lines}
        missing_ids = [sent for sent in run.request_ids if sent[0] not in logged_ids]
        assert not missing_ids, f"{len(missing_ids)} request ids not in the access logs, e.g. {missing_ids[:3]}"
        everything = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.glob("*.out")) + "\n".join(
            p.read_text(encoding="utf-8") for p in tmp_path.glob("*.err"))
        leaked = [token for token in links if token in everything] + [pw for _, pw in accounts if pw in everything]
        assert not leaked, f"{len(leaked)} link tokens or passwords in the logs"
        print(f"\ndeployment: {len(run.statuses)} responses ({sum(len(v) for v in access.values())} access lines: "
              f"app1 {len(access['app1'])}, app2 {len(access['app2'])}), {INVITATIONS} votes, {EVALUATORS} ballots, "
              f"{messages} messages, in {load_seconds:.1f} s from the upgrade")
    finally:
        for process in reversed(processes):
            _stop(process)
        for file in files:
            file.close()
        keys = list(redis_client.scan_iter(match=f"*{prefix}*"))
        if keys:
            redis_client.delete(*keys)
        redis_client.close()
