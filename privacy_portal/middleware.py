"""Site-wide middleware: refusing NUL characters, text that is not UTF-8 and oversize bodies,
session timeouts, the account's language, privacy headers, the Content-Security-Policy."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template import loader
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.defaults import bad_request

from .drafts import DRAFT_FIELD
from .language import language_unless_chosen

Handler = Callable[[HttpRequest], HttpResponse]
logger = logging.getLogger(__name__)

SESSION_AUTH_AT = "_portal_auth_at"
SESSION_SEEN_AT = "_portal_seen_at"
# Extend an idle session at most this often, so that reading pages writes rarely.
_TOUCH_INTERVAL = 60


def _utf8(encoded: bytes) -> bool:
    """Whether a URL-encoded ``encoded`` is UTF-8, its raw bytes and its percent-escapes
    alike (Django would read other bytes as replacement characters, and store "M\ufffdller"
    for a form sent as Latin-1)."""
    try:
        parse_qsl(encoded.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _refused(request: HttpRequest, why: str) -> HttpResponse:
    # Hostile or garbled input, not a fault: a line in the log, without a traceback.
    logger.warning("request refused: %s", why, extra={"status": 400})
    if request.path.startswith("/api/"):
        # The API's clients read JSON, as its other refusals are.
        response: HttpResponse = JsonResponse(
            {"error": "malformed", "detail": f"{why} in the request"}, status=400
        )
    else:
        # Before the locale middleware: the page in the language the browser asks for.
        with translation.override(translation.get_language_from_request(request)):
            response = bad_request(request, SuspiciousOperation(f"{why} in the request"))
    # Refused before the middleware that adds them: the headers every other answer has.
    from django.middleware.clickjacking import XFrameOptionsMiddleware

    def answer(_request: HttpRequest) -> HttpResponse:
        return response

    response = XFrameOptionsMiddleware(answer).process_response(request, response)
    response = ContentSecurityPolicyMiddleware(answer).process_response(request, response)
    return PrivacyHeadersMiddleware(answer)(request)


class RejectNulMiddleware:
    """Answer 400 (the usual page) to a request whose path or parameters hold a NUL
    character: no text here may contain one, and PostgreSQL refuses them in queries (a search
    or filter would fail with a server error instead); and to one whose parameters are not
    UTF-8."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return _refused(request, "NUL character")
        # WSGI hands the query string over as Latin-1: its bytes are those sent.
        if not _utf8(request.META.get("QUERY_STRING", "").encode("latin-1", "replace")):
            return _refused(request, "parameters not in UTF-8")
        return self.get_response(request)


class BoundedBodyMiddleware:
    """Apply Django's limits on a form body (``DATA_UPLOAD_MAX_MEMORY_SIZE``,
    ``DATA_UPLOAD_MAX_NUMBER_FIELDS``) to every URL-encoded request, also to the views that
    never read their form (the one-click unsubscribe, buttons without fields): a body too large
    or with too many fields answers 400 before any view acts on it; and one that is not UTF-8.
    A multipart body (a form with a file) is parsed as the view would parse it (CSRF's check
    has, for a browser's form): Django reads bytes that are not UTF-8 in its text fields as
    replacement characters, which no typed text holds, so one there answers 400 too. Last in
    ``MIDDLEWARE``, so that the answer carries every header."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method in ("POST", "PUT", "PATCH")
            and request.content_type == "application/x-www-form-urlencoded"
        ):
            # Parsing applies the limits (RequestDataTooBig, TooManyFieldsSent: answered 400);
            # the raw body stays readable. A form that says it is in another encoding is
            # refused by Django's parser (BadRequest): answered here, where it is known.
            try:
                request.POST  # noqa: B018
            except BadRequest:
                return _refused(request, "form not in UTF-8")
            if not _utf8(request.body):
                return _refused(request, "form not in UTF-8")
        elif (
            request.method in ("POST", "PUT", "PATCH")
            and request.content_type == "multipart/form-data"
            # The API reads JSON only, from the raw body (a form answers 415 there).
            and not request.path.startswith("/api/")
            and any(
                "\ufffd" in name or any("\ufffd" in value for value in values)
                for name, values in request.POST.lists()
            )
        ):
            return _refused(request, "form not in UTF-8")
        return self.get_response(request)


class SessionTimeoutMiddleware:
    """End authenticated sessions after ``SESSION_ABSOLUTE_TIMEOUT`` seconds since login, and
    keep ``SESSION_COOKIE_AGE`` an idle timeout by re-saving active sessions now and then."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            auth_at = session.get(SESSION_AUTH_AT)
            if auth_at is None:
                session[SESSION_AUTH_AT] = now
            elif now - int(auth_at) > settings.SESSION_ABSOLUTE_TIMEOUT:
                logout(request)
                if request.method == "POST" and request.POST.get(DRAFT_FIELD):
                    # A form written signed in: its page keeps what was typed for after
                    # signing in again, and says so (``privacy_portal.drafts``).
                    return self.get_response(request)
                messages.info(
                    request, _("For your security you were signed out. Please sign in again.")
                )
                return HttpResponseRedirect(reverse("account_login"))
            if now - int(session.get(SESSION_SEEN_AT, 0)) > _TOUCH_INTERVAL:
                session[SESSION_SEEN_AT] = now
        return self.get_response(request)


class UserLanguageMiddleware:
    """Use the signed-in person's preferred language unless they chose one in this browser."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language_unless_chosen(request, getattr(request.user, "preferred_language", None))
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        return response


class PrivacyHeadersMiddleware:
    """Add Permissions-Policy, and forbid caching of any dynamic page unless a view allowed it:
    most pages here show personal data. A wrong method's empty answer gets a page."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and not response.streaming and not response.content:
            # Django's answer to a wrong method is empty: say what happened, as the other
            # error pages do (its Allow header stays); to the API's clients in JSON.
            if request.path.startswith("/api/"):
                response.content = json.dumps(
                    {
                        "error": "method_not_allowed",
                        "detail": f"Use {response.headers.get('Allow', 'another method')}.",
                    }
                ).encode()
                response.headers["Content-Type"] = "application/json"
            else:
                response.content = loader.render_to_string("405.html", request=request)
                response.headers["Content-Type"] = "text/html; charset=utf-8"
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store, private"
        return response


# Attributes by which a view gives its response a policy of its own (django-csp's decorators).
_OWN_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the policy built once instead of for every response.

    No view of the portal uses a nonce or a policy of its own, so every response carries the
    same headers, which django-csp would otherwise build again each time (copying the settings
    on the way: about a tenth of the cost of an API read). A request that does use a nonce, or
    a response with a policy of its own, goes through django-csp unchanged.
    """

    _built: dict[tuple[int, int], tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {}

    def _policies(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        enforced = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        key = (id(enforced), id(report_only))  # settings overridden (in tests): built again
        built = self._built.get(key)
        if built is None:
            built = (
                build_policy(),
                build_policy(report_only=True),
                tuple((enforced or {}).get("EXCLUDE_URL_PREFIXES") or ()),
                tuple((report_only or {}).get("EXCLUDE_URL_PREFIXES") or ()),
            )
            self._built = {key: built}
        return built

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:  # type: ignore[override]
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _OWN_POLICY
        ):
            return super().process_response(request, response)  # type: ignore[return-value]
        if response.status_code in (404, 500) and settings.DEBUG:
            return response
        enforced, report_only, excluded, excluded_ro = self._policies()
        path = request.path_info
        for header, policy, exempt, prefixes in (
            (HEADER, enforced, "_csp_exempt", excluded),
            (HEADER_REPORT_ONLY, report_only, "_csp_exempt_ro", excluded_ro),
        ):
            if (
                policy
                and header not in response
                and not getattr(response, exempt, False)
                and not path.startswith(prefixes)
            ):
                response[header] = policy
        # As django-csp does: asking for a nonce once the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
