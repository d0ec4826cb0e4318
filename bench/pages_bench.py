"""Benchmark: every staff page at a county's size, under gunicorn on PostgreSQL.

Builds a county year in a fresh PostgreSQL schema (dropped at the end), through the
services the pages and `pingyi demo-year` use (voting/demo/simulate.py's steps):

* the real 2021 list (44 units, 363 sections), a synthetic history, H1 and H2
  service-object lists (about 2 x --per-section people a section);
* H1: opened (`rounds.open_round`, the bulk COPY path), --response of the invited
  citizens answer (`votes.cast_vote`), closed; H2: opened as the office opens it (a
  background job, `tasks.open_round_job`, run in-process), answered the same, left
  open (so the phone survey and the live progress have work to show);
* the other daily components from synthetic files, the candidate list fixed, the
  online round (representatives imported, service objects sampled, accounts issued,
  --ballots ballots through `ballots.submit_ballot`, closed);
* most of the SMS marked delivered (as the dispatch worker would leave them);
* an office admin.

Then gunicorn (`-c python:voting.gunicorn_conf`, --workers sync workers) serves the
app; one client logs in as the admin, finds every staff GET route in `app.url_map`
(the /office/ pages; ids filled in from the data, one page per component kind and per
round), warms each page up, and times --requests rounds over all of them in turn
(so that the machine's slow moments spread over every page), /healthz included.

It prints per page: status, p50, p95, p95 as a multiple of /healthz's p50, and flags
the pages over the target: **every staff page p95 <= 300 ms**. `--strict` exits 1 when
a page misses it.

    .venv/bin/python bench/pages_bench.py                 # county size: 2 x ~42,600 invitations, ~5,000 ballots
    .venv/bin/python bench/pages_bench.py --quick         # a small year (a quick look)
    .venv/bin/python bench/pages_bench.py --keep          # keep the schema; then, without the setup:
    .venv/bin/python bench/pages_bench.py --reuse SCHEMA --only scores   # the pages whose path holds "scores"

See bench/README.md.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

from loadgen import (  # noqa: E402
    Browser, create_schema, csrf_token, drop_schema, free_port, gunicorn_path, pct, wait_until_up,
)

TARGET_MS = 300.0
SECRET = "pages bench secret " * 2
ADMIN_USER, ADMIN_PASSWORD = "bench-admin", "pages bench admin password, not for production"
SEED = 2021


# ---- the county year ------------------------------------------------------------------------


def _answer(session, survey_id: int, response: float, quality: dict[int, float], rng) -> int:
    """`response` of the round's invitations answered as citizens would (link, SMS reply
    or phone survey), each choice drawn from its section's quality: the votes cast."""
    import numpy as np
    from sqlalchemy import select

    from voting.survey.models import Choice, Invitation
    from voting.survey import votes
    from voting.demo.simulate import CHANNELS
    from voting.demo.synthetic import _choice_probabilities

    invited = session.execute(select(Invitation.id, Invitation.section_id).where(Invitation.round_id == survey_id)).all()
    choices = list(Choice)
    cast = 0
    for invitation_id, section_id in invited:
        if rng.random() >= response:
            continue
        p_s, p_b, p_u = _choice_probabilities(np.array([quality[section_id]]))
        choice = choices[int(rng.choice(3, p=[p_s[0], p_b[0], p_u[0]]))]
        votes.cast_vote(session, invitation_id, choice, CHANNELS[int(rng.integers(len(CHANNELS)))])
        cast += 1
    return cast


def build_year(app, per_section: int, response: float, ballots: int, echo=print) -> dict[str, int]:
    """The county year described above; a few of its figures."""
    import numpy as np
    from sqlalchemy import func, select, text, update

    from voting.jobs import jobs
    from voting import tasks
    from voting.demo.campaign import demo_sections_csv
    from voting.survey.links import link_tokens, wording
    from voting.schema import Base
    from voting.survey.models import Invitation
    from voting.outbox.models import OutboxMessage, OutboxStatus
    from voting.staff.models import Role
    from voting.lists.models import RoundKind
    from voting.core.models import utcnow
    from voting.lists import campaigns, history, sections
    from voting.survey import rounds
    from voting.staff import users
    from voting.demo.simulate import _components, _lists, _quality, online_stage
    from voting.demo.synthetic import pingyang_sections, synthetic_year, write_bundle

    Base.metadata.create_all(app.extensions["pingyi.engine"])
    sessions = app.extensions["pingyi.sessions"]
    figures = {}
    with sessions() as session:
        campaign = campaigns.create_campaign(session, 2021)
        sections.apply_sections(session, campaign, sections.parse_sections(demo_sections_csv(), "sections.csv"))
        users.create_user(session, ADMIN_USER, ADMIN_PASSWORD, Role.admin)
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            write_bundle(synthetic_year(pingyang_sections(), 2021, seed=SEED), folder)
            history.import_history(session, campaign, (folder / "history.csv").read_bytes(), "history.csv")
            # Lists of per_section to 2 x per_section people: every section's sample is
            # per_section (enforcement sections' lists are longer still).
            _lists(session, campaign, random.Random(SEED), 2 * per_section, echo)
            _components(session, campaign, folder, echo)
        session.commit()
        quality = _quality(session, campaign, SEED)
        rng = np.random.default_rng(SEED)
        closes = utcnow() + timedelta(days=14)

        h1 = rounds.create_round(session, campaign, RoundKind.H1, closes, per_section, seed=SEED)
        rounds.open_round(session, campaign, h1, link_tokens(app), wording(app, "http://localhost/"))
        figures["H1 votes"] = _answer(session, h1.id, response, quality, rng)
        rounds.close_round(session, h1)
        session.commit()
        echo(f"H1: {figures['H1 votes']:,} votes, closed")

        # H2 as the office opens it: a background job (run here, in this process).
        h2 = rounds.create_round(session, campaign, RoundKind.H2, closes, per_section, seed=SEED + 1)
        job = tasks.open_round_job(session, h2, "http://localhost/", ADMIN_USER)
        session.commit()
        job_id = job.id
    jobs.run_here(app, job_id)
    with sessions() as session:
        campaign = campaigns.get_campaign(session, 2021)
        figures["H2 votes"] = _answer(session, h2.id, response, quality, rng)
        session.commit()
        echo(f"H2: {figures['H2 votes']:,} votes, left open")
        # Evaluators: 35 % representatives and 65 % service objects, of whom 85 % vote:
        # about `ballots` ballots (with 0, the pool of 1,000 ballots and none cast).
        turnout = 0.85 if ballots else 0.0
        representatives = round((ballots or 1000) / 0.85 * 0.35)
        evaluators, cast = online_stage(session, app, campaign, seed=SEED, representatives=representatives,
                                        turnout=turnout, echo=echo)
        figures["evaluators"], figures["ballots"] = evaluators, cast
        # The dispatch worker's work, done: all but the last few hundred messages delivered.
        last = session.scalar(select(func.max(OutboxMessage.id)))
        now = utcnow()
        session.execute(update(OutboxMessage).where(OutboxMessage.id <= last - 300)
                        .values(status=OutboxStatus.delivered, sent_at=now, status_at=now, attempts=1))
        figures["invitations"] = session.scalar(select(func.count()).select_from(Invitation))
        figures["messages"] = last
        # The Excel report, made as the office makes it (a job whose page offers the file).
        report = tasks.report_job(session, campaign, ADMIN_USER)
        session.commit()
        report_id = report.id
    jobs.run_here(app, report_id)
    # The planner's statistics, as autovacuum would have them a minute after such writes
    # (without them it takes the 40,000-row tables for empty ones and picks nested loops).
    with app.extensions["pingyi.engine"].connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    return figures


# ---- the pages ------------------------------------------------------------------------------


def staff_pages(app) -> list[tuple[str, str]]:
    """(name, path) of every staff GET page: each GET route under /office/, with ids
    from the data (the largest or most telling: the unit with the most sections, a
    shortlisted section, an unanswered invitation of the open round), one page per
    component kind and per round; then /healthz."""
    from sqlalchemy import func, select

    from voting import tasks
    from voting.online.models import Candidate
    from voting.components.models import ComponentKind
    from voting.survey.models import Invitation, RoundStatus, SurveyRound, Vote
    from voting.jobs.models import Job
    from voting.lists.models import ObjectImport, Section

    with app.extensions["pingyi.sessions"]() as session:
        lists_import = session.scalar(select(ObjectImport.id).order_by(ObjectImport.id.desc()).limit(1))  # H2's lists
        shortlisted = session.scalar(select(Candidate.section_id).order_by(Candidate.section_id).limit(1))
        unit = session.scalar(select(Section.unit_id).group_by(Section.unit_id).order_by(func.count().desc()).limit(1))
        open_round = session.scalar(select(SurveyRound.id).where(SurveyRound.status == RoundStatus.open))
        unanswered = session.scalar(
            select(Invitation.id).where(Invitation.round_id == open_round, ~Invitation.id.in_(select(Vote.invitation_id)))
            .order_by(Invitation.id).limit(1))
        values = {
            "kind": [kind.value for kind in ComponentKind],
            "import_id": [lists_import],
            "job_id": [session.scalar(select(Job.id).where(Job.kind == tasks.OPEN_ROUND).limit(1))],
            "invitation_id": [unanswered],
            "round_id": list(session.scalars(select(SurveyRound.id).order_by(SurveyRound.id))),
            "section_id": [shortlisted],
            "round_kind": ["H1"],
            "unit_id": [unit],
        }
        # The job whose file jobs.file serves: the report.
        only = {"jobs.file": {"job_id": [session.scalar(select(Job.id).where(Job.kind == tasks.REPORT).limit(1))]}}
    pages = []
    with app.test_request_context():
        from flask import url_for

        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or not rule.rule.startswith("/office/"):
                continue
            combos = [{}]
            for argument in sorted(rule.arguments):
                given = {**values, **only.get(rule.endpoint, {})}
                if argument not in given:
                    sys.exit(f"no value for <{argument}> of {rule.rule}: teach pages_bench.staff_pages about it")
                combos = [{**c, argument: v} for c in combos for v in given[argument] if v is not None]
            for arguments in combos:
                path = url_for(rule.endpoint, **arguments)
                name = rule.endpoint + "".join(f" {v}" for k, v in sorted(arguments.items()) if k in ("kind", "round_id"))
                pages.append((name, path))
    pages.append(("healthz", "/healthz"))
    return pages


def serve(url: str, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    """The app under gunicorn with the production settings (voting/gunicorn_conf.py),
    from this checkout (--chdir: gunicorn imports the app from there)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "FLASK_SECRET_KEY": SECRET, "FLASK_PHONE_KEY": SECRET,
           "PINGYI_INSTANCE_PATH": tempfile.mkdtemp(prefix="pingyi-pages-bench-"), "FLASK_RATELIMIT_ENABLED": "false",
           "PINGYI_SMS_SENDER": "console", "FLASK_LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": str(workers)}
    server = subprocess.Popen(
        [gunicorn_path(), "--chdir", str(ROOT), "-c", "python:voting.gunicorn_conf", "-b", f"127.0.0.1:{port}",
         "voting:create_app()"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    return server, wait_until_up(server, port, 60, f"gunicorn did not start: see {log}")


def log_in(base: str) -> Browser:
    browser = Browser(base)
    _, _, page = browser.get("/login")
    status, _, _ = browser.post("/login", {"csrf_token": csrf_token(page) or "", "username": ADMIN_USER,
                                           "password": ADMIN_PASSWORD})
    if status not in (302, 303):
        sys.exit(f"the admin could not log in ({status})")
    return browser


def measure(browser: Browser, pages: list[tuple[str, str]], requests: int, warmup: int) -> tuple[dict, dict]:
    """Each page `warmup` times, then `requests` rounds over all pages: (seconds by
    path, statuses by path)."""
    timings: dict[str, list[float]] = {path: [] for _, path in pages}
    statuses: dict[str, set[int]] = {path: set() for _, path in pages}
    for _ in range(warmup):
        for _, path in pages:
            browser.get(path)
    for _ in range(requests):
        for _, path in pages:
            status, took, _ = browser.get(path)
            timings[path].append(took)
            statuses[path].add(status)
    return timings, statuses


def report(pages: list[tuple[str, str]], timings: dict, statuses: dict) -> int:
    """The table; how many pages miss the target (or answer an error)."""
    healthz = pct(timings["/healthz"], 0.5)
    print(f"{'page':<34}{'path':<44}{'status':>7}{'p50 ms':>9}{'p95 ms':>9}{'p95 / healthz':>15}")
    missed = 0
    for name, path in pages:
        p50, p95 = pct(timings[path], 0.5), pct(timings[path], 0.95)
        status = ",".join(str(s) for s in sorted(statuses[path]))
        # A redirect is a page's answer (an old address); anything else not 200 is an error.
        failed = any(s >= 400 for s in statuses[path])
        missed += (p95 > TARGET_MS or failed) and path != "/healthz"
        flag = "  OVER" if p95 > TARGET_MS else ("  ERROR" if failed else "")
        print(f"{name[:33]:<34}{path[:43]:<44}{status:>7}{p50:>9.1f}{p95:>9.1f}{p95 / healthz:>14.1f}x{flag}")
    print(f"/healthz p50 {healthz:.1f} ms")
    slowest = max((pct(timings[p], 0.95), n) for n, p in pages if p != "/healthz")
    print(f"target: every staff page p95 <= {TARGET_MS:.0f} ms: {'met' if not missed else f'NOT met ({missed} pages)'}; "
          f"slowest {slowest[1]} p95 {slowest[0]:.1f} ms ({slowest[0] / healthz:.1f}x /healthz p50)")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-section", type=int, default=120, help="invited per section and round (120: ~42,600 a round)")
    parser.add_argument("--response", type=float, default=0.7, help="share of the invited who vote")
    parser.add_argument("--ballots", type=int, default=5000, help="online-round ballots (about)")
    parser.add_argument("--quick", action="store_true", help="a small year: 15 per section, 500 ballots, 10 requests")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--only", default="", help="only the pages whose path holds this text (and /healthz)")
    parser.add_argument("--keep", action="store_true", help="keep the schema (its name is printed) instead of dropping it")
    parser.add_argument("--reuse", metavar="SCHEMA", help="time the pages over a schema kept by --keep (no setup)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a page misses the target")
    args = parser.parse_args()
    if args.quick:
        args.per_section, args.ballots, args.requests = 15, 500, 10

    from voting import create_app

    if args.reuse:
        from loadgen import POSTGRES_URL
        from sqlalchemy import create_engine

        admin, schema, url = create_engine(POSTGRES_URL), args.reuse, f"{POSTGRES_URL}?options=-csearch_path%3D{args.reuse}"
        args.keep = True
    else:
        admin, schema, url = create_schema()
    instance = Path(tempfile.mkdtemp(prefix="pingyi-pages-bench-"))
    os.environ["PINGYI_INSTANCE_PATH"] = str(instance)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "PHONE_KEY": SECRET, "LOG_CONFIGURE": False,
                      "JOBS_URL": f"sqlite:///{instance / 'jobs.sqlite'}"})
    server = None
    missed = 0
    try:
        started = time.perf_counter()
        if not args.reuse:
            figures = build_year(app, args.per_section, args.response, args.ballots, echo=lambda line: print(f"  {line}"))
            print(f"setup: {figures['invitations']:,} invitations (H1 {figures['H1 votes']:,} votes, closed; "
                  f"H2 {figures['H2 votes']:,} votes, open), {figures['evaluators']:,} evaluators, "
                  f"{figures['ballots']:,} ballots, {figures['messages']:,} messages ({time.perf_counter() - started:.0f} s)")
        pages = [(n, p) for n, p in staff_pages(app) if args.only in p or p == "/healthz"]
        server, base = serve(url, args.workers, instance / "gunicorn.log")
        browser = log_in(base)
        started = time.perf_counter()
        timings, statuses = measure(browser, pages, args.requests, args.warmup)
        print(f"{len(pages) - 1} staff pages and /healthz, {args.requests} timed requests each after {args.warmup} "
              f"warm-up, one client, {args.workers} gunicorn workers ({time.perf_counter() - started:.0f} s)")
        missed = report(pages, timings, statuses)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        app.extensions["pingyi.engine"].dispose()
        if args.keep:
            print(f"schema kept: {schema} (again: --reuse {schema})")
            admin.dispose()
        else:
            drop_schema(admin, schema)
    if args.strict and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
