"""The staff enrollment page's form as a browser posts it: the family, then a formset of caregivers
and one of appointments."""

from collections.abc import Mapping, Sequence

CASEY = {"name": "Casey Lee", "phone": "202-555-0177", "email": "", "relationship": "parent", "channels": "sms"}
SAM = {"name": "Sam Lee", "phone": "", "email": "sam@example.com", "relationship": "sibling", "channels": "email"}


def formset(prefix: str, rows: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """A Django formset's fields: its management form, then `prefix-N-name` for each row (an empty
    row is a blank extra form)."""
    fields = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0"}
    for n, row in enumerate(rows):
        fields.update({f"{prefix}-{n}-{name}": value for name, value in row.items()})
    return fields


def enrollment(
    *, clinic: object, loved_one: str, caregivers: Sequence[Mapping[str, str]], appointments: Sequence = ()
) -> dict:
    """What /staff/families/new/ receives for `loved_one` at `clinic` (its id)."""
    return {
        "loved_one": loved_one,
        "clinic": clinic,
        **formset("caregivers", caregivers),
        **formset("appointments", appointments),
    }
