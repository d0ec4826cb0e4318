"""Memory and time of a big service-object upload (服务对象名单), each phase in a
fresh Python process so that its peak RSS is its own.

Files (cached in bench/out/, git-ignored; written as Excel writes them: shared strings,
deflate, every cell with its reference, under every xlsx safety limit of the upload):

* `big`: 600,000 rows (363 sections x 1,653), about 24 MB: more than the 400,000 rows
  a file may have, so the import refuses it; the issue's file.
* `max`: 399,300 rows (363 sections x 1,100, the last 600 of each repeating an earlier
  phone written another way): the biggest file the import accepts, 181,500 stored.
* `county`: 181,500 rows (363 x 500), every row stored: a county's year.
* `small`: 5,000 rows (10 x 500): a liaison's file, the import's fixed cost.

Phases, for each file:

* `read, calamine frame` (the baseline of the old path): `pd.read_excel(engine="calamine",
  dtype=str)`, what the import used to do before checking anything;
* `read, stream`: every row of the file through `voting.core.tables.stream_table`
  (the reader the import uses now), nothing kept;
* `import`: `objects.import_objects` + commit on SQLite, as the web request (small
  files) or the job (big ones) calls it; the figures are then ratios to the baselines.

    .venv/bin/python bench/import_memory_bench.py                   # all four files
    .venv/bin/python bench/import_memory_bench.py --files big county
    .venv/bin/python bench/import_memory_bench.py --postgres        # the imports on PostgreSQL too

See bench/README.md.
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from import_bench import (  # noqa: E402 - the same helpers as the speed bench
    DEFAULT_POSTGRES_URL, MIB, SEED, YEAR, PostgresSchema, _digits, _peak_mib, _rss_mib, listed_sections,
    postgres_reachable, sections_csv,
)

OUT = HERE / "out"
HEADER = ("单位名称", "科室", "姓名", "单位(职务)", "手机号码", "事项内容(处罚类案件名称)", "是否处罚对象")
# name: (sections, rows per section, duplicates per section, accepted)
FILES = {
    "big": (363, 1653, 0, False),
    "max": (363, 1100, 600, True),
    "county": (363, 500, 0, True),
    "small": (10, 500, 0, True),
}


# --------------------------------------------------------------------------- the file


def _rows(sections: int, rows: int, duplicates: int, seed: int = SEED):
    from voting.demo.campaign import synth_objects

    rng = random.Random(seed)
    yield HEADER
    for s in listed_sections()[:sections]:
        distinct = rows - duplicates
        penalized = min(distinct, rng.randint(100, 130)) if s.is_enforcement else rng.randint(0, 3)
        part = synth_objects(rng, distinct, min(penalized, distinct))
        records = list(part.itertuples(index=False, name=None))
        for _ in range(duplicates):
            name, org, phone, matter, pen = records[rng.randrange(distinct)]
            digits = _digits(phone)
            records.append((name, org, f"{digits[:3]} {digits[3:7]} {digits[7:]}", matter, pen))
        for record in records:
            yield (s.unit, s.section, *record)


def _column(i: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]


def build_xlsx(path: Path, sections: int, rows: int, duplicates: int) -> int:
    """An xlsx as Excel writes it (shared strings); its row count with the header."""
    strings: dict[str, int] = {}
    sheet = io.StringIO()
    sheet.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
    n = 0
    for n, record in enumerate(_rows(sections, rows, duplicates), start=1):
        cells = "".join(
            f'<c r="{_column(i)}{n}" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>'
            for i, value in enumerate(record)
        )
        sheet.write(f'<row r="{n}">{cells}</row>')
    sheet.write("</sheetData></worksheet>")
    shared = io.StringIO()
    shared.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{n * 7}" '
                 f'uniqueCount="{len(strings)}">')
    for value in strings:
        shared.write(f"<si><t>{escape(value)}</t></si>")
    shared.write("</sst>")
    main = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            "</Types>"),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{main}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'xmlns:r="{main}"><sheets><sheet name="服务对象" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{main}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{main}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": sheet.getvalue(),
        "xl/sharedStrings.xml": shared.getvalue(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.xlsx")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode("utf-8"))
    partial.replace(path)
    return n


# --------------------------------------------------------------------------- children


def child_read_frame(path: Path) -> dict:
    import pandas as pd

    gc.collect()
    base = _rss_mib()
    start = time.perf_counter()
    frame = pd.read_excel(path, header=None, dtype=str, engine="calamine", sheet_name=0)
    return {"seconds": time.perf_counter() - start, "peak_mib": _peak_mib(), "base_mib": base, "rows": len(frame)}


def child_read_stream(path: Path) -> dict:
    from voting.lists.objects import COLUMNS
    from voting.core.tables import stream_table

    gc.collect()
    base = _rss_mib()
    start = time.perf_counter()
    rows = 0
    with path.open("rb") as file:
        stream = stream_table(file, path.name, COLUMNS)
        for chunk in stream.chunks():
            rows += len(chunk)
    return {"seconds": time.perf_counter() - start, "peak_mib": _peak_mib(), "base_mib": base, "rows": rows}


def child_import(path: Path, url: str) -> dict:
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
    gc.collect()
    base = _rss_mib()
    start = time.perf_counter()
    outcome, read = "", 0
    try:
        # The old path took the upload's bytes; the new one its saved file.
        summary = objects.import_objects(session, campaign, RoundKind.H1, _upload(path), path.name,
                                         all_penalized_reported=True)
        session.commit()
        read, outcome = summary.rows_read, f"{summary.stored:,} stored"
    except ImportRejected as exc:
        session.rollback()
        read, outcome = exc.rows_read or 0, f"rejected: {exc.errors[0]}"[:70]
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    stored = session.scalar(select(func.count()).select_from(ServiceObject))
    session.close()
    engine.dispose()
    return {"seconds": seconds, "peak_mib": peak, "base_mib": base, "rows": read, "stored": stored,
            "outcome": outcome}


def _upload(path: Path):
    import inspect

    from voting.lists import objects

    if "path" in str(inspect.signature(objects.import_objects).parameters.get("data", "")):
        return path
    return path.read_bytes()


# --------------------------------------------------------------------------- parent


def run_child(extra: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result_path = Path(f.name)
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "--result", str(result_path), *extra]
        process = subprocess.run(command, stderr=subprocess.PIPE, text=True)
        if process.returncode != 0:
            raise RuntimeError(f"phase failed (exit {process.returncode}):\n{process.stderr}")
        return json.loads(result_path.read_text())
    finally:
        result_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Peak memory and time of big service-object uploads.")
    parser.add_argument("--files", nargs="+", choices=list(FILES), default=list(FILES))
    parser.add_argument("--postgres", action="store_true", help="also import on PostgreSQL")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--no-stream", action="store_true", help="skip the streaming read (the old code has none)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        path = Path(args.file)
        result = {"frame": lambda: child_read_frame(path), "stream": lambda: child_read_stream(path),
                  "import": lambda: child_import(path, args.url)}[args.phase]()
        Path(args.result).write_text(json.dumps(result))
        return 0

    table = []
    for name in args.files:
        sections, rows, duplicates, _ = FILES[name]
        path = OUT / f"memory-{name}-{sections}x{rows}-dup{duplicates}-seed{SEED}.xlsx"
        if args.rebuild or not path.exists():
            print(f"building {path.name} ...", flush=True)
            start = time.perf_counter()
            build_xlsx(path, sections, rows, duplicates)
            print(f"  built in {time.perf_counter() - start:.1f} s", flush=True)
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(i.file_size for i in archive.infolist())
        print(f"{name}: {path.stat().st_size / MIB:.1f} MiB, {unpacked / MIB:.0f} MiB unpacked, "
              f"{sections * rows:,} rows", flush=True)
        phases = [("read, calamine frame", ["--phase", "frame"])]
        if not args.no_stream:
            phases.append(("read, stream", ["--phase", "stream"]))
        with tempfile.TemporaryDirectory(prefix="pingyi-bench-") as tmp:
            phases.append(("import, SQLite", ["--phase", "import", "--url", f"sqlite:///{Path(tmp) / 'b.sqlite'}"]))
            results = []
            for label, extra in phases:
                print(f"  phase: {label} ...", flush=True)
                results.append((label, run_child([*extra, "--file", str(path)])))
            if args.postgres:
                why = postgres_reachable(args.postgres_url)
                if why:
                    print(f"  PostgreSQL not reachable: {why}")
                else:
                    with PostgresSchema(args.postgres_url) as url:
                        print("  phase: import, PostgreSQL ...", flush=True)
                        results.append(("import, PostgreSQL",
                                        run_child(["--phase", "import", "--url", url, "--file", str(path)])))
        table.append((name, sections * rows, results))

    print()
    header = (f"{'file':<7} {'rows':>8} {'phase':<22} {'seconds':>8} {'peak MiB':>9} {'start MiB':>9} "
              f"{'x frame s':>9} {'x frame MiB':>11}  outcome")
    print(header)
    print("-" * len(header))
    for name, rows, results in table:
        frame = results[0][1]
        for label, r in results:
            print(f"{name:<7} {rows:>8,} {label:<22} {r['seconds']:>8.2f} {r['peak_mib']:>9.0f} {r['base_mib']:>9.0f} "
                  f"{r['seconds'] / frame['seconds']:>9.2f} {r['peak_mib'] / frame['peak_mib']:>11.2f}  "
                  f"{r.get('outcome', '')}")
    print("(peak: the phase's whole process, VmHWM; start: RSS before the timed part; x frame: ratio to "
          "the same file's plain calamine read into a DataFrame, what the old import began with)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
