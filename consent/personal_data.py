"""What the consent centre holds about a person, for access and erasure requests.

The ledger is proof and is kept: an erasure detaches the person from it (the subject keeps
only a keyed hash), so that every event stays but none can be tied to them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from dsr.connectors.portal import ERASE_DELETE, ERASE_HOOK, ModelDeclaration

EVENT_FIELDS = (
    "purpose__key",
    "purpose_version__version",
    "granted",
    "source",
    "occurred_at",
    "language",
    "text_hash",
    "ip_truncated",
    "note",
)
EVENT_DESCRIPTIONS = {
    "purpose__key": _("What the choice was about"),
    "purpose_version__version": _("Version of the text you were shown"),
    "granted": _("Agreed (true) or declined or withdrawn (false)"),
    "source": _("Where the choice was made"),
    "occurred_at": _("When"),
    "language": _("Language of the text you were shown"),
    "text_hash": _("Fingerprint (SHA-256) of the exact text you were shown"),
    "ip_truncated": _("Your IP address with its last part removed"),
    "note": _("Note (for choices recorded by our staff on your behalf)"),
}


def detach_subjects(queryset: QuerySet[Any], identity: Mapping[str, Any]) -> tuple[int, int]:
    """Erase by pseudonymising the consent subjects of these records (ledger rows stay).

    The subjects are found by the identity on their own indexed columns (``subject__user_id``
    becomes ``user_id``), not through their records: a person's subject may have hundreds of
    thousands of ledger events; and their records are counted by the subjects' keys, without
    a join (the consent declarations have no ``live`` filter)."""
    from consent.models import ConsentSubject
    from consent.services import consent_subject_pseudonymise

    owners = {lookup.removeprefix("subject__"): value for lookup, value in identity.items()}
    subjects = list(ConsentSubject.objects.filter(**owners))
    if not subjects:
        return 0, 0
    records = queryset.model._default_manager.filter(subject__in=subjects).count()
    if not records:
        return 0, 0
    for subject in subjects:
        consent_subject_pseudonymise(subject=subject, actor=None)
    return 0, records


DECLARATIONS = [
    ModelDeclaration(
        model="consent.PolicyAcknowledgement",
        entity="policy_notices_seen",
        title=_("notices of policy changes you have seen"),
        staff_title=_("notices of policy changes the person has seen"),
        identity="user_id",
        identity_kind="customer_id",
        fields=("policy_version__document", "policy_version__version", "acknowledged_at"),
        portable=(),
        erase=ERASE_DELETE,
        descriptions={
            "policy_version__document": _("The notice: privacy statement or cookie policy"),
            "policy_version__version": _("Version of the notice you were shown"),
        },
        order=10,
    ),
    ModelDeclaration(
        model="consent.ConsentState",
        entity="consent_choices",
        title=_("privacy choices, as they stand"),
        identity="subject__user_id",
        identity_kind="customer_id",
        fields=("purpose__key", "granted", "source", "updated_at"),
        portable=("purpose__key", "granted", "updated_at"),
        erase=ERASE_HOOK,
        hook="consent.personal_data.detach_subjects",
        descriptions={
            "purpose__key": _("What the choice is about"),
            "granted": _("Your current choice"),
            "source": _("Where you made it"),
            "updated_at": _("When"),
        },
        order=22,
    ),
    ModelDeclaration(
        model="consent.ConsentEvent",
        entity="consent_history",
        title=_("privacy choices you made (history)"),
        staff_title=_("privacy choices the person made (history)"),
        identity="subject__user_id",
        identity_kind="customer_id",
        fields=EVENT_FIELDS,
        # Inper's proof of each choice, not data to take elsewhere (the current choices are).
        portable=(),
        erase=ERASE_HOOK,
        hook="consent.personal_data.detach_subjects",
        descriptions=EVENT_DESCRIPTIONS,
        order=20,
    ),
    ModelDeclaration(
        model="consent.ConsentEvent",
        entity="consent_history_by_email",
        title=_("privacy choices made with your e-mail address (history)"),
        staff_title=_("privacy choices made with the person's e-mail address (history)"),
        identity="subject__email_hash",
        identity_kind="email_hash",
        fields=EVENT_FIELDS,
        # Inper's proof of each choice, not data to take elsewhere (the current choices are).
        portable=(),
        erase=ERASE_HOOK,
        hook="consent.personal_data.detach_subjects",
        descriptions=EVENT_DESCRIPTIONS,
        order=21,
    ),
]
