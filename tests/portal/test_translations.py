"""The Spanish catalog (locale/es/LC_MESSAGES/django.po): complete, faithful to its placeholders and
markup, up to date with the marked strings, and compiled the way `make messages` compiles it."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.conf import settings

from caregiver.consent import CONSENT_LANGUAGES, CONSENT_TEXTS, CURRENT_WEB_BY_LANGUAGE
from config.translations import messages_compile

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
MARKUP = re.compile(r"</?\w+")


def catalog():
    with PO.open("rb") as po_file:
        return read_po(po_file, locale="es")


def entries():
    return [message for message in catalog() if message.id]


def forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def test_every_entry_is_translated_and_none_is_fuzzy():
    spanish = catalog()
    assert not spanish.fuzzy, "the header is marked fuzzy: pybabel would skip the whole catalog"
    assert entries(), "nothing to translate?"
    untranslated = [message.id for message in entries() if not all(forms(message))]
    fuzzy = [message.id for message in entries() if message.fuzzy]
    assert untranslated == []
    assert fuzzy == []


def test_translations_keep_their_placeholders_and_markup():
    wrong = []
    for message in entries():
        ids = list(message.id) if isinstance(message.id, tuple) else [message.id]
        expected = {name for text in ids for name in PLACEHOLDER.findall(text)}
        for index, translated in enumerate(forms(message)):
            used = set(PLACEHOLDER.findall(translated))
            # The singular of a plural may leave its number out ("Revise el campo marcado abajo.").
            plural_one = isinstance(message.id, tuple) and index == 0
            if used - expected or (not plural_one and used != expected):
                wrong.append((ids[0], translated))
            if sorted(MARKUP.findall(translated)) != sorted(MARKUP.findall(ids[0])):
                wrong.append((ids[0], translated))
    assert wrong == []


def test_the_spanish_says_usted_and_the_spanish_keywords():
    spanish = {message.id if isinstance(message.id, str) else message.id[0]: forms(message)[0] for message in entries()}
    assert spanish["Done. You will get nothing more from Alongside. Reply START to a text to return."] == (
        "Listo. No recibirá nada más de Alongside. Responda INICIO a un mensaje de texto para volver."
    )
    # Usted throughout: none of the "tú" forms a page would use.
    informal = re.compile(r"\b(tú|tu|tus|te|tienes|puedes|quieres|recibes|eres|estás|ti)\b", re.IGNORECASE)
    assert [text for text in spanish.values() if informal.search(text)] == []
    # The keywords the texts answer: never the English ones in Spanish.
    assert [text for text in spanish.values() if re.search(r"\b(STOP|HELP|START|YES|PREFS|RIDE)\b", text)] == []


def test_compiling_writes_every_message(tmp_path):
    locale = tmp_path / "locale"
    shutil.copytree(ROOT / "locale", locale, ignore=shutil.ignore_patterns("*.mo"))
    [written] = messages_compile(locale)
    assert written == locale / "es" / "LC_MESSAGES" / "django.mo"
    with written.open("rb") as mo_file:
        compiled = read_mo(mo_file)
    assert len([message for message in compiled if message.id]) == len(entries())
    assert messages_compile(locale) == []  # up to date: nothing to do


@pytest.mark.skipif(not shutil.which("xgettext"), reason="makemessages needs GNU gettext's xgettext")
def test_the_catalog_has_every_string_the_code_marks(tmp_path):
    """`make makemessages` on a copy of the code finds nothing the catalog lacks (a string marked
    since, and not translated, would show in English on a Spanish page)."""
    for name in ("caregiver", "config", "content", "messaging", "portal", "locale"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "--no-obsolete", "--add-location", "file"],
        cwd=tmp_path, env=env, check=True, capture_output=True,
    )  # fmt: skip
    with (tmp_path / "locale" / "es" / "LC_MESSAGES" / "django.po").open("rb") as po_file:
        gathered = read_po(po_file, locale="es")
    ours = {(message.context, message.id) for message in entries()}
    new = [message.id for message in gathered if message.id and (message.context, message.id) not in ours]
    assert new == [], "run `make makemessages` and translate these in locale/es/LC_MESSAGES/django.po"
    stale = [message.id for message in gathered if message.id and (message.fuzzy or not all(forms(message)))]
    assert stale == []


def test_every_language_has_a_current_web_consent_text_written_in_it():
    assert set(CURRENT_WEB_BY_LANGUAGE) == {code for code, _name in settings.LANGUAGES}
    for language, version in CURRENT_WEB_BY_LANGUAGE.items():
        assert version in CONSENT_TEXTS
        assert CONSENT_LANGUAGES[version] == language
    assert set(CONSENT_LANGUAGES) == set(CONSENT_TEXTS)
    spanish = CONSENT_TEXTS[CURRENT_WEB_BY_LANGUAGE["es"]]
    assert "{clinic}" in spanish
    for words in ("Responda PARAR para cancelar, AYUDA para ayuda.", "Pueden aplicarse tarifas",
                  "La frecuencia de los mensajes varía", "no es condición para el tratamiento"):  # fmt: skip
        assert words in spanish
