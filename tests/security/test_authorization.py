"""Who may do what, on every staff page, every staff API endpoint and every admin model.

The routes come from the URL configuration itself: a URL that is in none of the tables below
fails `test_every_url_is_in_the_matrix`, so a new endpoint cannot ship without its rows here.
Users: anonymous; signed in but at no clinic; clinic A's staff on A's objects (the request
works, so the route is real); and clinic A's staff on clinic B's objects, which must get the
same answer as an id that never existed (a 404 wherever the method is allowed), and change
nothing at clinic B.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from caregiver import services
from caregiver.admin import ClinicScopedAdmin
from caregiver.models import (
    Appointment,
    AuditEvent,
    Caregiver,
    ChannelConfirmation,
    Clinic,
    ClinicClosure,
    ConsentRecord,
    LovedOne,
    StaffMembership,
)
from caregiver.tokens import email_confirm_token, preferences_token
from messaging.bounces import tracking_urls
from messaging.inbound import inbound_receive
from messaging.models import Conversation, CrisisAlert, InboundMessage, OutboundMessage, ReminderRule, SavedReply
from portal.models import StaffApiToken
from portal.views.staff import IMPORT_SESSION_KEY
from tests import factories
from tests.clients import token_client
from tests.forms import CASEY, enrollment

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NEVER = 987654321  # an id no row has


# --- Every URL the project answers, and where its authorization is tested ---------------------------


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield (
                (f"{namespace}{pattern.name}" if pattern.name else prefix + str(pattern.pattern)),
                prefix + str(pattern.pattern),
            )


def project_urls() -> dict[str, str]:
    """{url name (or route, if unnamed): route} for everything config.urls answers."""
    return dict(_walk(get_resolver().url_patterns))


@dataclass(frozen=True)
class Route:
    target: str | None  # the kind of object its pk names: family, caregiver, appointment, message
    allowed: dict[str, int] = field(default_factory=dict)  # method -> status for clinic A's own objects


STAFF_PAGES = {
    "portal:families": Route(None, {"GET": 200}),
    "portal:tomorrow": Route(None, {"GET": 200, "POST": 400}),  # a POST without its appointment
    "portal:enroll": Route(None, {"GET": 200, "POST": 302}),
    "portal:import": Route(None, {"GET": 200, "POST": 400}),  # a POST without a file
    "portal:import-appointments": Route(None, {"GET": 200, "POST": 400}),  # a POST without a file
    "portal:import-template": Route(None, {"GET": 200}),
    "portal:import-appointments-template": Route(None, {"GET": 200}),
    "portal:closures": Route(None, {"GET": 200, "POST": 302}),
    "portal:closure-remove": Route("closure", {"POST": 302}),
    "portal:family": Route("family", {"GET": 200, "POST": 302}),
    "portal:course": Route("family", {"GET": 200, "POST": 302}),
    "portal:reschedule": Route("appointment", {"GET": 200, "POST": 302}),
    "portal:cancel": Route("appointment", {"POST": 302}),
    "portal:reinvite": Route("caregiver", {"POST": 302}),
    "portal:alerts": Route(None, {"GET": 200}),
    "portal:alert": Route("alert", {"GET": 200, "POST": 302}),
    "portal:alert-acknowledge": Route("alert", {"POST": 302}),
    "portal:texts": Route(None, {"GET": 200}),
    "portal:dashboard": Route(None, {"GET": 200}),
    "portal:inbox": Route(None, {"GET": 200}),
    # The caregiver opted out of texts: a reply is refused, in words, with a 400.
    "portal:conversation": Route("conversation", {"GET": 200, "POST": 400}),
    "portal:conversation-assign": Route("conversation", {"POST": 302}),
    "portal:conversation-handle": Route("conversation", {"POST": 302}),
    "portal:conversation-start": Route("caregiver", {"POST": 302}),
    "portal:saved-replies": Route(None, {"GET": 200, "POST": 302}),
    "portal:saved-reply": Route("saved_reply", {"GET": 200, "POST": 302}),
    "portal:caregiver-edit": Route("caregiver", {"GET": 200, "POST": 302}),
    "portal:caregiver-add": Route("family", {"GET": 200, "POST": 302}),
    "portal:appointment-ride": Route("appointment", {"POST": 302}),
    "portal:family-archive": Route("family", {"GET": 200, "POST": 302}),
    "portal:family-rename": Route("family", {"GET": 200, "POST": 302}),
    "portal:family-restore": Route("family", {"POST": 302}),  # not archived: said so on the family page
    "portal:family-merge": Route("family", {"GET": 200, "POST": 400}),  # a family is not merged into itself
    "portal:sign-ups": Route(None, {"GET": 200}),
    "portal:account": Route(None, {"GET": 200}),
}
STAFF_API = {
    "staff-family-list": Route(None, {"GET": 200, "POST": 201}),
    "staff-family-detail": Route("family", {"GET": 200}),
    "staff-family-course": Route("family", {"GET": 200}),
    "staff-caregiver-list": Route(None, {"GET": 200}),
    "staff-caregiver-detail": Route("caregiver", {"GET": 200, "PATCH": 200}),
    "staff-appointment-list": Route(None, {"GET": 200, "POST": 201}),
    "staff-appointment-detail": Route("appointment", {"GET": 200}),
    "staff-appointment-reschedule": Route("appointment", {"POST": 200}),
    "staff-appointment-cancel": Route("appointment", {"POST": 200}),
    "staff-message-list": Route(None, {"GET": 200}),
    "staff-message-detail": Route("message", {"GET": 200}),
    "staff-dashboard": Route(None, {"GET": 200}),
    "staff-conversation-list": Route(None, {"GET": 200}),
    "staff-conversation-detail": Route("conversation", {"GET": 200}),
    "staff-conversation-reply": Route("conversation", {"POST": 400}),  # opted out: refused in words
    "staff-conversation-assign": Route("conversation", {"POST": 200}),
    "staff-conversation-handle": Route("conversation", {"POST": 200}),
    "staff-conversation-reopen": Route("conversation", {"POST": 200}),
}
# Not staff-only, each with the reason and where its own access rules are tested.
ELSEWHERE = {
    "home": "a public page with no data",
    "portal:dashboard-csv": "staff login, the user's clinics only, another's a 404 (tests/portal/test_dashboard.py)",
    "healthz": "public; says only which service is down (tests/config/test_health.py)",
    "schema": "public OpenAPI schema, no data",
    "api-docs": "public API docs, no data",
    "tip-list": "tip API, API keys (tests/content/test_api.py, tests/security/test_rate_limits.py)",
    "tip-detail": "tip API, API keys (tests/content/test_api.py)",
    "category-list": "tip API, API keys (tests/content/test_api.py)",
    "portal:join-start": "caregiver sign-up, public (tests/portal/test_join.py)",
    "portal:join": "caregiver sign-up, public, limited per IP (tests/security/test_rate_limits.py)",
    "portal:join-confirm": "the sign-up's own session only (tests/portal/test_join.py)",
    "portal:join-done": "the sign-up's own session only (tests/portal/test_join.py)",
    "portal:email-confirm": "signed link (test_signed_links_refuse_forged_and_borrowed_tokens below)",
    "portal:preferences": "signed link (test_signed_links_refuse_forged_and_borrowed_tokens below)",
    "messaging:unsubscribe": "signed link (test_signed_links_refuse_forged_and_borrowed_tokens below)",
    "portal:alert-ack": "signed link per alert and on-call contact (tests/messaging/test_alerts.py)",
    "portal:ride": "signed link per caregiver, appointment and address (tests/messaging/test_rides_and_notices.py)",
    "portal:calendar-feed": "secret link per caregiver, replaceable from preferences (tests/portal/test_calendar.py)",
    "portal:dev-phone": "local settings only: a 404 under any other (tests/portal/test_dev_phone.py)",
    "portal:dev-phone-send-next": "local settings only: a 404 under any other (tests/portal/test_dev_phone.py)",
    "portal:login": "public, limited (tests/security/test_rate_limits.py)",
    "portal:logout": "ends the caller's own session",
    "portal:two-factor-code": "the signed-in caller's own second step (tests/portal/test_two_factor.py)",
    "portal:two-factor-setup": "the signed-in caller's own authenticator app (tests/portal/test_two_factor.py)",
    "messaging:twilio-inbound": "Twilio signature (tests/security/test_webhook_signatures.py)",
    "messaging:twilio-status": "Twilio signature (tests/security/test_webhook_signatures.py)",
    "portal:tip-feedback": "signed link per tip email, answers only (tests/messaging/test_feedback.py)",
    **{
        f"anymail:{pattern.name}": "provider basic auth, closed without a secret (tests/messaging/test_bounces.py)"
        for pattern in tracking_urls()
    },
}
ADMIN_PREFIX = "admin/"  # the admin's own URLs: every registered model is classified in ADMIN_* below


def test_every_url_is_in_the_matrix():
    urls = project_urls()
    unclassified = {
        name: route
        for name, route in urls.items()
        if not route.startswith(ADMIN_PREFIX) and name not in {*STAFF_PAGES, *STAFF_API, *ELSEWHERE}
    }
    assert unclassified == {}, "new URLs: add each to STAFF_PAGES, STAFF_API or ELSEWHERE with its tests"
    stale = {*STAFF_PAGES, *STAFF_API, *ELSEWHERE} - set(urls)
    assert stale == set(), "the matrix names URLs that no longer exist"


# --- Two clinics, each with a family ---------------------------------------------------------------------


def family_at(clinic: Clinic, *, name: str, caregiver_name: str, phone: str) -> dict:
    """A family with a pending caregiver, consent, an appointment, a message, a confirmation and a reply."""
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name=name)
    caregiver = factories.CaregiverFactory(
        clinic=clinic, name=caregiver_name, phone=phone, status=Caregiver.Status.PENDING
    )
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    consent = factories.ConsentRecordFactory(caregiver=caregiver, action=ConsentRecord.Action.OPT_OUT)
    appointment = factories.AppointmentFactory(loved_one=loved_one)
    message = factories.OutboundMessageFactory(caregiver=caregiver, kind="reminder", appointment=appointment)
    confirmation = services.confirmation_start(
        caregiver=caregiver, channel="sms", source="staff", consent_text_version="v1"
    )
    conversation = Conversation.objects.create(
        clinic=clinic, caregiver=caregiver, phone=phone, status="open", last_message_at=timezone.now()
    )
    inbound = InboundMessage.objects.create(
        message_sid=f"SM{caregiver.pk:032d}", from_number=phone, to_number="+12025550199", body="thanks",
        clinic=clinic, caregiver=caregiver, action=InboundMessage.Action.STORED, conversation=conversation,
    )  # fmt: skip
    alert = CrisisAlert.objects.create(
        clinic=clinic, caregiver=caregiver, inbound=inbound, severity="danger", opened_at=timezone.now()
    )
    user = factories.UserFactory()
    membership = factories.StaffMembershipFactory(user=user, clinic=clinic)
    audit = services.audit_record(
        by=user, action="caregiver.update", target=caregiver, changes={"tip_frequency": ["weekly", "daily"]}
    )
    return {
        "clinic": clinic, "family": loved_one, "caregiver": caregiver, "appointment": appointment,
        "message": message, "consent": consent, "confirmation": confirmation, "inbound": inbound,
        "membership": membership, "audit": audit, "rule": ReminderRule.objects.filter(clinic=clinic).first(),
        "alert": alert, "conversation": conversation,
        "saved_reply": SavedReply.objects.create(clinic=clinic, title="Call back", body="We'll call you today."),
        "closure": ClinicClosure.objects.create(clinic=clinic, day=timezone.localdate() + timedelta(days=30)),
    }  # fmt: skip


@pytest.fixture
def ours(clinic):
    return family_at(clinic, name="Alex", caregiver_name="Jordan Ours", phone="+12025550141")


@pytest.fixture
def theirs(other_clinic):
    return family_at(other_clinic, name="Zed", caregiver_name="Quinn Theirs", phone="+12025550142")


def snapshot(clinic: Clinic) -> dict:
    """Everything at a clinic a staff request could change."""
    return {
        "families": sorted(LovedOne.objects.filter(clinic=clinic).values_list("pk", "first_name")),
        "caregivers": sorted(
            Caregiver.objects.filter(clinic=clinic).values_list("pk", "name", "phone", "tip_frequency", "status")
        ),
        "appointments": sorted(
            Appointment.objects.filter(loved_one__clinic=clinic).values_list(
                "pk", "starts_at", "duration_minutes", "status"
            )
        ),
        "confirmations": ChannelConfirmation.objects.filter(caregiver__clinic=clinic).count(),
        "consent": ConsentRecord.objects.filter(caregiver__clinic=clinic).count(),
        "messages": OutboundMessage.objects.filter(caregiver__clinic=clinic).count(),
        "audit": AuditEvent.objects.filter(clinic=clinic).count(),
        "memberships": StaffMembership.objects.filter(clinic=clinic).count(),
        "alerts": sorted(CrisisAlert.objects.filter(clinic=clinic).values_list("pk", "status", "close_note")),
        "closures": sorted(ClinicClosure.objects.filter(clinic=clinic).values_list("pk", "day")),
        "conversations": sorted(
            Conversation.objects.filter(clinic=clinic).values_list("pk", "status", "assigned_to", "last_message_at")
        ),
        "saved_replies": sorted(SavedReply.objects.filter(clinic=clinic).values_list("pk", "title", "body")),
        "replies": OutboundMessage.objects.filter(clinic=clinic, kind="reply").count(),
    }


def no_clinic_user():
    return factories.UserFactory()


# --- Staff pages -------------------------------------------------------------------------------------------


def page_url(name: str, family: dict | None, pk: int | None = None) -> str:
    target = STAFF_PAGES[name].target
    if target is None:
        return reverse(name)
    return reverse(name, kwargs={"pk": pk if pk is not None else family[target].pk})


def page_body(name: str, family: dict) -> dict:
    """A valid form for the page: it would change something if the request reached the object."""
    day = (timezone.now() + timedelta(days=10)).date().isoformat()
    if name == "portal:family":
        return {"new-day": day, "new-at": "10:00", "new-kind": "infusion", "new-duration_minutes": "60"}
    if name == "portal:reschedule":
        return {"day": day, "at": "11:00", "duration_minutes": "45"}
    if name == "portal:course":
        return {
            "pattern-first_day": day, "pattern-at": "10:00", "pattern-weekdays": ["0", "2", "4"],
            "pattern-sessions": "1", "pattern-maintenance_sessions": "0", "pattern-maintenance_every_weeks": "4",
            "pattern-duration_minutes": "60", "step": "save", "sessions-TOTAL_FORMS": "1",
            "sessions-INITIAL_FORMS": "0", "sessions-0-include": "on", "sessions-0-day": day,
            "sessions-0-at": "10:00", "sessions-0-kind": "infusion",
        }  # fmt: skip
    if name == "portal:caregiver-edit":
        return {"name": "Renamed Person", "phone": family["caregiver"].phone, "email": "", "channels": "sms",
                "language": "en"}  # fmt: skip
    if name == "portal:caregiver-add":
        return {"name": "Added Person", "relationship": "friend", "phone": "+12025550177", "channels": "sms"}
    if name == "portal:appointment-ride":
        return {"action": "mark"}
    if name == "portal:family-archive":
        return {"reason": "course_ended"}
    if name == "portal:family-rename":
        return {"first_name": "Robin"}
    if name == "portal:family-merge":
        return {"other": family["family"].pk, "step": "merge"}
    if name == "portal:alert":
        return {"note": "Called the family; all safe."}
    if name == "portal:conversation":
        return {"text": "We'll call you this afternoon.", "key": "k"}
    if name == "portal:conversation-assign":
        return {"assigned_to": "me"}
    if name in ("portal:saved-replies", "portal:saved-reply"):
        return {"title": "Running late", "body": "Thanks, we'll let the nurse know."}
    if name == "portal:closures":
        return {"day": day, "note": "Staff training", "clinic": family["clinic"].pk}
    if name == "portal:enroll":
        return enrollment(clinic=family["clinic"].pk, loved_one="Morgan", caregivers=[CASEY])
    return {}


def send(client, method: str, url: str, body: dict | None = None):
    if method == "GET":
        return client.get(url)
    if method == "POST":
        return client.post(url, body or {})
    return getattr(client, method.lower())(url)


def expected(route: Route, method: str) -> int:
    return route.allowed.get(method, 405)


def mismatches(checks: list[tuple[str, int, int]]) -> list[str]:
    return [f"{what}: got {got}, expected {want}" for what, got, want in checks if got != want]


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_anonymous_is_sent_to_the_staff_login_for_every_method(client, theirs, name):
    url = page_url(name, theirs)
    wrong = []
    for method in METHODS:
        response = send(client, method, url, page_body(name, theirs))
        location = response.get("Location", "")
        if response.status_code != 302 or not location.startswith("/staff/login/?next="):
            wrong.append(f"{method}: {response.status_code} {location}")
    assert wrong == []


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_a_user_at_no_clinic_is_refused_every_method(theirs, name):
    client = Client()
    client.force_login(no_clinic_user())
    url = page_url(name, theirs)
    before = snapshot(theirs["clinic"])
    checks = [(method, send(client, method, url, page_body(name, theirs)).status_code, 403) for method in METHODS]
    assert mismatches(checks) == []
    assert snapshot(theirs["clinic"]) == before


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_staff_reach_their_own_clinics_pages(staff_user, ours, name):
    client = Client()
    client.force_login(staff_user)
    route = STAFF_PAGES[name]
    checks = []
    for method in METHODS:
        response = send(client, method, page_url(name, ours), page_body(name, ours))
        checks.append((method, response.status_code, expected(route, method)))
    assert mismatches(checks) == []


@pytest.mark.parametrize("name", [name for name, route in STAFF_PAGES.items() if route.target])
def test_another_clinics_object_is_a_404_like_one_that_never_existed(staff_user, ours, theirs, name):
    client = Client()
    client.force_login(staff_user)
    route = STAFF_PAGES[name]
    before = snapshot(theirs["clinic"])
    checks = []
    for method in METHODS:
        body = page_body(name, theirs)
        other = send(client, method, page_url(name, theirs), body)
        never = send(client, method, page_url(name, theirs, pk=NEVER), body)
        want = 404 if method in route.allowed else 405
        checks += [(f"{method} theirs", other.status_code, want), (f"{method} never", never.status_code, want)]
    assert mismatches(checks) == []
    assert snapshot(theirs["clinic"]) == before


def test_the_families_page_and_its_search_show_only_the_users_clinic(staff_user, ours, theirs):
    client = Client()
    client.force_login(staff_user)
    page = client.get("/staff/").content.decode()
    assert "Jordan Ours" in page
    assert "Zed" not in page
    assert "Quinn Theirs" not in page
    for query in ("Zed", "Quinn", "555-0142", theirs["caregiver"].email):
        found = client.get("/staff/", {"q": query}).content.decode()
        assert "Quinn Theirs" not in found, query
        assert "No family matches" in found, query


def test_enrolling_at_another_clinic_is_refused(staff_user, ours, theirs):
    client = Client()
    client.force_login(staff_user)
    before = snapshot(theirs["clinic"])
    response = client.post("/staff/families/new/", page_body("portal:enroll", theirs))
    assert response.status_code == 400
    assert snapshot(theirs["clinic"]) == before
    assert not LovedOne.objects.filter(first_name="Morgan").exists()


def test_importing_into_another_clinic_is_refused_at_upload_and_at_import(staff_user, ours, theirs):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = Client()
    client.force_login(staff_user)
    before = snapshot(theirs["clinic"])
    csv = b"family,loved_one,caregiver_name,caregiver_phone\nF1,Morgan,Casey,202-555-0177\n"
    upload = client.post("/staff/import/", {"clinic": theirs["clinic"].pk, "file": SimpleUploadedFile("f.csv", csv)})
    assert upload.status_code == 400
    # A preview stored for another clinic (an old session, a tampered form) is not imported either.
    session = client.session
    session[IMPORT_SESSION_KEY] = {"clinic": theirs["clinic"].pk, "data": csv.decode()}
    session.save()
    response = client.post("/staff/import/", {"step": "import"})
    assert response["Location"] == "/staff/import/"
    assert snapshot(theirs["clinic"]) == before
    assert not LovedOne.objects.filter(first_name="Morgan").exists()


# --- Staff API -------------------------------------------------------------------------------------------------


def api_url(name: str, family: dict, pk: int | None = None) -> str:
    target = STAFF_API[name].target
    if target is None:
        return reverse(name)
    return reverse(name, kwargs={"pk": pk if pk is not None else family[target].pk})


def api_body(name: str, method: str, family: dict) -> dict | None:
    """A valid request body: it would change something if the request reached the object."""
    starts_at = (timezone.now() + timedelta(days=10)).replace(microsecond=0).isoformat()
    if name == "staff-family-list" and method == "POST":
        return {"first_name": "Morgan", "caregivers": [{"name": "Casey", "phone": "202-555-0177", "channels": "sms"}]}
    if name == "staff-appointment-list" and method == "POST":
        return {"loved_one": family["family"].pk, "starts_at": starts_at}
    if name == "staff-caregiver-detail" and method in ("PATCH", "PUT"):
        return {"tip_frequency": "daily"}
    if name == "staff-appointment-reschedule":
        return {"starts_at": starts_at}
    if name == "staff-conversation-reply":
        return {"text": "We'll call you this afternoon."}
    if name == "staff-conversation-assign":
        return {"assigned_to": family["membership"].user_id}
    return None


def api_send(client: APIClient, method: str, url: str, body: dict | None):
    return getattr(client, method.lower())(url, body, format="json")


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", STAFF_API)
def test_anonymous_api_calls_are_a_401_for_every_method(theirs, name):
    client = APIClient()
    url = api_url(name, theirs)
    checks = [(m, api_send(client, m, url, api_body(name, m, theirs)).status_code, 401) for m in METHODS]
    assert mismatches(checks) == []


@pytest.mark.parametrize("name", STAFF_API)
def test_api_users_at_no_clinic_are_a_403_for_every_method(theirs, name):
    before = snapshot(theirs["clinic"])
    url = api_url(name, theirs)
    for client in (token_client(no_clinic_user()), session_client(no_clinic_user())):
        checks = [(m, api_send(client, m, url, api_body(name, m, theirs)).status_code, 403) for m in METHODS]
        assert mismatches(checks) == []
    assert snapshot(theirs["clinic"]) == before


@pytest.mark.parametrize("name", STAFF_API)
def test_staff_reach_their_own_clinics_api(staff_user, ours, name):
    client = token_client(staff_user)
    route = STAFF_API[name]
    checks = []
    for method in METHODS:
        response = api_send(client, method, api_url(name, ours), api_body(name, method, ours))
        checks.append((method, response.status_code, expected(route, method)))
    assert mismatches(checks) == []


@pytest.mark.parametrize("auth", ["token", "session"])
@pytest.mark.parametrize("name", [name for name, route in STAFF_API.items() if route.target])
def test_another_clinics_api_object_is_a_404_like_one_that_never_existed(staff_user, ours, theirs, name, auth):
    client = token_client(staff_user) if auth == "token" else session_client(staff_user)
    route = STAFF_API[name]
    before = snapshot(theirs["clinic"])
    checks = []
    for method in METHODS:
        body = api_body(name, method, theirs)
        other = api_send(client, method, api_url(name, theirs), body)
        never = api_send(client, method, api_url(name, theirs, pk=NEVER), body)
        want = 404 if method in route.allowed else 405
        checks += [(f"{method} theirs", other.status_code, want), (f"{method} never", never.status_code, want)]
        if want == 404:
            # The same words, but for the id: nothing tells "another clinic's" from "no such".
            assert other.json()["detail"].replace(str(theirs[route.target].pk), "N") == never.json()["detail"].replace(
                str(NEVER), "N"
            )
    assert mismatches(checks) == []
    assert snapshot(theirs["clinic"]) == before


@pytest.mark.parametrize("name", [name for name, route in STAFF_API.items() if name.endswith("-list")])
def test_every_api_list_shows_only_the_users_clinic(staff_user, ours, theirs, name):
    rows = token_client(staff_user).get(reverse(name)).json()["results"]
    target = {"staff-family-list": "family", "staff-caregiver-list": "caregiver"}.get(
        name, name.removeprefix("staff-").removesuffix("-list")
    )
    assert {row["id"] for row in rows} == {ours[target].pk}


def test_creating_with_another_clinics_ids_is_refused(staff_user, ours, theirs):
    client = token_client(staff_user)
    before = snapshot(theirs["clinic"])
    family = api_body("staff-family-list", "POST", theirs) | {"clinic": theirs["clinic"].pk}
    response = client.post("/api/v1/families/", family, format="json")
    assert response.status_code == 400
    assert "You do not work at a clinic with id" in response.json()["clinic"][0]
    appointment = api_body("staff-appointment-list", "POST", theirs)
    response = client.post("/api/v1/appointments/", appointment, format="json")
    assert response.status_code == 400
    assert response.json()["loved_one"] == [f"No family with id {theirs['family'].pk} was found."]
    assert snapshot(theirs["clinic"]) == before


# --- Signed links (no login: the signature is the authority) -----------------------------------------------


def test_signed_links_refuse_forged_and_borrowed_tokens(client, ours):
    caregiver = ours["caregiver"]
    before = snapshot(ours["clinic"])
    # A made-up token, and real tokens made for another purpose (salts keep them apart).
    borrowed_for_preferences = email_confirm_token(ours["confirmation"].pk)
    borrowed_for_links = preferences_token(caregiver.pk, address=caregiver.phone)
    for url in (
        "/p/not-a-token/",
        f"/p/{borrowed_for_preferences}/",
        "/email/confirm/not-a-token/",
        f"/email/confirm/{borrowed_for_links}/",
        "/unsubscribe/not-a-token/",
        f"/unsubscribe/{borrowed_for_links}/",
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"action": "stop"}).status_code == 404, url
    assert snapshot(ours["clinic"]) == before


# --- The Django admin for clinic staff (is_staff, not superusers) ---------------------------------------------

# Clinic data: every row is scoped to the staff member's clinics. The key picks clinic B's row.
ADMIN_SCOPED = {
    Clinic: "clinic",
    StaffMembership: "membership",
    LovedOne: "family",
    Caregiver: "caregiver",
    ConsentRecord: "consent",
    Appointment: "appointment",
    ChannelConfirmation: "confirmation",
    AuditEvent: "audit",
    ReminderRule: "rule",
    OutboundMessage: "message",
    InboundMessage: "inbound",
    CrisisAlert: "alert",
}
# Operators' models: superusers only, whatever permissions a staff member is given.
ADMIN_OPERATOR_ONLY = {StaffApiToken, TOTPDevice}
# Not clinic data, and only for users an operator grants these permissions to.
ADMIN_NOT_CLINIC_DATA = {
    "auth.User": "accounts: operators",
    "auth.Group": "permission groups: operators",
    "rest_framework_api_key.APIKey": "tip API keys (stored hashed): operators",
    "content.Category": "the shared tip library, reviewed in content/library/",
    "content.Tip": "the shared tip library, reviewed in content/library/",
    "content.MessageTemplate": "the shared message templates, reviewed in content/library/",
}


def test_every_admin_model_is_classified():
    registered = set(admin.site._registry)
    classified = {*ADMIN_SCOPED, *ADMIN_OPERATOR_ONLY}
    others = {model._meta.label for model in registered - classified}
    assert others == set(ADMIN_NOT_CLINIC_DATA), "classify new admin models in ADMIN_SCOPED or another table"
    for model in ADMIN_SCOPED:
        assert isinstance(admin.site._registry[model], ClinicScopedAdmin), model


@pytest.fixture
def admin_staff(staff_user):
    """Clinic A's staff member with every permission on clinic data (and on staff tokens)."""
    staff_user.is_staff = True
    staff_user.save()
    staff_user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["caregiver", "messaging", "portal", "otp_totp"])
    )
    client = Client()
    client.force_login(staff_user)
    return client


def admin_url(model, view: str, pk: int | None = None) -> str:
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
    return reverse(name, args=[pk] if pk is not None else [])


@pytest.mark.parametrize("model", ADMIN_SCOPED, ids=lambda m: m._meta.label)
def test_the_admin_lists_only_the_staff_members_clinic_and_names_no_other(admin_staff, ours, theirs, model):
    mine, other = ours[ADMIN_SCOPED[model]], theirs[ADMIN_SCOPED[model]]
    response = admin_staff.get(admin_url(model, "changelist"))
    page = response.content.decode()
    assert response.status_code == 200
    assert admin_url(model, "change", mine.pk) in page
    assert admin_url(model, "change", other.pk) not in page
    # Not even in a filter: a "By clinic" list would name every clinic.
    assert theirs["clinic"].name not in page


@pytest.mark.parametrize("model", ADMIN_SCOPED, ids=lambda m: m._meta.label)
def test_another_clinics_admin_row_answers_like_one_that_never_existed(admin_staff, ours, theirs, model):
    other = theirs[ADMIN_SCOPED[model]]
    before = snapshot(theirs["clinic"])
    checks = []
    for view, method in (
        ("change", "GET"),
        ("change", "POST"),
        ("delete", "GET"),
        ("delete", "POST"),
        ("history", "GET"),
    ):
        answers = []
        for pk in (other.pk, NEVER):
            url = admin_url(model, view, pk)
            response = admin_staff.get(url) if method == "GET" else admin_staff.post(url, {"post": "yes"})
            answers.append((response.status_code, response.get("Location")))
        checks.append((f"{method} {view}", answers[0], answers[1]))
    assert [check for check in checks if check[1] != check[2] or check[1][0] == 200] == []
    assert snapshot(theirs["clinic"]) == before
    assert type(other).objects.filter(pk=other.pk).exists()


def test_the_admin_offers_and_accepts_only_the_staff_members_clinics_rows(admin_staff, ours, theirs):
    add = admin_staff.get(admin_url(Appointment, "add")).content.decode()
    assert f'value="{ours["family"].pk}"' in add
    assert f'value="{theirs["family"].pk}"' not in add
    before = snapshot(theirs["clinic"])
    response = admin_staff.post(
        admin_url(Appointment, "add"),
        {
            "loved_one": theirs["family"].pk, "starts_at_0": "2027-01-05", "starts_at_1": "10:00:00",
            "duration_minutes": "60", "kind": "infusion", "status": "scheduled",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    response = admin_staff.post(
        admin_url(Caregiver, "add"),
        {"clinic": theirs["clinic"].pk, "name": "Sneaky", "phone": "+12025550188", "channels": "sms",
         "time_zone": "America/New_York", "tip_time": "10:00", "tip_frequency": "weekly",
         "quiet_start": "21:00", "quiet_end": "08:00", "language": "en",
         "consent_records-TOTAL_FORMS": "0", "consent_records-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 200
    assert snapshot(theirs["clinic"]) == before


def test_the_admins_search_as_you_type_finds_only_the_staff_members_clinics_rows(admin_staff, ours, theirs):
    response = admin_staff.get(
        "/admin/autocomplete/",
        {"app_label": "caregiver", "model_name": "carelink", "field_name": "caregiver", "term": "o"},
    )
    assert response.status_code == 200
    found = {int(row["id"]) for row in response.json()["results"]}
    assert found == {ours["caregiver"].pk}


def test_clinic_staff_cannot_take_another_clinics_twilio_number(admin_staff, ours, theirs):
    clinic, number = ours["clinic"], "+12025550198"
    Clinic.objects.filter(pk=theirs["clinic"].pk).update(twilio_from_number=number)
    form = {
        "name": clinic.name, "slug": clinic.slug, "time_zone": clinic.time_zone,
        "contact_phone": clinic.contact_phone, "contact_email": clinic.contact_email,
        "twilio_from_number": number, "twilio_messaging_service_sid": "", "sms_mps": "1000",
        "enrollment_code": clinic.enrollment_code, "discreet_mode": "on", "observation_minutes": "60",
        "auto_reply_hours": "24", "home_after_minutes": "45", "allowed_words": "[]", "sms_name": "",
        "on_call-TOTAL_FORMS": "0", "on_call-INITIAL_FORMS": "0",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "closures-TOTAL_FORMS": "0", "closures-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = admin_staff.post(admin_url(Clinic, "change", clinic.pk), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    clinic.refresh_from_db()
    assert clinic.twilio_from_number != number
    # So a STOP texted to clinic B's number still finds clinic B's caregiver.
    inbound_receive(message_sid="SM" + "9" * 32, from_number=theirs["caregiver"].phone, to_number=number, body="hello")
    assert InboundMessage.objects.get(message_sid="SM" + "9" * 32).clinic == theirs["clinic"]


def test_clinic_staff_cannot_choose_a_sign_up_code_or_the_countries_texted(admin_staff, ours):
    """Codes are generated: a chosen one ("LAKESIDE") is guessed. Countries cost money (SMS pumping)."""
    clinic = ours["clinic"]
    page = admin_staff.get(admin_url(Clinic, "change", clinic.pk)).content.decode()
    assert 'name="enrollment_code"' not in page
    assert 'name="sms_countries"' not in page
    old = clinic.enrollment_code
    response = admin_staff.post(
        admin_url(Clinic, "changelist"), {"action": "enrollment_code_renew", "_selected_action": [clinic.pk]}
    )
    assert response.status_code == 302
    clinic.refresh_from_db()
    assert clinic.enrollment_code != old
    assert len(clinic.enrollment_code) >= 8
    assert Client().get(f"/join/{old}/").status_code == 404
    assert clinic.audit_events.filter(action="clinic.code_renew").exists()


def test_operators_models_stay_closed_to_staff_whatever_their_permissions(admin_staff, staff_user):
    token, _ = StaffApiToken.objects.create_key(name="theirs", user=staff_user)
    colleague = factories.StaffMembershipFactory(clinic=staff_user.memberships.get().clinic).user
    rows = {StaffApiToken: token, TOTPDevice: factories.TOTPDeviceFactory(user=colleague)}
    for model in ADMIN_OPERATOR_ONLY:
        assert admin_staff.get(admin_url(model, "changelist")).status_code == 403
        assert admin_staff.get(admin_url(model, "change", rows[model].pk)).status_code == 403
        assert admin_staff.post(admin_url(model, "delete", rows[model].pk), {"post": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(user=colleague).exists()


@pytest.mark.parametrize("model", admin.site._registry, ids=lambda m: m._meta.label)
def test_anonymous_admin_requests_go_to_the_admin_login(client, db, model):
    for view in ("changelist", "add"):
        response = client.get(admin_url(model, view))
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
