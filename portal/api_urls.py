"""The staff API under /api/v1/ (see portal/api.py and docs/api.md)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, api_dashboard, api_inbox

router = SimpleRouter()
router.register("families", api.FamilyViewSet, basename="staff-family")
router.register("caregivers", api.CaregiverViewSet, basename="staff-caregiver")
router.register("appointments", api.AppointmentViewSet, basename="staff-appointment")
router.register("messages", api.MessageViewSet, basename="staff-message")
router.register("conversations", api_inbox.ConversationViewSet, basename="staff-conversation")

urlpatterns = [
    *router.urls,
    path("dashboard/", api_dashboard.DashboardView.as_view(), name="staff-dashboard"),
]
