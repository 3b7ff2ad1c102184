"""Views of the data-store side of the portal: the callback that Inper's services post their
deferred results to."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from . import callbacks
from .connectors.http import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER


@csrf_exempt  # authenticated by the HMAC signature, not by a session
@require_POST
@ratelimit(key="ip", rate="600/m", block=True, group="dsr-store-callback")
def store_callback(request: HttpRequest) -> JsonResponse:
    """Receive a service's signed result for a task it accepted earlier (HTTP 202)."""
    limit = settings.DSR_CALLBACK_MAX_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return JsonResponse({"error": {"code": "too_large"}}, status=413)
    body = request.read(limit + 1)
    if len(body) > limit:
        return JsonResponse({"error": {"code": "too_large"}}, status=413)
    outcome = callbacks.store_callback_receive(
        body=body,
        idempotency_key=request.headers.get(KEY_HEADER, ""),
        timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
        signature=request.headers.get(SIGNATURE_HEADER, ""),
    )
    if outcome.accepted:
        return JsonResponse({"status": outcome.code})
    return JsonResponse({"error": {"code": outcome.code}}, status=outcome.status)
