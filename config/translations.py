"""The pages' translations: locale/<language>/LC_MESSAGES/django.po, compiled to the django.mo Django
reads. `make messages` compiles them with Babel's `pybabel compile` (pure Python: no GNU gettext
needed); the test suite's session start calls `messages_compile` so a bare `pytest` in a fresh clone
works too; the Dockerfile compiles them into the image. The .mo files are not in git.

Run as a script (`python -m config.translations`) it compiles whatever is out of date.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "django"


def messages_compile(locale_dir: Path = LOCALE_DIR, *, force: bool = False) -> list[Path]:
    """Compile each <language>/LC_MESSAGES/django.po under `locale_dir` whose .mo is missing or older
    (every one when `force`). Fuzzy entries are left out, as pybabel and msgfmt leave them out.
    Returns the .mo files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        # Written beside it and renamed into place: a server or test reading it never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=mo_path.parent, prefix=".django-", suffix=".mo")
        try:
            with os.fdopen(handle, "wb") as mo_file:
                write_mo(mo_file, catalog)
            os.chmod(temporary, 0o644)  # readable as pybabel's would be (mkstemp makes it 0600)
            os.replace(temporary, mo_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in messages_compile():
        print(f"compiled {path.relative_to(LOCALE_DIR.parent)}")
