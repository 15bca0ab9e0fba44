"""The staff API, /api/v1/{families,caregivers,appointments,messages}/: what a clinic's own systems
(or a staff member's script) use to enroll families and manage appointments.

Authenticated by a staff API token (`Authorization: Token <key>`, acting as the staff member it
belongs to) or by the staff member's session (with CSRF). Every queryset starts from a
`*_for_user` selector: another clinic's object is a 404, never a 403, so an id reveals nothing.
Writes go through caregiver.services; their ValidationErrors become 400s keyed by field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.utils import json
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from caregiver import selectors, services
from caregiver.models import Appointment, Caregiver, CareLink, LovedOne
from content.api import BadParameter, ErrorSerializer, HeaderKeyAuthentication, query_parse
from messaging.models import OutboundMessage
from messaging.selectors import family_course, family_messages, messages_for_user

from . import serializers as s
from .auth import auth_attempt
from .models import StaffApiToken
from .services import idempotency_fingerprint, idempotency_key_claim, idempotency_key_store
from .two_factor import step_url, two_factor_owed

# --- Authentication and permission ---------------------------------------------------------------

LAST_USED_EVERY = timedelta(minutes=1)


class StaffTokenAuthentication(HeaderKeyAuthentication):
    """`Authorization: Token <key>`: acts as the staff member the token belongs to."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[object, StaffApiToken] | None:
        key = self.key_from(request)
        if key is None:
            return None
        try:
            token = StaffApiToken.objects.get_from_key(key)
        except StaffApiToken.DoesNotExist:
            # get_from_key skips revoked tokens; tell their holder why rather than "not valid".
            revoked = StaffApiToken.objects.filter(prefix=key.partition(".")[0], revoked=True).first()
            if revoked is not None and revoked.is_valid(key):
                raise exceptions.PermissionDenied("This token has been revoked. Ask for a new one.") from None
            # Tokens that are not valid count against the address like wrong passwords, and past
            # its limit are refused with a 429. A valid one is checked first and always accepted:
            # nobody's token stops working for someone else's guesses from a shared address.
            wait = auth_attempt(request)
            if wait is not None:
                raise exceptions.Throttled(
                    wait=wait, detail="Too many tokens that are not valid from your address."
                ) from None
            raise exceptions.AuthenticationFailed("This token is not valid.") from None
        if token.has_expired:
            raise exceptions.PermissionDenied(f"This token expired on {token.expiry_date:%Y-%m-%d}. Ask for a new one.")
        user = token.user
        if not user.is_active:
            raise exceptions.PermissionDenied("The account this token belongs to has been deactivated.")
        now = timezone.now()
        # One write a minute at most: enough to see which tokens are in use, cheap under load.
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
            StaffApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return (user, token)


class StaffSessionAuthentication(SessionAuthentication):
    """A signed-in staff member's session (with CSRF), once it has entered the two-factor code it owes.

    A session that has only given its password is refused with a 403 saying what is missing, rather
    than sent to a page (portal/two_factor.py); tokens are not sessions and are not affected.
    """

    def authenticate(self, request: Request) -> tuple[object, None] | None:
        result = super().authenticate(request)
        step = two_factor_owed(request._request) if result is not None else None
        if step == "code":
            raise exceptions.PermissionDenied(
                f"Finish signing in first: enter the code from your authenticator app at {step_url('code')}. "
                "(Staff API tokens do not need it.)"
            )
        if step == "setup":
            raise exceptions.PermissionDenied(
                f"Your clinic requires two-factor sign-in: set up an authenticator app at {step_url('setup')} "
                "first. (Staff API tokens do not need it.)"
            )
        return result


class StaffSessionScheme(SessionScheme):
    """The schema names our session authentication as it names DRF's: the session cookie."""

    target_class = StaffSessionAuthentication


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = StaffTokenAuthentication
    name = "StaffToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`. Tokens are made with `python manage.py create_staff_token USERNAME`.",
        }


class StaffApiThrottle(SimpleRateThrottle):
    """STAFF_API_THROTTLE_RATE requests per token, or per staff member on a session. 429 with Retry-After.

    Per token, so that one clinic system's sync cannot use up a person's budget, or another system's.
    """

    scope = "staff_api"

    def get_rate(self) -> str:
        return settings.STAFF_API_THROTTLE_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, StaffApiToken):
            return f"throttle:staff_api:token:{request.auth.pk}"
        if request.user is not None and request.user.is_authenticated:
            return f"throttle:staff_api:user:{request.user.pk}"
        return None


class IsClinicStaff(BasePermission):
    message = "Your account is not a member of any clinic. Ask a clinic admin to add you."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        return selectors.clinics_for_user(user=user).exists()


# --- Errors, query parameters, pagination -----------------------------------------------------------


@contextmanager
def service_errors() -> Iterator[None]:
    """Turn a service's ValidationError into a 400 keyed like its fields (`caregivers.0.phone`)."""
    try:
        yield
    except services.RateLimited as exc:
        raise exceptions.Throttled(wait=exc.retry_after, detail=exc.messages[0]) from exc
    except DjangoValidationError as exc:
        if hasattr(exc, "error_dict"):
            detail = {
                (api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else name): messages
                for name, messages in exc.message_dict.items()
            }
        else:
            detail = {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
        raise serializers.ValidationError(detail) from exc


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class JSONBodyParser(JSONParser):
    """DRF's JSON parser reads the whole body, however large, and lets a deeply nested document (a
    RecursionError) or an unknown charset (a LookupError) escape as a 500. This one answers each with
    a 413 or a 400 that says what is wrong."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise BodyTooLarge(f"The request is too large: we accept at most {limit / 1024 / 1024:g} MB of JSON.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            return json.loads(raw.decode(encoding), parse_constant=json.strict_constant if self.strict else None)
        except LookupError:
            raise exceptions.ParseError(f"JSON parse error - “{encoding}” is not a character set: use UTF-8.") from None
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply.") from None
        except ValueError as exc:  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


def _flatten(errors: object, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as flat dotted keys, the way the services key theirs."""
    if isinstance(errors, dict):
        flat: dict[str, list[str]] = {}
        for name, value in errors.items():
            flat.update(_flatten(value, f"{prefix}.{name}" if prefix else str(name)))
        return flat
    if isinstance(errors, list) and errors and all(isinstance(e, dict | list) for e in errors):
        flat = {}
        for index, value in enumerate(errors):
            flat.update(_flatten(value, f"{prefix}.{index}"))
        return flat
    if isinstance(errors, list):
        return {prefix: [str(e) for e in errors]} if errors else {}
    return {prefix: [str(errors)]}


def _valid(serializer: serializers.Serializer) -> dict:
    if not serializer.is_valid():
        raise serializers.ValidationError(_flatten(serializer.errors))
    return serializer.validated_data


PAGING = ("page", "page_size")


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    return query_parse(serializer_class, request, also=PAGING)


def _whole(raw: str) -> bool:
    return raw.isascii() and raw.isdigit()  # "²".isdigit() is True, and int("²") fails


class StaffPagination(PageNumberPagination):
    """50 rows a page by default, `page_size` 1 to 100; anything else is a 400, not silently clamped."""

    page_size = 50
    max_page_size = 100
    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _whole(raw) or not 1 <= int(raw) <= self.max_page_size:
            raise BadParameter("page_size", f"“{raw}” is not a page size: use a whole number from 1 to 100.")
        return int(raw)

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: APIView | None = None) -> list:
        self.request = request
        size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param, "1")
        if not _whole(raw) or int(raw) < 1:
            raise BadParameter("page", f"“{raw}” is not a page number: use a whole number from 1.")
        paginator = Paginator(queryset, size)
        number = int(raw)
        if number > paginator.num_pages:
            pages = paginator.num_pages
            there = "there is 1 page" if pages == 1 else f"there are {pages} pages"
            raise exceptions.NotFound(f"Page {number} does not exist: {there} of {size}.")
        self.page = paginator.page(number)
        return list(self.page)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        # The bounds are in the schema too, so a client generated from it cannot send page_size=0.
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = "Rows per page, 1 to 100 (default 50); more is a 400."
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
            elif parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Not logged in, no token, or a token that is not valid."),
    403: OpenApiResponse(
        ErrorSerializer, description="The token was revoked or expired, or the account belongs to no clinic."
    ),
    429: OpenApiResponse(
        ErrorSerializer,
        description="Too many requests for this token (or staff member), or too many tokens that are not valid "
        "from this address. `Retry-After` says how many seconds to wait.",
    ),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="Not one of your clinics' (or it does not exist).")}
PAGE_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="The page does not exist (past the last).")}
INVALID = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description='What to fix, keyed by field: `{"caregivers.0.phone": ["…"]}`; a query parameter '
        'problem is `{"detail": "…", "parameter": "…"}`.',
    )
}


# --- Idempotency-Key ---------------------------------------------------------------------------------


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def idempotent(handler: Callable) -> Callable:
    """Every POST honours `Idempotency-Key`: the same key, from the same staff member, with the same
    method, path and body gets the first answer again (with `Idempotent-Replayed: true`) and has one
    effect, even when the retries arrive at once; the same key with another request is a 422.

    The key is claimed in the same transaction as the effect, so a request that fails stores
    nothing and may be retried with its key.
    """

    @wraps(handler)
    def wrapper(self: APIView, request: Request, *args, **kwargs) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handler(self, request, *args, **kwargs)
        if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
            raise exceptions.ValidationError(
                {"Idempotency-Key": ["Use 1 to 255 printable ASCII characters, for example a UUID."]}
            )
        fingerprint = idempotency_fingerprint(method=request.method, path=request.path, body=request.data)
        with transaction.atomic():
            stored = idempotency_key_claim(user=request.user, key=key, fingerprint=fingerprint, now=timezone.now())
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise KeyReused(
                        "This Idempotency-Key was already used for a different request in the last 24 hours. "
                        "Use a new key for a new request."
                    )
                headers = {"Idempotent-Replayed": "true", **({"Location": stored.location} if stored.location else {})}
                return Response(stored.response, status=stored.status_code, headers=headers)
            response = handler(self, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)  # only success is remembered
                return response
            idempotency_key_store(
                user=request.user, key=key, status_code=response.status_code,
                response=json.loads(json.dumps(response.data, cls=JSONEncoder)),
                location=response.headers.get("Location", ""),
            )  # fmt: skip
        return response

    return wrapper


# --- Dates in filters ----------------------------------------------------------------------------------


def starts_between(queryset: QuerySet[Appointment], *, clinics: QuerySet, start, end) -> QuerySet[Appointment]:
    """`from`/`to` as given: a date-time with its offset, or a plain date meaning that day in each
    clinic's own zone (`from` from its start, `to` to its end, so from=to=a day is that day)."""
    for value, lookup, day_offset in ((start, "starts_at__gte", 0), (end, "starts_at__lt", 1)):
        if value is None:
            continue
        if isinstance(value, datetime):
            queryset = queryset.filter(**{lookup: value})
            continue
        per_clinic = Q()
        for clinic in clinics:
            bound = datetime.combine(value + timedelta(days=day_offset), time(), tzinfo=ZoneInfo(clinic.time_zone))
            per_clinic |= Q(loved_one__clinic=clinic, **{lookup: bound})
        queryset = queryset.filter(per_clinic) if per_clinic else queryset.none()
    return queryset


# --- Views -----------------------------------------------------------------------------------------


class StaffViewSet(GenericViewSet):
    authentication_classes = [StaffTokenAuthentication, StaffSessionAuthentication]
    parser_classes = [JSONBodyParser]
    permission_classes = [IsClinicStaff]
    throttle_classes = [StaffApiThrottle]
    pagination_class = StaffPagination
    lookup_value_regex = r"[0-9]{1,18}"  # longer is no id of ours, and would overflow
    noun = "object"

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated("Log in, or send a staff API token: `Authorization: Token <key>`.")
        super().permission_denied(request, message, code)

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            # Another clinic's id gets the same answer as one that never existed.
            raise exceptions.NotFound(f"There is no {self.noun} with id {self.kwargs['pk']} at your clinics.") from None

    def page(self, queryset: QuerySet) -> Response:
        rows = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    def schema_fake(self) -> bool:
        return getattr(self, "swagger_fake_view", False)


@extend_schema_view(
    list=extend_schema(
        summary="List families",
        description="Your clinics' families, by first name. `q` searches names, phone numbers and email addresses.",
        parameters=[s.FamilyQuerySerializer],
        responses={200: s.FamilySerializer(many=True), 400: INVALID[400], **PAGE_NOT_FOUND, **ERRORS},
    ),
    retrieve=extend_schema(
        summary="One family: the loved one, their caregivers (status, consent) and appointments",
        responses={200: s.FamilyDetailSerializer, **NOT_FOUND, **ERRORS},
    ),
    create=extend_schema(
        summary="Enroll a family",
        description=(
            "A loved one, one or more caregivers and optional appointments, all or nothing. Caregivers stay "
            "`pending` until they confirm each channel (a YES by text, a link by email)."
        ),
        request=s.FamilyCreateSerializer,
        examples=[
            OpenApiExample(
                "A partner by text and a daughter by email, with the first infusion",
                request_only=True,
                value={
                    "first_name": "Alex",
                    "caregivers": [
                        {"name": "Sam", "phone": "(202) 555-0143", "channels": "sms", "relationship": "partner"},
                        {"name": "Jo", "email": "jo@example.com", "channels": "email", "relationship": "child"},
                    ],
                    "appointments": [{"starts_at": "2027-01-05T10:30:00-05:00", "kind": "infusion"}],
                },
            )
        ],
        responses={
            201: s.FamilyDetailSerializer,
            **INVALID,
            **ERRORS,
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many confirmations sent to a number or address, or too many requests. "
                "`Retry-After` says how many seconds to wait.",
            ),
        },
    ),
)
@extend_schema(tags=["staff"])
class FamilyViewSet(StaffViewSet):
    # No DELETE (a 405): a family's consent records are evidence and are kept.
    noun = "family"
    serializer_class = s.FamilySerializer

    def get_queryset(self) -> QuerySet[LovedOne]:
        if self.schema_fake():
            return LovedOne.objects.none()
        user = self.request.user
        caregivers = selectors.caregivers_with_consent(selectors.caregivers_for_user(user=user)).prefetch_related(
            Prefetch("links", queryset=CareLink.objects.select_related("loved_one"))
        )
        return selectors.loved_ones_for_user(user=user).prefetch_related(
            Prefetch("caregivers", queryset=caregivers),
            Prefetch("appointments", queryset=selectors.appointments_for_user(user=user)),
        )

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return s.FamilySerializer if self.action == "list" else s.FamilyDetailSerializer

    def list(self, request: Request) -> Response:
        q = _query(s.FamilyQuerySerializer, request).get("q", "")
        # The same list and search as the staff pages' families page.
        return self.page(selectors.families_for_user(user=request.user, search=q))

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.FamilyDetailSerializer(self.get_object()).data)

    @extend_schema(
        summary="Every message still to come for a family, to the end of its course",
        description=(
            "Planned messages as they stand (`preview: false`, with their `id`), and beyond the planner's "
            "48-hour horizon a preview of every reminder and tip the rest of the course will bring "
            '(`preview: true`, `status: "preview"`, no `id`), computed by the same rules as the plan. '
            "A preview follows any later change to appointments or preferences. Soonest first."
        ),
        responses={200: s.CourseSerializer, **NOT_FOUND, **ERRORS},
    )
    @action(detail=True, methods=["get"])
    def course(self, request: Request, pk: str) -> Response:
        loved_one = self.get_object()
        items = family_course(loved_one=loved_one, now=timezone.now())
        return Response(s.CourseSerializer({"family": loved_one.pk, "count": len(items), "messages": items}).data)

    @idempotent
    def create(self, request: Request) -> Response:
        data = _valid(s.FamilyCreateSerializer(data=request.data, context={"request": request}))
        with service_errors():
            loved_one = services.family_enroll(
                clinic=data["clinic"],
                loved_one_name=data["first_name"],
                caregivers=[dict(entry) for entry in data["caregivers"]],
                appointments=[dict(entry) for entry in data.get("appointments", [])],
                by=request.user,
                confirmed=data["confirm"],
            )
        family = self.get_queryset().get(pk=loved_one.pk)
        return Response(
            s.FamilyDetailSerializer(family).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/families/{family.pk}/"},
        )


@extend_schema_view(
    list=extend_schema(
        summary="List caregivers",
        parameters=[s.CaregiverQuerySerializer],
        responses={200: s.CaregiverSerializer(many=True), 400: INVALID[400], **PAGE_NOT_FOUND, **ERRORS},
    ),
    retrieve=extend_schema(summary="One caregiver", responses={200: s.CaregiverSerializer, **NOT_FOUND, **ERRORS}),
    partial_update=extend_schema(
        summary="Change a caregiver's contact details or preferences",
        description=(
            "Only these fields: " + ", ".join(services.CAREGIVER_EDITABLE) + ". Anything else is a 400 naming it. "
            "Pending messages are re-planned."
        ),
        request=s.CaregiverUpdateSerializer,
        responses={200: s.CaregiverSerializer, **INVALID, **NOT_FOUND, **ERRORS},
    ),
)
@extend_schema(tags=["staff"])
class CaregiverViewSet(StaffViewSet):
    noun = "caregiver"
    serializer_class = s.CaregiverSerializer

    def get_queryset(self) -> QuerySet[Caregiver]:
        if self.schema_fake():
            return Caregiver.objects.none()
        caregivers = selectors.caregivers_for_user(user=self.request.user)
        return selectors.caregivers_with_consent(caregivers).prefetch_related(
            Prefetch("links", queryset=CareLink.objects.select_related("loved_one"))
        )

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return s.CaregiverUpdateSerializer if self.action == "partial_update" else s.CaregiverSerializer

    def list(self, request: Request) -> Response:
        params = _query(s.CaregiverQuerySerializer, request)
        caregivers = self.get_queryset()
        if "status" in params:
            caregivers = caregivers.filter(status=params["status"])
        if "family" in params:
            caregivers = caregivers.filter(links__loved_one_id=params["family"])
        return self.page(caregivers)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.CaregiverSerializer(self.get_object()).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        caregiver = self.get_object()
        changes = _valid(s.CaregiverUpdateSerializer(data=request.data, partial=True))
        with service_errors():
            services.caregiver_update(caregiver=caregiver, by=request.user, **changes)
        return Response(s.CaregiverSerializer(self.get_queryset().get(pk=caregiver.pk)).data)


@extend_schema_view(
    list=extend_schema(
        summary="List appointments",
        description="Your clinics' appointments, soonest first.",
        parameters=[s.AppointmentQuerySerializer],
        responses={200: s.AppointmentSerializer(many=True), 400: INVALID[400], **PAGE_NOT_FOUND, **ERRORS},
    ),
    retrieve=extend_schema(summary="One appointment", responses={200: s.AppointmentSerializer, **NOT_FOUND, **ERRORS}),
    create=extend_schema(
        summary="Add an appointment",
        description="Reminders are planned for the family's caregivers. Times must carry their offset.",
        request=s.AppointmentCreateSerializer,
        responses={201: s.AppointmentSerializer, **INVALID, **ERRORS},
    ),
    reschedule=extend_schema(
        summary="Move an appointment",
        description="Its reminders are re-planned, and a ride arranged for the old time is forgotten.",
        request=s.AppointmentRescheduleSerializer,
        responses={200: s.AppointmentSerializer, **INVALID, **NOT_FOUND, **ERRORS},
    ),
    cancel=extend_schema(
        summary="Cancel an appointment",
        description="Its pending reminders are cancelled. Cancelling twice is harmless.",
        request=None,
        responses={200: s.AppointmentSerializer, **INVALID, **NOT_FOUND, **ERRORS},
    ),
)
@extend_schema(tags=["staff"])
class AppointmentViewSet(StaffViewSet):
    noun = "appointment"
    serializer_class = s.AppointmentSerializer

    def get_queryset(self) -> QuerySet[Appointment]:
        if self.schema_fake():
            return Appointment.objects.none()
        return selectors.appointments_for_user(user=self.request.user)

    def list(self, request: Request) -> Response:
        params = _query(s.AppointmentQuerySerializer, request)
        appointments = self.get_queryset()
        if "family" in params:
            appointments = appointments.filter(loved_one_id=params["family"])
        if "status" in params:
            appointments = appointments.filter(status=params["status"])
        appointments = starts_between(
            appointments,
            clinics=selectors.clinics_for_user(user=request.user),
            start=params.get("from"),
            end=params.get("to"),
        )
        return self.page(appointments)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.AppointmentSerializer(self.get_object()).data)

    @idempotent
    def create(self, request: Request) -> Response:
        data = _valid(s.AppointmentCreateSerializer(data=request.data, context={"request": request}))
        with service_errors():
            appointment = services.appointment_create(
                loved_one=data["family"],
                starts_at=data["starts_at"],
                kind=data["kind"],
                duration_minutes=data["duration_minutes"],
                confirmed=data["confirm"],
                by=request.user,
            )
        appointment = self.get_queryset().get(pk=appointment.pk)
        return Response(
            s.AppointmentSerializer(appointment).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/appointments/{appointment.pk}/"},
        )

    @action(detail=True, methods=["post"])
    @idempotent
    def reschedule(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        data = _valid(s.AppointmentRescheduleSerializer(data=request.data))
        with service_errors():
            services.appointment_reschedule(
                appointment=appointment,
                starts_at=data["starts_at"],
                duration_minutes=data.get("duration_minutes"),
                confirmed=data["confirm"],
                by=request.user,
            )
        return Response(s.AppointmentSerializer(appointment).data)

    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        with service_errors():
            services.appointment_cancel(appointment=appointment, by=request.user)
        return Response(s.AppointmentSerializer(appointment).data)


@extend_schema_view(
    list=extend_schema(
        summary="The outbox: every message planned, sent, delivered, failed or suppressed",
        description="Newest first by when it is (or was) due. HTML bodies are not included.",
        parameters=[s.MessageQuerySerializer],
        responses={200: s.MessageSerializer(many=True), 400: INVALID[400], **PAGE_NOT_FOUND, **ERRORS},
    ),
    retrieve=extend_schema(summary="One message", responses={200: s.MessageSerializer, **NOT_FOUND, **ERRORS}),
)
@extend_schema(tags=["staff"])
class MessageViewSet(StaffViewSet):
    noun = "message"
    serializer_class = s.MessageSerializer

    def get_queryset(self) -> QuerySet[OutboundMessage]:
        if self.schema_fake():
            return OutboundMessage.objects.none()
        return messages_for_user(user=self.request.user).order_by("-send_at", "-id")

    def list(self, request: Request) -> Response:
        params = _query(s.MessageQuerySerializer, request)
        messages = self.get_queryset()
        if "family" in params:
            loved_one = selectors.loved_ones_for_user(user=request.user).filter(pk=params["family"]).first()
            if loved_one is None:
                messages = messages.none()
            else:
                messages = messages.filter(pk__in=family_messages(loved_one=loved_one).values("pk"))
        if "caregiver" in params:
            messages = messages.filter(caregiver_id=params["caregiver"])
        if "status" in params:
            messages = messages.filter(status=params["status"])
        if "kind" in params:
            messages = messages.filter(kind=params["kind"])
        return self.page(messages)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.MessageSerializer(self.get_object()).data)
