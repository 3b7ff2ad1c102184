"""Global Privacy Control on the server: a request with ``Sec-GPC: 1`` is an opt-out of sale,
sharing and targeted advertising for the signed-in account and for the browser's visitor id,
recorded with source ``gpc`` (once: nothing is recorded while those purposes are already off)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from .catalogue import catalogue
from .cookie import banner_cookie_of, banner_cookie_set
from .services import consent_honour_gpc, gpc_signal, subject_for_user

logger = logging.getLogger(__name__)
_SKIP = ("/static/", "/api/", "/healthz", "/readyz", "/privacy/banner/")


class GlobalPrivacyControlMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not gpc_signal(request) or request.path.startswith(_SKIP):
            return self.get_response(request)
        cookie = banner_cookie_of(request)
        try:
            self._honour(request, cookie)
        except Exception:  # a page must never fail because of the signal
            logger.exception("honouring Global Privacy Control failed")
        response = self.get_response(request)
        covered = {p.key for p in catalogue().cookie_categories if p.honours_gpc}
        if cookie is not None and cookie.granted & covered:
            # Keep the browser's copy of the choice in step, so that banner.js agrees.
            from dataclasses import replace

            banner_cookie_set(
                response,
                replace(cookie, granted=cookie.granted - covered),
                secure=request.is_secure(),
            )
        return response

    @staticmethod
    def _honour(request: HttpRequest, cookie: Any) -> None:
        from .models import ConsentSubject

        subjects = []
        user: Any = request.user
        if user.is_authenticated:
            subjects.append(subject_for_user(user))
        if cookie is not None:
            visitor = ConsentSubject.objects.filter(visitor_id=cookie.visitor_id).first()
            if visitor is not None:
                subjects.append(visitor)
        for subject in subjects:
            consent_honour_gpc(subject=subject, request=request)


class AccountCookieChoiceMiddleware:
    """A cookie category the signed-in person withdrew for their account after this browser
    granted it (in another browser, on the "Do Not Sell or Share" page, through support) is off
    in this browser too: the browser's copy of the choice, which banner.js reads, is brought in
    step before the page is drawn. One read of the account's cookie choices, only for a browser
    whose choice grants a category that can be switched off."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        withdrawn: set[str] = set()
        cookie = None
        if not request.path.startswith(_SKIP):
            try:
                cookie, withdrawn = self._withdrawn_since(request)
            except Exception:  # a page must never fail because of it
                logger.exception("reading the account's cookie choices failed")
        if cookie is not None and withdrawn:
            from dataclasses import replace

            from django.conf import settings

            cookie = replace(cookie, granted=cookie.granted - withdrawn)
            request.COOKIES[settings.CONSENT_COOKIE_NAME] = cookie.value()
        response = self.get_response(request)
        if cookie is not None and withdrawn:
            banner_cookie_set(response, cookie, secure=request.is_secure())
        return response

    @staticmethod
    def _withdrawn_since(request: HttpRequest) -> tuple[Any, set[str]]:
        from .models import PurposeKind
        from .selectors import consent_current
        from .services import subject_of_user

        user: Any = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None, set()
        cookie = banner_cookie_of(request)
        if cookie is None or not cookie.granted:
            return cookie, set()
        switchable = {p.key for p in catalogue().cookie_categories if p.switchable}
        if not cookie.granted & switchable:
            return cookie, set()
        subject = subject_of_user(user)
        if subject._state.adding:  # never chose anything on the account
            return cookie, set()
        return cookie, {
            choice.key
            for choice in consent_current(subject, kinds=(PurposeKind.COOKIE,))
            if choice.key in cookie.granted & switchable
            and choice.status == "withdrawn"
            and choice.decided_at is not None
            and choice.decided_at > cookie.decided_at
        }
