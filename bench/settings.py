"""The gunicorn that bench/http_bench.py measures: production's request path without its secrets.

Production's middleware (WhiteNoise included), DEBUG off, persistent database connections with
health checks and the Redis cache, so what is timed is what production runs. Two things differ on
purpose: ROOT_URLCONF adds the hello-world view the endpoints are compared with, and the API key
throttle allows far more than one key ever may, because the bench measures the endpoint, not the
limit.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES, LOGGING, VAR_DIR, env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="bench-only-not-a-secret-3c9e")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.urls"
# http_bench.py sets it to the address gunicorn listens on; Twilio signs that URL.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL").rstrip("/")
# Never a real token, even if .env has one: nothing here talks to Twilio.
TWILIO_AUTH_TOKEN = "bench-only-twilio-auth-token"  # noqa: S105
TWILIO_ACCOUNT_SID = ""
SMS_BACKEND = "console"

DATABASES["default"] = env.db("DATABASE_URL")
DATABASES["default"]["CONN_MAX_AGE"] = 600
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

REDIS_URL = env.str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="alongside-bench")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="alongside-bench"),
    }
}

# DRF's throttle keeps one timestamp per request in the window: a one-second window keeps that list
# about as long as a key at production's 600/min holds, where 10000000/min would grow it to a
# minute of benchmark traffic and time the pickling of it.
API_KEY_THROTTLE_RATE = env.str("API_KEY_THROTTLE_RATE", default="1000000/s")

# WhiteNoise indexes STATIC_ROOT at start-up; the bench serves no static files but keeps the middleware.
STATIC_ROOT = VAR_DIR / "bench" / "static"

LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": "WARNING"}}
