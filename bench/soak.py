"""Soak test: --minutes of mixed load on the app under gunicorn on PostgreSQL, with the
SMS dispatch worker SIGKILLed and started again every --kill-every seconds.

Setup (not timed), in a PostgreSQL schema of its own (dropped at the end), with the
other benches' own setup functions: vote_bench's 363 sections, open H1 round and
--invitations open invitations; ballot_bench's 110 candidates, open online round and
--evaluators evaluators with one-time passwords (in the same campaign); an office
admin; --outbox pending messages as dispatch_bench writes them, topped up whenever
fewer than half of that are left, so that the worker never runs dry.

Load, from client threads in --processes processes, each thread one kind in turn
(8 clients: 3 citizens, 2 evaluators, 2 Twilio, 1 office):
* citizens: GET /v/<token> (303), GET /v (200), POST /v (303: a vote acknowledged);
  every 20th visit POSTs its form a second time (409 expected: already voted);
* evaluators: GET + POST /e/login (303), GET + POST /e/ballot with 10 满意 / 10 不满意
  (303: a ballot acknowledged);
* Twilio: POST /sms/inbound, a signed reply "1"/"2"/"3" from an invitation's phone
  (200 with the confirmation: a vote acknowledged); every 10th reply repeats an
  already-confirmed phone (200 "already voted" expected); every 4th a signed POST
  /sms/status "delivered" for a message of the outbox (204);
* office: logs in once (GET + POST /login), then GETs the dashboard, rounds, outbox,
  online monitor and scores pages in turn (200), --admin-pause seconds apart.
Citizens and Twilio clients share the invitations (a Twilio client twice a citizen's
share: it votes in one request, not three), evaluators the accounts, none reused: a
citizen or evaluator client that runs out stops, a Twilio client goes on with repeated
replies and delivery reports only, and the report says so.

Meanwhile `pingyi sms dispatch --forever` (console sender, send window all day, no
daily cap) runs as a subprocess, killed with SIGKILL every --kill-every seconds and
started again at once. At the end the clients stop, the last worker drains the outbox
and is stopped, and the run prints: requests by kind, errors (unexpected statuses;
expected 4xx counted apart), p50/p99 by kind and overall; votes acknowledged vs stored
(lost: acknowledged, not stored; doubled: more than one per invitation); ballots the
same (with ballot_bench's database checks); messages: outbox rows neither delivered by
the console sender nor set aside as uncertain, and uncertain ones beyond one per kill
(lost), any key delivered twice (doubled); and the
peak RSS of every process (gunicorn master and workers, each dispatch worker
incarnation, the load generator's processes), sampled every second from /proc. The
target line is "lost 0, doubled 0"; the exit status is 1 when anything is lost or
doubled or any 5xx was answered.

    .venv/bin/python bench/soak.py                     # 10 minutes, kill every 60 s
    .venv/bin/python bench/soak.py --minutes 1 --kill-every 15
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from http.cookiejar import CookieJar
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

import ballot_bench  # noqa: E402
import dispatch_bench  # noqa: E402
import vote_bench  # noqa: E402
from loadgen import NoRedirect, create_schema, csrf_token, drop_schema, gunicorn_path, pct, serve  # noqa: E402

SECRET = vote_bench.SECRET  # the served app's FLASK_SECRET_KEY and FLASK_PHONE_KEY
TWILIO_TOKEN = "soak bench twilio auth token 000"  # the app checks the webhooks' signatures with it
ADMIN_USER, ADMIN_PASSWORD = "soak-admin", "soak admin password, not for production"
MIX = ("vote", "ballot", "webhook", "admin", "vote", "ballot", "vote", "webhook")
ADMIN_PAGES = (("dashboard", "/office/"), ("rounds", "/office/rounds/"), ("outbox", "/office/outbox"),
               ("monitor", "/office/online/monitor"), ("scores", "/office/scores/"))
CONFIRMED = "已收到您对"  # voting/survey/sms_replies.py CONFIRMED: the reply recorded a vote
ALREADY = "已经评价过"  # voting/survey/sms_replies.py ALREADY_VOTED
# Per request kind: the statuses that are success, and the 4xx the client provokes on purpose.
EXPECTED = {
    "vote_link": (303,), "vote_page": (200,), "vote_post": (303,), "vote_repost": (409,),
    "login_page": (200,), "login": (303,), "ballot_page": (200,), "ballot": (303,),
    "admin_login_page": (200,), "admin_login": (302, 303),
    **{f"admin_{name}": (200,) for name, _ in ADMIN_PAGES},
    "sms_inbound": (200,), "sms_repeat": (200,), "sms_status": (204,),
}
EXPECTED_4XX = {"vote_repost"}


# ---- the clients (in client processes) ---------------------------------------------------


class Tally:
    """One client thread's figures."""

    def __init__(self) -> None:
        self.timings: dict[str, list[float]] = {}
        self.statuses: Counter = Counter()  # (kind, status)
        self.errors: Counter = Counter()  # "kind status" of the unexpected ones
        self.votes: list[int] = []  # invitation indexes acknowledged (link or SMS reply)
        self.ballots: list[str] = []  # evaluator logins whose ballot was acknowledged
        self.ran_out: list[str] = []

    def request(self, opener, kind: str, url: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if data is not None else "GET")
        start = time.perf_counter()
        try:
            with opener.open(request, timeout=60) as response:
                content, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            content, status = error.read(), error.code
        except OSError as error:  # refused, reset, timed out: no answer
            content, status = str(error).encode(), 0
        self.timings.setdefault(kind, []).append(time.perf_counter() - start)
        self.statuses[(kind, status)] += 1
        if status not in EXPECTED[kind]:
            self.errors[f"{kind} {status}"] += 1
        return status, content.decode("utf-8", "replace")

    def unexpected(self, what: str) -> None:
        self.errors[what] += 1

    def result(self) -> dict:
        return {"timings": self.timings, "statuses": self.statuses, "errors": self.errors, "votes": self.votes,
                "ballots": self.ballots, "ran_out": self.ran_out}


def _browser():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect())


def _voter(base: str, end: float, work: list[tuple[int, str]], tally: Tally) -> None:
    """Citizens' visits by link, one invitation each."""
    rng = random.Random()
    for n, (index, token) in enumerate(work):
        if time.time() >= end:
            return
        browser = _browser()
        status, _ = tally.request(browser, "vote_link", f"{base}/v/{token}")
        if status != 303:
            continue
        status, page = tally.request(browser, "vote_page", f"{base}/v")
        csrf = csrf_token(page)
        if status != 200 or not csrf:
            continue
        form = {"csrf_token": csrf, "choice": rng.choice(["satisfied", "basic", "unsatisfied"]), "comment": ""}
        status, _ = tally.request(browser, "vote_post", f"{base}/v", form)
        if status == 303:
            tally.votes.append(index)
            if n % 20 == 19:  # the same form sent again (a double click, a reload)
                tally.request(browser, "vote_repost", f"{base}/v", form)
    if time.time() < end:
        tally.ran_out.append(f"a citizen client ran out of invitations ({len(work):,}) {end - time.time():.0f} s "
                             "before the end and stopped")


def _evaluator(base: str, end: float, work: list[tuple[str, str]], tally: Tally) -> None:
    """Evaluators' visits: login, ballot, one each."""
    rng = random.Random()
    for login, password in work:
        if time.time() >= end:
            return
        browser = _browser()
        status, page = tally.request(browser, "login_page", f"{base}/e/login")
        csrf = csrf_token(page)
        if status != 200 or not csrf:
            continue
        status, _ = tally.request(browser, "login", f"{base}/e/login",
                                  {"csrf_token": csrf, "login": login, "password": password})
        if status != 303:
            continue
        status, page = tally.request(browser, "ballot_page", f"{base}/e/ballot")
        csrf = csrf_token(page)
        marks = ballot_bench.draw_marks(page, rng)
        if status != 200 or not csrf or marks is None:
            if status == 200:
                tally.unexpected("ballot_page without its form")
            continue
        status, _ = tally.request(browser, "ballot", f"{base}/e/ballot", {"csrf_token": csrf, **marks})
        if status == 303:
            tally.ballots.append(login)
    if time.time() < end:
        tally.ran_out.append(f"an evaluator client ran out of accounts ({len(work):,}) {end - time.time():.0f} s "
                             "before the end and stopped")


def _twilio(base: str, end: float, work: list[tuple[int, str]], tally: Tally, messages: int) -> None:
    """Twilio's servers: citizens' SMS replies, some repeated, and delivery reports."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TWILIO_TOKEN)
    opener = urllib.request.build_opener(NoRedirect())
    rng = random.Random()

    def post(kind: str, path: str, params: dict[str, str]):
        url = f"{base}{path}"
        return tally.request(opener, kind, url, params, {"X-Twilio-Signature": validator.compute_signature(url, params)})

    confirmed: list[str] = []

    def others(repeat: bool, report: bool) -> None:
        if repeat and confirmed:  # a second reply from a phone that has voted
            status, answer = post("sms_repeat", "/sms/inbound", {"From": rng.choice(confirmed), "To": "+15005550006",
                                                                 "Body": "3", "MessageSid": f"SM{uuid.uuid4().hex}"})
            if status == 200 and ALREADY not in answer:
                tally.unexpected("sms_repeat not answered 'already voted'")
        if report:  # the console sender's provider id: console-<key>
            post("sms_status", "/sms/status", {"MessageSid": f"console-invite:{rng.randrange(messages)}",
                                               "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32})

    for n, (index, _token) in enumerate(work):
        if time.time() >= end:
            return
        phone = f"+86138{index:08d}"  # vote_bench.setup: invitation i's phone is 138 and i in 8 digits
        sid = f"SM{uuid.uuid4().hex}"
        status, answer = post("sms_inbound", "/sms/inbound",
                              {"From": phone, "To": "+15005550006", "Body": rng.choice("123"), "MessageSid": sid})
        if status == 200:
            if CONFIRMED in answer:
                tally.votes.append(index)
                confirmed.append(phone)
            else:
                tally.unexpected("sms_inbound answered without a vote")
        others(n % 10 == 9, n % 4 == 3)
    if time.time() < end:
        tally.ran_out.append(f"a Twilio client ran out of invitations ({len(work):,}) {end - time.time():.0f} s before "
                             "the end: from then on, only repeated replies and delivery reports")
    while time.time() < end:
        others(True, True)


def _admin(base: str, end: float, pause: float, tally: Tally) -> None:
    """A review office admin: logs in once, then reads the office pages in turn."""
    browser = _browser()
    status, page = tally.request(browser, "admin_login_page", f"{base}/login")
    status, _ = tally.request(browser, "admin_login", f"{base}/login",
                              {"csrf_token": csrf_token(page) or "", "username": ADMIN_USER, "password": ADMIN_PASSWORD})
    if status not in EXPECTED["admin_login"]:
        tally.ran_out.append(f"the office client could not log in ({status}) and stopped")
        return
    n = 0
    while time.time() < end:
        name, path = ADMIN_PAGES[n % len(ADMIN_PAGES)]
        tally.request(browser, f"admin_{name}", f"{base}{path}")
        n += 1
        time.sleep(pause)


def _client_process(base: str, end: float, jobs: list[tuple], pause: float, messages: int, out) -> None:
    """One client process: a thread per job (the GIL would make one thread the limit)."""
    threads = []
    tallies = []
    for kind, work in jobs:
        tally = Tally()
        tallies.append(tally)
        if kind == "vote":
            target, args = _voter, (base, end, work, tally)
        elif kind == "ballot":
            target, args = _evaluator, (base, end, work, tally)
        elif kind == "webhook":
            target, args = _twilio, (base, end, work, tally, messages)
        else:
            target, args = _admin, (base, end, pause, tally)
        threads.append(threading.Thread(target=target, args=args))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put([t.result() for t in tallies])


# ---- the supervisor (main process) -------------------------------------------------------


def _memory(pid: int) -> int | None:
    """The process's peak resident memory so far (KiB), or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()
              if line.startswith(("VmHWM:", "VmRSS:"))}
    return max(values.values()) if values else None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Peaks:
    """Peak RSS per process, sampled every second (and on demand)."""

    def __init__(self) -> None:
        self.watched: dict[int, str] = {}
        self.peak: dict[int, int] = {}
        self.lock = threading.Lock()
        self.gunicorn: int | None = None

    def watch(self, pid: int, label: str) -> None:
        with self.lock:
            self.watched.setdefault(pid, label)
        self.sample(pid)

    def sample(self, pid: int) -> None:
        kib = _memory(pid)
        if kib is not None:
            with self.lock:
                self.peak[pid] = max(self.peak.get(pid, 0), kib)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.gunicorn is not None:
                for child in _children(self.gunicorn):
                    self.watch(child, "gunicorn worker")
            for pid in list(self.watched):
                self.sample(pid)
            stop.wait(1.0)


class Dispatcher:
    """`pingyi sms dispatch --forever` in a subprocess, killed and started again."""

    def __init__(self, url: str, folder: Path, lease: float, peaks: Peaks) -> None:
        self.env = {**os.environ, "DATABASE_URL": url, "PINGYI_INSTANCE_PATH": str(folder / "instance"),
                    "FLASK_SECRET_KEY": SECRET, "FLASK_PHONE_KEY": SECRET, "PINGYI_SMS_SENDER": "console",
                    "FLASK_SMS_WINDOW_START": "00:00", "FLASK_SMS_WINDOW_END": "00:00", "FLASK_SMS_DAILY_CAP": "0"}
        self.command = [sys.executable, "-c", "from voting.cli import main; main()", "sms", "dispatch", "--forever",
                        "--lease", str(lease), "--batch", "20"]
        self.folder, self.peaks = folder, peaks
        self.incarnations = 0
        self.kills = 0
        self.early_exits: list[str] = []
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.incarnations += 1
        out = self.folder / f"dispatch{self.incarnations}"
        # Files, not pipes: a worker logging every message would fill an unread pipe and stall.
        self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=out.with_suffix(".out").open("w"),
                                        stderr=out.with_suffix(".err").open("w"))
        self.peaks.watch(self.process.pid, f"dispatch worker #{self.incarnations}")

    def check(self) -> None:
        """A worker that exited by itself is noted and replaced."""
        if self.process is not None and self.process.poll() is not None:
            self.early_exits.append(f"#{self.incarnations} exited {self.process.returncode} "
                                    f"(see {self.folder}/dispatch{self.incarnations}.err)")
            self.start()

    def kill(self) -> None:
        assert self.process is not None
        self.peaks.sample(self.process.pid)
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.kills += 1
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.peaks.sample(self.process.pid)
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _outbox_counts(sessions) -> Counter:
    from sqlalchemy import func, select

    from voting.outbox.models import OutboxMessage

    with sessions() as session:
        return Counter({status.value: n for status, n in
                        session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))})


def _console_count(sessions) -> int:
    from sqlalchemy import func, select

    from voting.outbox.models import ConsoleMessage

    with sessions() as session:
        return session.scalar(select(func.count()).select_from(ConsoleMessage))


def _log_problems(path: Path) -> Counter:
    """Lines of a process's log that say something went wrong."""
    found: Counter = Counter()
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            for word in ("Traceback", " ERROR ", " CRITICAL ", "WORKER TIMEOUT", "Worker exiting", "Booting worker"):
                if word in line:
                    found[word.strip()] += 1
    return found


def setup(url: str, invitations: int, evaluators: int, outbox: int) -> tuple[list[str], list[tuple[str, str]], int]:
    """The other benches' setups in one schema, the office admin, the first messages."""
    from sqlalchemy.orm import sessionmaker

    from voting.core.db import make_engine
    from voting.staff.models import Role
    from voting.staff.users import create_user

    links = vote_bench.setup(url, invitations)
    accounts, candidates = ballot_bench.setup(url, evaluators, secret=SECRET)
    engine = make_engine(url, SECRET)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as session:
        create_user(session, ADMIN_USER, ADMIN_PASSWORD, Role.admin)
        session.commit()
    dispatch_bench.fill(sessions, outbox, clear=False)
    engine.dispose()
    return links, accounts, len(candidates)


def _print_latencies(timings: dict[str, list[float]], statuses: Counter, errors: Counter) -> None:
    print(f"{'kind':<24}{'requests':>10}{'ok':>10}{'exp. 4xx':>10}{'errors':>8}{'5xx':>6}{'p50 ms':>9}{'p99 ms':>9}")
    for kind in EXPECTED:
        values = timings.get(kind, [])
        if not values:
            continue
        by_status = {s: n for (k, s), n in statuses.items() if k == kind}
        ok = sum(n for s, n in by_status.items() if s in EXPECTED[kind] and s < 400)
        expected_4xx = sum(n for s, n in by_status.items() if s in EXPECTED[kind] and s >= 400)
        bad = sum(n for s, n in by_status.items() if s not in EXPECTED[kind])
        five = sum(n for s, n in by_status.items() if s >= 500)
        print(f"{kind:<24}{len(values):>10,}{ok:>10,}{expected_4xx:>10,}{bad:>8,}{five:>6,}"
              f"{pct(values, .5):>9.1f}{pct(values, .99):>9.1f}")
    every = [t for values in timings.values() for t in values]
    print(f"{'all':<24}{len(every):>10,}{'':>38}{pct(every, .5):>9.1f}{pct(every, .99):>9.1f}")


def _counts(found: dict) -> str:
    return ", ".join(f"{getattr(k, 'value', k)} {v:,}" for k, v in sorted(found.items(), key=str))


def check(url: str, links: list[str], acked_votes: list[int], acked_ballots: list[str], candidates: int,
          kills: int) -> dict[str, tuple[int, int]]:
    """(lost, doubled) of votes, ballots and messages, from the database; prints them."""
    from sqlalchemy import create_engine, distinct, func, select

    from sms.tokens import LinkTokens
    from voting.online.models import BallotCast, Ballot, Evaluator
    from voting.outbox.models import ConsoleMessage, OutboxMessage
    from voting.outbox.outbox import UNCERTAIN
    from voting.survey.models import Vote

    tokens = LinkTokens(SECRET)
    acked_ids = Counter(tokens.read(links[i]).invitation_id for i in acked_votes)
    engine = create_engine(url)
    with engine.connect() as connection:
        per_invitation = dict(connection.execute(select(Vote.invitation_id, func.count()).group_by(Vote.invitation_id)).all())
        channels = dict(connection.execute(select(Vote.channel, func.count()).group_by(Vote.channel)).all())
        cast = set(connection.execute(select(Evaluator.login).join(BallotCast, BallotCast.evaluator_id == Evaluator.id))
                   .scalars())
        ballots = connection.execute(select(func.count()).select_from(Ballot)).scalar_one()
        outbox = connection.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
        console = connection.execute(select(func.count()).select_from(ConsoleMessage)).scalar_one()
        console_keys = connection.execute(select(func.count(distinct(ConsoleMessage.key)))).scalar_one()
        uncertain = OutboxMessage.last_error.startswith(UNCERTAIN)
        unsent = connection.execute(
            select(func.count()).select_from(OutboxMessage).where(
                ~OutboxMessage.key.in_(select(ConsoleMessage.key)), ~uncertain)).scalar_one()
        aside = connection.execute(select(func.count()).select_from(OutboxMessage).where(uncertain)).scalar_one()
        statuses = dict(connection.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    engine.dispose()

    stored = sum(per_invitation.values())
    votes_lost = sum(1 for i in acked_ids if i not in per_invitation)
    votes_doubled = sum(n - 1 for n in per_invitation.values() if n > 1) + sum(n - 1 for n in acked_ids.values() if n > 1)
    unacked = sum(1 for i in per_invitation if i not in acked_ids)
    print(f"votes:    {len(acked_votes):,} acknowledged ({len(set(acked_ids)):,} invitations), {stored:,} stored "
          f"({_counts(channels)}); "
          f"lost {votes_lost}, doubled {votes_doubled}; stored without an acknowledgement {unacked}")
    ballots_lost = sum(1 for login in set(acked_ballots) if login not in cast)
    ballots_doubled = max(0, ballots - len(cast)) + (len(acked_ballots) - len(set(acked_ballots)))
    print(f"ballots:  {len(acked_ballots):,} acknowledged, {ballots:,} stored, {len(cast):,} evaluators marked as voted; "
          f"lost {ballots_lost}, doubled {ballots_doubled}")
    ballot_bench.check_database(url, len(acked_ballots), candidates)
    # A killed worker's message in flight is set aside as uncertain (delivered once or
    # not at all), never sent twice: one per kill at most, and no duplicate at all.
    messages_doubled = console - console_keys
    messages_lost = unsent + max(0, aside - kills)
    print(f"messages: {outbox:,} in the outbox "
          f"({_counts(statuses)}); "
          f"{console:,} delivered by the console sender, {console_keys:,} distinct; set aside as uncertain {aside} "
          f"(allowance: one per kill, {kills}); lost {messages_lost}, doubled {messages_doubled}")
    return {"votes": (votes_lost, votes_doubled), "ballots": (ballots_lost, ballots_doubled),
            "messages": (messages_lost, messages_doubled)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--kill-every", type=float, default=60.0, help="seconds between SIGKILLs of the dispatch worker")
    parser.add_argument("--clients", type=int, default=8, help=f"client threads, kinds in turn: {', '.join(MIX)}")
    parser.add_argument("--processes", type=int, default=2, help="client processes the threads are spread over")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (sync)")
    parser.add_argument("--invitations", type=int, help="open invitations (default 6,000 per minute)")
    parser.add_argument("--evaluators", type=int, help="evaluators (default 1,000 per minute)")
    parser.add_argument("--outbox", type=int, default=2000, help="pending messages at the start and at each top-up")
    parser.add_argument("--lease", type=float, default=5.0, help="the dispatch worker's lease (seconds)")
    parser.add_argument("--admin-pause", type=float, default=0.2, help="seconds between an office client's pages")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    args = parser.parse_args()
    gunicorn = gunicorn_path()
    invitations = args.invitations or int(6000 * args.minutes) + 500
    evaluators = args.evaluators or int(1000 * args.minutes) + 50

    from sqlalchemy.orm import sessionmaker

    from voting.core.db import make_engine

    admin, schema, url = create_schema()
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    server = dispatcher = None
    stop = threading.Event()
    failed = True
    try:
        started = time.perf_counter()
        links, accounts, candidates = setup(url, invitations, evaluators, args.outbox)
        print(f"machine: {os.uname().machine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        print(f"setup: {len(links):,} open invitations, {len(accounts):,} evaluators, {candidates} candidates, "
              f"{args.outbox:,} pending messages, in {time.perf_counter() - started:.1f} s")
        os.environ["TWILIO_AUTH_TOKEN"] = TWILIO_TOKEN  # serve() passes os.environ on: the webhooks' signatures
        server, base = serve(gunicorn, url, SECRET, args.workers, 1, log=folder / "gunicorn.log")
        peaks = Peaks()
        peaks.gunicorn = server.pid
        peaks.watch(server.pid, "gunicorn master")
        peaks.watch(os.getpid(), "load generator (main)")
        sampler = threading.Thread(target=peaks.run, args=(stop,), daemon=True)
        sampler.start()
        engine = make_engine(url, SECRET)
        sessions = sessionmaker(engine, expire_on_commit=False)
        dispatcher = Dispatcher(url, folder, args.lease, peaks)
        dispatcher.start()

        # The clients' work: invitations shared by citizens and Twilio, accounts by evaluators.
        kinds = [MIX[t % len(MIX)] for t in range(args.clients)]
        # A Twilio client casts a vote per request, a citizen one per three: it gets twice the share.
        voters = [(t, 2 if k == "webhook" else 1) for t, k in enumerate(kinds) if k in ("vote", "webhook")]
        balloters = [t for t, k in enumerate(kinds) if k == "ballot"]
        indexed = list(enumerate(links))
        random.Random(1).shuffle(indexed)
        work: dict[int, list] = {t: [] for t in range(args.clients)}
        shares, taken = sum(w for _, w in voters), 0
        for t, weight in voters:
            size = len(indexed) * weight // shares
            work[t], taken = indexed[taken:taken + size], taken + size
        for j, t in enumerate(balloters):
            work[t] = accounts[j::len(balloters)]
        seconds = args.minutes * 60
        end = time.time() + seconds
        out = multiprocessing.Queue()
        clients = []
        for p in range(args.processes):
            jobs = [(kinds[t], work[t]) for t in range(p, args.clients, args.processes)]
            if jobs:
                clients.append(multiprocessing.Process(target=_client_process, daemon=True,
                                                       args=(base, end, jobs, args.admin_pause, args.outbox, out)))
        for client in clients:
            client.start()
            peaks.watch(client.pid, "load generator (clients)")
        print(f"server: gunicorn, {args.workers} sync workers; clients: {args.clients} threads "
              f"({', '.join(f'{n} {k}' for k, n in Counter(kinds).items())}) in {len(clients)} processes; "
              f"{args.minutes:g} min, dispatch worker SIGKILLed every {args.kill_every:g} s (lease {args.lease:g} s)")
        print(flush=True)

        # The run: kill and restart the worker, keep the outbox topped up.
        next_kill = time.monotonic() + args.kill_every
        next_key = args.outbox
        last_report = time.monotonic()
        while time.time() < end:
            time.sleep(min(1.0, max(0.0, end - time.time())))
            dispatcher.check()
            if time.monotonic() >= next_kill and time.time() < end:
                dispatcher.kill()
                dispatcher.start()
                next_kill += args.kill_every
            counts = _outbox_counts(sessions)
            if counts["pending"] < args.outbox // 2 and time.time() < end - 5:
                dispatch_bench.fill(sessions, args.outbox, first=next_key, clear=False)
                next_key += args.outbox
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                print(f"  {time.strftime('%H:%M:%S')}: outbox {dict(counts)}, dispatch incarnations "
                      f"{dispatcher.incarnations}", flush=True)
        sent_in_run = _console_count(sessions)
        results = []
        for _ in clients:  # a request takes at most 60 s (its timeout) past the end
            try:
                results += out.get(timeout=max(1.0, end - time.time()) + 180)
            except queue.Empty:
                print("  note: a client process sent no results (it died?): its requests are not counted")
        for client in clients:
            client.join(timeout=30)
        # The last worker drains what is left (the killed ones' claims come back after the lease).
        drain_start = time.monotonic()
        while True:
            dispatcher.check()
            counts = _outbox_counts(sessions)
            if counts["pending"] + counts["sending"] == 0 or time.monotonic() - drain_start > args.drain_timeout:
                break
            time.sleep(0.5)
        drained = time.monotonic() - drain_start
        dispatcher.stop()
        engine.dispose()
        stop.set()
        sampler.join()
        for pid in list(peaks.watched):
            peaks.sample(pid)

        timings: dict[str, list[float]] = {}
        statuses: Counter = Counter()
        errors: Counter = Counter()
        acked_votes: list[int] = []
        acked_ballots: list[str] = []
        ran_out: list[str] = []
        for result in results:
            for kind, values in result["timings"].items():
                timings.setdefault(kind, []).extend(values)
            statuses.update(result["statuses"])
            errors.update(result["errors"])
            acked_votes += result["votes"]
            acked_ballots += result["ballots"]
            ran_out += result["ran_out"]
        served = sum(statuses.values())
        five = sum(n for (_, s), n in statuses.items() if s >= 500)
        print(f"run: {served:,} requests in {seconds:.0f} s ({served / seconds:,.1f} requests/s); "
              f"{dispatcher.kills} worker kills, {dispatcher.incarnations} incarnations; "
              f"the last one drained the outbox in {drained:.1f} s")
        print(f"dispatch: {sent_in_run:,} messages sent during the load ({sent_in_run / seconds:,.1f}/s), "
              f"outbox topped up to {next_key:,} messages")
        problems = _log_problems(folder / "gunicorn.log")
        for n in range(1, dispatcher.incarnations + 1):
            problems.update(_log_problems(folder / f"dispatch{n}.err"))
        print(f"logs: {folder} (gunicorn.log, dispatch<n>.out/.err)"
              + (f"; problems in them: {dict(problems)}" if problems else "; no error lines in them"))
        for note in ran_out:
            print(f"  note: {note}")
        for note in dispatcher.early_exits:
            print(f"  note: a dispatch worker exited by itself: {note}")
        print()
        _print_latencies(timings, statuses, errors)
        print(f"errors: {sum(errors.values())} unexpected, {five} 5xx"
              + (f": {dict(errors.most_common(10))}" if errors else ""))
        print()
        found = check(url, links, acked_votes, acked_ballots, candidates, dispatcher.kills)
        print()
        print("peak RSS (VmHWM), MiB:")
        order = list(peaks.watched)  # in the order first seen: the dispatch workers by incarnation
        for pid, label in sorted(peaks.watched.items(), key=lambda item: (item[1].split(" #")[0], order.index(item[0]))):
            print(f"  {label:<28} pid {pid:<8} {peaks.peak.get(pid, 0) / 1024:8.1f}")
        gunicorn_workers = sum(1 for label in peaks.watched.values() if label == "gunicorn worker")
        if gunicorn_workers > args.workers:
            print(f"  note: {gunicorn_workers} gunicorn worker processes seen for {args.workers}: some were restarted")
        print()
        lost = sum(v[0] for v in found.values())
        doubled = sum(v[1] for v in found.values())
        failed = bool(lost or doubled or five)
        print(f"lost {lost}, doubled {doubled}  (votes {found['votes'][0]}/{found['votes'][1]}, ballots "
              f"{found['ballots'][0]}/{found['ballots'][1]}, messages {found['messages'][0]}/{found['messages'][1]}); "
              f"5xx {five}: {'FAIL' if failed else 'PASS'}  (target: lost 0, doubled 0, no 5xx)")
    finally:
        stop.set()
        if dispatcher is not None:
            dispatcher.stop()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_schema(admin, schema)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
