"""Who may use the staff areas: staff accounts with a second factor, used in this session."""

from __future__ import annotations

from typing import Any

from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

SUPPORT_GROUP = "Support"
COMPLIANCE_GROUP = "Compliance officer"
#: The staff roles as staff read them (the groups' names are kept in English).
GROUP_LABELS = {
    SUPPORT_GROUP: gettext_lazy("Support"),
    COMPLIANCE_GROUP: gettext_lazy("Compliance officers"),
}


def group_label(name: str) -> str:
    """A group's name in the active language; another group's as it was named."""
    return str(GROUP_LABELS.get(name, name))


def session_passed_mfa(request: HttpRequest) -> bool:
    """Return True if this session's sign-in (or a later re-authentication) used a second
    factor of the signed-in account."""
    user: Any = request.user
    if not user.is_authenticated:
        return False
    return any(
        record.get("method") == "mfa" for record in get_authentication_records(request, user)
    )


def staff_mfa_missing(request: HttpRequest) -> str | None:
    """Return "setup" if the staff member has no second factor yet, "verify" if this session
    has not used it, or None when the staff member may proceed."""
    user: Any = request.user
    if not is_mfa_enabled(user):
        return "setup"
    if not session_passed_mfa(request):
        return "verify"
    return None


def in_group(user: Any, name: str) -> bool:
    """Return True if ``user`` is active staff in the named group (or a superuser)."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return bool(user.is_superuser or user.groups.filter(name=name).exists())
