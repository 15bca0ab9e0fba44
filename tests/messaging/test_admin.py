from django.contrib.auth.models import Permission

from tests.factories import CaregiverFactory, OutboundMessageFactory


def test_staff_see_their_own_clinics_outbox_read_only(client, staff_user, clinic, other_clinic):
    staff_user.is_staff = True
    staff_user.save()
    staff_user.user_permissions.set(Permission.objects.filter(content_type__app_label="messaging"))
    mine = OutboundMessageFactory(caregiver=CaregiverFactory(clinic=clinic), body="For our family")
    OutboundMessageFactory(caregiver=CaregiverFactory(clinic=other_clinic), body="For another clinic")
    client.force_login(staff_user)
    page = client.get("/admin/messaging/outboundmessage/").content.decode()
    assert "For our family" in page
    assert "For another clinic" not in page
    assert client.get("/admin/messaging/outboundmessage/add/").status_code == 403
    assert client.post(f"/admin/messaging/outboundmessage/{mine.pk}/delete/").status_code == 403
