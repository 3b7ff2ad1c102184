"""Sending marketing e-mail: only with consent, never to a suppressed address, and always with
RFC 8058 one-click unsubscribe headers (``List-Unsubscribe`` with the https link, and a mailto
link where ``CONSENT_UNSUBSCRIBE_MAILTO`` names a mailbox that is processed; and
``List-Unsubscribe-Post``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse

from privacy_portal.mail import send_email_on_commit

from . import tokens
from .models import Channel, ConsentSubject


def unsubscribe_url(*, subject: ConsentSubject, purpose_key: str) -> tuple[str, str]:
    """Return ``(url, token)``: a fresh one-click unsubscribe link bound to the subject and
    purpose."""
    token = tokens.token_make(
        kind=tokens.UNSUBSCRIBE, subject_id=subject.pk, purpose_key=purpose_key
    )
    return settings.PORTAL_BASE_URL + reverse("consent_public:unsubscribe", args=[token]), token


def unsubscribe_headers(url: str, token: str) -> dict[str, str]:
    """Return the RFC 2369 / RFC 8058 headers for an unsubscribe link: the https link, and a
    mailto link only where a mailbox is named whose messages are processed (a mail to an
    address nobody reads would unsubscribe nobody)."""
    links = [f"<{url}>"]
    if settings.CONSENT_UNSUBSCRIBE_MAILTO:
        subject = quote("unsubscribe " + token)
        links.append(f"<mailto:{settings.CONSENT_UNSUBSCRIBE_MAILTO}?subject={subject}>")
    return {
        "List-Unsubscribe": ", ".join(links),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def marketing_email_send(
    *,
    subject: ConsentSubject,
    to: str,
    template: str,
    context: Mapping[str, Any],
    language: str | None = None,
    purpose_key: str = "marketing_email",
) -> bool:
    """Send a marketing e-mail once the transaction commits, if the subject's consent for
    ``purpose_key`` counts and the address is not suppressed. Return whether it was sent."""
    from .selectors import consent_granted
    from .services import suppression_has

    if not consent_granted(subject, purpose_key) or suppression_has(
        channel=Channel.EMAIL, address=to
    ):
        return False
    url, token = unsubscribe_url(subject=subject, purpose_key=purpose_key)
    send_email_on_commit(
        template=template,
        to=to,
        context={**context, "unsubscribe_url": url},
        language=language,
        headers=unsubscribe_headers(url, token),
    )
    return True
