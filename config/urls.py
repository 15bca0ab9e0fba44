from django.contrib import admin
from django.urls import path
from django.views.generic import TemplateView

from .health import healthz

admin.site.site_header = "Alongside administration"
admin.site.site_title = "Alongside"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
