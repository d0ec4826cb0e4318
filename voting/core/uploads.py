"""Big uploads, saved for the background job that reads them (voting/tasks.py).

A file of IMPORT_JOB_BYTES or more is not parsed by the web request: it is copied (a
chunk at a time) to the instance folder's `uploads/` under a random name, the job is
submitted with that name, and the job removes the file when it ends, whether it
stored the list or refused the file. A worker killed mid-job leaves the file for the
job's restart. All saved files together stay under IMPORT_SPOOL_MAX_BYTES; files older
than KEEP (a job nobody ran) are removed when the next upload is saved.
"""
from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path, PurePath

from flask import Flask
from werkzeug.datastructures import FileStorage

from voting.core.errors import DomainError

KEEP_SECONDS = 2 * 24 * 3600
_NAME = re.compile(r"^[0-9a-f]{32}\.(xlsx|csv)$")


class SpoolFullError(DomainError):
    status = 503


def upload_size(storage: FileStorage) -> int:
    """The uploaded file's size in bytes, without reading it."""
    stream = storage.stream
    here = stream.tell()
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(here)
    return size


def is_big(app: Flask, storage: FileStorage) -> bool:
    return upload_size(storage) >= int(app.config["IMPORT_JOB_BYTES"])


def spool_dir(app: Flask) -> Path:
    return Path(app.instance_path) / "uploads"


def save_upload(app: Flask, storage: FileStorage) -> str:
    """Save the upload for a job; its name in the spool."""
    folder = spool_dir(app)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _sweep(folder)
    size = upload_size(storage)
    used = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    limit = int(app.config["IMPORT_SPOOL_MAX_BYTES"])
    if used + size > limit:
        raise SpoolFullError(f"服务器上等待导入的文件已达 {limit / 2**20:.0f} MB 的上限，请等前面的导入完成后再上传。")
    suffix = PurePath(storage.filename or "").suffix.lower()
    name = f"{uuid.uuid4().hex}{suffix if suffix in ('.xlsx', '.csv') else '.csv'}"
    partial = folder / f"{name}.partial"
    storage.stream.seek(0)
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        storage.save(out)
    partial.replace(folder / name)
    return name


def path_of(app: Flask, name: str) -> Path:
    """The saved upload `name` (only a name this module made)."""
    if not _NAME.match(name or ""):
        raise DomainError("上传文件的名称无效")
    return spool_dir(app) / name


def discard(app: Flask, name: str) -> None:
    path_of(app, name).unlink(missing_ok=True)


def _sweep(folder: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for file in folder.iterdir():
        try:
            if file.is_file() and file.stat().st_mtime < cutoff:
                file.unlink(missing_ok=True)
        except OSError:
            continue
