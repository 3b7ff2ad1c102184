"""The JSON endpoints behind ``static/consent/banner.js``: its configuration and texts in the
page's language, and saving a choice. Both may be called from Inper's other sites (CORS for
the origins in ``CONSENT_BANNER_ORIGINS``); saving needs no cookies and is rate-limited."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from . import services
from .catalogue import PurposeInfo, catalogue
from .models import PurposeKind
from .ratelimits import too_many_requests
from .selectors import consent_current

MAX_BODY_BYTES = 2048
_FIELDS = {"visitor_id", "choices", "policy_version", "language", "gpc"}


def _origin_allowed(request: HttpRequest) -> bool | None:
    """Return None for a same-origin request (no Origin, or the portal's own), else whether
    the calling site is one of Inper's sites allowed to embed the banner."""
    origin = request.headers.get("Origin")
    if not origin or origin == f"{request.scheme}://{request.get_host()}":
        return None
    return origin in settings.CONSENT_BANNER_ORIGINS or origin == settings.PORTAL_BASE_URL


def _cors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if _origin_allowed(request):
        response["Access-Control-Allow-Origin"] = request.headers["Origin"]
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "86400"
        response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["Vary"] = "Origin"
    return response


def _error(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse:
    return _cors(request, JsonResponse({"error": code, "detail": detail}, status=status))


def _texts() -> dict[str, str]:
    return {
        "title": _("Cookies on Inper's websites"),
        "intro": _(
            "We use strictly necessary cookies to run this site. With your consent we also use "
            "cookies to remember your preferences, to measure how the site is used and for "
            "advertising, including third-party services such as Google Analytics and Facebook "
            "buttons. You can change your choice at any time under “Cookie settings”."
        ),
        "accept_all": _("Accept all"),
        "reject_all": _("Reject all"),
        "choose": _("Choose cookies"),
        "save": _("Save my choices"),
        "settings_title": _("Choose which cookies we may use"),
        "always_on": _("Always on"),
        "services": _("Services and cookies"),
        "cookie": _("Cookie"),
        "purpose": _("Purpose"),
        "lifetime": _("Lifetime"),
        "set_by": _("Set by"),
        "first_party": _("Inper (first party)"),
        "third_party": _("third party"),
        "privacy_info": _("Privacy information"),
        "policy_link": _("Cookie policy"),
        "close": _("Close"),
        "saved": _("Your cookie choices were saved."),
        "gpc_note": _(
            "Your browser sent a Global Privacy Control signal; we honoured it: advertising "
            "cookies and the sale or sharing of your data are off."
        ),
        "gpc_locked": _("Off because of your browser's Global Privacy Control signal"),
        "error": _(
            "Your choice applies in this browser, but we could not record it just now. "
            "We will try again on your next visit."
        ),
        "settings_link": _("Cookie settings"),
    }


def _category(purpose: PurposeInfo, language: str, *, on_portal: bool) -> dict[str, Any]:
    """A cookie category for the banner; ``on_portal``: the cookies by the names the portal
    itself gives them (on Inper's other sites, by the sites' names)."""
    return {
        "key": purpose.key,
        "title": purpose.title(language),
        "description": purpose.description(language),
        "required": purpose.always_on,
        "gpc": purpose.honours_gpc,
        "services": [
            {
                "name": service.label(language),
                "provider": service.provider,
                "description": service.description(language),
                "privacy_url": service.privacy_url,
                "cookies": [
                    {
                        "name": cookie.name_here if on_portal else cookie.name,
                        "domain": cookie.domain,
                        "first_party": cookie.first_party,
                        "purpose": cookie.purpose(language),
                        "lifetime": cookie.lifetime(language),
                    }
                    for cookie in service.cookies
                ],
            }
            for service in purpose.services
        ],
    }


def _language(request: HttpRequest) -> str:
    wanted = (request.GET.get("lang") or "")[:8].lower().split("-")[0]
    available = {code for code, _name in settings.LANGUAGES}
    return wanted if wanted in available else (translation.get_language() or "en")[:2]


@require_http_methods(["GET", "OPTIONS"])
def banner_config(request: HttpRequest) -> HttpResponse:
    """Return the banner's categories, services, texts and policy version in the page's
    language, and the signed-in account's choice on the portal."""
    if request.method == "OPTIONS":
        return _cors(request, HttpResponse(status=204))
    language = _language(request)
    cat = catalogue()
    on_portal = _origin_allowed(request) is None
    with translation.override(language):
        body: dict[str, Any] = {
            "language": language,
            "policy": {
                "version": cat.cookie_policy.version if cat.cookie_policy else 0,
                "material_version": cat.cookie_policy_material_version,
                "url": reverse("consent:cookie_policy"),
            },
            "lifetime_days": settings.CONSENT_CHOICE_LIFETIME_DAYS,
            # Paths on the portal: banner.js prefixes the portal's origin.
            "settings_url": reverse("consent:cookies"),
            "save_url": reverse("consent:banner_choice"),
            "gpc": services.gpc_signal(request),
            "categories": [
                _category(p, language, on_portal=on_portal) for p in cat.cookie_categories
            ],
            "texts": _texts(),
            "account": None,
        }
    user: Any = request.user
    if user.is_authenticated and on_portal:
        choices = consent_current(services.subject_of_user(user), kinds=(PurposeKind.COOKIE,))
        decided = [c.decided_at for c in choices if c.decided_at and not c.purpose.always_on]
        if decided:
            body["account"] = {
                "granted": [c.key for c in choices if c.granted],
                "decided_at": int(max(decided).timestamp()),
            }
    response = JsonResponse(body)
    response["Cache-Control"] = "private, no-cache"
    response["Content-Language"] = language
    return _cors(request, response)


def _parse(request: HttpRequest) -> dict[str, Any]:
    """Return the validated choice, or raise ValueError with a message."""
    try:
        data = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError("The body is not JSON.") from error
    if not isinstance(data, dict) or set(data) - _FIELDS:
        raise ValueError("Expected an object with: " + ", ".join(sorted(_FIELDS)) + ".")
    choices = data.get("choices")
    if (
        not isinstance(choices, dict)
        or not choices
        or len(choices) > 16
        or not all(isinstance(k, str) and isinstance(v, bool) for k, v in choices.items())
    ):
        raise ValueError("“choices” must map category keys to true or false.")
    visitor = data.get("visitor_id")
    try:
        visitor_id = uuid.UUID(visitor) if visitor is not None else None
    except (TypeError, ValueError, AttributeError) as error:
        raise ValueError("“visitor_id” must be a UUID.") from error
    policy_version = data.get("policy_version")
    if policy_version is not None and (
        not isinstance(policy_version, int) or isinstance(policy_version, bool)
    ):
        raise ValueError("“policy_version” must be a number.")
    language = data.get("language") or ""
    if not isinstance(language, str) or len(language) > 8:
        raise ValueError("“language” must be a language code.")
    gpc = data.get("gpc", False)
    if not isinstance(gpc, bool):
        raise ValueError("“gpc” must be true or false.")
    return {
        "visitor_id": visitor_id,
        "choices": choices,
        "policy_version": policy_version,
        "language": language[:2] or None,
        "gpc": gpc,
    }


def _csrf_passes(request: HttpRequest) -> bool:
    """Return whether the request carries the portal's CSRF token (a same-site banner)."""
    return csrf_protect(lambda r: HttpResponse())(request).status_code == 200


@csrf_exempt  # called from Inper's other sites without cookies; see the account check below
@require_http_methods(["POST", "OPTIONS"])
def banner_choice(request: HttpRequest) -> HttpResponse:
    """Save a banner choice under the visitor id (and on the account for a signed-in person on
    the portal whose request carries the CSRF token). Answers 400 for a malformed body, 413
    for an oversize one, 415 for another content type and 429 when over the rate limit."""
    if request.method == "OPTIONS":
        return _cors(request, HttpResponse(status=204))
    if _origin_allowed(request) is False:
        return _error(request, 403, "origin", "This site may not save banner choices.")
    if too_many_requests(request, "banner", settings.CONSENT_RATE_BANNER):
        return _error(request, 429, "rate_limited", "Too many requests; try again in a minute.")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = MAX_BODY_BYTES + 1
    if length > MAX_BODY_BYTES:
        return _error(request, 413, "too_large", f"The body may hold {MAX_BODY_BYTES} bytes.")
    content_type = request.content_type or ""
    if content_type not in ("application/json", "text/plain"):
        return _error(request, 415, "content_type", "Send JSON.")
    if len(request.body) > MAX_BODY_BYTES:
        return _error(request, 413, "too_large", f"The body may hold {MAX_BODY_BYTES} bytes.")
    try:
        data = _parse(request)
    except ValueError as error:
        return _error(request, 400, "malformed", str(error))
    user: Any = request.user
    account = (
        user
        if user.is_authenticated and _origin_allowed(request) is None and _csrf_passes(request)
        else None
    )
    try:
        visitor_id, granted = services.consent_banner_save(
            visitor_id=data["visitor_id"],
            choices=data["choices"],
            request=request,
            language=data["language"],
            account=account,
            policy_version=data["policy_version"],
            gpc=data["gpc"],
        )
    except services.ConsentError as error:
        return _error(request, 400, error.code, str(error))
    cat = catalogue()
    return _cors(
        request,
        JsonResponse(
            {
                "visitor_id": str(visitor_id),
                "granted": sorted(granted),
                "policy_version": cat.cookie_policy.version if cat.cookie_policy else 0,
                "account": account is not None,
            },
            status=201,
        ),
    )
