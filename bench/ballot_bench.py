"""Load benchmark of the online round's ballots: the app under gunicorn (2 sync workers)
on PostgreSQL, driven over loopback by client processes of its own.

Setup (not timed): a fresh PostgreSQL schema with the real 363 sections, a fixed
candidate list of 110 of them (spread over the units, the three lists in turn), an
open online round closing tomorrow and --evaluators evaluators (default 2,000), each
with a login name and a one-time password hashed as the service hashes them
(services.evaluators.hash_password).

Then, in the same run, against the same server:
* ceiling: GET /healthz as fast as the clients go (the server's requests/s on a
  trivial endpoint: what the stack itself costs);
* logins, then ballots: each evaluator's visit, once, in two timed phases with a
  barrier between them: first GET /e/login (the form and its CSRF token) and POST
  /e/login (303 to the ballot) for every evaluator; then, with those sessions, GET
  /e/ballot (the 110 candidates, their field names and the CSRF token) and POST
  /e/ballot with exactly 10 满意 and 10 不满意 drawn at random (the campaign's rules,
  as the page states them), the rest 基本满意 (303 to the receipt page).

It prints each phase's rate (logins/s; ballots/s of logged-in evaluators, the figure
the targets are about: 200 ballots/s, p99 < 300 ms), the whole visit's rate, p50/p99
latency per request kind, errors, and ballots/s as a share of the ceiling's
requests/s divided by 2 (a ballot is two requests). The login is a phase of its own
(its cost is not the ballot's: the login form, the account's failure counting, the
keyed password hash). The clients run
on the same cores as the server: both figures carry that cost alike. A background job
worker runs beside the server, as in production: it moves the sealed ballots into the
ballot box in shuffled batches of 20 or more, on the same cores, so the rate carries
that cost too. Afterwards it closes the round (which moves the last sealed ballots)
and checks the database: one ballot per successful POST, one "has voted" row and one
consumed password per ballot, 110 marks per ballot and exactly 10 满意 / 10 不满意 on
each.

    .venv/bin/pip install '.[bench]'        # gunicorn
    .venv/bin/python bench/ballot_bench.py
    .venv/bin/python bench/ballot_bench.py --evaluators 300 --seconds 5
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

from loadgen import Browser, create_schema, csrf_token, drop_schema, gunicorn_path, pct, serve  # noqa: E402

SECRET = "ballot bench secret key, not for production"
CANDIDATES = 110
TARGET_BALLOTS = 200.0  # ballots/s
TARGET_P99 = 300.0  # ms
FIELD = re.compile(r'<input type="radio" name="(c\d+)"')
RULES = re.compile(r'data-satisfied="(\d+)" data-unsatisfied="(\d+)"')
KINDS = (("login_page", "GET /e/login"), ("login", "POST /e/login"), ("ballot_page", "GET /e/ballot"),
         ("ballot", "POST /e/ballot"))


def setup(url: str, n: int, secret: str = SECRET) -> tuple[list[tuple[str, str]], list[int]]:
    """The schema's data: sections, the fixed candidate list, an open online round, n
    evaluators with live passwords; their (login, password) and the candidates' ids.
    `secret` is the served app's FLASK_PHONE_KEY; a 2021 campaign already in the schema
    (bench/soak.py sets up vote_bench's first) is used with its sections."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import sessionmaker

    from scoring import columns as C
    from sms.tokens import new_code
    from voting.core.db import make_engine
    from voting.schema import Base
    from voting.lists.models import Campaign, Section, Unit
    from voting.online.models import Candidate, Evaluator, EvaluatorKind, OnlineRound
    from voting.survey.models import RoundStatus
    from voting.core.resources import DATA_DIR
    from voting.lists import campaigns, sections
    from voting.online.evaluators import LOGIN_LENGTH, PASSWORD_LENGTH, hash_password
    from voting.core.vault import vault_of

    engine = make_engine(url, secret)  # the served app's FLASK_PHONE_KEY (bench/loadgen.py)
    Base.metadata.create_all(engine)
    session = sessionmaker(engine)()
    campaign = session.scalar(select(Campaign).where(Campaign.year == 2021))
    if campaign is None:
        campaign = campaigns.create_campaign(session, 2021)
        csv = DATA_DIR / "pingyang-2021-sections.csv"
        sections.apply_sections(session, campaign, sections.parse_sections(csv.read_bytes(), csv.name))
    now = datetime.now(timezone.utc)
    # 110 candidates spread over the units (every third section), the three lists in turn,
    # stored in a shuffled order so that the ballot's own order is the one shown.
    ids = list(session.scalars(
        select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Section.number)
    ))
    chosen = ids[:: max(1, len(ids) // CANDIDATES)][:CANDIDATES]
    if len(chosen) < CANDIDATES:
        sys.exit(f"only {len(ids)} sections: {CANDIDATES} candidates cannot be drawn")
    lists = (C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE, C.PREVIOUS_UNSATISFIED)
    shuffled = chosen[:]
    random.Random(5).shuffle(shuffled)
    session.add_all(Candidate(section_id=sid, campaign_id=campaign.id, list=lists[i % 3], fixed_at=now)
                    for i, sid in enumerate(shuffled))
    online = OnlineRound(campaign_id=campaign.id, status=RoundStatus.open, seed=1, closes_at=now + timedelta(days=1),
                         opened_at=now)
    session.add(online)
    session.flush()
    # Login names and one-time passwords as the service draws them (sms.tokens.new_code),
    # hashed as the service hashes them (a keyed hash under the served app's PHONE_KEY).
    logins: set[str] = set()
    while len(logins) < n:
        logins.add(new_code(LOGIN_LENGTH))
    passwords = [new_code(PASSWORD_LENGTH) for _ in range(n)]
    vault = vault_of(engine)
    hashes = [hash_password(vault, password) for password in passwords]
    kinds = list(EvaluatorKind)
    rows = [{"round_id": online.id, "kind": kinds[i % len(kinds)], "name": f"评价人{i + 1}", "phone": f"147{i:08d}",
             "source_row": i + 2, "login": login, "password_hash": hashed, "password_issued_at": now,
             "failed_logins": 0, "created_at": now}
            for i, (login, hashed) in enumerate(zip(sorted(logins), hashes))]
    session.execute(insert(Evaluator), rows)
    session.commit()
    credentials = [(row["login"], password) for row, password in zip(rows, passwords)]
    session.close()
    engine.dispose()
    return credentials, chosen





def draw_marks(page: str, rng: random.Random, candidates: int | None = None) -> dict[str, str] | None:
    """A valid ballot for the ballot page `page`: the rules' counts of 满意 and 不满意
    (as the page states them) drawn at random, the rest 基本满意; None when the page
    holds no ballot (or not `candidates` of them)."""
    fields = list(dict.fromkeys(FIELD.findall(page)))
    rules = RULES.search(page)
    if not fields or not rules or (candidates is not None and len(fields) != candidates):
        return None
    satisfied, unsatisfied = int(rules.group(1)), int(rules.group(2))
    picked = rng.sample(fields, satisfied + unsatisfied)
    marks = dict.fromkeys(fields, "basic")
    marks.update(dict.fromkeys(picked[:satisfied], "satisfied"))
    marks.update(dict.fromkeys(picked[satisfied:], "unsatisfied"))
    return marks


def _ballot_worker(base: str, accounts: list[tuple[str, str]], out, barrier) -> None:
    """One client thread: its evaluators' logins, each with its own cookies (a browser
    of its own); then, once every thread has logged its evaluators in, their ballots.
    Reports the wall-clock bounds of both phases."""
    timings: dict[str, list[float]] = {name: [] for name, _ in KINDS}
    errors: list[str] = []
    posted = 0
    rng = random.Random()
    browsers = []
    login_start = time.time()
    for login, password in accounts:
        browser = Browser(base)
        status, seconds, body = browser.get("/e/login")
        timings["login_page"].append(seconds)
        csrf = csrf_token(body)
        if status != 200 or not csrf:
            errors.append(f"login page {status}")
            continue
        status, seconds, _ = browser.post("/e/login", {"csrf_token": csrf, "login": login, "password": password})
        timings["login"].append(seconds)
        if status != 303:
            errors.append(f"login {status}")
            continue
        browsers.append(browser)
    login_end = time.time()
    barrier.wait()
    ballot_start = time.time()
    for browser in browsers:
        status, seconds, body = browser.get("/e/ballot")
        timings["ballot_page"].append(seconds)
        csrf = csrf_token(body)
        marks = draw_marks(body.decode("utf-8", "replace"), rng, CANDIDATES)
        if status != 200 or not csrf or marks is None:
            errors.append(f"ballot page {status} (no ballot of {CANDIDATES} candidates)")
            continue
        status, seconds, _ = browser.post("/e/ballot", {"csrf_token": csrf, **marks})
        timings["ballot"].append(seconds)
        if status != 303:
            errors.append(f"ballot {status}")
            continue
        posted += 1
    out.put((timings, errors, posted, (login_start, login_end, ballot_start, time.time())))


def _health_worker(base: str, seconds: float, out, _barrier=None) -> None:
    browser = Browser(base)
    timings, errors = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status, took, _ = browser.get("/healthz")
        timings.append(took)
        if status != 200:
            errors.append(str(status))
    out.put(({"health": timings}, errors, 0, None))


def _process(kind: str, base: str, work, threads: int, out, barrier) -> None:
    """A client process running `threads` threads (the GIL would make one process the
    bottleneck)."""
    pool = []
    for i in range(threads):
        args = (base, work[i::threads], out, barrier) if kind == "ballot" else (base, work, out, barrier)
        target = _ballot_worker if kind == "ballot" else _health_worker
        pool.append(threading.Thread(target=target, args=args))
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def drive(kind: str, base: str, work, processes: int, threads: int):
    """Timings, errors, successful ballot POSTs, elapsed seconds, and for ballots the
    two phases' seconds (logins, ballots): from the first thread's start to the last
    thread's end of each."""
    out = multiprocessing.Queue()
    barrier = multiprocessing.Barrier(processes * threads)
    parts = [work[i::processes] for i in range(processes)] if kind == "ballot" else [work] * processes
    start = time.perf_counter()
    procs = [multiprocessing.Process(target=_process, args=(kind, base, part, threads, out, barrier)) for part in parts]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in range(processes * threads)]
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    posted = 0
    bounds = []
    for part_timings, part_errors, part_posted, part_bounds in results:
        for name, values in part_timings.items():
            timings.setdefault(name, []).extend(values)
        errors += part_errors
        posted += part_posted
        if part_bounds:
            bounds.append(part_bounds)
    phases = None
    if bounds:
        phases = (max(b[1] for b in bounds) - min(b[0] for b in bounds),
                  max(b[3] for b in bounds) - min(b[2] for b in bounds))
    return timings, errors, posted, elapsed, phases



def check_database(url: str, posted: int, candidates: int, secret: str = SECRET) -> bool:
    """What the database holds after the run, against the successful POSTs; prints it.
    `secret`: the served app's FLASK_PHONE_KEY (the close opens the sealed ballots)."""
    from sqlalchemy import and_, func, or_, select
    from sqlalchemy.orm import Session

    from voting.online.models import Ballot, BallotCast, BallotMark, Evaluator
    from voting.lists.models import Campaign
    from voting.survey.models import Choice
    from voting.online.ballots import ballot_rules

    from voting.core.db import make_engine
    from voting.online.models import OnlineRound, PendingBallot
    from voting.online import ballots

    engine = make_engine(url, secret)
    with engine.connect() as connection:
        def count(model, *where) -> int:
            return connection.execute(select(func.count()).select_from(model).where(*where)).scalar_one()

        # The job worker moved the sealed ballots into the box in batches during the
        # run; the close moves the rest, as the review office's close does.
        moved = count(Ballot)
        with Session(bind=connection) as session:
            ballots.close(session, session.scalars(select(OnlineRound)).one(), actor="bench")
            session.commit()
        print(f"ballot box: {moved:,} ballots moved in batches during the run, {count(Ballot) - moved:,} at the close; "
              f"{count(PendingBallot):,} left sealed")
        stored = count(Ballot)
        cast = count(BallotCast)
        marks = count(BallotMark)
        consumed = count(Evaluator, Evaluator.password_hash.is_(None))
        with Session(bind=connection) as session:
            rules = ballot_rules(session.scalars(select(Campaign)).one().rules, candidates)
        per_ballot = (
            select(BallotMark.ballot_id,
                   func.count().label("n"),
                   func.count().filter(BallotMark.choice == Choice.satisfied).label("s"),
                   func.count().filter(BallotMark.choice == Choice.unsatisfied).label("u"))
            .group_by(BallotMark.ballot_id).subquery()
        )
        wrong = connection.execute(
            select(func.count()).select_from(per_ballot).where(
                or_(per_ballot.c.n != candidates, per_ballot.c.s != rules.satisfied, per_ballot.c.u != rules.unsatisfied)
            )
        ).scalar_one()
        right = connection.execute(
            select(func.count()).select_from(per_ballot).where(
                and_(per_ballot.c.n == candidates, per_ballot.c.s == rules.satisfied, per_ballot.c.u == rules.unsatisfied)
            )
        ).scalar_one()
    engine.dispose()
    checks = [
        (f"ballots stored {stored:,} == successful POSTs {posted:,}", stored == posted),
        (f"ballot_cast rows {cast:,} == ballots {stored:,}", cast == stored),
        (f"passwords consumed {consumed:,} == ballots {stored:,}", consumed == stored),
        (f"marks {marks:,} == {candidates} x ballots ({candidates * stored:,})", marks == candidates * stored),
        (f"ballots with exactly {rules.satisfied} 满意 / {rules.unsatisfied} 不满意 / {candidates} marks: "
         f"{right:,} of {stored:,} ({wrong:,} otherwise)", wrong == 0 and right == stored),
    ]
    for label, ok in checks:
        print(f"database: {label}: {'ok' if ok else 'MISMATCH'}")
    return all(ok for _, ok in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evaluators", type=int, default=2_000, help="evaluators, each casting one ballot")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the ceiling run")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="client threads per process")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-threads", type=int, default=1, help="threads per gunicorn worker (gthread when > 1)")
    args = parser.parse_args()
    gunicorn = gunicorn_path()


    admin, schema, url = create_schema()
    server = None
    ok = False
    try:
        started = time.perf_counter()
        accounts, candidates = setup(url, args.evaluators)
        print(f"machine: {os.uname().machine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        print(f"setup: {len(accounts):,} evaluators with live one-time passwords, {len(candidates)} candidates "
              f"of 363 sections, open round closing tomorrow, in {time.perf_counter() - started:.1f} s")
        server, base = serve(gunicorn, url, SECRET, args.workers, args.worker_threads, jobs_worker=True)
        kind = "sync" if args.worker_threads <= 1 else f"gthread x {args.worker_threads}"
        print(f"server: gunicorn, {args.workers} {kind} workers; clients: {args.processes} processes x {args.threads} threads")
        print("rate limits: disabled for the server (FLASK_RATELIMIT_ENABLED=false): every visit comes from 127.0.0.1")
        print()

        timings, errors, _, elapsed, _ = drive("health", base, args.seconds, args.processes, args.threads)
        ceiling = len(timings["health"]) / elapsed
        print(f"ceiling  GET /healthz: {ceiling:,.0f} requests/s, p50 {pct(timings['health'], .5):.1f} ms, "
              f"p99 {pct(timings['health'], .99):.1f} ms, errors {len(errors)}")

        visits = accounts[:]
        random.Random(1).shuffle(visits)
        timings, errors, posted, elapsed, (login_seconds, ballot_seconds) = drive(
            "ballot", base, visits, args.processes, args.threads)
        logged_in = len(timings.get("login", [])) - sum(e.startswith("login ") for e in errors)
        rate = posted / ballot_seconds
        print(f"logins   {logged_in:,} in {login_seconds:.1f} s: {logged_in / login_seconds:,.1f} logins/s "
              "(GET + POST /e/login)")
        print(f"ballots  {posted:,} in {ballot_seconds:.1f} s: {rate:,.1f} ballots/s of logged-in evaluators "
              f"(GET + POST /e/ballot), errors {len(errors)}{' ' + str(sorted(set(errors))[:5]) if errors else ''}")
        print(f"visits   {posted:,} whole visits (login and ballot) in {login_seconds + ballot_seconds:.1f} s: "
              f"{posted / (login_seconds + ballot_seconds):,.1f} visits/s")
        for name, label in KINDS:
            print(f"         {label:<15} p50 {pct(timings.get(name, []), .5):6.1f} ms   p99 {pct(timings.get(name, []), .99):6.1f} ms")
        ballot_requests = timings.get("ballot_page", []) + timings.get("ballot", [])
        every = [t for v in timings.values() for t in v]
        print(f"         ballot requests p50 {pct(ballot_requests, .5):6.1f} ms   p99 {pct(ballot_requests, .99):6.1f} ms")
        print(f"         all requests    p50 {pct(every, .5):6.1f} ms   p99 {pct(every, .99):6.1f} ms")
        share = rate / (ceiling / 2) if ceiling else float("nan")
        p99 = pct(ballot_requests, .99)
        print()
        print(f"ballots/s: {rate:,.1f}  (target >= {TARGET_BALLOTS:.0f}: {'met' if rate >= TARGET_BALLOTS else 'NOT met'})")
        print(f"p99 of the ballot requests: {p99:.1f} ms  (target < {TARGET_P99:.0f} ms: "
              f"{'met' if p99 < TARGET_P99 else 'NOT met'}); p99 of every request, logins included: "
              f"{pct(every, .99):.1f} ms; errors: {len(errors)}  (target 0)")
        print(f"ballots/s as a share of the ceiling (requests/s / 2 requests per ballot): {share:.0%}  "
              f"(ceiling / 2 = {ceiling / 2:,.0f} ballots/s)")
        print()
        ok = check_database(url, posted, len(candidates))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        drop_schema(admin, schema)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
