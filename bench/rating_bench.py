"""Load benchmark of citizens' ratings at the window (评议二维码): the app under
gunicorn (2 sync workers) on PostgreSQL, driven over loopback by client processes of
its own, as vote_bench.py does.

Setup (not timed): a fresh PostgreSQL schema with the real 363 sections, each with its
live rating code (the poster's QR code).

Then, in the same run, against the same server:
* ceiling: GET /healthz as fast as the clients go, for --seconds before the ratings
  and again after them; the share below is taken against the higher of the two;
* ratings: --ratings citizens (default 3,000), each a new phone with its own device
  cookie, scanning a section's code (drawn at random): GET /r/<token> (the page, its
  CSRF token and the device cookie), POST /r/<token> (the rating: one of the five
  levels, a 差评 with a category and a line of text, no phone), 303 to the thanks.

Where the citizens are: by default each one rates from a phone on a carrier's
network, so each request comes through the production's reverse proxy (FLASK_PROXY_FIX=1)
with its own client address in X-Forwarded-For, drawn from 2,000 carrier-NAT addresses
(100.64.0.0/10), and the limits keep their defaults. With --one-network, every citizen
is on one network (a service hall's Wi-Fi, the worst case): all clients are 127.0.0.1,
the per-network limit is raised for the run (RATING_NETWORK_HOURLY; over it a rating is
still stored, uncounted, and this measures the counted path), and on PostgreSQL every
submit takes its turn behind the network's advisory lock (docs/rules.md §7).

It prints ratings/s, p50/p99 latency per request kind, errors, and ratings/s as a
share of the ceiling's requests/s divided by 2 (a rating is two requests). Afterwards
it checks that the database holds exactly one rating per successful POST, and how many
of them counted.

    .venv/bin/pip install '.[bench]'        # gunicorn
    .venv/bin/python bench/rating_bench.py
    .venv/bin/python bench/rating_bench.py --ratings 500 --seconds 5
    .venv/bin/python bench/rating_bench.py --one-network
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

from loadgen import Browser, ceiling, create_schema, csrf_token, drive, drop_schema, gunicorn_path, pct, serve  # noqa: E402

SECRET = "rating bench secret key, not for production"
LEVELS = ("5", "4", "3", "2", "1")
POOR = {"2", "1"}


def setup(url: str) -> list[str]:
    """The schema's data: the 2021 sections, a live code each; the codes' tokens."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import sessionmaker

    from sms.tokens import new_nonce
    from voting.core.db import make_engine
    from voting.core.resources import DATA_DIR
    from voting.lists import campaigns, sections
    from voting.lists.models import Section, Unit
    from voting.ratings.codes import RatingTokens
    from voting.ratings.models import CodeKind, RatingCode
    from voting.schema import Base

    engine = make_engine(url, SECRET)  # the served app's FLASK_PHONE_KEY (bench/loadgen.py)
    Base.metadata.create_all(engine)
    session = sessionmaker(engine)()
    campaign = campaigns.create_campaign(session, 2021)
    csv = DATA_DIR / "pingyang-2021-sections.csv"
    sections.apply_sections(session, campaign, sections.parse_sections(csv.read_bytes(), csv.name))
    section_ids = session.scalars(select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id)).all()
    codes = session.scalars(insert(RatingCode).returning(RatingCode), [
        {"kind": CodeKind.section, "section_id": sid, "nonce": new_nonce(), "created_by": "bench"} for sid in section_ids
    ]).all()
    tokens = RatingTokens(SECRET)
    signed = [tokens.sign(code) for code in codes]
    session.commit()
    session.close()
    engine.dispose()
    return signed


def _rating_worker(base: str, tokens: list[str], out) -> None:
    """One client thread: a citizen's rating per token, each a browser of its own."""
    timings: dict[str, list[float]] = {"page": [], "post": []}
    errors: list[str] = []
    posted = 0
    choose = random.Random(os.getpid() * 7919 + len(tokens))
    for token, address in tokens:
        browser = Browser(base, {"X-Forwarded-For": address} if address else None)
        status, seconds, body = browser.get(f"/r/{token}")
        timings["page"].append(seconds)
        csrf = csrf_token(body)
        if status != 200 or not csrf:
            errors.append(f"page {status}")
            continue
        level = choose.choice(LEVELS)
        form = {"csrf_token": csrf, "level": level, "text": "", "phone": ""}
        if level in POOR:
            form.update(category_slow="1", text="等候时间太长，窗口人手不够。")
        status, seconds, _ = browser.post(f"/r/{token}", form)
        timings["post"].append(seconds)
        if status != 303:
            errors.append(f"post {status}")
            continue
        posted += 1
    out.put((timings, errors, posted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the ceiling run")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="client threads per process")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-threads", type=int, default=1, help="threads per gunicorn worker (gthread when > 1)")
    parser.add_argument("--one-network", action="store_true", help="every citizen on one network (a hall's Wi-Fi)")
    args = parser.parse_args()
    gunicorn = gunicorn_path()

    from sqlalchemy import create_engine, func, select

    from voting.ratings.models import Rating

    if args.one_network:
        os.environ["FLASK_RATING_NETWORK_HOURLY"] = str(10 * args.ratings)  # every client is 127.0.0.1
    else:
        os.environ["FLASK_PROXY_FIX"] = "1"  # the client's address from X-Forwarded-For, as behind nginx
    admin, schema, url = create_schema()
    server = None
    try:
        started = time.perf_counter()
        tokens = setup(url)
        print(f"machine: {os.uname().machine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        print(f"setup: {len(tokens):,} live rating codes, one per section, in {time.perf_counter() - started:.1f} s")
        server, base = serve(gunicorn, url, SECRET, args.workers, args.worker_threads)
        print(f"server: gunicorn, {args.workers} sync workers; clients: {args.processes} processes x {args.threads} threads")
        print("citizens: " + ("all on one network (127.0.0.1), its limit raised" if args.one_network
                              else "each from a carrier address of 2,000 through the proxy (X-Forwarded-For), default limits"))
        print()
        before = ceiling(base, args.seconds, args.processes, args.threads, "before the ratings")

        draw = random.Random(1)
        carriers = [f"100.{64 + draw.randrange(64)}.{draw.randrange(256)}.{draw.randrange(1, 255)}" for _ in range(2_000)]
        chosen = [(draw.choice(tokens), None if args.one_network else draw.choice(carriers)) for _ in range(args.ratings)]
        timings, errors, posted, elapsed = drive(_rating_worker, base, chosen, args.processes, args.threads)
        requests = sum(len(v) for v in timings.values())
        every = [t for v in timings.values() for t in v]
        print(f"ratings  {posted:,} in {elapsed:.1f} s: {posted / elapsed:,.1f} ratings/s ({requests / elapsed:,.0f} "
              f"requests/s), errors {len(errors)}{' ' + str(sorted(set(errors))[:5]) if errors else ''}")
        for name, label in (("page", "GET /r/<token>"), ("post", "POST /r/<token>")):
            print(f"         {label:<15} p50 {pct(timings.get(name, []), .5):6.1f} ms   p99 {pct(timings.get(name, []), .99):6.1f} ms")
        print(f"         all requests    p50 {pct(every, .5):6.1f} ms   p99 {pct(every, .99):6.1f} ms")
        after = ceiling(base, args.seconds, args.processes, args.threads, "after the ratings")
        top = max(before, after)
        share = (posted / elapsed) / (top / 2) if top else float("nan")
        print()
        print(f"ceiling: {top:,.0f} requests/s, the higher of the runs before and after the ratings")
        print(f"ratings/s as a share of the ceiling (requests/s / 2 requests per rating): {share:.1%}  "
              f"(target >= 35 %: {'met' if share >= 0.35 else 'NOT met'})")
        print(f"p99 of all rating requests: {pct(every, .99):.1f} ms  (target < 100 ms); errors: {len(errors)}  (target 0)")

        engine = create_engine(url)
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(Rating)).scalar_one()
            counted = connection.execute(select(func.count()).select_from(Rating).where(Rating.counted)).scalar_one()
        engine.dispose()
        print(f"database: {stored:,} ratings stored for {posted:,} successful POSTs: "
              f"{'ok' if stored == posted else 'MISMATCH'}; {counted:,} counted")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        drop_schema(admin, schema)


if __name__ == "__main__":
    main()
