"""The office's background jobs (voting/jobs/jobs.py): a job's page with its progress bar
(updated in place by a small script, or by a plain refresh without JavaScript), its
progress as JSON for that script, the file a job produced (the Excel report), and the
latest jobs."""
from __future__ import annotations

import base64
import io
from datetime import timezone

from flask import Blueprint, abort, render_template, send_file, url_for
from flask_login import current_user

from voting.jobs import jobs
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.jobs.models import Job, JobStatus
from voting.core.models import utcnow
from voting.web.common import OFFICE, STAFF

bp = Blueprint("jobs", __name__, url_prefix="/office/jobs")
RECENT = 50
# A job still queued after this long has no worker taking it: the page says so.
UNTAKEN_SECONDS = 30
NO_WORKER = "还没有后台进程接手这个任务：请技术人员确认 pingyi jobs worker 正在运行（演示版 pingyi demo 自带一个）。"


def _job(job_id: int) -> Job:
    job = jobs.get_job(get_session(), job_id)
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


# The page of what a kind of job worked on (the campaign's own; open_round: its round's).
NEXT_PAGES = {"issue_accounts": "online.index", "report": "scores.report"}


def next_page(job: Job) -> str | None:
    """Where the office goes once the job is done: the page of what it worked on."""
    round_id = (job.params or {}).get("round_id")
    if job.kind == "open_round" and round_id:
        return url_for("rounds.detail", round_id=round_id)
    if job.kind == "import_objects":  # its import's report, or the upload page again
        import_id = (job.result or {}).get("import_id") if job.status is JobStatus.done else None
        return url_for("office.import_report", import_id=import_id) if import_id else url_for("office.import_objects")
    endpoint = NEXT_PAGES.get(job.kind)
    return url_for(endpoint) if endpoint else None


def produced_file(job: Job) -> dict | None:
    """The file a finished job made (name, mimetype, size, data in base64), if it still
    has it (a newer Excel report of the campaign replaces the older one's)."""
    found = (job.result or {}).get("file") if job.status is JobStatus.done else None
    return found if isinstance(found, dict) and found.get("data") else None


def _own_upload(job_id: int) -> Job:
    """The job, to the office; to a liaison only the import of a list they uploaded."""
    job = _job(job_id)
    if current_user.role not in OFFICE and not (job.kind == "import_objects" and job.created_by == current_user.username):
        abort(403)
    return job


@bp.get("/<int:job_id>")
@roles_required(*STAFF)
def page(job_id: int):
    job = _own_upload(job_id)
    return render_template("jobs/job.html", job=job, state=state(job), next_page=next_page(job), file=produced_file(job))


@bp.get("/<int:job_id>/file")
@roles_required(*OFFICE)
def file(job_id: int):
    """The file the job produced, to the office only (the scores are the office's)."""
    produced = produced_file(_job(job_id))
    if produced is None:
        abort(404, "这个任务没有可下载的文件（可能还没完成，或已被之后生成的报告取代）")
    response = send_file(io.BytesIO(base64.b64decode(produced["data"])), mimetype=produced["mimetype"],
                         as_attachment=True, download_name=produced["name"])
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:job_id>/progress")
@roles_required(*STAFF)
def progress(job_id: int):
    response = state(_own_upload(job_id))
    return response, 200, {"Cache-Control": "no-store"}


@bp.get("/")
@roles_required(*OFFICE)
def index():
    return render_template("jobs/jobs.html", jobs=jobs.recent(get_session(), RECENT))
