"""What the load benchmarks (vote_bench.py, ballot_bench.py) share: the PostgreSQL
they use, the app started under gunicorn on a free loopback port, and a client
request timed."""
from __future__ import annotations

import atexit
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
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


CHECKOUT = Path(__file__).resolve().parents[1]


def serve(gunicorn: str, url: str, secret: str, workers: int, worker_threads: int,
          log: Path | None = None, jobs_worker: bool = False) -> tuple[subprocess.Popen, str]:
    """The app under gunicorn on `url`'s database, rate limits off (every client comes
    from 127.0.0.1), the console SMS sender; the process and its base URL, once
    /healthz answers. With `log`, the server's output goes to that file. With
    `jobs_worker`, a background job worker (`pingyi jobs worker`, on the instance
    folder's SQLite queue) runs beside it, as in production, until the bench exits."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "FLASK_SECRET_KEY": secret, "FLASK_PHONE_KEY": secret, "PINGYI_INSTANCE_PATH": tempfile.mkdtemp(),
           "FLASK_RATELIMIT_ENABLED": "false", "PINGYI_SMS_SENDER": "console",
           # the server and the worker run this checkout's code, not whatever the installed
           # `pingyi` points at: a worker of other code fails its moves silently, and the
           # ballots then run without the box's batches beside them, faster than in production
           "PYTHONPATH": os.pathsep.join(filter(None, (str(CHECKOUT), os.environ.get("PYTHONPATH"))))}
    if jobs_worker:
        pingyi = shutil.which("pingyi", path=str(Path(gunicorn).parent)) or sys.exit("pingyi is not installed")
        worker = subprocess.Popen([pingyi, "jobs", "worker", "--threads", "1"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(worker.terminate)
    server = subprocess.Popen(
        [gunicorn, "-w", str(workers), "--threads", str(worker_threads), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "voting:create_app()"],
        env=env,
        **({"stdout": log.open("w"), "stderr": subprocess.STDOUT} if log is not None else {}),
    )
    return server, wait_until_up(server, port, 30, "gunicorn did not start")


def wait_until_up(server: subprocess.Popen, port: int, seconds: float, failure: str) -> str:
    """The served app's base URL once its /healthz answers; exits with `failure` if the
    server ends or `seconds` pass first."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
            return base
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                sys.exit(failure)
            time.sleep(0.2)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One visitor over loopback, as lean as the standard library allows: a fresh
    http.client connection per request (gunicorn's sync workers close each one), the
    cookies the app sets kept by name (one host, every cookie Path=/), no redirect
    followed. The same few microseconds of client work per request whatever the
    request, so that a ceiling and a workload measured with it carry alike the cost of
    clients that share the server's cores. (urllib with a CookieJar cost the vote
    requests twice the client CPU of a ceiling request.)"""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, float, bytes]:
        """(status, seconds, body) of one request; `form` is sent url-encoded."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        took = time.perf_counter() - start
        for cookie in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = cookie.partition("=")
            value, _, attributes = rest.partition(";")
            if "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response.status, took, data

    def get(self, path: str) -> tuple[int, float, bytes]:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, float, bytes]:
        return self.request("POST", path, form)


def csrf_token(page: bytes | str) -> str | None:
    """The CSRF token of the page's form."""
    found = CSRF.search(page.decode("utf-8", "replace") if isinstance(page, bytes) else page)
    return next(g for g in found.groups() if g) if found else None


def timed(opener, request) -> tuple[int, float, bytes]:
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


def create_schema():
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


def drop_schema(admin, schema: str) -> None:
    from sqlalchemy import text

    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
