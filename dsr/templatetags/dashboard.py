"""Template filters of the compliance dashboard."""

from __future__ import annotations

import json

from django import template

from dsr.dashboard import labels

register = template.Library()


@register.filter
def type_label(value: object) -> str:
    """Return the short staff-facing name of a request type."""
    return labels.type_label(str(value))


@register.filter
def state_label(value: object) -> str:
    """Return the short staff-facing name of a request state."""
    return labels.state_label(str(value))


@register.filter
def outcome_label(value: object) -> str:
    """Return the staff-facing name of how a request ended."""
    return labels.outcome_label(str(value))


@register.filter
def reason_label(value: object) -> str:
    """Return an audit event's reason in words (its code where none is known)."""
    return labels.reason_label(str(value))


@register.filter
def as_json(value: object) -> str:
    """Return an audit event's recorded values as the JSON they are kept as (and exported in),
    not as Python writes them."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
