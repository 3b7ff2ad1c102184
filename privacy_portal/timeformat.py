"""Moments on the portal's pages, shown in the reader's own time zone.

The server writes every time in the portal's zone (UTC), with the zone named, as e-mails and
copies keep it. On a page, ``{{ value|local_time }}`` wraps that text in a ``<time>`` element
with the exact moment, which ``static/js/portal.js`` rewrites in the browser's own zone and the
page's language ("7. Dezember 2026, 05:41 MEZ"); without script the UTC text stays. Load it with
``{% load portal_time %}``.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

STYLES = {"long": "DATETIME_FORMAT", "short": "SHORT_DATETIME_FORMAT"}


@register.filter(is_safe=True)
def local_time(value: datetime | None, style: str = "long") -> SafeString | str:
    """Return ``value`` as a ``<time>`` element ("long" or "short"), or "" for no value."""
    if not isinstance(value, datetime):
        return ""
    style = style if style in STYLES else "long"
    return format_html(
        '<time datetime="{}" data-local="{}">{}</time>',
        value.isoformat(),
        style,
        date_filter(value, STYLES[style]),
    )
