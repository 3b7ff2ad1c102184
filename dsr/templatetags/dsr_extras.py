"""Template helpers for request pages."""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from dsr.connectors.base import error_text
from dsr.forms import TYPE_HELP

register = template.Library()


@register.filter
def request_type_help(value: object) -> str:
    """Return the plain-words explanation of a request type."""
    return str(TYPE_HELP.get(str(value), ""))


@register.filter
def stored_error(value: object) -> str:
    """Return an error kept in a report in the active language (see ``connectors.base``);
    a report written before errors were kept apart holds its text."""
    return error_text(value if isinstance(value, Mapping | str) else None)
