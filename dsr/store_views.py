"""Views of the data-store side of the portal: which stores hold a customer's data (the
"my data" page's live section), and the callback Inper's services post deferred results to."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from privacy_portal.pseudonymise import ratelimit_client

from . import callbacks, holdings
from .connectors.http import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER


@csrf_exempt  # authenticated by the HMAC signature, not by a session
@require_POST
@ratelimit(key=ratelimit_client, rate="600/m", block=True, group="dsr-store-callback")
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


@login_required
@require_GET
@never_cache
def holdings_status(request: HttpRequest) -> JsonResponse:
    """The stores section of "my data", for the page to update itself without a reload."""
    found = holdings.holdings_of(request.user)
    html = render_to_string("dsr/holdings_body.html", {"holdings": found}, request=request)
    return JsonResponse({"state": "checking" if found.checking else "ready", "html": html})


@login_required
@require_POST
@ratelimit(key="user", rate="6/m", method="POST", block=True, group="dsr-holdings-refresh")
def holdings_refresh(request: HttpRequest) -> HttpResponse:
    """Search the stores again for the signed-in person."""
    holdings.holdings_refresh(user=request.user)
    return redirect(f"{reverse('accounts:data')}#stores")
