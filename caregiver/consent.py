"""The consent text a caregiver agrees to, by version. A recorded opt-in names its version, so
what someone agreed to can always be shown word for word, even after the wording changes.

Each version is in one language (CONSENT_LANGUAGES): the sign-up page shows the current web version
of the page's language (CURRENT_WEB_BY_LANGUAGE), and the consent record keeps that version and
its language.
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
    # The same terms as web-2026-11, in Spanish (the keywords are the Spanish ones the texts answer).
    "web-es-2026-12": (
        "Acepto recibir mensajes recurrentes de Alongside en nombre de {clinic}: consejos breves para apoyar "
        "a alguien en tratamiento (hasta uno al día, con la frecuencia que yo elija) y recordatorios sobre sus "
        "citas, por los mensajes de texto y/o el correo electrónico que seleccioné. La frecuencia de los "
        "mensajes varía. Pueden aplicarse tarifas por mensajes y datos. Responda PARAR para cancelar, AYUDA "
        "para ayuda. Aceptar no es condición para el tratamiento de ninguna persona."
    ),
}
# The language each version is written in (ConsentRecord.language).
CONSENT_LANGUAGES = {"web-2026-11": "en", "staff-2026-11": "en", "web-es-2026-12": "es"}
# The web version a page in each language shows (settings.LANGUAGES: one for each).
CURRENT_WEB_BY_LANGUAGE = {"en": "web-2026-11", "es": "web-es-2026-12"}
CURRENT_WEB = CURRENT_WEB_BY_LANGUAGE["en"]
CURRENT_STAFF = "staff-2026-11"


def current_web(language: str) -> str:
    """The web consent version shown on a page in `language` (English for a language we lack)."""
    return CURRENT_WEB_BY_LANGUAGE.get(language, CURRENT_WEB)


def consent_language(version: str, *, default: str = "en") -> str:
    """The language `version` is written in; `default` for one that is not a text of ours (a
    keyword's reply, say, which is in the caregiver's language)."""
    return CONSENT_LANGUAGES.get(version, default)


def consent_text(*, clinic: Clinic, version: str = CURRENT_WEB) -> str:
    return CONSENT_TEXTS[version].format(clinic=clinic.name)
