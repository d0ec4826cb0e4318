"""`pingyi check-config`: the configuration checked before the service starts, every
problem at once, in Chinese.

The configuration is loaded as the app loads it (voting/core/config.py, the instance
folder's config.py, FLASK_ variables, DATABASE_URL; voting.configured_flask), then:

- with FLASK_PRODUCTION=true each of these is an error (exit status 1): the secret key
  (FLASK_SECRET_KEY, at least 32 characters), the database (DATABASE_URL, PostgreSQL,
  answers `select 1`), the phone-number key (FLASK_PHONE_KEY, at least 32 characters),
  the rate-limit storage (not memory://; a redis:// one answers PING), the SMS sender
  (sms.senders.sender_from_env), the public address (FLASK_PUBLIC_URL, https://);
- without it, what is configured is still checked (a DATABASE_URL that does not
  answer, a Redis that does not, a bad SMS sender are errors) and what production
  would refuse is a warning;
- FLASK_PROXY_FIX: a count of proxies (an error otherwise); with one set, a warning
  when gunicorn would listen on more than this machine's loopback as far as the
  environment says (GUNICORN_CMD_ARGS's -b/--bind, or PORT, gunicorn's own default
  then being 0.0.0.0:PORT): whoever reaches it directly can forge the client's
  address. gunicorn itself says the same at start-up (voting/gunicorn_conf.py), from
  the bind it was really given;
- last, the app is built as a server would build it (create_app): a ConfigError it
  raises is reported too, once (not again when a check above already named it).

Registered on the `pingyi` group itself (voting/cli.py), so that it runs when the app
cannot be built: that is when it is needed most.
"""
from __future__ import annotations

import ipaddress
import os
import re
import shlex
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import click

MIN_KEY_LENGTH = 32
TIMEOUT = 5.0


@dataclass
class Report:
    production: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    redis_package_missing: bool = False

    def error(self, message: str) -> None:
        self.errors.append(message)

    def refuse(self, message: str, meanwhile: str = "") -> None:
        """An error in production; elsewhere a warning that production would refuse it
        (with `meanwhile`: what is done instead outside production)."""
        if self.production:
            self.errors.append(message)
        else:
            self.warnings.append(f"{message}（{meanwhile + '；' if meanwhile else ''}生产环境会拒绝）")


def run_checks() -> Report:
    from voting import configured_flask, create_app
    from voting.core.config import ConfigError

    try:
        app = configured_flask()
    except Exception as error:  # noqa: BLE001 - e.g. the instance config.py does not load
        report = Report(production=False)
        report.error(f"无法读取配置：{type(error).__name__}: {error}")
        return report
    config = app.config
    report = Report(production=bool(config.get("PRODUCTION")))
    _secret_key(config, report)
    _database(config, report)
    _phone_key(config, report)
    _rate_limits(config, report)
    _jobs(config, report)
    _sms(config, report)
    _public_url(config, report)
    _cookies(config, report)
    _proxy(config, report)
    try:
        built = create_app()
    except ConfigError as error:
        _add_once(report, f"启动时被拒绝：{error}")
    except Exception as error:  # noqa: BLE001 - whatever stops the start-up, said once
        if not (report.redis_package_missing and "redis" in str(error)):
            _add_once(report, f"启动失败：{type(error).__name__}: {error}")
    else:
        engine = built.extensions.get("pingyi.engine")
        if engine is not None:
            engine.dispose()
    return report


def _add_once(report: Report, message: str) -> None:
    """`message`, unless an error already names the same setting (FLASK_SECRET_KEY, ...)."""
    names = re.findall(r"[A-Z][A-Z0-9_]{3,}", message)
    if names and any(name in earlier for name in names for earlier in report.errors):
        return
    report.error(message)


def _key(config, report: Report, name: str, variable: str, purpose: str) -> None:
    key = config.get(name)
    if not key:
        report.refuse(f"未设置 {variable}（{purpose}，至少 {MIN_KEY_LENGTH} 个字符）", "现在使用实例目录中自动生成的密钥")
    elif not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
        length = len(key) if isinstance(key, (str, bytes)) else 0
        report.refuse(f"{variable} 太短：{length} 个字符，至少要 {MIN_KEY_LENGTH} 个")


def _secret_key(config, report: Report) -> None:
    _key(config, report, "SECRET_KEY", "FLASK_SECRET_KEY", "签名会话和链接的密钥")


def _phone_key(config, report: Report) -> None:
    _key(config, report, "PHONE_KEY", "FLASK_PHONE_KEY", "加密手机号码的密钥")


def _database(config, report: Report) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    raw = config.get("DATABASE_URL")
    if not raw:
        report.refuse("未设置 DATABASE_URL（生产环境必须使用 PostgreSQL）", "现在使用实例目录中的 SQLite 文件")
        return
    try:
        url = make_url(raw)
    except ArgumentError:
        report.error("DATABASE_URL 无法解析：应写成 postgresql+psycopg://用户@主机:端口/数据库")
        return
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() != "postgresql":
        report.refuse(f"DATABASE_URL 不是 PostgreSQL:{shown}")
    connect_args = {"connect_timeout": int(TIMEOUT)} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = create_engine(url, connect_args=connect_args)
    except Exception as error:  # noqa: BLE001 - an unknown driver, a bad option
        report.error(f"DATABASE_URL 无法使用（{shown}）：{_first_line(error)}")
        return
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # noqa: BLE001 - any failure: the database does not answer
        report.error(f"无法连接数据库 DATABASE_URL（{shown}）：{_first_line(error)}")
    finally:
        engine.dispose()


def _rate_limits(config, report: Report) -> None:
    if config.get("RATELIMIT_ENABLED", True) is False:
        report.refuse("FLASK_RATELIMIT_ENABLED 为 false：登录、评价码等的频率限制全部关闭")
    uri = config.get("RATELIMIT_STORAGE_URI") or "memory://"
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "memory":
        report.refuse("FLASK_RATELIMIT_STORAGE_URI 是 memory://：每个进程各自计数，多个进程时频率限制形同虚设；"
                      "请设为 redis://主机:6379")
    elif scheme in ("redis", "rediss"):
        if not _redis_package():
            report.redis_package_missing = True
            report.error("FLASK_RATELIMIT_STORAGE_URI 是 redis://，但没有安装 redis 包"
                         "（Flask-Limiter 用它连接 Redis，否则无法启动）：pip install redis")
        problem = redis_problem(uri)
        if problem:
            report.error(f"无法连接频率限制存储 FLASK_RATELIMIT_STORAGE_URI（{_hide_password(uri)}）：{problem}")
    else:
        report.warnings.append(f"频率限制存储 {scheme}:// 未检查能否连接")


def _jobs(config, report: Report) -> None:
    """The background jobs' queue (voting/jobs/jobs.py): a Redis that answers, or, on one
    machine only, the SQLite file."""
    url = config.get("JOBS_URL") or ""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        problem = redis_problem(url)
        if problem:
            report.error(f"无法连接后台任务队列 FLASK_JOBS_URL（{_hide_password(url)}）：{problem}")
    elif report.production and url != "immediate":
        report.warnings.append("FLASK_JOBS_URL 未设为 redis://：后台任务的队列在本机的 SQLite 文件中，只有本机上的 "
                               "pingyi jobs worker 能接手任务；有多台服务器时请设为 redis://主机:6379/1")


def _sms(config, report: Report) -> None:
    from sms.senders import ConsoleSender, SenderConfigError, sender_from_env

    environ = {**os.environ, **config.get("SMS_ENV", {})}
    try:
        sender = sender_from_env(environ, sink=None)
    except SenderConfigError as error:
        report.error(f"短信发送设置无效：{error}")
        return
    if isinstance(sender, ConsoleSender) and report.production:
        report.warnings.append("短信发送方式是 console（PINGYI_SMS_SENDER 未设为 twilio、aliyun 或 tencent）：短信不会真正发出，只显示在发件箱页面")
    if sender.name in ("aliyun", "tencent"):
        _mainland_sms(environ, sender.name, report)


def _mainland_sms(environ, provider: str, report: Report) -> None:
    """A mainland provider's templates and callbacks (its credentials, signature,
    template settings and callback networks were checked by sender_from_env): every
    kind the platform sends has a template, the callback secret is long enough."""
    from sms.mainland import (
        CALLBACK_NETWORKS, CALLBACK_SECRET, KIND_LABELS, SENT_KINDS, template_variable, templates_from_env,
    )

    templates = templates_from_env(environ)
    missing = [f"{template_variable(kind)}（{KIND_LABELS[kind]}）" for kind in SENT_KINDS if kind not in templates]
    if missing:
        report.warnings.append(f"短信服务商 {provider} 未配置以下短信模板，这些短信将发送失败：" + "、".join(missing))
    secret = (environ.get(CALLBACK_SECRET) or "").strip()
    if not secret:
        report.warnings.append(f"未设置 {CALLBACK_SECRET}：服务商无法推送送达回执和市民的回复短信（回复投票不可用）")
    elif len(secret) < MIN_KEY_LENGTH:
        report.error(f"{CALLBACK_SECRET} 太短：回调地址中的密钥至少 {MIN_KEY_LENGTH} 个字符（可用 python -c \"import secrets; print(secrets.token_urlsafe(32))\" 生成）")
    networks = (environ.get(CALLBACK_NETWORKS) or "").strip()
    if secret and not networks and report.production:
        report.warnings.append(f"未设置 {CALLBACK_NETWORKS}：回调只凭地址中的密钥认证；请填写服务商公布的推送来源网段")


def _public_url(config, report: Report) -> None:
    url = config.get("PUBLIC_URL")
    if not url:
        report.refuse("未设置 FLASK_PUBLIC_URL（短信中链接的地址，如 https://pingyi.example.gov.cn）")
        return
    parts = urlsplit(str(url))
    if not parts.netloc:
        report.error(f"FLASK_PUBLIC_URL 不是完整的网址：{url}（应写成 https://pingyi.example.gov.cn）")
    elif parts.scheme != "https":
        report.refuse(f"FLASK_PUBLIC_URL 不是 https:// 地址：{url}")


def _cookies(config, report: Report) -> None:
    if report.production and config.get("SESSION_COOKIE_SECURE") is False:
        report.warnings.append("FLASK_SESSION_COOKIE_SECURE 为 false：生产环境的会话 Cookie 也会经 HTTP 明文发送")


def _proxy(config, report: Report) -> None:
    from voting import proxy_hops
    from voting.core.config import ConfigError

    try:
        hops = proxy_hops(config.get("PROXY_FIX"))
    except ConfigError as error:
        report.error(str(error))
        return
    binds, source = environment_binds(os.environ)
    message = proxy_exposure_warning(hops, binds, source)
    if message:
        report.warnings.append(message)


def environment_binds(environ) -> tuple[list[str], str]:  # a mapping
    """The addresses gunicorn will listen on as far as the environment tells (a -b on
    the command line, which wins, is not in it), and where that was read."""
    try:
        args = shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))
    except ValueError:
        args = []
    binds = []
    for index, arg in enumerate(args):
        if arg in ("-b", "--bind") and index + 1 < len(args):
            binds.append(args[index + 1])
        elif arg.startswith("--bind="):
            binds.append(arg.split("=", 1)[1])
        elif arg.startswith("-b") and len(arg) > 2:
            binds.append(arg[2:])
    if binds:
        return binds, "GUNICORN_CMD_ARGS"
    if environ.get("PORT"):
        return [f"0.0.0.0:{environ['PORT']}"], "环境变量 PORT:gunicorn 未指定 -b 时监听 0.0.0.0:PORT"
    return [], ""


def exposed(bind: str) -> bool:
    """Whether gunicorn listening on `bind` ("HOST:PORT", "[V6]:PORT", "unix:PATH",
    "fd://N") can be reached from other machines."""
    if bind.startswith(("unix:", "fd://")):
        return False
    if bind.startswith("["):
        host = bind[1:bind.find("]")] if "]" in bind else bind[1:]
    else:
        host = bind.rsplit(":", 1)[0] if ":" in bind else bind
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # 0.0.0.0's spelled otherwise, a host name, "": reachable as far as we know


def proxy_exposure_warning(hops: int, binds, source: str) -> str | None:  # strings
    """The warning for an app that believes `hops` proxies' X-Forwarded-* headers while
    gunicorn listens on `binds` beyond this machine; None when there is nothing to say."""
    reachable = [bind for bind in binds if exposed(bind)]
    if not hops or not reachable:
        return None
    return (f"FLASK_PROXY_FIX={hops}：应用相信请求中的 X-Forwarded-For 等头部，而 gunicorn 监听 "
            f"{'、'.join(reachable)}（{source}），不只是本机：能直接连到它的人可以伪造客户端地址，"
            "绕过按地址的登录频率限制。请让 gunicorn 只监听本机（-b 127.0.0.1:8000 或 -b unix:/run/pingyi/gunicorn.sock），"
            "由反向代理转发；确需监听其他地址时，请用防火墙保证只有反向代理能连到它。")


def _redis_package() -> bool:
    try:
        import redis  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def _hide_password(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return uri.replace(f":{parts.password}@", ":***@", 1)


def redis_problem(uri: str, timeout: float = TIMEOUT) -> str | None:
    """None when the Redis at `uri` answers PING; else what went wrong. With the `redis`
    package when it is installed, else a PING by hand over TCP (TLS for rediss://)."""
    try:
        import redis  # type: ignore[import-not-found]
    except ImportError:
        redis = None
    if redis is not None:
        try:
            client = redis.Redis.from_url(uri, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        except Exception as error:  # noqa: BLE001
            return str(error) or type(error).__name__
        return None
    parts = urlsplit(uri)
    host = parts.hostname or "127.0.0.1"
    try:
        port = parts.port or 6379
    except ValueError:
        return "端口无效"
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host) if parts.scheme == "rediss" else raw
            sock.settimeout(timeout)
            if parts.password is not None:
                auth = [unquote(parts.password)]
                if parts.username:
                    auth.insert(0, unquote(parts.username))
                reply = _command(sock, "AUTH", *auth)
                if not reply.startswith("+"):
                    return f"认证失败：{reply}"
            reply = _command(sock, "PING")
    except OSError as error:
        return str(error) or type(error).__name__
    return None if reply == "+PONG" else f"没有正确回应 PING:{reply or '无回应'}"


def _command(sock: socket.socket, *args: str) -> str:
    """One Redis command (RESP) and the first line of its reply."""
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = arg.encode()
        payload += b"$%d\r\n%s\r\n" % (len(data), data)
    sock.sendall(payload)
    reply = b""
    while not reply.endswith(b"\r\n") and len(reply) < 4096:
        chunk = sock.recv(1024)
        if not chunk:
            break
        reply += chunk
    return reply.decode("utf-8", "replace").split("\r\n", 1)[0]


@click.command("check-config")
def check_config() -> None:
    """检查配置（FLASK_PRODUCTION=true 时按生产环境的要求），一次列出全部问题；有错误时退出状态为 1。"""
    report = run_checks()
    mode = "生产环境" if report.production else "非生产环境（FLASK_PRODUCTION 未设为 true）"
    click.echo(f"检查配置：{mode}")
    for message in report.errors:
        click.echo(f"错误：{message}")
    for message in report.warnings:
        click.echo(f"警告：{message}")
    if report.errors:
        click.echo(f"配置检查未通过：{len(report.errors)} 个错误。")
        raise SystemExit(1)
    click.echo("配置检查通过" + (f"（{len(report.warnings)} 个警告）" if report.warnings else ""))
