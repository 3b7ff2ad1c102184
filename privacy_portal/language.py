"""The language of the site for one browser."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation


def language_apply(response: HttpResponse, language: str) -> None:
    """Use ``language`` for the rest of this request and remember it in this browser."""
    translation.activate(language)
    samesite: Any = settings.LANGUAGE_COOKIE_SAMESITE
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=samesite,
    )


def language_unless_chosen(request: Any, language: str | None) -> None:
    """Speak ``language`` for the rest of this request, unless the person chose one in this
    browser (its cookie) or it is not one of the portal's."""
    if (
        language in dict(settings.LANGUAGES)
        and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
    ):
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


def language_of_the_email(request: Any, language: str | None) -> None:
    """Speak ``language`` (an e-mail's) on a page its link opens, for someone not signed in
    (signed in, their own language counts): the e-mail was in it; the browser may not be."""
    if not request.user.is_authenticated:
        language_unless_chosen(request, language)
