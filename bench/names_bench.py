"""How the loved one's name check does on names people really type (tests/data/names/): every
real first name or nickname accepted, everything that would put more than a name on a lock screen
refused. Exits non-zero on any miss, and lists them.

    .venv/bin/python bench/names_bench.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.exceptions import ValidationError  # noqa: E402

from caregiver.validators import validate_loved_one_name  # noqa: E402

DATA = ROOT / "tests" / "data" / "names"


def names(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip() and not line.startswith("#")]


def refused(name: str) -> str:
    """Why the name is refused ('' when it is accepted), as staff would read it."""
    try:
        validate_loved_one_name(name.strip())
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""


def measure() -> dict[str, object]:
    good, bad = names(DATA / "accept.txt"), names(DATA / "refuse.txt")
    wrongly_refused = [(n, why) for n in good if (why := refused(n))]
    wrongly_accepted = [n for n in bad if not refused(n)]
    return {
        "accepted": (len(good) - len(wrongly_refused), len(good)),
        "refused": (len(bad) - len(wrongly_accepted), len(bad)),
        "wrongly_refused": wrongly_refused,
        "wrongly_accepted": wrongly_accepted,
    }


def main() -> int:
    result = measure()
    print(f"real names accepted: {result['accepted'][0]}/{result['accepted'][1]}")
    print(f"more than a name refused: {result['refused'][0]}/{result['refused'][1]}")
    for name, why in result["wrongly_refused"]:
        print(f"  refused a real name: {name!r}: {why}")
    for name in result["wrongly_accepted"]:
        print(f"  accepted: {name!r}")
    return 1 if result["wrongly_refused"] or result["wrongly_accepted"] else 0


if __name__ == "__main__":
    sys.exit(main())
