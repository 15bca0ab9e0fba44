"""Production. Every secret and every address must come from the environment: no defaults.

A missing variable stops the process at start-up with django-environ's ImproperlyConfigured,
which names the variable.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL").rstrip("/")

DATABASES["default"] = env.db("DATABASE_URL")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# The broker and the shared cache (rate limits, throttles) are Redis, named here and never
# guessed: a Redis that is down at start-up is waited for (the broker) or lapses the limits for a
# moment (config.cache), it does not turn them into per-process memory.
REDIS_URL = env.str("REDIS_URL")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
for _name, _url in (("REDIS_URL", REDIS_URL), ("CELERY_BROKER_URL", CELERY_BROKER_URL)):
    if not _url.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured(f"{_name} must be a redis:// or rediss:// URL in production.")
CACHES["default"]["LOCATION"] = REDIS_URL
BROKER_CHOICE = f"Celery broker: Redis at {CELERY_BROKER_URL.split('@')[-1]} (production)"

TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN")
SMS_BACKEND = "twilio"

# EMAIL_URL like smtp+tls://user:password@smtp.example.org:587 sets EMAIL_BACKEND, EMAIL_HOST...
globals().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL")
# The provider's bounce and complaint webhook: without its secret, bounced addresses would never be blocked.
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET")}
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Operator alerts (a sign-up cap reached, say) go here: nobody reading them is not an option.
OPERATOR_EMAILS = env.list("OPERATOR_EMAILS")
ADMINS = [(address, address) for address in OPERATOR_EMAILS]

# Operators see every clinic: they confirm their sign-in with an authenticator app too.
SUPERUSER_TWO_FACTOR_REQUIRED = env.bool("SUPERUSER_TWO_FACTOR_REQUIRED", default=True)

# --- HTTPS and cookies ----------------------------------------------------------------------
# Believed only from TRUSTED_PROXY_IPS: TrustedProxyMiddleware drops the header from anyone else.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]
