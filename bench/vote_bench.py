"""Load benchmark of citizens' voting: the app under gunicorn (2 sync workers) on
PostgreSQL, driven over loopback by client processes of its own.

Setup (not timed): a fresh PostgreSQL schema with the real 363 sections, an open H1
round and --invitations open invitations (default 20,000) spread over them.

Then, in the same run, against the same server:
* ceiling: GET /healthz as fast as the clients go (the server's requests/s on a
  trivial endpoint: what the stack itself costs), for --seconds before the votes and
  again after them; the share below is taken against the higher of the two (this
  VM's speed drifts by a few percent within minutes, and the run after the votes
  tends to be slower: the higher one is the conservative figure);
* votes: for --votes distinct invitations (default 3,000, drawn from the open ones),
  a citizen's whole visit: GET /v/<token> (303 to the clean URL), GET /v (the page,
  with its CSRF token), POST /v (the vote, 303 to the thanks page).

It prints votes/s, requests/s, p50/p99 latency per request kind, errors, and votes/s
as a share of the ceiling's requests/s divided by 3 (a vote is three requests). The
clients (bench/loadgen.Browser: http.client, a fresh connection per request, cookies kept
by hand) run on the same 2 cores as the server: both figures carry that cost alike.
Afterwards it checks that the database holds exactly one vote per successful POST.

    .venv/bin/pip install '.[bench]'        # gunicorn
    .venv/bin/python bench/vote_bench.py
    .venv/bin/python bench/vote_bench.py --invitations 2000 --votes 500 --seconds 5
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

from loadgen import Browser, ceiling, create_schema, csrf_token, drive, drop_schema, gunicorn_path, pct, serve  # noqa: E402

SECRET = "vote bench secret key, not for production"


def setup(url: str, n: int) -> list[str]:
    """The schema's data: sections, an open round, n invitations; their link tokens."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import sessionmaker

    from sms.tokens import LinkTokens, new_code, new_nonce
    from voting.core.db import make_engine
    from voting.schema import Base
    from voting.survey.models import Invitation, RoundStatus, SurveyRound
    from voting.lists.models import RoundKind, Section, ServiceObject, Unit
    from voting.core.resources import DATA_DIR
    from voting.lists import campaigns, sections

    engine = make_engine(url, SECRET)  # the served app's FLASK_PHONE_KEY (bench/loadgen.py)
    Base.metadata.create_all(engine)
    session = sessionmaker(engine)()
    campaign = campaigns.create_campaign(session, 2021)
    csv = DATA_DIR / "pingyang-2021-sections.csv"
    sections.apply_sections(session, campaign, sections.parse_sections(csv.read_bytes(), csv.name))
    closes = datetime.now(timezone.utc) + timedelta(days=1)
    survey = SurveyRound(campaign_id=campaign.id, kind=RoundKind.H1, status=RoundStatus.open, sample_size=500,
                         seed=1, closes_at=closes, opened_at=datetime.now(timezone.utc))
    session.add(survey)
    session.flush()
    section_ids = session.scalars(select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id)).all()
    from voting.lists.models import ObjectImport

    upload = ObjectImport(campaign_id=campaign.id, round=RoundKind.H1, filename="bench.csv", rows_read=n, stored=n,
                          duplicates=0, report={})
    session.add(upload)
    session.flush()
    objects = [{"section_id": section_ids[i % len(section_ids)], "round": RoundKind.H1, "import_id": upload.id,
                "name": "市民", "org_title": "", "phone": f"138{i:08d}", "matter": "办理营业执照", "penalized": False,
                "source_row": i + 2} for i in range(n)]
    ids = session.scalars(insert(ServiceObject).returning(ServiceObject.id), objects).all()
    codes: set[str] = set()
    while len(codes) < n:
        codes.add(new_code())
    rows = [{"round_id": survey.id, "section_id": o["section_id"], "service_object_id": oid, "phone": o["phone"],
             "nonce": new_nonce(), "code": code} for o, oid, code in zip(objects, ids, codes)]
    invitation_ids = session.scalars(insert(Invitation).returning(Invitation.id), rows).all()
    session.commit()
    tokens = LinkTokens(SECRET)
    links = [tokens.issue(i, survey.id, closes, nonce=r["nonce"])[0] for i, r in zip(invitation_ids, rows)]
    session.close()
    engine.dispose()
    return links


def _vote_worker(base: str, tokens: list[str], out) -> None:
    """One client thread: a citizen's visit per token, each a browser of its own."""
    timings: dict[str, list[float]] = {"link": [], "page": [], "post": []}
    errors: list[str] = []
    posted = 0
    for token in tokens:
        browser = Browser(base)
        status, seconds, _ = browser.get(f"/v/{token}")
        timings["link"].append(seconds)
        if status != 303:
            errors.append(f"link {status}")
            continue
        status, seconds, body = browser.get("/v")
        timings["page"].append(seconds)
        csrf = csrf_token(body)
        if status != 200 or not csrf:
            errors.append(f"page {status}")
            continue
        choice = random.choice(["satisfied", "basic", "unsatisfied"])
        status, seconds, _ = browser.post("/v", {"csrf_token": csrf, "choice": choice, "comment": ""})
        timings["post"].append(seconds)
        if status != 303:
            errors.append(f"post {status}")
            continue
        posted += 1
    out.put((timings, errors, posted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invitations", type=int, default=20_000)
    parser.add_argument("--votes", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the ceiling run")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="client threads per process")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-threads", type=int, default=1, help="threads per gunicorn worker (gthread when > 1)")
    args = parser.parse_args()
    gunicorn = gunicorn_path()

    from sqlalchemy import create_engine, func, select

    from voting.survey.models import Vote

    admin, schema, url = create_schema()
    server = None
    try:
        started = time.perf_counter()
        links = setup(url, args.invitations)
        print(f"machine: {os.uname().machine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        print(f"setup: {len(links):,} open invitations over 363 sections in {time.perf_counter() - started:.1f} s")
        server, base = serve(gunicorn, url, SECRET, args.workers, args.worker_threads)
        print(f"server: gunicorn, {args.workers} sync workers; clients: {args.processes} processes x {args.threads} threads")
        print()

        before = ceiling(base, args.seconds, args.processes, args.threads, "before the votes")

        chosen = random.Random(1).sample(links, min(args.votes, len(links)))
        timings, errors, posted, elapsed = drive(_vote_worker, base, chosen, args.processes, args.threads)
        requests = sum(len(v) for v in timings.values())
        every = [t for v in timings.values() for t in v]
        print(f"votes    {posted:,} in {elapsed:.1f} s: {posted / elapsed:,.1f} votes/s ({requests / elapsed:,.0f} requests/s), "
              f"errors {len(errors)}{' ' + str(sorted(set(errors))[:5]) if errors else ''}")
        for name, label in (("link", "GET /v/<token>"), ("page", "GET /v"), ("post", "POST /v")):
            print(f"         {label:<15} p50 {pct(timings.get(name, []), .5):6.1f} ms   p99 {pct(timings.get(name, []), .99):6.1f} ms")
        print(f"         all requests    p50 {pct(every, .5):6.1f} ms   p99 {pct(every, .99):6.1f} ms")
        after = ceiling(base, args.seconds, args.processes, args.threads, "after the votes")
        top = max(before, after)
        share = (posted / elapsed) / (top / 3) if top else float("nan")
        print()
        print(f"ceiling: {top:,.0f} requests/s, the higher of the runs before and after the votes")
        print(f"votes/s as a share of the ceiling (requests/s / 3 requests per vote): {share:.1%}  (target >= 40 %: {'met' if share >= 0.40 else 'NOT met'})")
        print(f"p99 of all vote requests: {pct(every, .99):.1f} ms  (target < 100 ms); errors: {len(errors)}  (target 0)")

        engine = create_engine(url)
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(Vote)).scalar_one()
        engine.dispose()
        print(f"database: {stored:,} votes stored for {posted:,} successful POSTs: {'ok' if stored == posted else 'MISMATCH'}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        drop_schema(admin, schema)


if __name__ == "__main__":
    main()
