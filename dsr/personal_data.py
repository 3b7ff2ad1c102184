"""What the request records hold about a person: kept as proof that Inper answered, then
redacted by the retention job."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from dsr.connectors.portal import ERASE_RETAIN, ModelDeclaration

#: The entity of a person's own request records (not "data found" about them).
REQUEST_ENTITY = "privacy_requests"

DECLARATIONS = [
    ModelDeclaration(
        model="dsr.DataSubjectRequest",
        entity=REQUEST_ENTITY,
        identity="subject_key",
        identity_kind="email_hash",
        fields=(
            "reference",
            "type",
            "state",
            "channel",
            "email",
            "full_name",
            "country",
            "details",
            "received_at",
            "due_at",
            "completed_at",
        ),
        erase=ERASE_RETAIN,
        retain_basis=_(
            "Proof that Inper answered your requests (GDPR Art. 5(2) and 12); redacted after "
            "24 months"
        ),
        retain_days=settings.DSR_REQUEST_RETENTION_DAYS,
        order=100,
    ),
]
