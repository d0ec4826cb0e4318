"""Benchmark of the service-object import (服务对象名单) at full county size.

Builds an xlsx of every section's list (363 sections x 500 objects = 181,500 rows by
default, realistic names, phones and matters from `voting.demo.campaign.synth_objects`) and
times, each phase in a fresh Python process so that one phase's memory does not
count towards another's peak:

* plain pandas `read_excel(path)` with the default engine (openpyxl): the baseline;
* plain pandas `read_excel(path, engine="calamine")`: for comparison;
* the project's full import (`voting.lists.objects.import_objects`: read, validate,
  dedupe, insert, then commit) on SQLite and on PostgreSQL.

Targets: the full import within 1.5x the plain openpyxl read, and under 1 GiB peak RSS.

    .venv/bin/python bench/import_bench.py            # full size, both databases
    .venv/bin/python bench/import_bench.py --sections 20 --rows-per-section 100
    .venv/bin/python bench/import_bench.py --profile  # + cProfile of the SQLite import

See bench/README.md.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"  # git-ignored
DEFAULT_POSTGRES_URL = os.environ.get(
    "PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
YEAR = 2021
SEED = 2021
RATIO_TARGET = 1.5
PEAK_TARGET_MIB = 1024
MIB = 1024 * 1024


# --------------------------------------------------------------------------- the file


def sections_csv() -> bytes:
    """The real 2021 Pingyang section list (voting/data/pingyang-2021-sections.csv) with
    the demo's 管理执法类 marks, so that the enforcement rule (>= 100 penalized) runs."""
    from voting.demo.campaign import demo_sections_csv

    return demo_sections_csv()


def listed_sections():
    from voting.lists.sections import parse_sections

    return parse_sections(sections_csv(), "pingyang-2021-sections.csv")


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-11:]


def build_xlsx(path: Path, sections: int, rows: int, duplicates: int, seed: int = SEED) -> None:
    """`rows` objects for each of the first `sections` sections; the last `duplicates`
    rows of each section repeat an earlier phone of that section, written another way."""
    import pandas as pd

    from voting.demo.campaign import synth_objects

    rng = random.Random(seed)
    parts = []
    for s in listed_sections()[:sections]:
        penalized = min(rows, rng.randint(100, 130)) if s.is_enforcement else rng.randint(0, 3)
        part = synth_objects(rng, rows, min(penalized, rows))
        for i in range(rows - duplicates, rows):
            phone = _digits(part.at[rng.randrange(rows - duplicates), "手机号码"])
            part.at[i, "手机号码"] = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
        part.insert(0, "科室", s.section)
        part.insert(0, "单位名称", s.unit)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.xlsx")
    frame.to_excel(partial, index=False)  # openpyxl, like most real files' writers
    partial.replace(path)


# --------------------------------------------------------------------------- children


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def _peak_mib() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: subprocess starts the
    child with vfork, and Linux carries the parent's peak into the child's ru_maxrss at
    exec (and RUSAGE_CHILDREN is a maximum over all children), so those would report
    the parent's peak (e.g. from building the xlsx) instead of the phase's."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_read(path: Path, engine: str | None, expect_rows: int) -> dict:
    import pandas as pd

    gc.collect()
    base = _rss_mib()
    start = time.perf_counter()
    # engine="openpyxl" is pandas' default for xlsx (pandas 3 warns that it will change).
    frame = pd.read_excel(path, engine=engine)
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    assert len(frame) == expect_rows, f"read {len(frame)} rows, expected {expect_rows}"
    return {"seconds": seconds, "peak_mib": peak, "base_mib": base, "rows": len(frame)}


def child_import(path: Path, url: str, expect_rows: int, expect_stored: int, confirm: bool,
                 profile: int = 0) -> dict:
    from sqlalchemy import func, select
    from sqlalchemy.orm import sessionmaker

    from voting.core.db import make_engine
    from voting.core.errors import ImportRejected
    from voting.schema import Base
    from voting.lists.models import RoundKind, ServiceObject
    from voting.lists import campaigns, objects, sections

    engine = make_engine(url, phone_key="import bench phone key")
    Base.metadata.create_all(engine)
    session = sessionmaker(engine, expire_on_commit=False)()
    campaign = campaigns.create_campaign(session, YEAR)
    sections.apply_sections(session, campaign, sections.parse_sections(sections_csv(), "sections.csv"))
    session.commit()
    data = path.read_bytes()
    gc.collect()
    base = _rss_mib()

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    try:
        summary = objects.import_objects(
            session, campaign, RoundKind.H1, data, path.name, all_penalized_reported=confirm
        )
    except ImportRejected as exc:
        shown = "\n".join(f"  {error}" for error in exc.errors[:20])
        raise SystemExit(f"import rejected: {exc}\n{shown}") from None
    session.commit()
    seconds = time.perf_counter() - start
    if profiler:
        profiler.disable()
    peak = _peak_mib()

    stored = session.scalar(select(func.count()).select_from(ServiceObject))
    session.close()
    engine.dispose()
    assert summary.rows_read == expect_rows, f"read {summary.rows_read} rows, expected {expect_rows}"
    assert summary.stored == expect_stored, f"summary.stored {summary.stored}, expected {expect_stored}"
    assert stored == expect_stored, f"service_object has {stored} rows, expected {expect_stored}"
    if profiler:
        import pstats

        print(f"\n--- cProfile of import_objects + commit on {engine.dialect.name} "
              f"({seconds:.1f} s under the profiler), by cumulative time ---")
        pstats.Stats(profiler).strip_dirs().sort_stats("cumulative").print_stats(profile)
        print("--- by own time ---")
        pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(profile)
        sys.stdout.flush()
    return {"seconds": seconds, "peak_mib": peak, "base_mib": base, "rows": stored,
            "duplicates": len(summary.duplicates)}


def child_main(args: argparse.Namespace) -> None:
    path = Path(args.file)
    if args.phase == "read":
        result = child_read(path, args.engine, args.expect_rows)
    else:
        result = child_import(path, args.url, args.expect_rows, args.expect_stored, args.confirm,
                              args.profile_lines)
    Path(args.result).write_text(json.dumps(result))


# --------------------------------------------------------------------------- parent


def run_child(extra: list[str]) -> dict:
    """Run one phase in a fresh interpreter; its result, or an exception with its stderr."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result_path = Path(f.name)
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "--result", str(result_path), *extra]
        process = subprocess.run(command, stderr=subprocess.PIPE, text=True)
        if process.returncode != 0:
            raise RuntimeError(f"phase failed (exit {process.returncode}):\n{process.stderr}")
        if process.stderr.strip():
            print(process.stderr.rstrip(), file=sys.stderr)
        return json.loads(result_path.read_text())
    finally:
        result_path.unlink(missing_ok=True)


def postgres_reachable(url: str) -> str | None:
    """None when reachable, else why not."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "skip"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class PostgresSchema:
    """A schema of its own for one run, dropped afterwards (as tests/conftest.py does)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine

        self.admin = create_engine(url)
        self.name = f"bench_{uuid.uuid4().hex[:16]}"
        separator = "&" if "?" in url else "?"
        self.url = f"{url}{separator}options=-csearch_path%3D{self.name}"

    def __enter__(self) -> str:
        from sqlalchemy import text

        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
        return self.url

    def __exit__(self, *exc) -> None:
        from sqlalchemy import text

        with self.admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def best_of(repeat: int, once) -> dict:
    """Fastest time, highest peak over `repeat` fresh runs."""
    results = [once() for _ in range(repeat)]
    best = min(results, key=lambda r: r["seconds"])
    return {**best, "peak_mib": max(r["peak_mib"] for r in results),
            "all_seconds": [r["seconds"] for r in results]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark of the service-object import.")
    parser.add_argument("--rows-per-section", type=int, default=500,
                        help="objects per section (default 500, the per-round maximum)")
    parser.add_argument("--sections", type=int, default=None, help="first N sections of the 363 (default all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each phase; the best time is reported")
    parser.add_argument("--duplicates", type=int, default=0,
                        help="rows per section that repeat an earlier phone (default 0: every row is stored)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL import")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the xlsx even if bench/out/ has it")
    parser.add_argument("--profile", nargs="?", type=int, const=25, default=0, metavar="LINES",
                        help="also profile the SQLite import with cProfile (top LINES, default 25)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    # Internal: one phase in a child process.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=("read", "import"), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--expect-rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--expect-stored", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--confirm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-lines", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0

    import pandas as pd

    from scoring.settings import RuleSettings

    rules = RuleSettings()
    total_sections = len(listed_sections())
    sections = min(args.sections or total_sections, total_sections)
    rows = args.rows_per_section
    if not 0 <= args.duplicates < rows:
        sys.exit("--duplicates must be below --rows-per-section")
    if rows - args.duplicates > rules.max_objects_per_section:
        print(f"note: {rows - args.duplicates} distinct objects per section exceed the "
              f"{rules.max_objects_per_section} limit; the import will reject the file", file=sys.stderr)
    expect_rows = sections * rows
    expect_stored = sections * (rows - args.duplicates)
    # Sections too small for 100 penalized rows: the uploader confirms all were reported.
    confirm = rows - args.duplicates < rules.min_penalized_objects

    path = OUT / f"objects-{sections}x{rows}-dup{args.duplicates}-seed{SEED}.xlsx"
    if args.rebuild or not path.exists():
        print(f"building {path.relative_to(HERE.parent)} ({expect_rows:,} rows) ...", flush=True)
        start = time.perf_counter()
        build_xlsx(path, sections, rows, args.duplicates)
        print(f"  built in {time.perf_counter() - start:.1f} s", flush=True)

    import openpyxl
    import sqlalchemy
    from importlib.metadata import version

    print(f"file: {path.relative_to(HERE.parent)}, {path.stat().st_size / MIB:.1f} MiB, "
          f"{sections} sections x {rows} rows = {expect_rows:,} rows, {expect_stored:,} to store")
    print(f"python {platform.python_version()}, pandas {pd.__version__}, openpyxl {openpyxl.__version__}, "
          f"python-calamine {version('python-calamine')}, SQLAlchemy {sqlalchemy.__version__}, "
          f"{os.cpu_count()} CPUs, best of {args.repeat}", flush=True)

    results: list[tuple[str, dict | None, str, bool]] = []  # label, result, note, is_import

    def read(engine: str) -> dict:
        return run_child(["--phase", "read", "--file", str(path), "--engine", engine,
                          "--expect-rows", str(expect_rows)])

    def do_import(url: str, profile: int = 0) -> dict:
        extra = ["--phase", "import", "--file", str(path), "--url", url, "--expect-rows", str(expect_rows),
                 "--expect-stored", str(expect_stored), "--profile-lines", str(profile)]
        return run_child(extra + (["--confirm"] if confirm else []))

    def sqlite_once(profile: int = 0) -> dict:
        with tempfile.TemporaryDirectory(prefix="pingyi-bench-") as tmp:
            return do_import(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", profile)

    def postgres_once() -> dict:
        with PostgresSchema(args.postgres_url) as url:
            return do_import(url)

    print("phase: plain read, openpyxl ...", flush=True)
    baseline = best_of(args.repeat, lambda: read("openpyxl"))
    results.append(("plain read_excel, openpyxl (baseline)", baseline, "", False))
    print("phase: plain read, calamine ...", flush=True)
    results.append(("plain read_excel, calamine", best_of(args.repeat, lambda: read("calamine")), "", False))
    print("phase: full import, SQLite ...", flush=True)
    results.append(("full import, SQLite", best_of(args.repeat, sqlite_once), "", True))
    if args.no_postgres:
        results.append(("full import, PostgreSQL", None, "skipped (--no-postgres)", True))
    else:
        why = postgres_reachable(args.postgres_url)
        if why:
            print(f"note: PostgreSQL not reachable at {args.postgres_url}: {why}; skipped", flush=True)
            results.append(("full import, PostgreSQL", None, "skipped: not reachable", True))
        else:
            print("phase: full import, PostgreSQL ...", flush=True)
            results.append(("full import, PostgreSQL", best_of(args.repeat, postgres_once), "", True))

    failed = False
    header = f"{'phase':<40} {'seconds':>8} {'x openpyxl':>10} {'peak RSS MiB':>12} {'(start MiB)':>11}  verdict"
    print()
    print(f"service-object import, {expect_rows:,} rows "
          f"(targets: <= {RATIO_TARGET}x the plain openpyxl read, peak < {PEAK_TARGET_MIB} MiB)")
    print(header)
    print("-" * len(header))
    for label, result, note, is_import in results:
        if result is None:
            print(f"{label:<40} {'-':>8} {'-':>10} {'-':>12} {'-':>11}  {note}")
            continue
        ratio = result["seconds"] / baseline["seconds"]
        verdict = ""
        if is_import:
            misses = []
            if ratio > RATIO_TARGET:
                misses.append(f"ratio {ratio:.2f} > {RATIO_TARGET}")
            if result["peak_mib"] >= PEAK_TARGET_MIB:
                misses.append(f"peak {result['peak_mib']:.0f} >= {PEAK_TARGET_MIB} MiB")
            verdict = "PASS" if not misses else "FAIL (" + "; ".join(misses) + ")"
            failed |= bool(misses)
            verdict += f", {result['rows']:,} rows stored"
        print(f"{label:<40} {result['seconds']:>8.2f} {ratio:>10.2f} {result['peak_mib']:>12.0f} "
              f"{result['base_mib']:>11.0f}  {verdict}")
    if args.repeat > 1:
        for label, result, _, _ in results:
            if result:
                print(f"  {label}: " + ", ".join(f"{s:.2f}" for s in result["all_seconds"]))
    print("(peak RSS: the phase's whole process, interpreter and imports included; "
          "start: its RSS just before the timed part)")

    if args.profile:
        print("\nphase: cProfile of the SQLite import ...", flush=True)
        sqlite_once(args.profile)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
