"""Settings shared by every environment.

Every value that differs between machines comes from the environment (django-environ);
`.env.example` lists them all. Secrets have no defaults here: local.py and test.py supply
throwaway ones, production.py demands real ones.
"""

import logging
from ipaddress import ip_network
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    # Real environment variables win over the file.
    env.read_env(str(BASE_DIR / ".env"))

logger = logging.getLogger("config")

# --- Core -----------------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
# Where people reach the service: every link in a text or email starts with it. Unset (a developer's
# machine), it is where `runserver $HOST:$PORT` listens, as `make run` does; production requires it.
_RUNSERVER = "http://{}:{}".format(env.str("HOST", default="localhost"), env.str("PORT", default="8000"))
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=_RUNSERVER).rstrip("/")

INSTALLED_APPS = [
    "portal.apps.AdminConfig",  # django.contrib.admin, signing in with portal.auth's limits
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",  # django-csp: its system checks (a setting in the pre-4.0 format is an error)
    # Staff two-factor sign-in (portal/two_factor.py); before portal, whose admin narrows otp_totp's.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "anymail",  # the email provider's bounce and complaint webhooks (messaging/bounces.py); sending stays SMTP
    "caregiver",
    "content",
    "messaging",
    "portal",
]

MIDDLEWARE = [
    "config.middleware.RequestSizeLimitMiddleware",
    "config.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page's language: the language cookie (the pages' "English | Español" links), else the
    # browser's Accept-Language. After sessions, before anything that renders.
    "django.middleware.locale.LocaleMiddleware",
    # Staff pages, the admin and the API are English whatever the browser says; ?lang= switches.
    "config.middleware.PageLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): a code was entered this session
    "django.contrib.messages.middleware.MessageMiddleware",
    # Staff pages, the admin and the session API: idle sessions end, then a code owed is asked for.
    "portal.middleware.StaffIdleTimeoutMiddleware",
    "portal.middleware.StaffTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

# The reverse proxies in front of gunicorn (CIDRs, comma-separated). Only from these peers are
# X-Forwarded-For (the client's address, for every per-address limit) and X-Forwarded-Proto (HTTPS)
# believed; from anyone else those headers are dropped (config.middleware.TrustedProxyMiddleware).
# Empty: no proxy, REMOTE_ADDR is the client.
TRUSTED_PROXY_IPS = env.list("TRUSTED_PROXY_IPS", default=[])
for _cidr in TRUSTED_PROXY_IPS:
    try:
        ip_network(_cidr.strip(), strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXY_IPS: {_cidr!r} is not an address or a CIDR range") from _exc

# Request bodies: the largest we take is a 1 MB CSV upload with its form. Anything bigger than
# Django's 2.5 MB is a 413 before it is read (config.middleware); an upload we accept stays in
# memory, never in a temp file.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

# Content-Security-Policy on every response (django-csp). Our pages load only our own static files:
# no inline <script>, no event-handler attributes, no inline style, so an injected tag or attribute
# does nothing. Scripts are static files (portal/static/portal/site.js); styles are site.css. The
# API docs page, which needs more, relaxes it for itself only (config/urls.py). Emails are not
# pages: their inline styles are untouched (messaging/templates/messaging/email.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",  # LANGUAGES, for the pages' language switch
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.staff_navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

# Without DATABASE_URL the service runs on an embedded SQLite file under var/.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'alongside.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions and a
    # busy timeout turn "database is locked" into a short wait instead of an error.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static -----------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# What caregivers can read us in. Staff pages are English; a caregiver's pages and messages follow
# Caregiver.language. Translations of the pages are in locale/ (.po files, compiled by make).
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Where the pages' language switch is remembered (config.middleware.PageLanguageMiddleware): a year.
LANGUAGE_COOKIE_AGE = 365 * 86400
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis and Celery -------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="redis://localhost:6379/0")


CELERY_FILESYSTEM_DIR = VAR_DIR / "celery-broker"


def filesystem_broker_options(folder: Path) -> dict:
    """The embedded filesystem transport's folders (a laptop with no Redis: local.py)."""
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
    }


# Nothing here is decided by asking a server at import: the broker and the cache are what the
# environment says. Only local.py falls back (to a filesystem queue) when Redis is not running.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
BROKER_CHOICE = f"Celery broker: {CELERY_BROKER_URL.split('@')[-1]}"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(CELERY_FILESYSTEM_DIR)

CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# A task that hangs is killed rather than holding a worker slot forever.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=50)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60)
# Acknowledge after the work is done so a killed worker's task is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker outage of any length is waited out: retry forever (Celery's default gives up after 100
# tries and the worker exits). A batch in the middle of its sends finishes them and records them in
# the database; its task cannot be acknowledged, so it comes back, finds its rows sent and does
# nothing (the outbox, not the broker, says what is owed).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Shared cache (API throttles, rate limits): Redis. An outage lapses the limits instead of failing
# requests (config/cache.py); local.py alone uses per-process memory when there is no Redis.
CACHES = {
    "default": {
        "BACKEND": "config.cache.DegradingRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "alongside",
        # A Redis that does not answer costs a request a second at most, not a hang.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# --- API --------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}
API_KEY_THROTTLE_RATE = env.str("API_KEY_THROTTLE_RATE", default="600/min")
# Staff API requests per token (or per staff member on a session); over it, 429 with Retry-After.
STAFF_API_THROTTLE_RATE = env.str("STAFF_API_THROTTLE_RATE", default="300/min")
CONTENT_LANGUAGES = ["en", "es"]

SPECTACULAR_SETTINGS = {
    "TITLE": "Alongside API",
    "DESCRIPTION": (
        "Practical guidance for the family and friends of someone in treatment: tips on what to say, "
        "what not to say, and how to help around appointment days. See docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the drf-spectacular-sidecar package: the docs work with no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"ConversationStatusEnum": "messaging.models.Conversation.Status"},
}

# --- Messaging providers ----------------------------------------------------------------------

TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# The phone on the page (/dev/phone/): only local settings turn it on.
DEV_PHONE = False
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
# Until Twilio credentials are set, SMS are printed and recorded instead of sent.
SMS_BACKEND = env.str("SMS_BACKEND", default="twilio" if TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN else "console")

TWILIO_TIMEOUT = env.float("TWILIO_TIMEOUT", default=10.0)
EMAIL_MESSAGE_ID_DOMAIN = env.str("EMAIL_MESSAGE_ID_DOMAIN", default="alongside.localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# The email provider's tracking webhook (/anymail/<provider>/tracking/) checks HTTP basic auth
# against this "user:password". Unset, every call to it is refused (messaging/bounces.py).
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="")}

# --- Messaging engine ---------------------------------------------------------------------------

PLAN_HORIZON_HOURS = env.int("PLAN_HORIZON_HOURS", default=48)
PLAN_INTERVAL_SECONDS = env.int("PLAN_INTERVAL_SECONDS", default=60)
# A caregiver whose plan ends more than this short of the horizon is synced again (so each is
# re-planned about twice a day for the horizon's sake, and at once on any change).
PLAN_REFRESH_HOURS = env.int("PLAN_REFRESH_HOURS", default=12)
# Caregivers per planning task, and at most per tick; a claimed caregiver is not claimed again
# for PLAN_LEASE_SECONDS, and one whose sync failed waits PLAN_RETRY_MINUTES before a retry.
PLAN_TASK_SIZE = env.int("PLAN_TASK_SIZE", default=100)
PLAN_MAX_PER_TICK = env.int("PLAN_MAX_PER_TICK", default=20000)
PLAN_LEASE_SECONDS = env.int("PLAN_LEASE_SECONDS", default=600)
PLAN_RETRY_MINUTES = env.int("PLAN_RETRY_MINUTES", default=15)
DISPATCH_INTERVAL_SECONDS = env.float("DISPATCH_INTERVAL_SECONDS", default=5.0)
# A crisis alert nobody has acknowledged after this long goes to the next on-call contact, then to
# everyone; the beat job that does it runs every CRISIS_ESCALATE_INTERVAL_SECONDS.
CRISIS_ACK_MINUTES = env.float("CRISIS_ACK_MINUTES", default=10.0)
CRISIS_ESCALATE_INTERVAL_SECONDS = env.float("CRISIS_ESCALATE_INTERVAL_SECONDS", default=30.0)
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=500)
DISPATCH_MAX_PER_TICK = env.int("DISPATCH_MAX_PER_TICK", default=5000)
# Messages per send task, at most: one claim transaction and one result UPDATE for each batch, not
# each message. A task costs about 14 ms of claim, commits and Celery whatever its size; 20 a task
# held the bench to 0.3 x the raw limit, 100 reaches 0.5 (docs/benchmarks.md). A claim is still
# spread over at least DISPATCH_MIN_TASKS tasks, so a few due messages go out side by side.
DISPATCH_TASK_SIZE = env.int("DISPATCH_TASK_SIZE", default=100)
DISPATCH_MIN_TASKS = env.int("DISPATCH_MIN_TASKS", default=4)
# A claimed message not sent within this long is taken back by the dispatcher.
DISPATCH_LEASE_SECONDS = env.int("DISPATCH_LEASE_SECONDS", default=120)
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=6)
SEND_RETRY_BASE_SECONDS = env.float("SEND_RETRY_BASE_SECONDS", default=30.0)
DAILY_MESSAGE_CAP = env.int("DAILY_MESSAGE_CAP", default=3)
# Default messages per second per clinic sender (a US long code allows about 1).
SMS_SENDER_MPS = env.float("SMS_SENDER_MPS", default=1.0)

CELERY_BEAT_SCHEDULE = {
    "plan-messages": {"task": "messaging.tasks.plan_task", "schedule": float(PLAN_INTERVAL_SECONDS)},
    "dispatch-due": {"task": "messaging.tasks.dispatch_task", "schedule": DISPATCH_INTERVAL_SECONDS},
    "escalate-crisis-alerts": {
        "task": "messaging.tasks.escalate_task",
        "schedule": CRISIS_ESCALATE_INTERVAL_SECONDS,
    },
    # A treatment within a day with no ride home confirmed: the clinic is told (messaging.rides).
    "check-rides": {"task": "messaging.tasks.rides_check_task", "schedule": 300.0},
    # Sign-ups nobody confirmed within SIGN_UP_EXPIRY_DAYS are deleted (caregiver.services.signups).
    "expire-sign-ups": {"task": "messaging.tasks.sign_ups_expire_task", "schedule": 3600.0},
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Alongside <hello@alongside.localhost>")

PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="US")

# --- Sign-up and staff pages ----------------------------------------------------------------------

# Codes and links sent to one number or address, and confirmations asked from one IP, per hour:
# SMS pumping costs the clinic money and pesters the owner of the number.
CONFIRMATIONS_PER_ADDRESS_PER_HOUR = env.int("CONFIRMATIONS_PER_ADDRESS_PER_HOUR", default=5)
CONFIRMATIONS_PER_IP_PER_HOUR = env.int("CONFIRMATIONS_PER_IP_PER_HOUR", default=20)
SIGNUPS_PER_IP_PER_HOUR = env.int("SIGNUPS_PER_IP_PER_HOUR", default=20)
# SMS pumping: codes and invitations (texts and emails) a clinic may send an hour, sign-ups and staff
# together, and the whole service may send. Over a cap, more are refused (429 with a reason) and the
# operators are alerted (config.operator), once an hour.
CONFIRMATIONS_PER_CLINIC_PER_HOUR = env.int("CONFIRMATIONS_PER_CLINIC_PER_HOUR", default=300)
CONFIRMATIONS_PER_HOUR = env.int("CONFIRMATIONS_PER_HOUR", default=1000)
# Who is told when a cap is reached (Django's ADMINS: mail_admins). Required in production.
OPERATOR_EMAILS = env.list("OPERATOR_EMAILS", default=[])
ADMINS = [(address, address) for address in OPERATOR_EMAILS]
EMAIL_SUBJECT_PREFIX = "[Alongside] "
# Wrong clinic codes from one connection an hour, before the sign-up pages refuse it (guessing).
JOIN_CODE_MISSES_PER_IP_PER_HOUR = env.int("JOIN_CODE_MISSES_PER_IP_PER_HOUR", default=20)
# A self sign-up nobody confirmed in this many days is deleted (hourly, `expire-sign-ups`); until
# then a new sign-up or a staff enrollment with its number or email replaces it.
SIGN_UP_EXPIRY_DAYS = env.int("SIGN_UP_EXPIRY_DAYS", default=7)
# Guessing staff passwords (or API tokens): failed attempts per username, from any address, and
# per IP address, sign-ins and tokens together, in a fixed window. Over either, every attempt is
# a 429 until the window ends, whether or not the account exists (see portal/auth.py).
STAFF_LOGIN_FAILURES_PER_USERNAME = env.int("STAFF_LOGIN_FAILURES_PER_USERNAME", default=5)
STAFF_AUTH_FAILURES_PER_IP = env.int("STAFF_AUTH_FAILURES_PER_IP", default=20)
STAFF_AUTH_FAILURE_WINDOW_SECONDS = env.int("STAFF_AUTH_FAILURE_WINDOW_SECONDS", default=900)
# A staff session with no request for this long ends: the next one is sent to sign in again, with a
# message saying why (portal.middleware.StaffIdleTimeoutMiddleware; caregivers' pages are not touched).
STAFF_IDLE_TIMEOUT_MINUTES = env.int("STAFF_IDLE_TIMEOUT_MINUTES", default=30)
# Two-factor sign-in (TOTP, django-otp): staff of a clinic with "staff must use two-factor sign-in"
# on, and anyone who has set an authenticator app up, enter its code after the password. Superusers
# (operators, who see every clinic) must too when this is on: production.py turns it on.
SUPERUSER_TWO_FACTOR_REQUIRED = env.bool("SUPERUSER_TWO_FACTOR_REQUIRED", default=False)
OTP_TOTP_ISSUER = "Alongside"  # the name authenticator apps show next to the code
# The admin never shows a device's secret or its QR code (not even to an operator): only its owner
# sees it, once, while setting it up. An operator resets a lost device by deleting it.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
LOGIN_URL = "/staff/login/"
LOGIN_REDIRECT_URL = "/staff/"
LOGOUT_REDIRECT_URL = "/staff/login/"

# --- Logging --------------------------------------------------------------------------------

# Every handler masks phone numbers, email addresses, the secret part of links (/p/<token>/) and
# staff searches in the line it writes (config/redact.py); the Celery worker and beat log through
# this too (config/celery.py), and gunicorn's access log through config/access_log.py.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"pii": {"()": "config.redact.PiiMaskFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["pii"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["pii"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # twilio logs every HTTP request at INFO; aiosmtpd every SMTP command.
        **{name: {"level": "WARNING"} for name in ("django.db.backends", "twilio.http_client", "mail.log")},
        # Django's default handlers for its loggers have no mask ("Not Found: /p/<token>/" at
        # WARNING): none of their own, to the root's console. (Nor its mail_admins: it would email
        # each 500 with the request's details to OPERATOR_EMAILS; operators get config.operator's alerts.)
        "django": {"level": "INFO", "handlers": [], "propagate": True},
        # runserver's access log (`make run`), in Django's own format.
        "django.server": {"level": "INFO", "handlers": ["django.server"], "propagate": False},
    },
}
