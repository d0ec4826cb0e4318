"""Background jobs: the office's long work (opening a survey round, …) runs outside the
web request, with its progress on a page, and survives a killed worker.

Huey carries the work from the request to a worker: by default its SQLite storage, a
file in the instance folder, so the embedded platform needs no other server (`pingyi
demo` runs a worker in its own process); in production Redis (JOBS_URL=redis://…),
with `pingyi jobs worker` on as many machines as wanted. Huey was chosen because it is
the one well-kept job library that runs on both (RQ and Dramatiq need Redis or
RabbitMQ, procrastinate needs PostgreSQL).

The `job` table (voting/jobs/models.py, Job) is the truth about each job; Huey's queue only
wakes a worker, so a lost message is no lost job:
- `submit` adds the row in the caller's transaction; after the commit, `wake` puts its
  id on Huey's queue.
- A worker claims the row with one UPDATE (queued, or running with a stale heartbeat),
  so two workers never run the same job; while the job runs, a thread of the worker
  writes its progress and a heartbeat every JOBS_HEARTBEAT_SECONDS.
- A worker killed at any point leaves the job running with a heartbeat that goes
  stale (older than JOBS_STALE_SECONDS). `recover` (at every worker's start and every
  minute on each worker) queues such jobs again, and wakes queued jobs that nobody
  took; the job runs again from the start, at most MAX_ATTEMPTS times.

So every kind of job must be restartable: it makes nothing visible before its last
transaction, and finding its work already done, it reports that instead of doing it
twice (opening a round: the invitations, their messages and the open status commit
together).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from voting.core.errors import DomainError
from voting.jobs.models import Job, JobStatus
from voting.core.models import utcnow

_log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a job whose worker dies this often is failed, not retried for ever
GAVE_UP = "任务所在的后台进程已中断 {n} 次（可能是内存不足或服务器重启），任务未完成，也没有留下做了一半的结果。请联系技术人员检查后台进程后重试。"
CRASHED = "任务出错，没有完成，也没有留下做了一半的结果。技术人员可以在后台日志中按任务编号 {id} 查找原因。"


@dataclass
class Progress:
    """How far a job got: the job's code calls it, the heartbeat thread (or the CLI's
    progress bar) reads it. Cheap: no database write per call."""

    done: int = 0
    total: int = 0
    stage: str = ""
    on_change: Callable[[Progress], None] | None = field(default=None, repr=False)

    def __call__(self, done: int | None = None, total: int | None = None, stage: str | None = None) -> None:
        if total is not None:
            self.total = total
        if done is not None:
            self.done = done
        if stage is not None:
            self.stage = stage
        if self.on_change:
            self.on_change(self)

    def advance(self, n: int = 1) -> None:
        self(done=self.done + n)


# A kind of job: run(app, params, progress) -> result (JSON: what the job page shows).
Runner = Callable[[Flask, dict[str, Any], Progress], dict[str, Any]]
KINDS: dict[str, Runner] = {}


def kind(name: str) -> Callable[[Runner], Runner]:
    """Register a kind of job under `name` (the services' job functions use it)."""

    def register(run: Runner) -> Runner:
        KINDS[name] = run
        return run

    return register


# Light work with no page of its own (moving sealed ballots into the ballot box): a
# function of (app, **params) that a worker runs, and that a sweep (every minute on
# each worker) makes up for when its message is lost or no worker ran.
Task = Callable[..., None]
TASKS: dict[str, Task] = {}
SWEEPS: list[Callable[[Flask], None]] = []


def task(name: str) -> Callable[[Task], Task]:
    """Register light work under `name`, to be queued by `later`."""

    def register(run: Task) -> Task:
        TASKS[name] = run
        return run

    return register


def sweep(run: Callable[[Flask], None]) -> Callable[[Flask], None]:
    """Register a check that every worker runs every minute with `recover`."""
    SWEEPS.append(run)
    return run


def later(app: Flask, name: str, **params: Any) -> None:
    """Queue light work `name` for a worker (at once with JOBS_URL=immediate). If that
    fails (Redis down), its sweep does the work later."""
    if name not in TASKS:
        raise DomainError(f"没有这种后台任务：{name}")
    try:
        huey_of(app).pingyi_run_task(name, params)
    except Exception:  # noqa: BLE001 - the sweep makes up for it
        _log.exception("task %s could not be queued; its sweep will do the work", name)


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def recent(session: Session, limit: int) -> list[Job]:
    """The latest `limit` jobs, newest first, without their results (a report's carries its file)."""
    return list(session.scalars(select(Job).options(defer(Job.result)).order_by(Job.id.desc()).limit(limit)))


def latest(session: Session, kind_name: str, campaign_id: int) -> Job | None:
    """The campaign's newest job of this kind."""
    return session.scalar(select(Job).where(Job.kind == kind_name, Job.campaign_id == campaign_id)
                          .order_by(Job.id.desc()).limit(1))


def submit(session: Session, kind_name: str, params: dict[str, Any], *, title: str, key: str | None = None,
           campaign_id: int | None = None, actor: str = "") -> Job:
    """A new job in the caller's transaction (flush; the caller commits, then `wake`s
    it). With `key`, an unfinished job with that key is returned instead: a second
    click, or two at once, start one job."""
    if kind_name not in KINDS:
        raise DomainError(f"没有这种后台任务：{kind_name}")
    if key is not None:
        running = session.scalar(select(Job).where(Job.active_key == key))
        if running is not None:
            return running
    job = Job(kind=kind_name, params=params, active_key=key, title=title, campaign_id=campaign_id, created_by=actor,
              status=JobStatus.queued, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:  # the same key was submitted a moment ago by another request
        running = session.scalar(select(Job).where(Job.active_key == key)) if key else None
        if running is None:
            raise
        return running
    return job


def wake(app: Flask, job_id: int) -> None:
    """Put a committed job on Huey's queue. If that fails (Redis down), the job stays
    queued and `recover` wakes it later."""
    try:
        huey_of(app).pingyi_run_job(job_id)
    except Exception:  # noqa: BLE001 - the job is safe in its table
        _log.exception("job %s could not be queued; the next recovery sweep will queue it", job_id)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:64]


def execute(app: Flask, job_id: int, worker: str | None = None, progress: Progress | None = None,
            now: Callable[[], datetime] = utcnow) -> JobStatus | None:
    """Claim job `job_id` and run it to its end; None when it was not ours to run
    (finished, or running on a live worker)."""
    worker = worker or worker_name()
    sessions = app.extensions["pingyi.sessions"]
    with sessions() as session:
        claimed = session.execute(
            update(Job).where(Job.id == job_id, _claimable(now(), _stale(app)))
            .values(status=JobStatus.running, attempts=Job.attempts + 1, worker=worker, heartbeat_at=now(),
                    started_at=now(), done=0, total=0, stage="")  # an earlier attempt's progress is void
            .returning(Job.kind, Job.params, Job.attempts)
        ).first()
        session.commit()
    if claimed is None:
        return None
    job_kind, params, attempt = claimed
    if attempt > MAX_ATTEMPTS:
        return _finish(sessions, job_id, worker, attempt, JobStatus.failed, error=GAVE_UP.format(n=attempt - 1))
    run = KINDS.get(job_kind)
    if run is None:
        return _finish(sessions, job_id, worker, attempt, JobStatus.failed, error=f"没有这种后台任务：{job_kind}")
    progress = progress or Progress()
    beat = _Heartbeat(sessions, job_id, worker, attempt, progress, now,
                      float(app.config["JOBS_HEARTBEAT_SECONDS"]))
    beat.start()
    try:
        result = run(app, dict(params or {}), progress)
    except DomainError as error:
        # `job_result`: what the page shows with the message (a refused file's bad rows).
        status, outcome = JobStatus.failed, {"error": str(error), "result": getattr(error, "job_result", None) or {}}
    except Exception:  # noqa: BLE001 - said on the job's page, logged for the technicians
        _log.exception("job %s (%s) failed", job_id, job_kind)
        status, outcome = JobStatus.failed, {"error": CRASHED.format(id=job_id)}
    else:
        status, outcome = JobStatus.done, {"result": result or {}}
    finally:
        beat.stop()
    return _finish(sessions, job_id, worker, attempt, status, done=progress.done, total=progress.total,
                   stage=progress.stage[:200], **outcome)


def _stale(app: Flask) -> timedelta:
    return timedelta(seconds=float(app.config["JOBS_STALE_SECONDS"]))


def _claimable(moment: datetime, stale: timedelta):  # a SQL condition
    return or_(Job.status == JobStatus.queued,
               (Job.status == JobStatus.running) & (Job.heartbeat_at < moment - stale))


def _finish(sessions, job_id: int, worker: str, attempt: int, status: JobStatus, **values: Any) -> JobStatus | None:
    """Record how the job ended, unless it is no longer this attempt's (another worker
    took it over meanwhile)."""
    if status is JobStatus.done:
        values["error"] = ""
    with sessions() as session:
        ended = session.execute(
            update(Job).where(Job.id == job_id, Job.worker == worker, Job.attempts == attempt,
                              Job.status == JobStatus.running)
            .values(status=status, active_key=None, finished_at=utcnow(), **values)
        ).rowcount
        session.commit()
    return status if ended else None


class _Heartbeat:
    """A thread of the worker that writes the running job's progress and heartbeat
    every `every` seconds, so the job's own code never waits on that."""

    def __init__(self, sessions, job_id: int, worker: str, attempt: int, progress: Progress,
                 now: Callable[[], datetime], every: float) -> None:
        self.sessions, self.job_id, self.worker, self.attempt = sessions, job_id, worker, attempt
        self.progress, self.now, self.every = progress, now, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a missed beat is no failed job
                _log.warning("job %s: heartbeat not written", self.job_id, exc_info=True)

    def beat(self) -> None:
        with self.sessions() as session:
            session.execute(
                update(Job).where(Job.id == self.job_id, Job.worker == self.worker, Job.attempts == self.attempt,
                                  Job.status == JobStatus.running)
                .values(heartbeat_at=self.now(), done=self.progress.done, total=self.progress.total,
                        stage=self.progress.stage[:200])
            )
            session.commit()


def recover(app: Flask, now: datetime | None = None) -> list[int]:
    """Queue again the jobs whose worker died (running, heartbeat stale) and wake every
    job left queued for longer than JOBS_STALE_SECONDS: ids of the jobs woken."""
    now = now or utcnow()
    stale = now - _stale(app)
    with app.extensions["pingyi.sessions"]() as session:
        dead = session.scalars(
            update(Job).where(Job.status == JobStatus.running, Job.heartbeat_at < stale)
            .values(status=JobStatus.queued, stage="后台进程中断，等待重新开始")
            .returning(Job.id)
        ).all()
        waiting = session.scalars(select(Job.id).where(Job.status == JobStatus.queued, Job.created_at < stale)).all()
        session.commit()
    woken = sorted(set(dead) | set(waiting))
    for job_id in woken:
        _log.warning("job %s: %s", job_id, "worker died, queued again" if job_id in dead else "woken again")
        wake(app, job_id)
    return woken


def run_here(app: Flask, job_id: int, on_change: Callable[[Progress], None] | None = None) -> Job:
    """Run a job in this process (the CLI, with its progress bar) and return its row."""
    execute(app, job_id, progress=Progress(on_change=on_change))
    with app.extensions["pingyi.sessions"]() as session:
        return session.get(Job, job_id)


# ---- Huey --------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Check JOBS_URL now; Huey itself is made at its first use (a SQLite queue is a
    file: a command that queues nothing must not leave one behind)."""
    import voting.tasks  # noqa: F401 - registers the kinds of job

    _queue_kind(app)


def _queue_kind(app: Flask) -> str:
    url = app.config.get("JOBS_URL") or ""
    if url == "immediate":
        return "immediate"
    if url.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    if url == "" or url.startswith("sqlite:///"):
        return "sqlite"
    from voting.core.config import ConfigError

    raise ConfigError(f"JOBS_URL 无法识别：{url}（可用 redis://…、sqlite:///文件路径，或留空）")


_making = threading.Lock()


def huey_of(app: Flask):  # a huey.Huey
    """This app's Huey, from JOBS_URL: "" (a SQLite file in the instance folder),
    sqlite:///path, redis://…, or "immediate" (a job runs at once in the process that
    submits it: the tests), with the two tasks every worker runs."""
    # Flask's `current_app` is a proxy, bound only inside a request or a command: the
    # tasks made here run later, in a worker, and must hold the app itself.
    app = app._get_current_object() if hasattr(app, "_get_current_object") else app
    with _making:
        if "pingyi.huey" not in app.extensions:
            app.extensions["pingyi.huey"] = _make_huey(app)
    return app.extensions["pingyi.huey"]


def _make_huey(app: Flask):
    from huey import Huey, RedisHuey, SqliteHuey, crontab

    url = app.config.get("JOBS_URL") or ""
    queue = _queue_kind(app)
    if queue == "immediate":
        huey = Huey("pingyi", immediate=True, results=False)
    elif queue == "redis":
        huey = RedisHuey("pingyi", url=url, results=False)
    else:
        path = url.removeprefix("sqlite:///") or str(Path(app.instance_path) / "jobs.sqlite")
        huey = SqliteHuey("pingyi", filename=path, results=False)

    @huey.task(name="pingyi.job")
    def run_job(job_id: int) -> None:
        with app.app_context():
            execute(app, job_id)

    @huey.task(name="pingyi.task")
    def run_task(name: str, params: dict[str, Any]) -> None:
        with app.app_context():
            TASKS[name](app, **params)

    @huey.periodic_task(crontab(minute="*"), name="pingyi.recover")
    def sweep_all() -> None:
        with app.app_context():
            run_sweeps(app)

    huey.pingyi_run_job, huey.pingyi_run_task = run_job, run_task
    return huey


def run_sweeps(app: Flask) -> None:
    """What every worker does every minute: `recover`, then the registered sweeps."""
    recover(app)
    for check in SWEEPS:
        try:
            check(app)
        except Exception:  # noqa: BLE001 - one failing check stops no other
            _log.exception("sweep %s failed", check.__name__)


def run_worker(app: Flask, workers: int = 2) -> None:
    """A job worker in this process until it is stopped (`pingyi jobs worker`)."""
    recover(app)
    huey_of(app).create_consumer(workers=workers, worker_type="thread", periodic=True).run()


def start_worker_thread(app: Flask) -> None:
    """A job worker in a thread of this process (the demo's: no second command to run)."""
    import time

    huey = huey_of(app)

    def work() -> None:
        swept = 0.0
        while True:
            try:
                if time.monotonic() - swept >= 60:
                    swept = time.monotonic()
                    with app.app_context():
                        run_sweeps(app)
                task = huey.dequeue()
                if task is None:
                    time.sleep(0.5)
                    continue
                huey.execute(task)
            except Exception:  # noqa: BLE001 - the demo's worker keeps going
                _log.exception("demo job worker: retrying in 5 s")
                time.sleep(5)

    threading.Thread(target=work, name="demo-jobs", daemon=True).start()
