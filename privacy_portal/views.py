"""Site-wide pages: home, language switch, health checks and error pages."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.contrib import messages
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.forms import LanguageForm

from .language import language_apply

logger = logging.getLogger(__name__)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Say what the portal offers and link to each part."""
    return render(request, "home.html")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the language of the site (and of e-mails, for a signed-in person)."""
    form = LanguageForm(request.POST)
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if not form.is_valid():
        return response
    language = form.cleaned_data["language"]
    user: Any = request.user
    if user.is_authenticated and user.preferred_language != language:
        from accounts.services import account_profile_update

        account_profile_update(user=user, actor=user, data={"preferred_language": language})
        with translation.override(language):
            messages.info(
                request,
                _("Our e-mails to you will be in %(language)s from now on too.")
                % {"language": translation.get_language_info(language)["name_local"]},
            )
    language_apply(response, language)
    return response


# --- health -----------------------------------------------------------------------------------


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers."""
    return HttpResponse("ok\n", content_type="text/plain")


def _check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except DatabaseError:
        return False


def _check_broker() -> bool:
    from privacy_portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def _check_cache() -> bool:
    from django.core.cache import cache

    try:
        cache.set("readyz", "1", 5)
        return bool(cache.get("readyz") == "1")
    except Exception:
        return False


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, broker and cache reachable (503 naming what is not)."""
    checks = {
        "database": _check_database(),
        "broker": _check_broker(),
        "cache": _check_cache(),
    }
    ready = all(checks.values())
    return JsonResponse(
        {
            "status": "ready" if ready else "unavailable",
            "checks": {name: "ok" if ok else "unavailable" for name, ok in checks.items()},
        },
        status=200 if ready else 503,
    )


# --- errors -----------------------------------------------------------------------------------


def _is_outage(error: BaseException | None) -> bool:
    """Return True for errors that mean a backing service (database, cache, broker) is down."""
    if error is None:
        return False
    if isinstance(error, DatabaseError) and error.__class__.__name__ in {
        "OperationalError",
        "InterfaceError",
    }:
        return True
    try:
        import kombu.exceptions
        import redis.exceptions
    except ImportError:  # pragma: no cover
        return False
    return isinstance(
        error,
        (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            kombu.exceptions.OperationalError,
            ConnectionError,
            TimeoutError,
        ),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """Render the 500 page, or a 503 when a backing service is down.

    Rendered without the request context: during an outage even reading the session fails.
    """
    error = sys.exc_info()[1]
    if _is_outage(error):
        body = loader.get_template("503.html").render({})
        response = HttpResponse(body, status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponse(loader.get_template("500.html").render({}), status=500)


def ratelimited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer 429 when a view's ``ratelimit`` decorator refuses (its rates are per minute)."""
    return too_many_attempts(request, retry_after=60)


def too_many_attempts(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    """Answer 429 with a plain explanation when a form is used too often; ``retry_after`` is
    the longest wait, in seconds (the limit's window)."""
    minutes = max(1, -(-retry_after // 60))
    response = render(request, "429.html", {"wait_minutes": minutes}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Explain a refused form in plain words (the usual cause: an old page or cookies off)."""
    return render(request, "403_csrf.html", status=403)
