"""What caregiver/ announces. messaging/ listens and re-plans; caregiver/ never imports it.

Sent after the transaction commits, with ids only.
"""

from django.dispatch import Signal

# kwargs: caregiver_id: int, change: str ("status", "preferences", "time_zone", "consent")
caregiver_changed = Signal()
# kwargs: appointment_id: int, change: str ("created", "rescheduled", "cancelled", "ride_arranged")
appointment_changed = Signal()
# kwargs: confirmation_id: int, code: str (the SMS code in plain text, "" for replies and links)
confirmation_requested = Signal()
# kwargs: caregiver_id: int, channel: str. Someone signed up again with a number or email this
# caregiver has (confirmed, or enrolled by staff): messaging tells its owner, discreetly.
already_signed_up = Signal()
# kwargs: caregiver_id: int. Unlike the others, sent INSIDE the transaction, just before a sign-up
# nobody confirmed is deleted: messaging deletes its outbox rows (the codes), which hold the row.
sign_up_discarding = Signal()
# kwargs: pairs: list of (appointment_id, same_visit_id): duplicates cancelled by a family merge.
# Sent inside the merge's transaction, so the outbox re-points their rows before anyone re-plans.
appointments_merged = Signal()
