"""What the load benchmarks (vote_bench.py, rating_bench.py, ballot_bench.py) share:
the PostgreSQL they use, the app started under gunicorn on a free loopback port, a
client request timed, and the client processes that drive a workload or the
/healthz ceiling."""
from __future__ import annotations

import atexit
import http.client
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
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

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}
        self.headers = headers or {}  # sent with every request (X-Forwarded-For behind a proxy)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, float, bytes]:
        """(status, seconds, body) of one request; `form` is sent url-encoded."""
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
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


# A client thread: (base URL, its share of the work, the queue it puts its
# (timings by request kind, errors, successes) on).
Worker = Callable[[str, object, "multiprocessing.Queue"], None]


def health_worker(base: str, seconds: float, out) -> None:
    """GET /healthz as fast as one client goes, for `seconds`."""
    browser = Browser(base)
    timings, errors = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status, took, _ = browser.get("/healthz")
        timings.append(took)
        if status != 200:
            errors.append(str(status))
    out.put(({"health": timings}, errors, 0))


def _process(worker: Worker, base: str, work, threads: int, split: bool, out) -> None:
    """A client process running `threads` threads (the GIL would make one process the
    bottleneck); with `split`, each thread takes its share of the list `work`."""
    pool = [threading.Thread(target=worker, args=(base, work[i::threads] if split else work, out))
            for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def drive(worker: Worker, base: str, work, processes: int, threads: int,
          split: bool = True) -> tuple[dict[str, list[float]], list[str], int, float]:
    """`worker` in `processes` × `threads` client threads: the list `work` shared out
    (`split`), or the same `work` for each (the ceiling's seconds). The timings by
    request kind, the errors, the successes and the elapsed seconds."""
    out = multiprocessing.Queue()
    parts = [work[i::processes] for i in range(processes)] if split else [work] * processes
    start = time.perf_counter()
    procs = [multiprocessing.Process(target=_process, args=(worker, base, part, threads, split, out)) for part in parts]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in range(processes * threads)]
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    done = 0
    for part_timings, part_errors, part_done in results:
        for name, values in part_timings.items():
            timings.setdefault(name, []).extend(values)
        errors += part_errors
        done += part_done
    return timings, errors, done, elapsed


def ceiling(base: str, seconds: float, processes: int, threads: int, label: str) -> float:
    """GET /healthz's requests/s with the same clients (printed with its latencies)."""
    timings, errors, _, elapsed = drive(health_worker, base, seconds, processes, threads, split=False)
    found = len(timings["health"]) / elapsed
    print(f"ceiling  GET /healthz ({label}): {found:,.0f} requests/s, p50 {pct(timings['health'], .5):.1f} ms, "
          f"p99 {pct(timings['health'], .99):.1f} ms, errors {len(errors)}")
    return found


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
