"""What the load benchmarks (vote_bench.py, ballot_bench.py) share: the PostgreSQL
they use, the app started under gunicorn on a free loopback port, and a client
request timed."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

POSTGRES_URL = os.environ.get("PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)" name="csrf_token"|name="csrf_token" value="([^"]+)"')


def gunicorn_path() -> str:
    found = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if not found:
        sys.exit("gunicorn is not installed: .venv/bin/pip install '.[bench]'")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(gunicorn: str, url: str, secret: str, workers: int, worker_threads: int,
          log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """The app under gunicorn on `url`'s database, rate limits off (every client comes
    from 127.0.0.1), the console SMS sender; the process and its base URL, once
    /healthz answers. With `log`, the server's output goes to that file."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "FLASK_SECRET_KEY": secret, "FLASK_PHONE_KEY": secret, "PINGYI_INSTANCE_PATH": tempfile.mkdtemp(),
           "FLASK_RATELIMIT_ENABLED": "false", "PINGYI_SMS_SENDER": "console"}
    server = subprocess.Popen(
        [gunicorn, "-w", str(workers), "--threads", str(worker_threads), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "voting:create_app()"],
        env=env,
        **({"stdout": log.open("w"), "stderr": subprocess.STDOUT} if log is not None else {}),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
            return server, base
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                sys.exit("gunicorn did not start")
            time.sleep(0.2)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def timed(opener, request) -> tuple[int, float, bytes]:  # noqa: ANN001
    """(status, seconds, body) of one request."""
    start = time.perf_counter()
    try:
        with opener.open(request, timeout=30) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return status, time.perf_counter() - start, body


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` (seconds) in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def create_schema():  # noqa: ANN201
    """A fresh PostgreSQL schema of the run's own (the process exits with the reason
    when PostgreSQL does not answer): (admin engine, schema name, URL into it)."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # noqa: BLE001
        sys.exit(f"PostgreSQL is not reachable at {POSTGRES_URL}: {type(error).__name__}")
    return admin, schema, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def drop_schema(admin, schema: str) -> None:  # noqa: ANN001
    from sqlalchemy import text

    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
