"""The test suite. Uses DATABASE_URL / REDIS_URL when given (CI gives PostgreSQL and Redis)."""

from .base import *  # noqa: F403
from .base import MIDDLEWARE, env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="test-only-not-a-secret-5b2a9e71")
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# Hashing passwords properly is slow and not what the tests are about.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ANYMAIL = {"WEBHOOK_SECRET": "anymail-test:webhook-secret"}
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
# Tests never share a queue with a `make run` on the same Redis.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="alongside-test")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]
