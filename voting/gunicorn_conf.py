"""gunicorn's settings for production:

    gunicorn -c python:voting.gunicorn_conf 'voting:create_app()'

Command-line options still win (-b, -w, --timeout, ...). The access and error logs go
to stdout and stderr through `RedactingLogger`: the citizens' link tokens, phone
numbers and secret parameters are taken out of every line (the path of `GET /v/<token>`
is logged as `/v/[已隐去]`), and with FLASK_LOG_FORMAT=json each line is a JSON object,
like the app's own lines (voting/core/logs.py), with the request's X-Request-ID.

Environment: WEB_CONCURRENCY (workers; default 2 × CPUs + 1, at most 8), GUNICORN_THREADS
(threads per worker, default 1), GUNICORN_MAX_REQUESTS and GUNICORN_MAX_REQUESTS_JITTER
(a worker is replaced after that many requests plus a random 0 to jitter; default 10000
and 1000; 0 never), FORWARDED_ALLOW_IPS (the proxies whose X-Forwarded-Proto is
believed; default 127.0.0.1,::1), FLASK_LOG_FORMAT and FLASK_LOG_LEVEL (as the app
reads them).
"""
from __future__ import annotations

import contextlib
import gc
import logging
import os

from gunicorn import glogging

from voting.core import logs

LOG_FORMAT = str(os.environ.get("FLASK_LOG_FORMAT") or "text").strip().lower()


def _int(name: str, default: int) -> int:
    value = (os.environ.get(name) or "").strip()
    return int(value) if value else default


workers = _int("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _int("GUNICORN_THREADS", 1)
# A safety net for memory a worker keeps after a big request (an upload read into
# pandas, a report): the operating system gets it back when the worker is replaced.
# A new worker imports the app (about 1.5 s of CPU), hence a high default; the jitter
# keeps a server's workers from being replaced at the same moment.
max_requests = _int("GUNICORN_MAX_REQUESTS", 10000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 1000)
timeout = 30  # a request taking longer is a stuck worker: killed and replaced
graceful_timeout = 20  # on restart, in-flight requests get this long to finish
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
errorlog = "-"
loglevel = str(os.environ.get("FLASK_LOG_LEVEL") or "info").strip().lower()
# The request line is %(r)s (method, path with its query, protocol), redacted.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'


class RedactedAtoms(glogging.SafeAtoms):
    """gunicorn's access-log values, each redacted when the format reads it."""

    def __getitem__(self, key: str):
        value = super().__getitem__(key)
        return logs.redact(value) if isinstance(value, str) else value


class RedactingLogger(glogging.Logger):
    """gunicorn's logger with the app's redaction filter on its handlers, the access
    log's values redacted, and JSON lines when FLASK_LOG_FORMAT=json."""

    atoms_wrapper_class = RedactedAtoms
    json = LOG_FORMAT == "json"

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                logs.protect(handler)
                if self.json and getattr(handler, "_gunicorn", False):  # its own, not a logconfig's
                    handler.setFormatter(logs.JsonFormatter())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.json:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        status = atoms["s"]
        with contextlib.suppress(TypeError, ValueError):
            status = int(status)
        request_id = atoms["{x-request-id}o"]
        fields = {
            "method": atoms["m"], "path": logs.redact(environ.get("RAW_URI") or atoms["U"]), "status": status,
            "duration_ms": atoms["M"], "bytes": atoms["B"], "remote_addr": atoms["h"], "user_agent": atoms["a"],
            "request_id": None if request_id == "-" else request_id,
        }
        try:
            self.access_log.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)
        except Exception:  # noqa: BLE001 - as gunicorn's own access(): never break a response over a log line
            self.error_log.exception("access log line failed")


logger_class = RedactingLogger


def on_starting(server) -> None:  # gunicorn's Arbiter
    """Warn when the app believes proxies' X-Forwarded-* headers (FLASK_PROXY_FIX) and
    gunicorn listens beyond this machine: the bind as really given (-b included), which
    `pingyi check-config` cannot see."""
    from voting import configured_flask, proxy_hops
    from voting.checks import proxy_exposure_warning

    try:
        hops = proxy_hops(configured_flask().config.get("PROXY_FIX"))
    except Exception:  # noqa: BLE001 - a bad value stops create_app, which says why
        return
    message = proxy_exposure_warning(hops, list(server.cfg.bind), "gunicorn 的 -b/bind")
    if message:
        server.log.warning(message)


def post_worker_init(worker) -> None:  # gunicorn's Worker
    """Once the worker has loaded the app: its objects (the modules, pandas, SQLAlchemy's
    tables and mappers: about 190,000 of them) are frozen out of the garbage collector's
    reach (gc.freeze). They live as long as the worker, and every full collection walked
    them all again: 100 ms, on one request in ten or so of the pages that make many
    objects (the score pages, the section list)."""
    gc.freeze()


def redact_filter() -> logging.Filter:
    """The filter this configuration puts on gunicorn's handlers (for a logconfig_dict
    of one's own: {"()": "voting.gunicorn_conf.redact_filter"})."""
    return logs.RedactFilter()
