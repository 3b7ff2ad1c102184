"""Moments on the portal's pages, shown in the reader's own time zone.

The server writes every time in the portal's zone (UTC), with the zone named, as e-mails and
copies keep it. On a page, ``{{ value|local_time }}`` wraps that text in a ``<time>`` element
with the exact moment, which ``static/js/portal.js`` rewrites in the browser's own zone and the
page's language ("7. Dezember 2026, 05:41 MEZ"); without script the UTC text stays.
``{{ value|local_date }}`` does the same for a moment shown by its day only, so that a day and
a time beside it agree. Load them with ``{% load portal_time %}``.
"""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

STYLES = {"long": "DATETIME_FORMAT", "short": "SHORT_DATETIME_FORMAT", "time": "H:i T"}
#: A moment shown by its day only (a deadline, "received on"): the day in the reader's zone.
DATE_STYLES = {"date": "DATE_FORMAT", "short-date": "SHORT_DATE_FORMAT"}


@register.filter(is_safe=True)
def local_time(value: datetime | None, style: str = "long") -> SafeString | str:
    """Return ``value`` as a ``<time>`` element ("long", "short", or "time": the hour alone),
    or "" for no value."""
    if not isinstance(value, datetime):
        return ""
    style = style if style in STYLES else "long"
    return _element(value, style, STYLES[style])


@register.filter(is_safe=True)
def local_date(value: date | None, style: str = "long") -> SafeString | str:
    """Return the day of ``value`` ("long" or "short"): a moment as a ``<time>`` element the
    browser shows by its own zone's day; a plain date as it is; "" for no value."""
    kind = "short-date" if style == "short" else "date"
    if isinstance(value, datetime):
        return _element(value, kind, DATE_STYLES[kind])
    if isinstance(value, date):
        return str(date_filter(value, DATE_STYLES[kind]))
    return ""


def _element(value: datetime, style: str, server_format: str) -> SafeString:
    return format_html(
        '<time datetime="{}" data-local="{}">{}</time>',
        value.isoformat(),
        style,
        date_filter(value, server_format),
    )
