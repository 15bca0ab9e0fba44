from django.urls import path

from . import views, webhooks

app_name = "messaging"

urlpatterns = [
    path("webhooks/twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound"),
    path("webhooks/twilio/status/", webhooks.twilio_status, name="twilio-status"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
