"""Reading staff's CSV files, and importing appointments for families the clinic already has.

Both imports (families here in families.py, appointments below) read files the same way: what a
spreadsheet exports (a byte-order mark, semicolons for some locales, "Loved One" as a header,
3/15/2027 2:30 PM as a time), with a clear per-row error for anything else. A preview checks every
row with a handful of queries for the whole file, so 2,000 rows take well under 3 seconds; the
import itself then goes through the same services as the pages, all or nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime

from anyascii import anyascii
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import selectors
from ..models import Appointment, CareLink, Clinic, LovedOne
from ..validators import local_to_utc, name_normalize, phone_to_e164
from .audit import audit_record
from .core import appointment_create

IMPORT_MAX_BYTES = 1_000_000
IMPORT_MAX_ROWS = 2_000

# Spreadsheet exports: ISO first, then US month/day with a 12- or 24-hour clock.
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %I:%M %p",
    "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%m/%d/%y %I:%M %p", "%m/%d/%y %H:%M",
)  # fmt: skip


# The portal's own labels ("IV infusion") are read as the kinds they name.
_KIND_LABELS = {label.lower(): value for value, label in Appointment.Kind.choices}


@dataclass
class ImportResult:
    families: int = 0
    caregivers: int = 0
    appointments: int = 0
    rows: list[dict] = field(default_factory=list)  # each row as read, with its "errors" and "warnings"
    errors: list[str] = field(default_factory=list)  # problems with the file itself
    notes: list[str] = field(default_factory=list)  # how the file was read (columns left out, encoding)
    unconfirmed: bool = False  # not imported: rows were flagged and staff did not tick "Keep anyway"

    @property
    def ok(self) -> bool:
        return not self.errors and not any(row["errors"] for row in self.rows)

    def shown_rows(self, ok_rows: int = 100) -> list[dict]:
        """What a preview lists: every row with a problem or a warning, and the first `ok_rows` others
        (2,000 rows of "OK" help nobody, and take a second to draw)."""
        shown, ok = [], 0
        for row in self.rows:
            if row["errors"] or row.get("warnings") or ok < ok_rows:
                shown.append(row)
                ok += not (row["errors"] or row.get("warnings"))
        return shown

    @property
    def warned(self) -> int:
        """Rows with an appointment staff should look at twice (past, duplicate, overlapping)."""
        return sum(1 for row in self.rows if row.get("warnings"))


class ImportInvalid(Exception):
    def __init__(self, result: ImportResult) -> None:
        super().__init__("the file has errors")
        self.result = result


def header_name(raw: str) -> str:
    """ "Loved One", "loved-one" and " LOVED_ONE " are all loved_one."""
    return re.sub(r"[\s\-]+", "_", (raw or "").strip().lower())


def csv_decode(raw: bytes) -> tuple[str, bool] | None:
    """The file's text, and whether it was read as Windows-1252 (Excel's plain "CSV" on Windows,
    whose é, ñ and curly quotes are not UTF-8); None if it is neither."""
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw:
        return None  # UTF-16 or a binary file: no spreadsheet writes NUL into a CSV
    try:
        return raw.decode("cp1252"), True
    except UnicodeDecodeError:
        return None


def csv_read(
    raw: bytes, *, columns: list[str], required: set[str], aliases: dict[str, str] | None = None
) -> ImportResult:
    """Parse a CSV upload into rows of `columns`; problems with the file as a whole go in `errors`."""
    aliases = aliases or {}
    result = ImportResult()
    if len(raw) > IMPORT_MAX_BYTES:
        result.errors.append(
            f"The file is larger than {IMPORT_MAX_BYTES // 1_000_000} MB. Split it into smaller files."
        )
        return result
    decoded = csv_decode(raw)
    if decoded is None:
        result.errors.append("The file is not UTF-8 text. Export it from your spreadsheet as “CSV UTF-8”.")
        return result
    text, windows = decoded
    if windows:
        result.notes.append("Read as a Windows (Excel) CSV file: check that accented names look right below.")
    if "\x00" in text:
        # No spreadsheet writes NUL into a CSV, and PostgreSQL cannot store it.
        line = text.count("\n", 0, text.index("\x00")) + 1
        result.errors.append(
            f"Line {line} has a NUL character, so this is not a CSV file. Export it again as “CSV UTF-8”."
        )
        return result
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in locales with a decimal comma export with semicolons.
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [aliases.get(header_name(name), header_name(name)) for name in (reader.fieldnames or [])]
    missing = required - set(header)
    if missing:
        result.errors.append(
            f"The first line must name the columns; missing: {', '.join(sorted(missing))}. "
            f"Columns we read: {', '.join(columns)}."
        )
        return result
    unknown = [name for name in header if name and name not in columns]
    if unknown:
        # A spreadsheet export carries columns of its own (notes, an insurer): they are left out.
        result.notes.append(f"Columns left out (we don't read them): {', '.join(unknown)}.")
    reader.fieldnames = header
    try:
        for count, row in enumerate(reader, start=1):
            # The line the row ends on, as the spreadsheet counts (blank lines are skipped, not lost).
            number = reader.line_num
            if count > IMPORT_MAX_ROWS:
                result.errors.append(f"The file has more than {IMPORT_MAX_ROWS} rows. Split it into smaller files.")
                return result
            cells = {name: (row.get(name) or "").strip() for name in columns}
            if None in row:
                result.rows.append(
                    {"line": number, **cells, "errors": ["This row has more cells than columns."], "warnings": []}
                )
                continue
            if any(cells.values()):
                result.rows.append({"line": number, **cells, "errors": [], "warnings": []})
    except csv.Error as exc:
        result.errors.append(f"The file is not valid CSV: {exc}.")
    if not result.rows and not result.errors:
        result.errors.append("The file has no rows under the header.")
    return result


def csv_template(columns: list[str], example: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(example)
    return out.getvalue()


def local_datetime_parse(value: str) -> datetime:
    """A wall-clock time as spreadsheets write it; ValueError names the formats we read."""
    text = " ".join(value.upper().replace(".", "").split())  # "2:30 p.m." -> "2:30 PM"
    for form in DATETIME_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    raise ValueError(
        f"“{value}” is not a date and time we can read: write it like 2027-03-15 14:30 or 3/15/2027 2:30 PM."
    )


def appointment_row_read(row: dict, *, time_zone: str) -> Appointment | None:
    """The appointment cells of a row (appointment, kind, duration_minutes) as an unsaved appointment
    with no family yet, or None with row["errors"] filled."""
    kinds = {value for value, _ in Appointment.Kind.choices}
    kind = _KIND_LABELS.get(row["kind"].strip().lower(), row["kind"].lower()) or Appointment.Kind.INFUSION
    if kind not in kinds:
        row["errors"].append(f"kind: use one of {', '.join(sorted(kinds))}.")
        return None
    try:
        local = local_datetime_parse(row["appointment"])
    except ValueError as exc:
        row["errors"].append(f"appointment: {exc}")
        return None
    try:
        duration = int(row["duration_minutes"] or 60)
    except ValueError:
        row["errors"].append("duration_minutes: give a whole number of minutes, like 60.")
        return None
    try:
        starts_at = local_to_utc(local, time_zone=time_zone)
        probe = Appointment(starts_at=starts_at, kind=kind, duration_minutes=duration)
        probe.full_clean(exclude=["loved_one"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        row["errors"].extend(_messages(exc))
        return None
    return probe


def _messages(exc: ValidationError) -> list[str]:
    if not hasattr(exc, "error_dict"):
        return exc.messages
    names = {"__all__": "", "starts_at": "appointment"}
    return [f"{names.get(k, k)}: {m}" if names.get(k, k) else m for k, ms in exc.message_dict.items() for m in ms]


# --- Appointments for existing families ----------------------------------------------------------

APPOINTMENT_COLUMNS = ["family_id", "loved_one", "caregiver_phone", "caregiver_email", "appointment", "kind",
                       "duration_minutes"]  # fmt: skip
APPOINTMENT_ALIASES = {
    "family": "family_id", "id": "family_id", "loved_one_first_name": "loved_one", "patient": "loved_one",
    "phone": "caregiver_phone", "mobile": "caregiver_phone", "email": "caregiver_email",
    "appointment_time": "appointment", "date_and_time": "appointment", "starts_at": "appointment",
    "start": "appointment", "duration": "duration_minutes", "minutes": "duration_minutes",
}  # fmt: skip
APPOINTMENT_EXAMPLE = [
    ["12", "", "", "", "2027-03-15 14:30", "infusion", "60"],
    ["", "Alex", "(202) 555-0143", "", "3/17/2027 2:30 PM", "infusion", "60"],
    ["", "Robin", "", "jo@example.com", "3/19/2027 10:00 AM", "booster", "90"],
]


def appointment_import_read(raw: bytes) -> ImportResult:
    result = csv_read(raw, columns=APPOINTMENT_COLUMNS, required={"appointment"}, aliases=APPOINTMENT_ALIASES)
    for row in result.rows:
        if not row["errors"] and not row["appointment"]:
            row["errors"].append("appointment: give the date and time, like 2027-03-15 14:30.")
    return result


def appointment_import(
    *, clinic: Clinic, result: ImportResult, commit: bool, confirmed: bool = False, by: AbstractBaseUser | None = None
) -> ImportResult:
    """Appointments for families the clinic already has, matched per row by `family_id` (the number
    on the family's page) or else by the loved one's first name together with a caregiver's mobile
    number or email address. Every row is checked with a few queries for the whole file; past,
    duplicate and overlapping appointments are warnings that staff confirm (`confirmed`) to keep.
    With commit=True and every row valid, all are saved through appointment_create, or none.
    """
    if result.errors:
        return result
    rows = [row for row in result.rows if not row["errors"]]
    matched = _families_match(clinic, rows)
    existing: dict[int, list[Appointment]] = {}
    for appointment in Appointment.objects.filter(
        loved_one__in={f.pk for f in matched.values()}, status=Appointment.Status.SCHEDULED
    ):
        existing.setdefault(appointment.loved_one_id, []).append(appointment)
    now = timezone.now()
    closed = selectors.clinic_closures(clinic=clinic)
    planned: list[tuple[dict, LovedOne, datetime, str, int]] = []
    for row in rows:
        loved_one = matched.get(row["line"])
        if loved_one is None:
            continue
        read = appointment_row_read(row, time_zone=clinic.time_zone)
        if read is None:
            continue
        starts_at, kind, duration = read.starts_at, read.kind, read.duration_minutes
        others = existing.setdefault(loved_one.pk, [])
        row["family_label"] = f"{loved_one.first_name} (#{loved_one.pk})"
        row["warnings"] = selectors.appointment_warnings(
            loved_one=loved_one,
            starts_at=starts_at,
            duration_minutes=duration,
            now=now,
            others=others,
            closed=closed,
        )
        # Later rows are checked against this one too: two rows for the same time are a duplicate.
        others.append(read)
        planned.append((row, loved_one, starts_at, kind, duration))
    result.appointments = len(planned)
    result.families = len({loved_one.pk for _, loved_one, *_ in planned})
    if not commit or not result.ok:
        return result
    if result.warned and not confirmed:
        result.unconfirmed = True
        return result
    try:
        with transaction.atomic():
            for row, loved_one, starts_at, kind, duration in planned:
                try:
                    with transaction.atomic():
                        appointment_create(
                            loved_one=loved_one, starts_at=starts_at, kind=kind, duration_minutes=duration,
                            confirmed=True, by=by,
                        )  # fmt: skip
                except ValidationError as exc:
                    row["errors"].extend(_messages(exc))
            if not result.ok:
                raise ImportInvalid(result)
            audit_record(by=by, action="appointment.import", target=clinic,
                         changes={"appointments": result.appointments, "families": result.families})  # fmt: skip
    except ImportInvalid:
        pass
    return result


def _families_match(clinic: Clinic, rows: list[dict]) -> dict[int, LovedOne]:
    """Each row's family (by its line), or an error on the row saying why it has none."""
    by_id: dict[int, LovedOne] = {}
    ids = {int(row["family_id"]) for row in rows if row["family_id"].isdigit()}
    if ids:
        by_id = {f.pk: f for f in LovedOne.objects.filter(clinic=clinic, pk__in=ids).select_related("clinic")}
    phones: dict[int, str] = {}
    for row in rows:
        if row["family_id"] or not row["caregiver_phone"]:
            continue
        try:
            phones[row["line"]] = phone_to_e164(row["caregiver_phone"])
        except ValidationError as exc:
            row["errors"].append(f"caregiver_phone: {' '.join(exc.messages)}")
    emails = {
        row["line"]: row["caregiver_email"].lower() for row in rows if not row["family_id"] and row["caregiver_email"]
    }
    links = CareLink.objects.none()
    if phones or emails:
        links = (
            CareLink.objects.filter(loved_one__clinic=clinic)
            .filter(Q(caregiver__phone__in=set(phones.values())) | Q(caregiver__email__in=set(emails.values())))
            .select_related("loved_one__clinic", "caregiver")
        )
    families_of: dict[str, set[LovedOne]] = {}
    for link in links:
        for address in (link.caregiver.phone, link.caregiver.email.lower()):
            if address:
                families_of.setdefault(address, set()).add(link.loved_one)
    matched: dict[int, LovedOne] = {}
    for row in rows:
        if row["errors"]:
            continue
        name = _name_key(row["loved_one"])
        if row["family_id"]:
            family = by_id.get(int(row["family_id"])) if row["family_id"].isdigit() else None
            if family is None:
                row["errors"].append(f"family_id: no family with id {row['family_id']} at {clinic.name}.")
            elif name and _name_key(family.first_name) != name:
                row["errors"].append(
                    f"loved_one: family {family.pk} is {family.first_name}, not {row['loved_one']}. Check the id."
                )
            else:
                matched[row["line"]] = family
            continue
        if not name or not (row["caregiver_phone"] or row["caregiver_email"]):
            row["errors"].append(
                "Say whose appointment it is: family_id, or loved_one with a caregiver_phone or caregiver_email."
            )
            continue
        address = phones.get(row["line"]) or emails.get(row["line"], "")
        candidates = {f for f in families_of.get(address, set()) if _name_key(f.first_name) == name}
        if not candidates:
            row["errors"].append(
                f"No family here has a loved one named {row['loved_one']} with a caregiver at "
                f"{row['caregiver_phone'] or row['caregiver_email']}. Check both, or use family_id."
            )
        elif len(candidates) > 1:
            ids_text = ", ".join(str(f.pk) for f in sorted(candidates, key=lambda f: f.pk))
            row["errors"].append(f"Several families match ({ids_text}): use family_id to say which.")
        else:
            matched[row["line"]] = candidates.pop()
    return matched


def _name_key(name: str) -> str:
    """A first name as a spreadsheet may spell it: "Renee" is "Renée", "JOSE" is "José"."""
    return anyascii(name_normalize(name)).casefold()
