"""load_content: idempotent, versioned, never deletes, loads nothing when anything is wrong."""

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from content.models import MessageTemplate, Tip
from content.services import ContentInvalid, library_load, library_read, tip_update


def edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def test_loading_twice_changes_nothing(db, library_copy):
    first = library_load(root=library_copy)
    before = {t.slug: (t.version, t.updated_at) for t in Tip.objects.all()}
    second = library_load(root=library_copy)
    assert first.counts[("tip", "created")] == Tip.objects.count() >= 60
    assert second.counts[("tip", "unchanged")] == Tip.objects.count()
    assert second.counts[("tip", "updated")] == second.counts[("template", "updated")] == 0
    assert {t.slug: (t.version, t.updated_at) for t in Tip.objects.all()} == before


def test_an_edited_tip_is_updated_and_its_version_bumped(db, library_copy):
    library_load(root=library_copy)
    path = library_copy / "en" / "what-to-say.yaml"
    slug = yaml.safe_load(path.read_text())["tips"][0]["slug"]
    edit(path, lambda d: d["tips"][0].update(sms="A new, shorter text for this tip."))
    report = library_load(root=library_copy)
    tip = Tip.objects.get(slug=slug, language="en")
    assert report.counts[("tip", "updated")] == 1
    assert (tip.version, tip.sms_body) == (2, "A new, shorter text for this tip.")


def test_a_removed_tip_is_retired_not_deleted_and_comes_back(db, library_copy):
    library_load(root=library_copy)
    paths = [library_copy / language / "course.yaml" for language in ("en", "es")]
    originals = [path.read_text() for path in paths]
    slug = yaml.safe_load(originals[0])["tips"][0]["slug"]
    for path in paths:  # out of both languages: a tip is in every language or none
        edit(path, lambda d: d["tips"].pop(0))
    assert library_load(root=library_copy).counts[("tip", "retired")] == 2
    assert set(Tip.objects.filter(slug=slug).values_list("active", flat=True)) == {False}
    for path, original in zip(paths, originals, strict=True):
        path.write_text(original)
    assert library_load(root=library_copy).counts[("tip", "restored")] == 2
    assert set(Tip.objects.filter(slug=slug).values_list("active", flat=True)) == {True}


def test_a_tip_or_message_left_out_of_one_language_is_refused(db, library_copy):
    edit(library_copy / "en" / "course.yaml", lambda d: d["tips"].pop(0))
    edit(library_copy / "es" / "messages.yaml", lambda d: d.update(messages=d["messages"][1:]))
    with pytest.raises(ContentInvalid) as refused:
        library_read(root=library_copy)
    problems = "\n".join(map(str, refused.value.errors))
    assert "library/es/course.yaml tip 1 (initial-phase) has no en version under the same slug" in problems
    assert "has no es version under the same key" in problems


def test_an_admin_edit_survives_reloading_an_unchanged_file(db, library_copy):
    library_load(root=library_copy)
    tip = Tip.objects.first()
    tip_update(tip=tip, sms_body="Edited by clinic staff.")
    library_load(root=library_copy)
    tip.refresh_from_db()
    assert (tip.sms_body, tip.version) == ("Edited by clinic staff.", 2)


def test_a_problem_anywhere_loads_nothing_and_names_file_item_and_field(db, library_copy):
    edit(library_copy / "en" / "course.yaml", lambda d: d["tips"][1].update(sms="x" * 400))
    with pytest.raises(ContentInvalid) as excinfo:
        library_load(root=library_copy)
    (error,) = excinfo.value.errors
    assert error.path == "library/en/course.yaml"
    assert error.item.startswith("tip 2 (")
    assert error.field == "sms"
    assert "after it is 445 GSM-7 characters, 3 segments" in error.message
    assert not Tip.objects.exists()


def test_duplicate_slugs_across_files_are_refused(db, library_copy):
    first = yaml.safe_load((library_copy / "en" / "course.yaml").read_text())["tips"][0]["slug"]
    edit(library_copy / "en" / "everyday-help.yaml", lambda d: d["tips"][0].update(slug=first))
    with pytest.raises(ContentInvalid, match=f"“{first}” is also used by library/en/"):
        library_load(root=library_copy)


def test_broken_yaml_names_the_line(db, library_copy):
    (library_copy / "en" / "course.yaml").write_text("category: course\ntips:\n  - slug: [unclosed\n")
    with pytest.raises(ContentInvalid, match=r"library/en/course.yaml: line \d+: field “yaml” is not valid YAML"):
        library_load(root=library_copy)


def test_an_unknown_category_is_refused(db, library_copy):
    edit(library_copy / "en" / "course.yaml", lambda d: d.update(category="recipes"))
    with pytest.raises(ContentInvalid, match="“recipes” is not one of"):
        library_load(root=library_copy)


def test_templates_are_loaded_and_retired_like_tips(db, library_copy):
    library_load(root=library_copy)
    assert MessageTemplate.objects.filter(key="help", active=True).exists()
    for language in ("en", "es"):
        edit(
            library_copy / language / "messages.yaml",
            lambda d: d.update(messages=[m for m in d["messages"] if m["key"] != "help"]),
        )
    assert library_load(root=library_copy).counts[("template", "retired")] == 2


def test_the_command_reports_problems_and_fails(db, library_copy):
    edit(library_copy / "en" / "course.yaml", lambda d: d["tips"][0].update(sms="About ketamine."))
    err = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("load_content", root=library_copy, stderr=err)
    assert "library/en/course.yaml: tip 1" in err.getvalue()
    assert "names 'ketamine'" in err.getvalue()


def test_the_command_loads_and_summarises(db):
    out = StringIO()
    call_command("load_content", stdout=out)
    assert "Content loaded: tips:" in out.getvalue()
    assert "created" in out.getvalue()
