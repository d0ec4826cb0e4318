"""The office's background jobs (voting/jobs.py): a job's page with its progress bar
(updated in place by a small script, or by a plain refresh without JavaScript), its
progress as JSON for that script, and the latest jobs."""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, abort, render_template, url_for
from sqlalchemy import select

from voting.auth import roles_required
from voting.db import get_session
from voting.models import Job, JobStatus, utcnow
from voting.views.common import OFFICE

bp = Blueprint("jobs", __name__, url_prefix="/office/jobs")
RECENT = 50
# A job still queued after this long has no worker taking it: the page says so.
UNTAKEN_SECONDS = 30
NO_WORKER = "还没有后台进程接手这个任务:请技术人员确认 pingyi jobs worker 正在运行(演示版 pingyi demo 自带一个)。"


def _job(job_id: int) -> Job:
    job = get_session().get(Job, job_id)
    if job is None:
        abort(404, "没有这个后台任务")
    return job


def state(job: Job) -> dict:
    """What the page and the script show: counts, percent, time left, the outcome."""
    finished = job.status in (JobStatus.done, JobStatus.failed)
    percent = 100 if job.status is JobStatus.done else (int(100 * job.done / job.total) if job.total else 0)
    left = None
    created = job.created_at if job.created_at.tzinfo else job.created_at.replace(tzinfo=timezone.utc)
    untaken = job.status is JobStatus.queued and (utcnow() - created).total_seconds() > UNTAKEN_SECONDS
    if job.status is JobStatus.running and job.started_at and 0 < job.done < job.total:
        started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=timezone.utc)
        spent = (utcnow() - started).total_seconds()
        left = int(spent * (job.total - job.done) / job.done)
    return {
        "id": job.id, "status": job.status.value, "label": job.status.label, "done": job.done, "total": job.total,
        "percent": percent, "stage": job.stage, "seconds_left": left, "finished": finished,
        "message": (job.result or {}).get("message", "") if job.status is JobStatus.done else job.error,
        "untaken": NO_WORKER if untaken else "",
    }


def next_page(job: Job) -> str | None:
    """Where the office goes once the job is done: the page of what it worked on."""
    round_id = (job.params or {}).get("round_id")
    return url_for("rounds.detail", round_id=round_id) if job.kind == "open_round" and round_id else None


@bp.get("/<int:job_id>")
@roles_required(*OFFICE)
def page(job_id: int):
    job = _job(job_id)
    return render_template("job.html", job=job, state=state(job), next_page=next_page(job))


@bp.get("/<int:job_id>/progress")
@roles_required(*OFFICE)
def progress(job_id: int):
    response = state(_job(job_id))
    return response, 200, {"Cache-Control": "no-store"}


@bp.get("/")
@roles_required(*OFFICE)
def index():
    jobs = get_session().scalars(select(Job).order_by(Job.id.desc()).limit(RECENT)).all()
    return render_template("jobs.html", jobs=jobs)
