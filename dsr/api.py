"""The request API for Inper's other systems (the shop's customer service, the newsletter
platform): file a data-subject request received there, and follow it.

Same tokens and scopes as the consent API (``requests:write``, ``requests:read``). An API
client cannot skip the identity check: without ``identity_method`` and ``identity_note`` the
person receives the e-mail confirmation link, as on every other channel.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.urls import path
from django_countries import countries
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.validators import (
    validate_mailable_email,
    validate_undisguised,
    validate_undisguised_line,
)
from consent.api.base import ApiView, StrictSerializer
from consent.models import ApiScope

from . import services
from .engine import tasks_done
from .models import Channel, DataSubjectRequest, IdentityMethod, RequestType

STAFF_METHODS = [m.value for m in IdentityMethod if m.value.startswith("staff_")]


class RequestInSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=RequestType.values)
    email = serializers.EmailField(max_length=254, validators=[validate_mailable_email])
    full_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, validators=[validate_undisguised_line]
    )
    country = serializers.ChoiceField(
        choices=[code for code, _name in countries],
        required=False,
        allow_blank=True,
        help_text="ISO 3166-1 alpha-2 code; it chooses the deadline's rules.",
    )
    language = serializers.ChoiceField(choices=["en", "de"], required=False)
    details = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, validators=[validate_undisguised]
    )
    purposes = serializers.ListField(
        child=serializers.CharField(max_length=48), required=False, max_length=50
    )
    order_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    identity_method = serializers.ChoiceField(choices=STAFF_METHODS, required=False)
    identity_note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, validators=[validate_undisguised]
    )


class RequestOutSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField()
    type = serializers.CharField()
    state = serializers.CharField()
    received_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(
        allow_null=True,
        help_text="The deadline, once the person's identity is confirmed (null before: it "
        "follows the country of the person's account, so it would tell whether Inper knows "
        "the address).",
    )
    completed_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField()
    stores_done = serializers.IntegerField()
    stores_total = serializers.IntegerField()


def _out(request: DataSubjectRequest) -> dict[str, Any]:
    done, total = tasks_done(request)
    return {
        "reference": request.reference,
        "type": request.type,
        "state": request.state,
        "received_at": request.received_at,
        "due_at": request.due_at if request.identity_proven else None,
        "completed_at": request.completed_at,
        "outcome": request.outcome,
        "stores_done": done,
        "stores_total": total,
    }


class RequestsView(ApiView):
    required_scope = ApiScope.REQUESTS_WRITE

    @extend_schema(
        summary="File a data-subject request",
        description="Needs the requests:write scope. Without identity_method and identity_note "
        "the person confirms by an e-mailed link before anything happens.",
        request=RequestInSerializer,
        responses={201: RequestOutSerializer, 400: None},
    )
    def post(self, request: Request) -> Response:
        incoming = RequestInSerializer(data=request.data)
        if not incoming.is_valid():
            return Response({"errors": incoming.errors}, status=status.HTTP_400_BAD_REQUEST)
        data = incoming.validated_data
        intake = services.Intake(
            type=data["type"],
            email=data["email"],
            channel=Channel.API,
            full_name=data.get("full_name", ""),
            country=data.get("country", ""),
            language=data.get("language", ""),
            details=data.get("details", ""),
            purposes=tuple(data.get("purposes") or ()),
            order_number=data.get("order_number", ""),
            identity_method=data.get("identity_method", ""),
            identity_note=data.get("identity_note", ""),
        )
        try:
            filed = services.dsr_request_file(intake=intake, actor=request.user)
        except ValidationError as error:
            return Response(
                {"errors": {"request": error.messages}}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(_out(filed), status=status.HTTP_201_CREATED)


class RequestView(ApiView):
    required_scope = ApiScope.REQUESTS_READ

    @extend_schema(
        summary="Follow a request this system filed",
        description="Needs the requests:read scope. Requests filed elsewhere are not found.",
        responses={200: RequestOutSerializer, 404: None},
    )
    def get(self, request: Request, reference: str) -> Response:
        client: Any = request.user
        found = DataSubjectRequest.objects.filter(reference=reference, api_client=client).first()
        if found is None:
            return Response({"error": "not_found"}, status=status.HTTP_404_NOT_FOUND)
        return Response(_out(found))


app_name = "dsr_api"
urlpatterns = [
    path("", RequestsView.as_view(), name="requests"),
    path("<str:reference>/", RequestView.as_view(), name="request"),
]
