"""Sending the portal's e-mails: rendered from ``templates/emails/<name>_subject.txt``,
``<name>.txt`` and, where it exists, ``<name>.html``, in the recipient's language."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from email.utils import formataddr, parseaddr
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import Context, TemplateDoesNotExist, engines
from django.template.backends.django import DjangoTemplates
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

logger = logging.getLogger(__name__)


def render_email(
    template: str, context: Mapping[str, Any], *, language: str | None = None
) -> tuple[str, str, str | None]:
    """Return ``(subject, text, html)`` of an e-mail template in ``language``."""
    context = {"portal_base_url": settings.PORTAL_BASE_URL, **context}
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = " ".join(_render_text(f"emails/{template}_subject.txt", context).split())
        text = _render_text(f"emails/{template}.txt", context)
        try:
            html: str | None = render_to_string(f"emails/{template}.html", context)
        except TemplateDoesNotExist:
            html = None
    return subject, text, html


def _render_text(name: str, context: Mapping[str, Any]) -> str:
    """Render a plain-text template without HTML escaping: an officer's "We're moving our R&D
    archive" reaches the person as written, not as "We&#x27;re moving our R&amp;D archive"."""
    backend = cast(DjangoTemplates, engines["django"])
    return backend.engine.get_template(name).render(Context(dict(context), autoescape=False))


#: The sender's name as the default ``DEFAULT_FROM_EMAIL`` gives it, in the catalogue so that
#: each language names the sender in its own words ("Inper Datenschutz").
SENDER_NAME = gettext_noop("Inper Privacy")


def from_address(language: str | None = None) -> str:
    """``DEFAULT_FROM_EMAIL`` with its name in ``language`` (the active one by default), where
    the catalogue has it; the address itself unchanged."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if not name or not address:
        return str(settings.DEFAULT_FROM_EMAIL)
    with translation.override(language or translation.get_language()):
        return formataddr((gettext(name), address))


def send_email(
    *,
    template: str,
    to: str,
    context: Mapping[str, Any],
    language: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Render and send one e-mail now."""
    subject, text, html = render_email(template, context, language=language)
    message = EmailMultiAlternatives(
        subject,
        text,
        from_email=from_address(language or settings.LANGUAGE_CODE),
        to=[to],
        headers=dict(headers or {}),
    )
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


def send_email_on_commit(*, on_sent: Callable[[], None] | None = None, **kwargs: Any) -> None:
    """Send an e-mail once the current transaction commits; a delivery failure is logged
    (template name only) and does not undo the change that caused it. ``on_sent`` runs once
    the e-mail was handed to the mail server (to record that it went out)."""
    transaction.on_commit(partial(_send_logged, on_sent=on_sent, **kwargs))


def _send_logged(*, on_sent: Callable[[], None] | None = None, **kwargs: Any) -> None:
    try:
        send_email(**kwargs)
    except Exception:
        logger.exception("email delivery failed", extra={"template": kwargs.get("template")})
        return
    if on_sent is not None:
        on_sent()
