import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()

# Each web process loads what reading a text needs as it starts (about a second), not while a
# family's first text waits for its answer.
from messaging.reading import reading_warm  # noqa: E402 - needs the application set up

reading_warm()
