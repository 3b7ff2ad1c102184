"""What the request records hold about a person: kept as proof that Inper answered, then
redacted by the retention job; and the copies of their data made for their access requests,
destroyed by an erasure (an erased person's data must not live on in a package)."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from dsr.connectors.portal import ERASE_HOOK, ERASE_RETAIN, ModelDeclaration

#: The entity of a person's own request records (not "data found" about them).
REQUEST_ENTITY = "privacy_requests"
#: The copies of their data made for their access requests (not "data found" either).
PACKAGE_ENTITY = "copies_of_your_data"
#: Records that exist because the person asked.
OWN_ENTITIES = frozenset({REQUEST_ENTITY, PACKAGE_ENTITY})

DECLARATIONS = [
    ModelDeclaration(
        model="dsr.DataSubjectRequest",
        entity=REQUEST_ENTITY,
        title=_("privacy requests"),
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
        # Records of how Inper answered, not data to take elsewhere (GDPR Art. 20).
        portable=(),
        erase=ERASE_RETAIN,
        retain_basis=_(
            "Proof that Inper answered your requests (GDPR Art. 5(2) and 12); redacted after "
            "24 months"
        ),
        retain_days=settings.DSR_REQUEST_RETENTION_DAYS,
        order=100,
    ),
    ModelDeclaration(
        model="dsr.ExportPackage",
        entity=PACKAGE_ENTITY,
        title=_("copies of your data"),
        staff_title=_("copies of the person's data"),
        identity="request__subject_key",
        identity_kind="email_hash",
        fields=("request__reference", "built_at", "expires_at", "download_count"),
        portable=(),
        erase=ERASE_HOOK,
        hook="dsr.packages.packages_purge",
        live={"built_at__isnull": False, "purged_at__isnull": True},
        descriptions={
            "request__reference": _("The request the copy was made for"),
            "built_at": _("When the copy was made"),
            "expires_at": _("Until when it can be downloaded"),
            "download_count": _("How often it was downloaded"),
        },
        order=50,
    ),
]
