"""The inbox in the staff API: /api/v1/conversations/ (see portal/api.py for authentication,
scoping and errors, and docs/api.md). Reads are messaging.selectors, writes messaging.inbox: the
same ones the inbox pages use."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from messaging import inbox, selectors
from messaging.models import Conversation

from . import serializers as s
from .api import ERRORS, INVALID, NOT_FOUND, PAGE_NOT_FOUND, StaffViewSet, _query, _valid, idempotent, service_errors


class ConversationSerializer(serializers.ModelSerializer):
    caregiver = serializers.IntegerField(source="caregiver_id", read_only=True, allow_null=True)
    clinic = serializers.IntegerField(source="clinic_id", read_only=True)
    assigned_to = serializers.SerializerMethodField(help_text="The staff member who has it: {id, name}, or null.")
    latest_text = serializers.SerializerMethodField(help_text="Their latest text, links' secrets masked.")
    crisis = serializers.BooleanField(read_only=True, help_text="A crisis alert on it is not closed yet.")

    class Meta:
        model = Conversation
        fields = [
            "id", "clinic", "caregiver", "phone", "status", "assigned_to", "last_message_at", "last_inbound_at",
            "handled_at", "latest_text", "crisis",
        ]  # fmt: skip
        read_only_fields = fields

    def get_assigned_to(self, conversation: Conversation) -> dict | None:
        user = conversation.assigned_to
        return {"id": user.pk, "name": user.get_full_name() or user.get_username()} if user else None

    def get_latest_text(self, conversation: Conversation) -> str:
        return selectors.mask_links(getattr(conversation, "latest_text", None) or "")


class ThreadEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    incoming = serializers.BooleanField(help_text="True: they wrote it; false: we sent it.")
    channel = serializers.CharField()
    text = serializers.CharField()
    status = serializers.CharField(help_text="What became of a message we sent (delivered, failed…).")
    reason = serializers.CharField()
    kind = serializers.CharField()
    by = serializers.CharField(help_text="The staff member who wrote a reply.")
    action = serializers.CharField(help_text="What the service did about a text they sent.")
    crisis = serializers.BooleanField()


class ConversationDetailSerializer(ConversationSerializer):
    thread = serializers.SerializerMethodField(help_text="Both directions, oldest first (the latest 200).")
    reply_channels = serializers.SerializerMethodField(
        help_text='How a reply can go: {"sms": "", "email": "why not"} ("" when it can).'
    )

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "reply_channels", "thread"]
        read_only_fields = fields

    def get_thread(self, conversation: Conversation) -> list[dict]:
        return ThreadEntrySerializer(selectors.conversation_thread(conversation=conversation), many=True).data

    def get_reply_channels(self, conversation: Conversation) -> dict[str, str]:
        return inbox.reply_channels(conversation=conversation, now=timezone.now())


class ConversationQuerySerializer(serializers.Serializer):
    show = serializers.ChoiceField(
        choices=[(key or "waiting", label) for key, label in selectors.INBOX_FILTERS.items()],
        required=False,
        help_text="waiting (the default: open or assigned), mine, unassigned, crisis, unknown, handled, all.",
    )


class ReplySerializer(s.StrictSerializer):
    text = s.TextField(max_length=inbox.REPLY_MAX_CHARS, trim_whitespace=True)
    channel = serializers.ChoiceField(choices=["sms", "email"], required=False, help_text="Default: a text if it can.")
    handled = s.JsonBooleanField(default=False, help_text="Mark the conversation handled as it goes.")


class AssignSerializer(s.StrictSerializer):
    assigned_to = s.id_field(allow_null=True, help_text="A staff member of the conversation's clinic, or null.")


@extend_schema_view(
    list=extend_schema(
        summary="The inbox: conversations, newest first",
        parameters=[ConversationQuerySerializer],
        responses={200: ConversationSerializer(many=True), 400: INVALID[400], **PAGE_NOT_FOUND, **ERRORS},
    ),
    retrieve=extend_schema(
        summary="One conversation, with the whole thread",
        responses={200: ConversationDetailSerializer, **NOT_FOUND, **ERRORS},
    ),
    reply=extend_schema(
        summary="Reply (sent through the outbox; discretion checked; never to an address that said stop)",
        request=ReplySerializer,
        responses={201: s.MessageSerializer, 400: INVALID[400], **NOT_FOUND, **ERRORS},
    ),
    assign=extend_schema(
        summary="Give it to a staff member (null: back to everyone)",
        request=AssignSerializer,
        responses={200: ConversationSerializer, 400: INVALID[400], **NOT_FOUND, **ERRORS},
    ),
    handle=extend_schema(
        summary="Mark it handled", request=None, responses={200: ConversationSerializer, **NOT_FOUND, **ERRORS}
    ),
    reopen=extend_schema(
        summary="Open it again", request=None, responses={200: ConversationSerializer, **NOT_FOUND, **ERRORS}
    ),
)
@extend_schema(tags=["staff"])
class ConversationViewSet(StaffViewSet):
    noun = "conversation"
    serializer_class = ConversationSerializer

    def get_queryset(self) -> QuerySet[Conversation]:
        if self.schema_fake():
            return Conversation.objects.none()
        return selectors.conversations_for_user(user=self.request.user, show="all")

    def list(self, request: Request) -> Response:
        show = _query(ConversationQuerySerializer, request).get("show", "waiting")
        return self.page(selectors.conversations_for_user(user=request.user, show="" if show == "waiting" else show))

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ConversationDetailSerializer(self.get_object()).data)

    def _fresh(self, conversation: Conversation) -> Response:
        return Response(ConversationSerializer(self.get_queryset().get(pk=conversation.pk)).data)

    @action(detail=True, methods=["post"])
    @idempotent
    def reply(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        data = _valid(ReplySerializer(data=request.data))
        with service_errors():
            message = inbox.conversation_reply(
                conversation_id=conversation.pk, text=data["text"], by=request.user, now=timezone.now(),
                channel=data.get("channel", ""), handled=data["handled"],
            )  # fmt: skip
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    @idempotent
    def assign(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        data = _valid(AssignSerializer(data=request.data))
        wanted = data["assigned_to"]
        to = inbox.clinic_staff(clinic=conversation.clinic).filter(pk=wanted).first() if wanted else None
        if wanted and to is None:
            raise serializers.ValidationError({"assigned_to": ["Choose someone on this clinic's staff."]})
        with service_errors():
            inbox.conversation_assign(conversation_id=conversation.pk, to=to, by=request.user, now=timezone.now())
        return self._fresh(conversation)

    @action(detail=True, methods=["post"])
    @idempotent
    def handle(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        inbox.conversation_handle(conversation_id=conversation.pk, by=request.user, now=timezone.now())
        return self._fresh(conversation)

    @action(detail=True, methods=["post"])
    @idempotent
    def reopen(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        inbox.conversation_reopen(conversation_id=conversation.pk, by=request.user, now=timezone.now())
        return self._fresh(conversation)
