"""The consent text a caregiver agrees to, by version. A recorded opt-in names its version, so
what someone agreed to can always be shown word for word, even after the wording changes.
"""

from __future__ import annotations

from caregiver.models import Clinic

# Never edit a published version: add a new one and point CURRENT at it.
CONSENT_TEXTS = {
    "web-2026-11": (
        "I agree to receive recurring messages from Alongside on behalf of {clinic}: short tips on supporting "
        "someone in treatment (up to one a day, as often as I choose) and reminders around their appointments, "
        "by the text messages and/or email I selected. Message frequency varies. Msg & data rates may apply. "
        "Reply STOP to opt out, HELP for help. Agreeing is not a condition of anyone's treatment."
    ),
    "staff-2026-11": (
        "The caregiver agreed, when asked by clinic staff, to receive Alongside tips and appointment reminders "
        "from {clinic}. They confirm by replying YES or opening the emailed link before anything else is sent."
    ),
}
CURRENT_WEB = "web-2026-11"
CURRENT_STAFF = "staff-2026-11"


def consent_text(*, clinic: Clinic, version: str = CURRENT_WEB) -> str:
    return CONSENT_TEXTS[version].format(clinic=clinic.name)
