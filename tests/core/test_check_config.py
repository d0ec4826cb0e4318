"""`pingyi check-config`: the configuration as the app loads it (FLASK_ variables,
DATABASE_URL), every problem at once in Chinese, exit status 1 on an error; with
FLASK_PRODUCTION=true what production needs is an error, elsewhere a warning. It runs
even when create_app itself refuses the configuration."""
from __future__ import annotations

import importlib.util
import os
import socket
import sys

import pytest
from click.testing import CliRunner

from tests.conftest import POSTGRES_URL, missing, postgres_available
from voting.checks import check_config, redis_problem
from voting.cli import cli

REDIS_URL = os.environ.get("PINGYI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STRONG = "s" * 40
PHONE = "p" * 40


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment: no setting of the machine's leaks in; an instance folder of
    the test's own. Returns a setter."""
    for name in list(os.environ):
        if name.startswith(("FLASK_", "TWILIO_", "PINGYI_", "ALIBABA_CLOUD_", "TENCENTCLOUD_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PINGYI_INSTANCE_PATH", str(tmp_path / "instance"))

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def run(command=check_config, args=()):
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def production(env, tmp_path, **values: str) -> None:
    """A production configuration that passes except for what `values` change (an empty
    value removes the variable)."""
    settings = {
        "FLASK_PRODUCTION": "true",
        "FLASK_SECRET_KEY": STRONG,
        "FLASK_PHONE_KEY": PHONE,
        "DATABASE_URL": POSTGRES_URL,
        "FLASK_RATELIMIT_STORAGE_URI": REDIS_URL,
        "FLASK_JOBS_URL": REDIS_URL,
        "FLASK_PUBLIC_URL": "https://pingyi.example.gov.cn",
    }
    settings.update(values)
    env(**{name: value for name, value in settings.items() if value})


def needs_postgres() -> None:
    if not postgres_available():
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}")


def needs_services() -> None:
    needs_postgres()
    if redis_problem(REDIS_URL, timeout=2):
        missing(f"Redis is not reachable at {REDIS_URL}")
    if importlib.util.find_spec("redis") is None:
        missing("the redis package is not installed (Flask-Limiter's Redis storage needs it)")


def test_a_good_production_configuration_passes(env, tmp_path):
    needs_services()
    production(env, tmp_path)
    result = run()
    assert result.exit_code == 0, result.output
    assert "配置检查通过" in result.output and "错误" not in result.output
    assert "生产环境" in result.output


def test_the_job_queue_must_answer_and_a_local_one_is_said(env, tmp_path, monkeypatch):
    needs_services()
    production(env, tmp_path, FLASK_JOBS_URL="redis://127.0.0.1:1/1")
    result = run()
    assert result.exit_code == 1 and "无法连接后台任务队列 FLASK_JOBS_URL" in result.output, result.output
    monkeypatch.delenv("FLASK_JOBS_URL")
    result = run()
    assert result.exit_code == 0 and "FLASK_JOBS_URL 未设为 redis://" in result.output, result.output


def test_a_missing_secret_key_in_production_fails_and_is_named(env, tmp_path):
    production(env, tmp_path, FLASK_SECRET_KEY="", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite'}",
               FLASK_RATELIMIT_STORAGE_URI="memory://")
    result = run()
    assert result.exit_code == 1
    assert "FLASK_SECRET_KEY" in result.output and "配置检查通过" not in result.output
    # Once only, though create_app refuses it too.
    assert result.output.count("FLASK_SECRET_KEY") == 1


def test_memory_rate_limit_storage_is_an_error_in_production(env, tmp_path):
    needs_postgres()
    production(env, tmp_path, FLASK_RATELIMIT_STORAGE_URI="memory://")
    result = run()
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("错误")]
    assert len(errors) == 1 and "memory://" in errors[0], result.output


def test_every_problem_is_reported_at_once(env, tmp_path):
    production(env, tmp_path, FLASK_SECRET_KEY="short", FLASK_PHONE_KEY="", DATABASE_URL="",
               FLASK_RATELIMIT_STORAGE_URI="memory://", FLASK_PUBLIC_URL="http://pingyi.example.gov.cn",
               PINGYI_SMS_SENDER="twilio")
    result = run()
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("错误")]
    for expected in ("FLASK_SECRET_KEY 太短", "FLASK_PHONE_KEY", "DATABASE_URL", "memory://", "https://",
                     "TWILIO_ACCOUNT_SID"):
        assert sum(expected in line for line in errors) >= 1, (expected, result.output)
    assert "Traceback" not in result.output


def test_the_database_and_redis_must_answer(env, tmp_path):
    closed = _closed_port()
    production(env, tmp_path, DATABASE_URL=f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{closed}/x",
               FLASK_RATELIMIT_STORAGE_URI=f"redis://:hunter2@127.0.0.1:{closed}/0")
    result = run()
    assert result.exit_code == 1
    assert "无法连接数据库" in result.output and "无法连接频率限制存储" in result.output
    assert "hunter2" not in result.output  # passwords are never printed


def test_redis_storage_without_the_redis_package_is_said_plainly(env, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)  # `import redis` fails, as where it is not installed
    production(env, tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite'}")
    result = run()
    assert result.exit_code == 1
    package = [line for line in result.output.splitlines() if "redis 包" in line]
    assert len(package) == 1 and "pip install redis" in package[0]
    assert "prerequisite" not in result.output  # Flask-Limiter's own error at start-up: not said twice


def test_sqlite_is_refused_in_production(env, tmp_path):
    production(env, tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite'}", FLASK_RATELIMIT_STORAGE_URI="memory://")
    result = run()
    assert result.exit_code == 1 and "不是 PostgreSQL" in result.output


def test_outside_production_it_passes_with_warnings(env, tmp_path):
    env(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite'}")
    result = run()
    assert result.exit_code == 0, result.output
    assert "配置检查通过" in result.output and "非生产环境" in result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("警告")]
    assert any("FLASK_SECRET_KEY" in line and "生产环境会拒绝" in line for line in warnings)
    assert any("memory://" in line for line in warnings)


def test_outside_production_a_broken_setting_is_still_an_error(env, tmp_path):
    env(DATABASE_URL=f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.sqlite'}", PINGYI_SMS_SENDER="pigeon")
    result = run()
    assert result.exit_code == 1
    assert "无法连接数据库" in result.output and "pigeon" in result.output


def test_pingyi_check_config_runs_when_the_app_cannot_start(env, tmp_path):
    """Through the `pingyi` group: create_app raises ConfigError, the command still reports."""
    production(env, tmp_path, FLASK_SECRET_KEY="", DATABASE_URL="", FLASK_RATELIMIT_STORAGE_URI="memory://")
    result = CliRunner().invoke(cli, ["check-config"])
    assert result.exit_code == 1, result.output
    assert "FLASK_SECRET_KEY" in result.output and "DATABASE_URL" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_ping_by_hand_where_the_redis_package_is_missing(monkeypatch):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        missing("Redis is not reachable at 127.0.0.1:6379")
    monkeypatch.setitem(sys.modules, "redis", None)
    assert redis_problem("redis://127.0.0.1:6379/0") is None
    assert redis_problem(f"redis://127.0.0.1:{_closed_port()}/0") is not None


# ---- behind proxies: FLASK_PROXY_FIX and where gunicorn listens --------------------------------


def _proxy_warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("警告") and "X-Forwarded-For" in line]


PROXY_CASES = [  # (environment, the address warned about; None: no warning)
    ({"FLASK_PROXY_FIX": "1", "GUNICORN_CMD_ARGS": "--workers 3 -b 0.0.0.0:8000"}, "0.0.0.0:8000"),
    ({"FLASK_PROXY_FIX": "1", "GUNICORN_CMD_ARGS": "--bind=[::]:8000"}, "[::]:8000"),
    ({"FLASK_PROXY_FIX": "2", "GUNICORN_CMD_ARGS": "-b 127.0.0.1:8000 -b 10.0.0.5:8000"}, "10.0.0.5:8000"),
    ({"FLASK_PROXY_FIX": "1", "PORT": "5000"}, "0.0.0.0:5000"),  # gunicorn's own default with PORT
    ({"FLASK_PROXY_FIX": "1", "GUNICORN_CMD_ARGS": "-b 127.0.0.1:8000 -b unix:/run/pingyi/gunicorn.sock"}, None),
    ({"FLASK_PROXY_FIX": "1", "GUNICORN_CMD_ARGS": "-b [::1]:8000", "PORT": "5000"}, None),
    ({"FLASK_PROXY_FIX": "1"}, None),  # gunicorn's default: 127.0.0.1:8000
    ({"FLASK_PROXY_FIX": "0", "GUNICORN_CMD_ARGS": "-b 0.0.0.0:8000"}, None),  # no header is believed
]


def test_trusted_proxy_headers_with_gunicorn_reachable_from_outside_is_warned(env, tmp_path, monkeypatch):
    env(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite'}")
    for settings, exposed in PROXY_CASES:
        for name in ("GUNICORN_CMD_ARGS", "PORT", "FLASK_PROXY_FIX"):
            monkeypatch.delenv(name, raising=False)
        env(**settings)
        result = run()
        assert result.exit_code == 0, result.output
        warnings = _proxy_warnings(result.output)
        if exposed is None:
            assert warnings == [], settings
        else:
            assert len(warnings) == 1 and exposed in warnings[0] and "127.0.0.1" in warnings[0], settings
            assert "unix:" in warnings[0] and "伪造客户端地址" in warnings[0]


def test_a_proxy_count_that_is_no_count_is_an_error_said_once(env, tmp_path, monkeypatch):
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    env(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite'}", FLASK_PROXY_FIX="yes")
    result = run()
    assert result.exit_code == 1
    assert result.output.count("FLASK_PROXY_FIX 应为") == 1 and "现在是 'yes'" in result.output


def test_gunicorn_warns_at_start_when_it_listens_beyond_this_machine(env, tmp_path):
    from voting import gunicorn_conf

    class Server:
        def __init__(self, bind: list[str]) -> None:
            self.cfg = type("Config", (), {"bind": bind})()
            self.warned: list[str] = []
            self.log = type("Log", (), {"warning": lambda _log, message: self.warned.append(message)})()

    env(FLASK_PROXY_FIX="1")
    for bind, warned in ((["0.0.0.0:8000"], True), (["127.0.0.1:8000"], False),
                         (["unix:/run/pingyi/gunicorn.sock"], False), (["127.0.0.1:8000", "192.0.2.10:8000"], True)):
        server = Server(bind)
        gunicorn_conf.on_starting(server)
        assert bool(server.warned) == warned, bind
        if warned:
            assert "FLASK_PROXY_FIX=1" in server.warned[0] and bind[-1] in server.warned[0]
    env(FLASK_PROXY_FIX="0")
    server = Server(["0.0.0.0:8000"])
    gunicorn_conf.on_starting(server)
    assert server.warned == []


def test_login_limits_that_cannot_work_are_an_error(env, tmp_path, monkeypatch):
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    env(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite'}", FLASK_STAFF_LOGIN_LOCK_FAILURES="500")
    result = run()
    assert result.exit_code == 1 and "STAFF_LOGIN_LOCK_FAILURES" in result.output and "100" in result.output


def test_pingyi_help_lists_the_platforms_commands_apart_from_flasks_own(env, tmp_path):
    env(DATABASE_URL=f"sqlite:///{tmp_path / 'help.sqlite'}")
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    ours, flasks = result.output.split("平台命令:")[1].split("Flask 自带的命令（开发与排错用）:")
    assert {"demo", "rounds", "import", "check-config"} <= {line.split()[0] for line in ours.splitlines() if line.strip()}
    assert {line.split()[0] for line in flasks.splitlines() if line.strip()} == {"limiter", "routes", "run", "shell"}


def test_a_mainland_providers_templates_and_callbacks_are_checked(env, tmp_path):
    env(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite'}", PINGYI_SMS_SENDER="tencent",
        TENCENTCLOUD_SECRET_ID="AKIDtest", TENCENTCLOUD_SECRET_KEY="k", PINGYI_TENCENT_SMS_APP_ID="1400787878",
        FLASK_SMS_SIGN="平阳县评议办", PINGYI_SMS_TEMPLATE_INVITATION="1843201:unit,section,code,closes")
    result = run()
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("警告")]
    # The kinds the platform sends with no template, each named by its variable; no callback secret.
    assert any("PINGYI_SMS_TEMPLATE_REMINDER（调查提醒）" in line and "PINGYI_SMS_TEMPLATE_ACCOUNT" in line
               and "PINGYI_SMS_TEMPLATE_INVITATION" not in line for line in warnings)
    assert any("PINGYI_SMS_CALLBACK_SECRET" in line for line in warnings)
    env(PINGYI_SMS_CALLBACK_SECRET="short")
    result = run()
    assert result.exit_code == 1 and "PINGYI_SMS_CALLBACK_SECRET 太短" in result.output
    env(PINGYI_SMS_CALLBACK_SECRET="c" * 40, PINGYI_SMS_CALLBACK_NETWORKS="203.0.113.0/24,nowhere")
    result = run()
    assert result.exit_code == 1 and "“nowhere”不是网段" in result.output
