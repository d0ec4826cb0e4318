"""gunicorn's settings module (voting/gunicorn_conf.py) as gunicorn itself loads it, in
a process of its own with the environment given: workers are replaced after
GUNICORN_MAX_REQUESTS requests plus up to GUNICORN_MAX_REQUESTS_JITTER (a safety net
for memory kept after big requests), by default 10000 and 1000."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("gunicorn")

LOAD = """
import sys
from gunicorn.app.wsgiapp import WSGIApplication
sys.argv = ["gunicorn", "-c", "python:voting.gunicorn_conf", "voting:create_app()"]
cfg = WSGIApplication().cfg
print(cfg.max_requests, cfg.max_requests_jitter)
"""
NAMES = ("GUNICORN_MAX_REQUESTS", "GUNICORN_MAX_REQUESTS_JITTER", "GUNICORN_CMD_ARGS")


def loaded(**environ: str) -> tuple[int, int]:
    """(max_requests, max_requests_jitter) as gunicorn reads them from the module."""
    env = {k: v for k, v in os.environ.items() if k not in NAMES} | environ
    found = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, timeout=60, check=True)
    requests, jitter = found.stdout.split()
    return int(requests), int(jitter)


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, (10000, 1000)),
    ({"GUNICORN_MAX_REQUESTS": "2000", "GUNICORN_MAX_REQUESTS_JITTER": "50"}, (2000, 50)),
    ({"GUNICORN_MAX_REQUESTS": "0"}, (0, 1000)),  # 0: never replaced
    ({"GUNICORN_MAX_REQUESTS": " ", "GUNICORN_MAX_REQUESTS_JITTER": ""}, (10000, 1000)),  # blank: the default
])
def test_workers_are_replaced_after_the_configured_number_of_requests(environ, expected):
    assert loaded(**environ) == expected
