from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .health import healthz

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
    path("", include("portal.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

handler400 = "config.views.bad_request"
handler404 = "config.views.not_found"
handler500 = "config.views.error"
