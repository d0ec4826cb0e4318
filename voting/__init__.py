"""The platform: app factory, models, web flows, services, CLI (the composition root)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from voting.core.config import ConfigError
from voting.core.numbers import WholeNumberConverter
from voting.core.resources import resource_dir


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = configured_flask(test_config)
    _finish_config(app)
    # Before any rule is added: every `<int:…>` in the app's URLs is checked as
    # voting.core.numbers checks numbers (ASCII digits, at most a column's range), else 404.
    app.url_map.converters["int"] = WholeNumberConverter
    hops = proxy_hops(app.config.get("PROXY_FIX"))
    if hops:
        # Behind N reverse proxies: the client's address (rate limits) and the public
        # URL (Twilio's signature covers it) come from their X-Forwarded-* headers,
        # each read N entries from its right end: what the N proxies added, not what
        # the client sent. Without PROXY_FIX none of them is read at all.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]

    from voting.staff import auth
    from voting import blueprints, cli
    import voting.schema  # noqa: F401 - every package's tables mapped before the first query
    from voting.core import db, errors_web, logs
    from voting.jobs import jobs
    from voting.core.extensions import csrf, limiter, login_manager

    logs.init_app(app)
    db.init_app(app)
    # Each campaign's scorecard (and figures like it), computed once per change for the
    # pages that read it.
    from voting.scores.scorecards import ScoreCache

    app.extensions["pingyi.score_cache"] = ScoreCache()
    cli.init_app(app)
    # Without Flask-Login's context processor: voting/web/templating.py says why.
    login_manager.init_app(app, add_context_processor=False)
    csrf.init_app(app)
    limiter.init_app(app)
    auth.init_app(app)
    errors_web.init_app(app)
    blueprints.init_app(app)
    jobs.init_app(app)
    _init_sms(app)
    return app


MAX_PROXY_HOPS = 5


def proxy_hops(value: object) -> int:
    """FLASK_PROXY_FIX as a number of proxies (0 to MAX_PROXY_HOPS); ConfigError for
    anything else: a wrong count believes a forged address or the proxy's own."""
    if value is None or value is False or value == "":
        return 0  # "no proxy", however said; `true` is refused: it names no count
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PROXY_HOPS:
        raise ConfigError(f"FLASK_PROXY_FIX 应为应用前面反向代理的层数：0（没有代理，不相信任何 X-Forwarded-* 头）"
                          f"到 {MAX_PROXY_HOPS} 的整数，如 1；现在是 {value!r}")
    return value


def configured_flask(test_config: dict[str, Any] | None = None) -> Flask:
    """The bare Flask object with its configuration loaded, nothing checked or filled in
    yet: what `create_app` builds on and `pingyi check-config` (voting/checks.py) checks."""
    instance_path = os.environ.get("PINGYI_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        template_folder=str(resource_dir("templates")),
        static_folder=str(resource_dir("templates") / "static"),
    )
    app.config.from_object("voting.core.config")
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
        if os.environ.get("DATABASE_URL"):
            app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    else:
        app.config.update(test_config)
    return app


def _init_sms(app: Flask) -> None:
    from sms.senders import SenderConfigError, sender_from_env
    from voting.outbox.outbox import console_sink

    environ = {**os.environ, **app.config.get("SMS_ENV", {})}
    try:
        app.extensions["pingyi.sms_sender"] = sender_from_env(environ, sink=console_sink(
            app.extensions["pingyi.sessions"], keep_secrets=not app.config["PRODUCTION"]))
    except SenderConfigError as error:
        raise ConfigError(str(error)) from None


def _finish_config(app: Flask) -> None:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # Cookies: Secure (HTTPS only) in production unless the operator set it either way.
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config.get(name) is None:
            app.config[name] = bool(app.config["PRODUCTION"])
    if not app.config.get("DATABASE_URL"):
        if app.config["PRODUCTION"]:
            raise ConfigError("生产环境必须设置 DATABASE_URL(PostgreSQL)")
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'pingyi.sqlite'}"
    # Outside production: one random key each, kept in the instance folder so that
    # restarts keep sessions (SECRET_KEY) and can read the stored phone numbers (PHONE_KEY).
    _instance_key(app, "SECRET_KEY", "secret_key", "生产环境必须设置 FLASK_SECRET_KEY")
    _instance_key(app, "PHONE_KEY", "phone_key", "生产环境必须设置 FLASK_PHONE_KEY（加密手机号码的密钥，至少 32 个字符）")
    if app.config["PRODUCTION"] and len(app.config["PHONE_KEY"]) < 32:
        raise ConfigError("FLASK_PHONE_KEY 太短：至少 32 个字符")
    for name in ("IMPORT_JOB_BYTES", "IMPORT_SPOOL_MAX_BYTES"):
        value = app.config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"FLASK_{name} 应为正整数（字节数），如 1048576；现在是 {value!r}")


def _instance_key(app: Flask, name: str, filename: str, required: str) -> None:
    if app.config.get(name):
        return
    if app.config["PRODUCTION"]:
        raise ConfigError(required)
    key_file = Path(app.instance_path) / filename
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config[name] = key_file.read_text().strip()


def sms_sender(app: Flask):
    """The configured SMS sender (built once at start-up: a missing Twilio credential
    stops the app there, not at the first message)."""
    return app.extensions["pingyi.sms_sender"]
