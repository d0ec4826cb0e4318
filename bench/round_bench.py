"""Benchmark: opening a county-sized survey round as a background job, on PostgreSQL.

Sets up a fresh schema with the real 363 sections, every section's H1 list
(--per-section objects each: 111 gives 40,293) and a draft round that invites all of
them; then, in the same run:

* the job: `pingyi jobs worker` in a process of its own opens the round (sample, make
  every invitation and its SMS, write them); timed from the job's start to its end as
  the job table records them, and the worker's peak RSS (VmHWM);
* the baseline: a bare COPY of the same rows (the invitations and outbox messages the
  job wrote, read back, the tables emptied) into the same tables, then the commit;
  three times, the fastest counted (the conservative figure for the ratio).

Targets: the job within 3x the bare COPY; the worker's peak under 500 MiB.

    .venv/bin/python bench/round_bench.py
    .venv/bin/python bench/round_bench.py --per-section 20   # a quick look

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
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from loadgen import create_schema, drop_schema  # noqa: E402

RATIO_TARGET = 3.0
PEAK_TARGET_MIB = 500
SECRET = "bench secret " * 3


def set_up(app, per_section: int) -> tuple[int, int]:
    """Sections, lists and a draft round; (round id, objects listed)."""
    import pandas as pd

    from voting.demo.campaign import demo_sections_csv, synth_objects
    from voting.schema import Base
    from voting.lists.models import RoundKind
    from voting.core.models import utcnow
    from voting.lists import campaigns, history, objects, sections
    from voting.survey import rounds

    Base.metadata.create_all(app.extensions["pingyi.engine"])
    with app.extensions["pingyi.sessions"]() as session:
        campaign = campaigns.create_campaign(session, 2021)
        sections.apply_sections(session, campaign, sections.parse_sections(demo_sections_csv(), "sections.csv"))
        rng = random.Random(2021)
        parts = []
        for row in history.section_statuses(session, campaign).to_dict("records"):
            part = synth_objects(rng, per_section, penalized=min(per_section, 100) if row["is_enforcement"] else 0)
            part.insert(0, "科室", row["section"])
            part.insert(0, "单位名称", row["unit"])
            parts.append(part)
        frame = pd.concat(parts)
        objects.import_objects(session, campaign, RoundKind.H1, frame.to_csv(index=False).encode(), "county.csv",
                               all_penalized_reported=True)
        survey = rounds.create_round(session, campaign, RoundKind.H1, utcnow() + timedelta(days=14), per_section)
        session.commit()
        return survey.id, len(frame)


def run_job(app, url: str, instance: Path, round_id: int) -> tuple[float, float, int]:
    """Open the round through a real worker: (job seconds, wall seconds, worker peak KiB)."""
    from voting.jobs import jobs
    from voting import tasks
    from voting.jobs.models import Job, JobStatus
    from voting.survey.models import SurveyRound

    environment = {**os.environ, "DATABASE_URL": url, "PINGYI_INSTANCE_PATH": str(instance),
                   "FLASK_SECRET_KEY": SECRET, "FLASK_PHONE_KEY": SECRET, "FLASK_JOBS_URL": app.config["JOBS_URL"],
                   "FLASK_LOG_LEVEL": "WARNING"}
    log = (instance / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-c", "from voting.cli import main; main()", "jobs", "worker",
                               "--threads", "1"], env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(3)  # the worker is up and idle
        with app.extensions["pingyi.sessions"]() as session:
            job = tasks.open_round_job(session, session.get(SurveyRound, round_id), "https://pingyi.example.cn", "bench")
            session.commit()
            job_id = job.id
        woken = time.perf_counter()
        jobs.wake(app, job_id)
        while True:
            with app.extensions["pingyi.sessions"]() as session:
                found = session.get(Job, job_id)
                if found.status in (JobStatus.done, JobStatus.failed):
                    break
            if worker.poll() is not None:
                sys.exit(f"the worker stopped: see {instance / 'worker.log'}")
            time.sleep(0.05)
        wall = time.perf_counter() - woken
        if found.status is JobStatus.failed:
            sys.exit(f"the job failed: {found.error}")
        peak = _peak_kib(worker.pid)
        return (found.finished_at - found.started_at).total_seconds(), wall, peak
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def bare_copy(app, runs: int = 3) -> tuple[list[float], int]:
    """The job's rows read back, then `runs` times: the tables emptied, the same rows
    COPYed back in and committed: (seconds of each run, rows)."""
    from psycopg.types.json import Json

    engine = app.extensions["pingyi.engine"]
    tables = ("sms_outbox", "invitation")  # the order the foreign key wants
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            stored = {}
            for table in tables:
                cursor.execute(f'SELECT * FROM "{table}"')
                # JSON values read back as dicts: as psycopg writes them (the job's own
                # bind processing does the same).
                rows = [tuple(Json(v) if isinstance(v, dict) else v for v in row) for row in cursor.fetchall()]
                stored[table] = ([d.name for d in cursor.description], rows)
        times = []
        for _ in range(runs):
            with raw.cursor() as cursor:
                cursor.execute('TRUNCATE "invitation", "sms_outbox" CASCADE')
            raw.commit()
            started = time.perf_counter()
            with raw.cursor() as cursor:
                for table in tables:
                    names, rows = stored[table]
                    columns = ", ".join(f'"{n}"' for n in names)
                    with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
                        for row in rows:
                            copy.write_row(row)
            raw.commit()
            times.append(time.perf_counter() - started)
        return times, sum(len(rows) for _names, rows in stored.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-section", type=int, default=111, help="objects listed and invited per section")
    args = parser.parse_args()

    from voting import create_app

    admin, schema, url = create_schema()
    instance = Path(tempfile.mkdtemp(prefix="pingyi-round-bench-"))
    os.environ["PINGYI_INSTANCE_PATH"] = str(instance)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "PHONE_KEY": SECRET, "LOG_CONFIGURE": False,
                      "JOBS_URL": f"sqlite:///{instance / 'jobs.sqlite'}"})
    try:
        started = time.perf_counter()
        round_id, listed = set_up(app, args.per_section)
        print(f"setup: 363 sections, {listed:,} objects listed, a draft round inviting all "
              f"({time.perf_counter() - started:.1f} s)")
        job_seconds, wall, peak_kib = run_job(app, url, instance, round_id)
        copy_times, rows = bare_copy(app)
        copy_seconds = min(copy_times)
        ratio = job_seconds / copy_seconds
        peak = peak_kib / 1024
        print(f"job: opened the round ({listed:,} invitations and as many messages) in {job_seconds:.2f} s "
              f"({wall:.2f} s from waking the worker to seeing it done)")
        print(f"bare COPY of the same {rows:,} rows, committed: {copy_seconds:.2f} s "
              f"(fastest of {', '.join(f'{t:.2f}' for t in copy_times)})")
        print(f"job / bare COPY: {ratio:.2f}x (target <= {RATIO_TARGET:.0f}x): {'met' if ratio <= RATIO_TARGET else 'NOT met'}")
        print(f"worker peak RSS: {peak:.0f} MiB (target < {PEAK_TARGET_MIB} MiB): "
              f"{'met' if peak < PEAK_TARGET_MIB else 'NOT met'}")
    finally:
        app.extensions["pingyi.engine"].dispose()
        drop_schema(admin, schema)


if __name__ == "__main__":
    main()
