"""A reply written as the caregiver texts STOP: neither side fails, and the STOP wins."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from messaging import inbox
from messaging.inbound import inbound_receive
from messaging.models import Conversation, OutboundMessage
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reply_racing_a_stop_never_deadlocks_and_never_goes_out(content):
    link = factories.CareLinkFactory()
    person = link.caregiver
    factories.ConsentRecordFactory(caregiver=person, channel="sms")
    dana = get_user_model().objects.create_user(username="dana", password="x" * 20)
    factories.StaffMembershipFactory(user=dana, clinic=person.clinic)
    inbound_receive(message_sid="SM" + "0" * 32, from_number=person.phone, to_number=person.clinic.twilio_from_number,
                    body="question")  # fmt: skip
    conversation = Conversation.objects.get(caregiver=person)
    failures = []
    for round_ in range(1, 6):
        start = threading.Barrier(2)

        def reply(round_=round_, start=start):
            try:
                start.wait()
                inbox.conversation_reply(conversation_id=conversation.pk, text=f"Round {round_}", by=dana,
                                         now=timezone.now())  # fmt: skip
            except ValidationError:
                pass  # the STOP came first: refused in words
            except Exception as exc:  # noqa: BLE001 - a deadlock, say: recorded and asserted below
                failures.append(repr(exc))
            finally:
                connection.close()

        def stop(round_=round_, start=start):
            try:
                start.wait()
                inbound_receive(message_sid=f"SM{round_:032d}", from_number=person.phone,
                                to_number=person.clinic.twilio_from_number, body="STOP")  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - recorded and asserted below
                failures.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=reply), threading.Thread(target=stop)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        inbound_receive(message_sid=f"SMstart{round_:027d}", from_number=person.phone,
                        to_number=person.clinic.twilio_from_number, body="START")  # fmt: skip
    assert failures == []
    # Whatever the order, nothing written before a STOP is still waiting to go out after it.
    assert not OutboundMessage.objects.filter(kind="reply", sent_by=dana, status__in=["scheduled", "queued"]).exists()
