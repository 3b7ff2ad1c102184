"""Template helpers for request pages."""

from __future__ import annotations

from django import template

from dsr.forms import TYPE_HELP

register = template.Library()


@register.filter
def request_type_help(value: object) -> str:
    """Return the plain-words explanation of a request type."""
    return str(TYPE_HELP.get(str(value), ""))
