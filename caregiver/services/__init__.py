"""Writes to caregiver/ models. Views, API, admin actions and tasks call these; nothing else
creates or changes clinics, caregivers, consent, confirmations or appointments.

Split by topic: `core` (people, consent, appointments), `confirmations` (double opt-in),
`families` (enrolling several at once, courses, CSV import), `people` (staff fixing a family:
edits, archive, merge), `calendar` (the calendar feed's link).
"""

from .audit import audit_record
from .calendar import caregiver_calendar_create, caregiver_calendar_reset
from .confirmations import (
    RateLimited,
    confirmation_code_check,
    confirmation_link_check,
    confirmation_reply_check,
    confirmation_start,
)
from .core import (
    CAREGIVER_EDITABLE,
    appointment_cancel,
    appointment_create,
    appointment_mark_ride_arranged,
    appointment_reschedule,
    appointment_unmark_ride,
    caregiver_block_sms,
    caregiver_create,
    caregiver_link,
    caregiver_opt_in,
    caregiver_opt_out,
    caregiver_pause,
    caregiver_resume,
    caregiver_update,
    clinic_create,
    loved_one_create,
    staff_membership_add,
)
from .families import (
    IMPORT_COLUMNS,
    IMPORT_MAX_BYTES,
    ImportResult,
    PlannedSession,
    caregiver_invite,
    caregiver_sign_up,
    course_create,
    course_sessions,
    family_enroll,
    family_import,
    family_import_read,
)
from .people import (
    STAFF_EDITABLE,
    caregiver_staff_edit,
    family_archive,
    family_caregiver_add,
    family_merge,
    family_restore,
)
from .preferences import caregiver_pause_days, caregiver_preferences_save, caregiver_stop_everything

__all__ = [
    "CAREGIVER_EDITABLE",
    "IMPORT_COLUMNS",
    "IMPORT_MAX_BYTES",
    "STAFF_EDITABLE",
    "ImportResult",
    "PlannedSession",
    "RateLimited",
    "appointment_cancel",
    "appointment_create",
    "appointment_mark_ride_arranged",
    "appointment_reschedule",
    "appointment_unmark_ride",
    "audit_record",
    "caregiver_block_sms",
    "caregiver_calendar_create",
    "caregiver_calendar_reset",
    "caregiver_create",
    "caregiver_invite",
    "caregiver_link",
    "caregiver_opt_in",
    "caregiver_opt_out",
    "caregiver_pause",
    "caregiver_pause_days",
    "caregiver_preferences_save",
    "caregiver_resume",
    "caregiver_sign_up",
    "caregiver_staff_edit",
    "caregiver_stop_everything",
    "caregiver_update",
    "clinic_create",
    "confirmation_code_check",
    "confirmation_link_check",
    "confirmation_reply_check",
    "confirmation_start",
    "course_create",
    "course_sessions",
    "family_archive",
    "family_caregiver_add",
    "family_enroll",
    "family_import",
    "family_import_read",
    "family_merge",
    "family_restore",
    "loved_one_create",
    "staff_membership_add",
]  # fmt: skip
