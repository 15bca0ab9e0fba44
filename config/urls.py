from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from messaging.bounces import tracking_urls

from .health import healthz

# The API docs page is drf-spectacular's Swagger UI. Its split view serves the start-up script as a
# file from this same URL (?script=), so the site's script-src 'self' is enough; the page's one
# <style> block (drf_spectacular/swagger_ui.html) is allowed by its hash, on this page only. If an
# upgrade changes that block, tests/browser/test_content_security_policy.py fails and names the
# new hash.
SWAGGER_UI_STYLE = "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"
api_docs = csp_update({"style-src": [SWAGGER_UI_STYLE]})(SpectacularSwaggerSplitView.as_view(url_name="schema"))

admin.site.site_header = "Alongside administration"
admin.site.site_title = "Alongside"

urlpatterns = [
    path(
        "",
        TemplateView.as_view(template_name="home.html", extra_context={"dev_phone": settings.DEV_PHONE}),
        name="home",
    ),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("content.urls")),
    path("api/v1/", include("portal.api_urls")),
    # Twilio's webhooks come before the portal's many pages: they are the most frequent requests,
    # and Django tries the patterns in order.
    path("", include("messaging.urls")),
    # The email provider's bounce and complaint events: /anymail/<provider>/tracking/ (basic auth).
    path("anymail/", include((tracking_urls(), "anymail"))),
    path("", include("portal.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
]

handler400 = "config.views.bad_request"
handler404 = "config.views.not_found"
handler500 = "config.views.error"
