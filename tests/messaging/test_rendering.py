"""Names in texts: spelt in GSM-7, so one letter does not double what a text costs; emails keep them."""

import pytest

from caregiver import services
from caregiver.models import Caregiver
from content.validation import sms_size
from messaging import rendering
from messaging.models import OutboundMessage
from messaging.services import welcome_enqueue
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(clinic):
    def make(*, caregiver: str, loved_one: str, email: str = "") -> Caregiver:
        person = factories.CaregiverFactory(
            clinic=clinic, name=caregiver, status=Caregiver.Status.PENDING, phone="+12025550143", email=email
        )
        factories.CareLinkFactory(
            caregiver=person, loved_one=factories.LovedOneFactory(clinic=clinic, first_name=loved_one)
        )
        return person

    return make


def _invite(caregiver: Caregiver, capture) -> OutboundMessage:
    with capture(execute=True):
        services.caregiver_invite(caregiver=caregiver, by=None)
    return caregiver.messages.get(channel="sms")


def test_an_accented_name_is_spelt_in_gsm7_and_the_invite_stays_two_segments(
    family, content, django_capture_on_commit_callbacks
):
    invite = _invite(family(caregiver="Łukasz Nowak", loved_one="Zoë"), django_capture_on_commit_callbacks)
    assert "supporting Zoe and" in invite.body
    size = sms_size(invite.body)
    assert (size.encoding, size.segments) == ("GSM-7", 2)


def test_names_already_in_gsm7_keep_their_accents(family, content, django_capture_on_commit_callbacks):
    invite = _invite(family(caregiver="Sam", loved_one="Renée"), django_capture_on_commit_callbacks)
    assert "supporting Renée and" in invite.body


def test_a_name_in_another_script_is_transliterated(family, content, django_capture_on_commit_callbacks):
    invite = _invite(family(caregiver="Sam", loved_one="Σοφία"), django_capture_on_commit_callbacks)
    assert "supporting Sofia and" in invite.body
    assert sms_size(invite.body).encoding == "GSM-7"


def test_an_emoji_for_a_name_reads_as_your_loved_one_and_the_greeting_drops_the_name(
    family, content, django_capture_on_commit_callbacks
):
    caregiver = family(caregiver="🌻", loved_one="🌈", email="sun@example.org")
    caregiver.status = Caregiver.Status.ACTIVE
    caregiver.save()
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    factories.ConsentRecordFactory(caregiver=caregiver, channel="email")
    with django_capture_on_commit_callbacks(execute=True):
        welcome_enqueue(caregiver_id=caregiver.pk)
    text = caregiver.messages.get(channel="sms").body
    assert text.startswith("Alongside: Welcome. Tips on supporting your loved one a few times")
    # The email is not limited to GSM-7: the names stay as the family wrote them.
    email = caregiver.messages.get(channel="email")
    assert email.subject == "Welcome to Alongside, 🌻"
    assert "support 🌈" in email.body


@pytest.mark.parametrize(
    ("name", "spelt"),
    [
        ("Zoë", "Zoe"),
        ("Nguyễn", "Nguyen"),
        ("Ｓａｍ", "Sam"),
        ("O’Brien", "O'Brien"),
        ("Ольга", "Ol'ga"),
        ("José", "José"),  # é is in GSM-7
        ("Ana 🌻", "Ana"),
        ("\x1bEve", "Eve"),
        ("🌻", ""),
    ],
)
def test_sms_name(name, spelt):
    assert rendering.sms_name(name) == spelt


@pytest.mark.parametrize(
    ("name", "in_a_text"),
    [
        ("Christopher", "Christopher"),
        ("Mary Ann Montgomery-Smith", "Mary Ann"),
        ("Wolfeschlegelsteinhausenberger", "Wolfeschlegelsteinha"),
        ("Zoë Abigail Richardson-Lowe", "Zoe Abigail"),
    ],
)
def test_a_long_name_is_shortened_in_a_text_to_what_the_templates_were_checked_with(name, in_a_text):
    assert rendering.sms_person(name) == in_a_text
    assert len(rendering.sms_person(name)) <= 20
