"""factory_boy factories. They build valid rows directly; tests of behaviour call services."""

import itertools
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from caregiver.models import (
    Appointment,
    Caregiver,
    CareLink,
    Clinic,
    ConsentRecord,
    LovedOne,
    OnCallContact,
    StaffMembership,
)

_SENDERS = itertools.count()


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    time_zone = "America/New_York"
    contact_phone = "+12025550100"
    contact_email = factory.Sequence(lambda n: f"care{n}@clinic.example")
    # Each clinic sends from a number of its own (a database constraint): the first of a test gets
    # the number tests text to, the others numbers after it.
    twilio_from_number = factory.LazyFunction(
        lambda: (
            "+12025550199"
            if not Clinic.objects.filter(twilio_from_number="+12025550199").exists()
            else f"+1312555{1000 + next(_SENDERS) % 8000:04d}"
        )
    )
    sms_mps = 1000  # the rate limit has its own test; elsewhere it would only make tests wait


class OnCallContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OnCallContact

    clinic = factory.SubFactory(ClinicFactory)
    position = factory.Sequence(lambda n: n)
    name = factory.Sequence(lambda n: f"On-call {n}")
    phone = factory.Sequence(lambda n: f"+1202555{3000 + n:04d}")
    email = factory.Sequence(lambda n: f"oncall{n}@clinic.example")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("a-long-test-password")


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)


class TOTPDeviceFactory(factory.django.DjangoModelFactory):
    """A staff member's authenticator app, set up and confirmed (tests compute its codes from bin_key)."""

    class Meta:
        model = TOTPDevice

    user = factory.SubFactory(UserFactory)
    name = "Authenticator app"
    confirmed = True


class LovedOneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LovedOne

    clinic = factory.SubFactory(ClinicFactory)
    first_name = factory.Iterator(["Alex", "Robin", "Casey", "Morgan"])


class CaregiverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Caregiver

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Caregiver {n}")
    # Valid US numbers (202-555-6000 to 9999), never one a test types (those are 202-555-01xx): the
    # 143rd caregiver of a run once took a sign-up's (202) 555-0143.
    phone = factory.Sequence(lambda n: f"+1202555{6000 + n % 4000:04d}")
    email = factory.Sequence(lambda n: f"caregiver{n}@example.com")
    channels = Caregiver.Channels.SMS
    time_zone = factory.SelfAttribute("clinic.time_zone")
    status = Caregiver.Status.ACTIVE


class CareLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareLink

    caregiver = factory.SubFactory(CaregiverFactory)
    loved_one = factory.SubFactory(LovedOneFactory, clinic=factory.SelfAttribute("..caregiver.clinic"))


class ConsentRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentRecord

    caregiver = factory.SubFactory(CaregiverFactory)
    channel = ConsentRecord.Channel.SMS
    action = ConsentRecord.Action.OPT_IN
    source = ConsentRecord.Source.WEB
    consent_text_version = "v1"


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    loved_one = factory.SubFactory(LovedOneFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
    duration_minutes = 60
    kind = Appointment.Kind.INFUSION


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    """A due SMS tip to a consenting caregiver, already claimed by the dispatcher."""

    class Meta:
        model = "messaging.OutboundMessage"

    caregiver = factory.SubFactory(CaregiverFactory)
    channel = "sms"
    kind = "tip"
    body = factory.Sequence(lambda n: f"Alongside: tip number {n}")
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    send_at = factory.LazyFunction(timezone.now)
    status = "queued"
