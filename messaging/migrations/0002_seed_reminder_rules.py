from django.db import migrations


def seed(apps, schema_editor):
    # The defaults as they were when this migration was written; later clinics get them on creation.
    from messaging.models import DEFAULT_RULES, TREATMENT_KINDS

    Clinic = apps.get_model("caregiver", "Clinic")
    ReminderRule = apps.get_model("messaging", "ReminderRule")
    for clinic in Clinic.objects.all():
        for position, rule in enumerate(DEFAULT_RULES):
            ReminderRule.objects.get_or_create(
                clinic=clinic, key=rule["key"], defaults={**rule, "position": position, "appointment_kinds": TREATMENT_KINDS}
            )


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial"), ("caregiver", "0002_messaging_fields")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
