"""Configuration defaults. Layering (see `create_app`): these defaults, then the
instance folder's `config.py`, then `FLASK_`-prefixed environment variables (and
`DATABASE_URL`), then the overrides a test passes in."""

# SQLite file in the instance folder when neither DATABASE_URL nor FLASK_DATABASE_URL
# is set (filled in by create_app, which knows the instance path).
DATABASE_URL = None
# Production refuses to start without a SECRET_KEY of its own; elsewhere a random key
# is generated once and kept in the instance folder.
PRODUCTION = False
SECRET_KEY = None
# The key citizens' and evaluators' phone numbers are encrypted with in the database
# (voting/core/vault.py; FLASK_PHONE_KEY, at least 32 characters). Production refuses to
# start without it; elsewhere one is generated once and kept in the instance folder.
# Losing or changing it makes the stored numbers unreadable.
PHONE_KEY = None
# Citizens' and evaluators' personal data (names, phone numbers, matters, comments, SMS
# texts) of a campaign are kept this many days after its final lists are published;
# then `pingyi retention erase` blanks them, keeping votes, ballots and scores.
RETENTION_DAYS = 180
# Uploads: a year's service-object lists are a few MB; bigger is refused with 413.
MAX_CONTENT_LENGTH = 32 * 1024 * 1024
# A form that is not an upload (login, reasons, comments, scores): bigger is refused
# with 413 before any view reads it (voting/core/errors_web.py).
MAX_TEXT_FORM_LENGTH = 1024 * 1024
# An uploaded xlsx is checked before it is parsed (voting/core/tables.py): all its
# parts together at most this many bytes once uncompressed (a county's 181,500-row list
# is about 90 MB), no part of over 1 MB compressed more than XLSX_MAX_RATIO times (real
# sheets: 10–20 times; a "zip bomb": hundreds), at most XLSX_MAX_PARTS parts.
XLSX_MAX_UNCOMPRESSED = 256 * 1024 * 1024
XLSX_MAX_RATIO = 100
XLSX_MAX_PARTS = 2000
# A service-object upload of at least this many bytes (about 25,000 rows of xlsx) is
# not read by the web request: it is saved to the instance folder's uploads/ and a
# background job (voting/tasks.py) reads, checks and stores it, with its progress and
# then its result or its bad rows on the job's page; smaller ones are read at once.
# The saved files waiting for their job take at most IMPORT_SPOOL_MAX_BYTES together
# (a job removes its file when it ends; one left two days is removed).
IMPORT_JOB_BYTES = 1024 * 1024
IMPORT_SPOOL_MAX_BYTES = 512 * 1024 * 1024
# Form messages come from WTForms' own Chinese catalogue (voting/core/forms.py), not Babel.
WTF_I18N_ENABLED = False
WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
# Cookies (the session's and Flask-Login's remember cookie): HttpOnly and SameSite=Lax
# always; Secure (sent over HTTPS only) when None is left here: True in production,
# False elsewhere (create_app decides); an explicit true/false from the operator stands.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = None
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
REMEMBER_COOKIE_SECURE = None
# Staff sessions (voting/staff/auth.py) end after this many minutes without a request, and in
# any case this many hours after the login; either way the login page asks again.
STAFF_IDLE_MINUTES = 30
STAFF_ABSOLUTE_HOURS = 12
# Two-step login (TOTP, an authenticator app's 6-digit code) for the review office's
# admins: optional, each enrols on /office/account/2fa; True: an admin without it must
# enrol before any other page. `pingyi users reset-2fa NAME` removes it (a lost phone).
REQUIRE_OFFICE_2FA = False
# Guessing one staff account's password (or second-factor code), from however many
# addresses (voting/staff/users.py, LoginPolicy): after STAFF_LOGIN_FREE_FAILURES
# wrong ones in a row, the next attempt waits STAFF_LOGIN_DELAY_SECONDS, twice as long
# after each further failure, at most STAFF_LOGIN_MAX_DELAY_SECONDS (an attempt that
# comes earlier gets 429 and the time to come back, its password unchecked);
# STAFF_LOGIN_LOCK_FAILURES in a row (at most 100: NIST SP 800-63B 5.2.2) lock the
# account until an admin unlocks it (the users page, `pingyi users unlock NAME`). The
# right password and code start the count again.
STAFF_LOGIN_FREE_FAILURES = 5
STAFF_LOGIN_DELAY_SECONDS = 30
STAFF_LOGIN_MAX_DELAY_SECONDS = 15 * 60
STAFF_LOGIN_LOCK_FAILURES = 20
# Flask-Limiter: memory in one process; set FLASK_RATELIMIT_STORAGE_URI=redis://… for
# several workers.
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True
LOGIN_RATE_LIMIT = "10 per minute;100 per hour"
# The year of the campaign the pages and commands work on when none is named.
DEFAULT_CAMPAIGN_YEAR = None
# Times are stored in UTC and shown in the office's time zone.
TIMEZONE = "Asia/Shanghai"
# SMS. The sender comes from the environment at start-up (see
# sms.senders.sender_from_env: PINGYI_SMS_SENDER=console|twilio|aliyun|tencent and their variables; SMS_ENV
# overrides those variables, for tests). These are the dispatch workers' limits: the
# send window in local time and the per-phone daily cap for messages of no campaign (a
# campaign's messages follow its own settings), the rate, attempts and lease.
SMS_ENV: dict = {}
SMS_WINDOW_START = "08:00"
SMS_WINDOW_END = "21:00"
SMS_DAILY_CAP = 5
SMS_RATE = 0.0  # messages per second per worker; 0: as fast as the provider takes them
SMS_MAX_ATTEMPTS = 8
SMS_LEASE_SECONDS = 120
# Provider calls each dispatch worker makes at once (a provider answers in tens of
# milliseconds; a call of one number, Tencent's for a citizen's own code, waits that long).
SMS_PARALLEL = 4
# Behind N reverse proxies (a load balancer, an nginx): trust N hops of X-Forwarded-*
# headers (0 to 5). 0: none is believed, the client's address is the connection's.
# With N > 0 the app server must be reachable only through those proxies (gunicorn on
# 127.0.0.1 or a unix socket): whoever reaches it directly can claim any address.
PROXY_FIX = 0
# Logs (voting/core/logs.py): "text" (one line a record) or "json" (one JSON object a line,
# with the request id); the level of the root logger. Every line is redacted (link
# tokens, phone numbers, codes, passwords). LOG_CONFIGURE: None configures the root
# logger unless TESTING; True or False decides.
LOG_FORMAT = "text"
LOG_LEVEL = "INFO"
LOG_CONFIGURE = None
# The address citizens reach the platform at, for the links and codes in their SMS
# (e.g. https://pingyi.example.gov.cn); unset: the address the office used.
PUBLIC_URL = None
# The SMS signature registered with the carriers (shown as 【…】 first in every SMS).
SMS_SIGN = "县千人评议办"
# For a provider that bills per 70 characters: a code-mode round's invitations and
# reminders go as one SMS each (the place shortened to fit, without the reply hint and
# the matter). Links do not fit in 70 with anything around them; link rounds are unchanged.
SMS_SINGLE_MESSAGE = False
# The review office as the public pages name it, and the phone citizens and evaluators
# may call ("0577-6373 1234"; empty: no number shown). Every public error page says to
# contact it, and the landing page shows it.
OFFICE_NAME = "县千人评议办"
OFFICE_PHONE = ""
# Earlier SECRET_KEYs whose citizen links are still accepted after a key change.
SECRET_KEY_FALLBACKS = []
# The online round's evaluators: a login session ends after this many idle
# minutes; login attempts are limited per account (the login name typed) and, more
# generously, per address (many phones share one carrier address).
EVALUATOR_IDLE_MINUTES = 30
EVALUATOR_LOGIN_LIMIT = "10 per minute;30 per hour"
EVALUATOR_ADDRESS_LIMIT = "300 per minute"
# Background jobs (voting/jobs/jobs.py: opening a round, …): where Huey keeps its queue.
# Empty: a SQLite file in the instance folder (one machine: `pingyi demo` runs a worker
# itself, otherwise run `pingyi jobs worker`); redis://host:6379/1 in production, with
# `pingyi jobs worker` on any number of machines; "immediate": each job runs at once in
# the process that submits it (the tests).
JOBS_URL = ""
# A running job's worker writes its progress and a heartbeat this often; a job whose
# heartbeat is older than JOBS_STALE_SECONDS lost its worker and is started again.
JOBS_HEARTBEAT_SECONDS = 2.0
JOBS_STALE_SECONDS = 60.0


class ConfigError(RuntimeError):
    """The configuration cannot run: said at start-up, not at the first request."""
