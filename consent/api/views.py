"""The consent API for Inper's other systems (see docs/consent.md): read a person's current
consent, record an event, list changes since a cursor; and the SMS provider's inbound webhook.
Views call the same services as the portal's pages."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.validators import validate_mailable_email

from .. import services
from ..models import ApiClient, ApiScope, ConsentSubject, IdempotentRequest, Source
from ..ratelimits import too_many_requests
from ..selectors import (
    consent_current,
    consent_current_document,
    consent_current_keys,
    consent_events_since,
    subject_find,
    suppressed_channels,
)
from ..serialisers import choice_dict, event_dict
from ..signatures import signature_valid
from .base import ApiView, StrictQueryView, StrictSerializer

PHONE_PATTERN = r"^\+[0-9]{6,15}$"
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "STOPP"})


class ChoiceSerializer(serializers.Serializer[Any]):
    purpose = serializers.CharField()
    kind = serializers.ChoiceField(choices=["marketing", "processing", "cookie"])
    channel = serializers.CharField(allow_null=True)
    legal_basis = serializers.CharField()
    granted = serializers.BooleanField(help_text="What counts now.")
    status = serializers.ChoiceField(
        choices=["granted", "withdrawn", "default", "pending", "renew", "always"],
        help_text="renew: consent given on a text that has since changed materially.",
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField(allow_null=True)  # type: ignore[assignment]
    version = serializers.IntegerField(allow_null=True)
    current_version = serializers.IntegerField()


class CurrentSerializer(serializers.Serializer[Any]):
    subject_id = serializers.IntegerField(allow_null=True)
    customer_id = serializers.IntegerField(allow_null=True)
    suppressed = serializers.ListField(child=serializers.CharField())
    purposes = ChoiceSerializer(many=True)


class LookupSerializer(StrictSerializer):
    email = serializers.EmailField(
        required=False, max_length=254, validators=[validate_mailable_email]
    )
    customer_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("email")) == bool(attrs.get("customer_id")):
            raise serializers.ValidationError("Give either email or customer_id.")
        return attrs


class EventCreateSerializer(LookupSerializer):
    purpose = serializers.SlugField(max_length=48)
    granted = serializers.BooleanField()
    note = serializers.CharField(required=False, max_length=300, allow_blank=True)
    language = serializers.ChoiceField(
        required=False, choices=[code for code, _name in settings.LANGUAGES]
    )


class EventSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    subject_id = serializers.IntegerField()
    customer_id = serializers.IntegerField(allow_null=True)
    purpose = serializers.CharField()
    purpose_version = serializers.IntegerField()
    granted = serializers.BooleanField()
    source = serializers.CharField()  # type: ignore[assignment]
    occurred_at = serializers.DateTimeField()
    language = serializers.CharField()
    text_hash = serializers.CharField()


def _current_by_email(subject: ConsentSubject | None, email: str) -> dict[str, Any]:
    """The answer about an address: its subject's choices (an account's if the address is
    one's), and its suppressed channels (the account's number's too)."""
    user = subject.user if subject is not None else None
    return {
        "subject_id": subject.pk if subject else None,
        "customer_id": subject.user_id if subject else None,
        "suppressed": suppressed_channels(email=email, phone=user.phone if user else ""),
        "purposes": [choice_dict(choice) for choice in consent_current(subject)],
    }


class CustomerConsentView(ApiView):
    required_scope = ApiScope.READ

    def prefetch_keys(self, **kwargs: Any) -> list[str]:
        return consent_current_keys(int(kwargs["customer_id"]))

    @extend_schema(
        summary="Current consent of a customer",
        description="Every purpose with what counts now. Needs the consent:read scope.",
        responses={200: CurrentSerializer, 404: None},
    )
    def get(self, request: Request, customer_id: int) -> Response:
        document = consent_current_document(
            customer_id, prefetched=getattr(request, "prefetched", None)
        )
        if document is None:
            return Response({"error": "not_found"}, status=status.HTTP_404_NOT_FOUND)
        return Response(document)


class LookupView(ApiView):
    required_scope = ApiScope.READ

    @extend_schema(
        summary="Current consent by e-mail address or customer id",
        description=(
            "POST keeps the address out of URLs and logs. An address Inper does not know gets "
            "the defaults (subject_id null). Needs the consent:read scope."
        ),
        request=LookupSerializer,
        responses={200: CurrentSerializer, 404: None},
    )
    def post(self, request: Request) -> Response:
        form = LookupSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        customer_id = form.validated_data.get("customer_id")
        if customer_id is not None:
            # The customer read's answer: an account that chose nothing yet gets the defaults.
            document = consent_current_document(customer_id)
            if document is None:
                return Response({"error": "not_found"}, status=status.HTTP_404_NOT_FOUND)
            return Response(document)
        email = form.validated_data["email"]
        return Response(_current_by_email(subject_find(email=email), email))


#: The longest Idempotency-Key kept (``IdempotentRequest.key``).
_KEY_LENGTH = 100


class EventsView(ApiView):
    required_scope = ApiScope.WRITE

    @extend_schema(
        summary="Record a consent event",
        description=(
            "Records a grant or withdrawal with source api. A grant of a purpose with double "
            "opt-in (e-mail marketing) sends the person a confirmation e-mail and answers 202; "
            "it counts once confirmed. Send an Idempotency-Key header to make retries safe. "
            "Needs the consent:write scope."
        ),
        request=EventCreateSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
        responses={
            200: OpenApiResponse(
                EventSerializer, description="The Idempotency-Key was seen: the earlier event."
            ),
            201: EventSerializer,
            202: inline_serializer("Pending", {"pending_confirmation": serializers.BooleanField()}),
            400: None,
            404: None,
            409: None,
        },
    )
    def post(self, request: Request) -> Response:
        form = EventCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        client: Any = request.user
        assert isinstance(client, ApiClient)  # noqa: S101 (HasScope)
        key = request.headers.get("Idempotency-Key", "")
        if len(key) > _KEY_LENGTH:
            # Cut, two keys alike in their first characters would be taken for one.
            return Response(
                {
                    "error": "idempotency_key_too_long",
                    "detail": f"An Idempotency-Key has at most {_KEY_LENGTH} characters.",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        fingerprint = hashlib.sha256(
            json.dumps(data, sort_keys=True, default=str).encode()
        ).hexdigest()
        if key:
            earlier = IdempotentRequest.objects.filter(client=client, key=key).first()
            if earlier is not None:
                if earlier.request_hash != fingerprint:
                    return Response(
                        {"error": "idempotency_key_reused"}, status=status.HTTP_409_CONFLICT
                    )
                if earlier.event is None:  # the person was asked to confirm: not again
                    return Response({"pending_confirmation": True}, status=status.HTTP_202_ACCEPTED)
                return Response(event_dict(earlier.event), status=status.HTTP_200_OK)
        if data.get("customer_id"):
            from accounts.models import User

            user = User.objects.filter(pk=data["customer_id"]).first()
            if user is None:
                return Response({"error": "not_found"}, status=status.HTTP_404_NOT_FOUND)
            if not user.is_active:
                # Closed (or closing): closing withdrew all marketing, and the account's
                # address is no longer the person's.
                return Response(
                    {
                        "error": "account_closed",
                        "detail": "The account is closed: no consent is recorded for it.",
                    },
                    status=status.HTTP_409_CONFLICT,
                )
            subject = subject_find(customer_id=user.pk) or services.subject_for_user(user)
        else:
            subject = services.subject_for_email(data["email"])
        try:
            with transaction.atomic():
                outcome = services.consent_choose(
                    subject=subject,
                    purpose_key=data["purpose"],
                    granted=data["granted"],
                    source=Source.API,
                    actor=client,
                    note=data.get("note", ""),
                    email=data.get("email", ""),
                    language=data.get("language"),
                )
                if key:
                    IdempotentRequest.objects.create(
                        client=client, key=key, request_hash=fingerprint, event=outcome.event
                    )
        except services.ConsentError as error:
            return Response(
                {"error": error.code, "detail": str(error)}, status=status.HTTP_400_BAD_REQUEST
            )
        except IntegrityError:  # the same key raced in from a retry
            return Response({"error": "idempotency_key_reused"}, status=status.HTTP_409_CONFLICT)
        if outcome.event is None:
            return Response({"pending_confirmation": True}, status=status.HTTP_202_ACCEPTED)
        return Response(event_dict(outcome.event), status=status.HTTP_201_CREATED)


class ChangesView(ApiView):
    required_scope = ApiScope.CHANGES
    query_parameters = frozenset({"cursor", "limit"})

    @extend_schema(
        summary="Consent changes since a cursor",
        description=(
            "Events after `cursor` (start with 0), oldest first. Keep `next_cursor` and ask "
            "again until `has_more` is false. Needs the consent:changes scope."
        ),
        parameters=[
            OpenApiParameter(
                "cursor",
                {"type": "string", "pattern": "^[0-9]{1,18}$"},
                description="From the previous answer; 0 at first.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 1000},
                description="1 to 1000 (default 500).",
            ),
        ],
        responses={
            200: inline_serializer(
                "Changes",
                {
                    "events": EventSerializer(many=True),
                    "next_cursor": serializers.CharField(),
                    "has_more": serializers.BooleanField(),
                },
            ),
            400: None,
        },
    )
    def get(self, request: Request) -> Response:
        try:
            cursor = int(request.query_params.get("cursor", "0"))
        except ValueError:
            cursor = -1
        if cursor < 0 or cursor >= 10**18:
            return Response({"error": "malformed_cursor"}, status=status.HTTP_400_BAD_REQUEST)
        try:
            limit = int(request.query_params.get("limit", "500"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return Response({"error": "malformed_limit"}, status=status.HTTP_400_BAD_REQUEST)
        events = consent_events_since(cursor, limit=limit + 1)
        page = events[:limit]
        return Response(
            {
                "events": [event_dict(event) for event in page],
                "next_cursor": str(page[-1].pk if page else cursor),
                "has_more": len(events) > limit,
            }
        )


class PurposesView(ApiView):
    required_scope = ApiScope.READ

    @extend_schema(
        summary="The purpose catalogue",
        responses={200: ChoiceSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response([choice_dict(choice) for choice in consent_current(None)])


class InboundSmsSerializer(StrictSerializer):
    """An inbound text message as the SMS provider posts it (with whatever else the provider
    adds, such as ``received_at``: a STOP must not be refused for a new field)."""

    unknown_fields_ignored = True

    message_id = serializers.CharField(min_length=1, max_length=100, trim_whitespace=False)
    text = serializers.CharField(required=False, allow_blank=True)

    def get_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = super().get_fields()
        # "from" is a Python keyword, so it cannot be declared above.
        fields["from"] = serializers.RegexField(
            PHONE_PATTERN,
            trim_whitespace=False,
            help_text="The sender's number in E.164 form (+ and digits).",
        )
        return fields

    def validate_from(self, value: str) -> str:
        # The whole value (Python's "$" would also match before a final newline).
        if not re.fullmatch(PHONE_PATTERN.strip("^$"), value):
            raise serializers.ValidationError("Expected + and 6 to 15 digits.")
        return value


class SmsInboundView(StrictQueryView):
    """The SMS provider's inbound-message webhook. Signed with the shared secret
    ``CONSENT_SMS_WEBHOOK_SECRET``; STOP (and its usual synonyms) withdraws SMS marketing."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Inbound text message (SMS provider webhook)",
        description=(
            "Header X-Inper-SMS-Signature: t=<unix time>,v1=<hex HMAC-SHA256 over "
            "'<t>.<raw body>' with the shared secret>. A message id seen before answers 409."
        ),
        request=InboundSmsSerializer,
        responses={200: None, 400: None, 401: None, 409: None, 429: None, 503: None},
    )
    def post(self, request: Request) -> Response:
        secret = settings.CONSENT_SMS_WEBHOOK_SECRET
        if not secret:
            return Response({"error": "not_configured"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if too_many_requests(request._request, "sms", settings.CONSENT_RATE_SMS_WEBHOOK):
            return Response({"error": "rate_limited"}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        body = request._request.body
        if len(body) > 8192:
            return Response({"error": "too_large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        header = request.headers.get("X-Inper-SMS-Signature", "")
        if not signature_valid(
            secret.encode(),
            body,
            header,
            tolerance=settings.CONSENT_SMS_WEBHOOK_TOLERANCE_SECONDS,
        ):
            return Response({"error": "bad_signature"}, status=status.HTTP_401_UNAUTHORIZED)
        try:
            message = InboundSmsSerializer(data=json.loads(body))
        except (ValueError, RecursionError):
            return Response({"error": "malformed"}, status=status.HTTP_400_BAD_REQUEST)
        if not message.is_valid():
            return Response(
                {"error": "malformed", "fields": sorted(message.errors)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        message_id = message.validated_data["message_id"]
        phone = message.validated_data["from"]
        text = message.validated_data.get("text", "")[:1600]
        words = text.strip().upper().split()
        keyword = words[0] if words and words[0] in STOP_WORDS else ""
        try:
            events = services.consent_sms_inbound(
                phone=phone, message_id=message_id, keyword=keyword
            )
        except services.ConsentError as error:
            return Response({"error": error.code}, status=status.HTTP_409_CONFLICT)
        return Response(
            {"action": "stopped" if keyword else "ignored", "withdrawn": len(events)},
            status=status.HTTP_200_OK,
        )
