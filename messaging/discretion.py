"""Discretion: no text, and no email subject, names a treatment, a drug or a diagnosis.

Texts and subjects show on lock screens and shared screens. The words that reveal are one list,
in content.validation (documented in content/library/README.md); this module says who may see
which of them, and checks the final rendered words against it, as planned and again at send:

- with the clinic's discreet mode on (the default), none;
- with it off, the entries the clinic chose (`Clinic.allowed_words`);
- in a safety tip (warning signs) texted to a caregiver who asked for safety tips by text, the
  safety entries as well: they asked for exactly those words.

Names that people typed are made safe before they are put into words (`safe_name`): a loved one
or a caregiver whose name would reveal something is "your loved one" or no name at all, and a
clinic is named by its SMS name, or by its name when that reveals nothing, else "your clinic".
A text that still breaks the rule is not sent: it is held back (`HELD`) with the words it named,
where staff can see it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy

from caregiver.models import Caregiver, Clinic
from content.models import Tip
from content.validation import CRISIS_CATEGORY, SAFETY_KEYS, discreet_violations

# The status reason of a message held back for what it would have said.
HELD = "discretion"
CLINIC_FALLBACK = gettext_lazy("your clinic")  # in the language of the message it is rendered into


def clinic_allowed(clinic: Clinic | None) -> frozenset[str]:
    """The entries of the list this clinic's texts may use (none in discreet mode)."""
    if clinic is None or clinic.discreet_mode:
        return frozenset()
    return frozenset(clinic.allowed_words or ())


def is_safety_tip(tip: Tip | None) -> bool:
    return tip is not None and tip.category.slug == CRISIS_CATEGORY


def allowed_for(*, clinic: Clinic | None, caregiver: Caregiver | None = None, tip: Tip | None = None) -> frozenset[str]:
    """The one rule: which entries a message from `clinic` to `caregiver` (carrying `tip`) may use."""
    allowed = clinic_allowed(clinic)
    if caregiver is not None and caregiver.safety_tips_sms and is_safety_tip(tip):
        allowed |= SAFETY_KEYS
    return allowed


def problem(text: str, *, allowed: Iterable[str] = ()) -> str:
    """Why `text` may not be shown on a lock screen ('' when it may)."""
    named = discreet_violations(text, allowed=allowed)
    if not named:
        return ""
    return f"Held back: it would show {', '.join(repr(w) for w in named)} on a lock screen."


def safe_name(name: str, *, fallback: str, allowed: Iterable[str] = ()) -> str:
    """`name` if it reveals nothing, else `fallback`."""
    return fallback if discreet_violations(name, allowed=allowed) else name


def clinic_sms_name(clinic: Clinic) -> str:
    """How texts and subjects name the clinic: its SMS name (checked when saved), else its name
    if that reveals nothing, else "your clinic"."""
    allowed = clinic_allowed(clinic)
    for name in (clinic.sms_name, clinic.name):
        if name and not discreet_violations(name, allowed=allowed):
            return name
    return str(CLINIC_FALLBACK)
