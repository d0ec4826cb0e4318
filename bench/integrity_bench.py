"""Benchmark of the list-integrity checks (`voting.integrity.checks.find_all`) on a county
year, against one plain pandas pass over the same rows grouped by phone hash.

The data (seeded, made in memory, as voting/integrity/integrity.py builds its frames):
363 sections of 44 units, an H1 and an H2 list of 250 service objects each (181,500
rows; 2 % of the numbers listed by a second section, as citizens served twice are),
the staff phones (30 per unit), last year's lists (the same sections, a fifth of the
numbers again), 2 × 40,000 invitations and their votes (60 % answered, 70 % of them on
the web, from 20,000 networks over two weeks); and, planted, a few of each fault (staff
phones, a number in four sections, a copied list, runs, a name many times, bursts).

* baseline: `objects.groupby("phone_hash").agg(sections=("section_id", "nunique"),
  units=("unit_id", "nunique"))`, the shared-number question asked plainly (and, for
  reference, `groupby("phone_hash").size()`);
* checks: `find_all` (staff phones, shared numbers, copied lists, runs, repeated
  names, answer bursts) with the flags' evidence.

It prints seconds of each (best of --repeat), the ratio (target: within 5x), the flags
found per kind (each planted fault must be among them) and the peak memory of one
checks run (tracemalloc: Python and numpy allocations; target under 1 GiB) and the
process's peak RSS.

    .venv/bin/python bench/integrity_bench.py
    .venv/bin/python bench/integrity_bench.py --repeat 1 --profile
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import numpy as np
import pandas as pd

from scoring.settings import RuleSettings
from voting.integrity import checks

UNITS, SECTIONS, PER_LIST, STAFF_PER_UNIT = 44, 363, 250, 30
INVITATIONS, ANSWERED, WEB, NETWORKS = 40_000, 0.6, 0.7, 20_000
T0 = pd.Timestamp("2021-06-01 01:00", tz="UTC")


def _hash(phone: str) -> str:
    return hashlib.blake2b(phone.encode(), digest_size=16).hexdigest()


def data(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, int]]:
    rng = np.random.default_rng(seed)
    section_unit = np.sort(rng.integers(0, UNITS, SECTIONS))
    section_unit[:UNITS] = np.arange(UNITS)  # every unit has a section
    n = SECTIONS * PER_LIST * 2
    section = np.repeat(np.arange(SECTIONS), PER_LIST * 2)
    rounds = np.tile(np.repeat(np.array(["H1", "H2"]), PER_LIST), SECTIONS)
    # distinct random mobiles, then 2 % replaced by a number of another list
    numbers = rng.choice(np.arange(13_000_000_000, 19_999_999_999, 997, dtype=np.int64), n, replace=False)
    again = rng.random(n) < 0.02
    numbers[again] = numbers[rng.integers(0, n, again.sum())]
    planted: dict[str, int] = {}
    # planted: one number in four sections of three units, runs of six, a name eight times
    shared_sections = [10, 20, 200, 300]
    for s in shared_sections:
        numbers[s * PER_LIST * 2 + 5] = 13_655_550_000
    for k in range(5):
        base = (40 + k) * PER_LIST * 2
        numbers[base + 10: base + 16] = 15_800_000_100 + 1000 * k + np.arange(6)
    planted["sequential_run"] = 5
    phones = [str(p) for p in numbers]
    objects = pd.DataFrame({
        "section_id": section + 1, "unit_id": section_unit[section] + 1, "round": rounds,
        "phone_hash": [_hash(p) for p in phones], "name": [f"居民{i % 50_000}" for i in range(n)],
        "row": np.tile(np.arange(2, PER_LIST + 2), SECTIONS * 2), "masked": [f"{p[:3]}****{p[-4:]}" for p in phones],
        "block": numbers // 10_000, "tail": numbers % 10_000,
    }, columns=checks.OBJECT_COLUMNS)
    # a list can hold a number once (the database's unique key)
    objects = objects.drop_duplicates(["section_id", "round", "phone_hash"]).reset_index(drop=True)
    objects.loc[objects.index[(objects["section_id"] == 61) & (objects["round"] == "H1")][:8], "name"] = "张三"
    planted["repeated_name"] = 1
    planted["shared_phone"] = len(shared_sections)
    # staff: 30 phones per unit, two of them planted in their unit's first list
    staff_numbers = rng.integers(17_000_000_000, 17_999_999_999, UNITS * STAFF_PER_UNIT)
    staff = pd.DataFrame({"unit_id": np.repeat(np.arange(1, UNITS + 1), STAFF_PER_UNIT),
                          "phone_hash": [_hash(str(p)) for p in staff_numbers], "role": "工作人员"},
                         columns=checks.STAFF_COLUMNS)
    for k in range(3):
        row = objects.index[(objects["unit_id"] == k + 1)][3]
        objects.loc[row, "phone_hash"] = staff["phone_hash"][k * STAFF_PER_UNIT]
    planted["staff_phone"] = 3
    # last year: a fifth of each list again, and section 100's H1 list whole
    last = objects[rng.random(len(objects)) < 0.2][["section_id", "round", "phone_hash"]]
    copied = objects[(objects["section_id"] == 100) & (objects["round"] == "H1")][["section_id", "round", "phone_hash"]]
    fresh = pd.DataFrame({"section_id": objects["section_id"], "round": objects["round"],
                          "phone_hash": [f"{x:032x}" for x in rng.integers(0, 2**62, len(objects))]})
    last_year = pd.concat([last, copied, fresh.sample(frac=0.8, random_state=seed)], ignore_index=True)
    last_year = last_year.drop_duplicates().reset_index(drop=True)
    planted["copied_list"] = 1
    # invitations and votes: two rounds of 40,000, 60 % answered, 70 % of those on the web
    votes = []
    for round_ in ("H1", "H2"):
        invited = objects[objects["round"] == round_].sample(INVITATIONS, random_state=seed + len(round_))
        answered = invited[rng.random(INVITATIONS) < ANSWERED]
        web = rng.random(len(answered)) < WEB
        networks = np.array([f"{x:032x}" for x in rng.integers(0, 2**62, NETWORKS)], dtype=object)
        votes.append(pd.DataFrame({
            "section_id": answered["section_id"].to_numpy(), "round": round_,
            "network": np.where(web, networks[rng.integers(0, NETWORKS, len(answered))], None),
            "at": T0 + pd.to_timedelta(rng.uniform(0, 14 * 86_400, len(answered)), unit="s"),
            "choice": rng.choice(["satisfied", "basic", "unsatisfied"], len(answered), p=[0.8, 0.15, 0.05]),
        }, columns=checks.VOTE_COLUMNS))
    bursts = pd.DataFrame({"section_id": np.repeat([7, 77, 177], 12), "round": "H1", "network": "burst" * 6 + "aa",
                           "at": T0 + pd.to_timedelta(np.tile(np.arange(12) * 25, 3), unit="s"),
                           "choice": "satisfied"}, columns=checks.VOTE_COLUMNS)
    planted["answer_burst"] = 3
    return objects, staff, last_year, pd.concat([*votes, bursts], ignore_index=True), planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    objects, staff, last_year, votes, planted = data()
    limits = checks.Thresholds.of(RuleSettings())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"pandas {pd.__version__}")
    print(f"{len(objects):,} service objects in {objects['section_id'].nunique()} sections of "
          f"{objects['unit_id'].nunique()} units, {len(staff):,} staff phones, {len(last_year):,} numbers of last year, "
          f"{len(votes):,} votes ({votes['network'].notna().sum():,} on the web); best of {args.repeat}")
    best_base = best_size = best_checks = float("inf")
    found: list[checks.Found] = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        objects.groupby("phone_hash").agg(sections=("section_id", "nunique"), units=("unit_id", "nunique"))
        best_base = min(best_base, time.perf_counter() - start)
        start = time.perf_counter()
        objects.groupby("phone_hash").size()
        best_size = min(best_size, time.perf_counter() - start)
        start = time.perf_counter()
        found = checks.find_all(objects, staff, last_year, votes, limits)
        best_checks = min(best_checks, time.perf_counter() - start)
    tracemalloc.start()
    checks.find_all(objects, staff, last_year, votes, limits)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    kinds = Counter(f.kind for f in found)
    print()
    print(f"{'':<44}{'seconds':>10}{'x baseline':>12}")
    print(f"{'baseline: groupby(phone_hash) nunique x2':<44}{best_base:>10.3f}{1:>12.1f}")
    print(f"{'(for reference: groupby(phone_hash).size())':<44}{best_size:>10.3f}{best_size / best_base:>12.1f}")
    print(f"{'checks: find_all, six checks with evidence':<44}{best_checks:>10.3f}{best_checks / best_base:>12.1f}")
    print()
    print("flags: " + ", ".join(f"{kind} {kinds.get(kind, 0)}" for kind in
                                ("staff_phone", "shared_phone", "copied_list", "sequential_run", "repeated_name",
                                 "answer_burst")))
    missed = {k: n for k, n in planted.items() if kinds.get(k, 0) < n}
    print(f"planted faults found: {'PASS' if not missed else f'FAIL {missed}'} (planted: {planted})")
    print(f"peak memory of one checks run (tracemalloc): {peak / 2**20:,.1f} MiB; process peak RSS {rss:,.0f} MiB")
    print(f"target: within 5x the groupby — {'PASS' if best_checks <= 5 * best_base else 'FAIL'}; "
          f"under 1 GiB — {'PASS' if peak < 2**30 and rss < 1024 else 'FAIL'}")
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        checks.find_all(objects, staff, last_year, votes, limits)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
