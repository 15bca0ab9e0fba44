from django.contrib.auth import views as auth_views
from django.urls import path

from .auth import StaffLoginView
from .views import (
    alerts,
    calendar,
    dashboard,
    feedback,
    inbox,
    join,
    phone,
    preferences,
    ride,
    staff,
    staff_appointments,
    staff_people,
    two_factor,
)

app_name = "portal"

urlpatterns = [
    # Caregivers
    path("join/", join.join_start, name="join-start"),
    path("join/<str:code>/", join.join, name="join"),
    path("join/<str:code>/confirm/", join.join_confirm, name="join-confirm"),
    path("join/<str:code>/done/", join.join_done, name="join-done"),
    path("email/confirm/<str:token>/", join.email_confirm, name="email-confirm"),
    path("p/<str:token>/", preferences.preferences, name="preferences"),
    path("ride/<str:token>/", ride.ride, name="ride"),
    path("tip/<str:token>/", feedback.tip_feedback, name="tip-feedback"),
    path("calendar/<str:secret>.ics", calendar.calendar_feed, name="calendar-feed"),
    # On-call contacts, from an alert's email or SMS
    path("alerts/<str:token>/", alerts.alert_ack_link, name="alert-ack"),
    # Clinic staff
    path("staff/login/", StaffLoginView.as_view(), name="login"),
    path("staff/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # After the password, for staff who owe it (portal/two_factor.py)
    path("staff/two-factor/code/", two_factor.two_factor_code, name="two-factor-code"),
    path("staff/two-factor/setup/", two_factor.two_factor_setup, name="two-factor-setup"),
    path("staff/account/", two_factor.account, name="account"),
    path("staff/", staff.families, name="families"),
    path("staff/families/new/", staff.enroll, name="enroll"),
    path("staff/families/<int:pk>/", staff.family, name="family"),
    path("staff/families/<int:pk>/course/", staff.course, name="course"),
    path("staff/appointments/<int:pk>/reschedule/", staff.reschedule, name="reschedule"),
    path("staff/appointments/<int:pk>/cancel/", staff.cancel, name="cancel"),
    path("staff/caregivers/<int:pk>/reinvite/", staff.caregiver_reinvite, name="reinvite"),
    path("staff/caregivers/<int:pk>/edit/", staff_people.caregiver_edit, name="caregiver-edit"),
    path("staff/families/<int:pk>/caregivers/new/", staff_people.caregiver_add, name="caregiver-add"),
    path("staff/appointments/<int:pk>/ride/", staff_people.appointment_ride, name="appointment-ride"),
    path("staff/families/<int:pk>/archive/", staff_people.family_archive, name="family-archive"),
    path("staff/families/<int:pk>/rename/", staff_people.family_rename, name="family-rename"),
    path("staff/families/<int:pk>/restore/", staff_people.family_restore, name="family-restore"),
    path("staff/families/<int:pk>/merge/", staff_people.family_merge, name="family-merge"),
    path("staff/sign-ups/", staff_people.sign_ups, name="sign-ups"),
    path("staff/import/", staff.csv_import, name="import"),
    path("staff/import/appointments/", staff_appointments.appointment_import, name="import-appointments"),
    path("staff/import/template.csv", staff_appointments.import_template, {"kind": "families"}, name="import-template"),
    path(
        "staff/import/appointments/template.csv",
        staff_appointments.import_template,
        {"kind": "appointments"},
        name="import-appointments-template",
    ),
    path("staff/tomorrow/", staff.tomorrow, name="tomorrow"),
    path("staff/closures/", staff_appointments.closures, name="closures"),
    path("staff/closures/<int:pk>/remove/", staff_appointments.closure_remove, name="closure-remove"),
    path("staff/alerts/", alerts.alert_list, name="alerts"),
    path("staff/alerts/<int:pk>/", alerts.alert_detail, name="alert"),
    path("staff/alerts/<int:pk>/acknowledge/", alerts.alert_acknowledge, name="alert-acknowledge"),
    path("staff/texts/", alerts.texts, name="texts"),
    path("staff/inbox/", inbox.inbox_list, name="inbox"),
    path("staff/inbox/<int:pk>/", inbox.conversation, name="conversation"),
    path("staff/inbox/<int:pk>/assign/", inbox.conversation_assign, name="conversation-assign"),
    path("staff/inbox/<int:pk>/handle/", inbox.conversation_handle, name="conversation-handle"),
    path("staff/inbox/saved-replies/", inbox.saved_replies, name="saved-replies"),
    path("staff/inbox/saved-replies/<int:pk>/", inbox.saved_reply_edit, name="saved-reply"),
    path("staff/caregivers/<int:pk>/message/", inbox.conversation_start, name="conversation-start"),
    path("staff/dashboard/", dashboard.dashboard, name="dashboard"),
    path("staff/dashboard/<slug:figure>.csv", dashboard.dashboard_csv, name="dashboard-csv"),
    # A developer's machine only (settings.DEV_PHONE): a 404 anywhere else
    path("dev/phone/", phone.phone, name="dev-phone"),
    path("dev/phone/families/<int:pk>/send-next/", phone.phone_family_send_next, name="dev-phone-send-next"),
]
