"""Benchmark of one year's full scoring (`scoring.engine.score_year`) at county size.

A synthetic year (`voting.demo.synthetic`) for the real 363 Pingyang sections: 200,000
H1/H2 votes, 3,000 platform, inspection and bonus events, and an online round of
5,000 ballots over the 110 shortlisted sections (550,000 NET votes), every vote one
row of a DataFrame, as the platform will hold them. Times, best of --repeat runs in
this one process:

* baseline: the plain pandas groupby that counts the votes per section, round and
  choice (`votes.groupby([unit, section, round, choice]).size()`);
* the whole scoring from those DataFrames: tallies, both service rounds with the
  sub-30 blending, platform, supervisor, inspection, bonus, shortlist, online round,
  final lists, unit effects and every explanation line.

Targets: the scoring within 5x the baseline and under 1 s.

    .venv/bin/python bench/scoring_bench.py
    .venv/bin/python bench/scoring_bench.py --votes 20000 --ballots 500 --repeat 3
    .venv/bin/python bench/scoring_bench.py --profile

See bench/README.md.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

RATIO_TARGET = 5.0
SECONDS_TARGET = 1.0


def best(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=200_000, help="H1 + H2 votes (rows)")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--ballots", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one scoring run")
    args = parser.parse_args()

    from scoring import columns as C
    from scoring.engine import score_year
    from scoring.settings import PINGYANG_2021
    from voting.demo.synthetic import pingyang_sections, synthetic_year

    start = time.perf_counter()
    inputs = synthetic_year(
        pingyang_sections(), 2021, votes=args.votes, events=args.events, ballots=args.ballots,
        seed=args.seed, per_vote=True, network=True,
    )
    made = time.perf_counter() - start
    votes = inputs.votes
    rounds = votes[C.ROUND].value_counts().to_dict()
    events = len(inputs.platform) + len(inputs.inspection) + len(inputs.bonus)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"year: {len(inputs.sections)} sections, {len(votes):,} vote rows "
          f"(H1 {rounds.get(C.H1, 0):,}, H2 {rounds.get(C.H2, 0):,}, NET {rounds.get(C.NET, 0):,}), "
          f"{events:,} events; generated in {made:.2f} s")

    baseline = best(lambda: votes.groupby([C.UNIT, C.SECTION, C.ROUND, C.CHOICE], observed=True).size(), args.repeat)
    card = score_year(inputs, PINGYANG_2021)
    full = best(lambda: score_year(inputs, PINGYANG_2021), args.repeat)
    shortlisted = int(card.sections[C.SHORTLIST].notna().sum())
    results = card.sections[C.RESULT].value_counts().to_dict()
    print(f"scored: {shortlisted} shortlisted, results {results}, {len(card.lines):,} explanation lines")
    print()
    print(f"{'phase':<44} {'seconds':>8} {'x baseline':>11}")
    print(f"{'plain groupby count of the votes (baseline)':<44} {baseline:>8.3f} {1:>11.2f}")
    print(f"{'full scoring (score_year)':<44} {full:>8.3f} {full / baseline:>11.2f}")
    ratio_ok = full / baseline <= RATIO_TARGET
    seconds_ok = full <= SECONDS_TARGET
    print()
    print(f"target: within {RATIO_TARGET:g}x the baseline: {'met' if ratio_ok else 'NOT met'}; "
          f"under {SECONDS_TARGET:g} s: {'met' if seconds_ok else 'NOT met'}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(score_year, inputs, PINGYANG_2021)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
