"""Thread the texts kept before the inbox into conversations, filed as handled: they were read on
the old Texts page, and an inbox full of last year's texts would hide today's."""

from django.db import migrations


def thread(apps, schema_editor):
    InboundMessage = apps.get_model("messaging", "InboundMessage")
    Conversation = apps.get_model("messaging", "Conversation")
    found: dict[tuple, object] = {}
    texts = InboundMessage.objects.filter(clinic__isnull=False, conversation__isnull=True).order_by("received_at", "id")
    for text in texts.iterator(chunk_size=2000):
        key = (text.clinic_id, text.caregiver_id) if text.caregiver_id else (text.clinic_id, None, text.from_number)
        conversation = found.get(key)
        if conversation is None:
            conversation = Conversation.objects.create(
                clinic_id=text.clinic_id, caregiver_id=text.caregiver_id, phone=text.from_number,
                status="handled", last_message_at=text.received_at, last_inbound_at=text.received_at,
            )  # fmt: skip
            found[key] = conversation
        conversation.last_message_at = conversation.last_inbound_at = text.received_at
        conversation.phone = text.from_number
        text.conversation_id = conversation.pk
        text.save(update_fields=["conversation"])
    for conversation in found.values():
        conversation.save(update_fields=["last_message_at", "last_inbound_at", "phone"])


class Migration(migrations.Migration):
    dependencies = [("messaging", "0009_inbox_feedback_and_bounces")]

    operations = [migrations.RunPython(thread, migrations.RunPython.noop)]
