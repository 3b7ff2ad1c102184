"""The portal's own tables, registered as the first data store."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

PORTAL_STORE_KEY = "portal"

#: How long the portal keeps what, as the person reads it. Records of privacy choices are the
#: proof that Inper honoured them: append-only, kept with the IP address shortened, and no
#: longer tied to the person after an erasure (the subject is replaced by a keyed hash).
RETENTION_RULE = gettext_noop(
    "Account data until you close the account; requests 24 months after they end; records "
    "of your privacy choices as proof of them, with your IP address shortened, no longer "
    "tied to you once your data is erased."
)

#: Whose data the portal holds (the record of processing, GDPR Art. 30(1)(c)).
DATA_SUBJECTS = gettext_noop(
    "Customers with an account; people who made a privacy request or choice without one "
    "(trade-show contacts, newsletter subscribers, visitors who chose cookies); Inper's staff "
    "who use the portal."
)

# Stored in English; the pages that show a store's texts translate them (gettext_noop marks
# them for the catalogue). Texts that staff type for other stores are shown as typed.
PORTAL_STORE: dict[str, Any] = {
    "name": "Inper Privacy Portal",
    "owner": gettext_noop("Privacy team"),
    "description": gettext_noop(
        "Customer accounts, addresses, marketing and cookie choices, and "
        "privacy requests, kept by this portal."
    ),
    "categories": ["account", "contact", "marketing", "cookies", "device"],
    "data_subjects": DATA_SUBJECTS,
    "purposes": gettext_noop(
        "Running customer accounts; recording and honouring privacy choices; "
        "answering privacy requests."
    ),
    "legal_basis": gettext_noop(
        "Contract (account); legal obligation (privacy choices and requests)"
    ),
    "recipients": gettext_noop("None outside Inper"),
    "source": gettext_noop("You, when you use the portal or the shop"),
    "country": "DE",
    "retention_rule": RETENTION_RULE,
    "legal_hold_rule": gettext_noop(
        "Records of consent and of requests are kept as proof (pseudonymised) after an erasure."
    ),
    "identities": ["email", "customer_id"],
    "connector": "dsr.connectors.portal.PortalConnector",
    "position": 0,
}


def portal_store_ensure(apps: Any = None) -> None:
    """Make sure the portal's own tables are registered as a store (they always exist).

    ``apps`` is a migration's app registry, or None for the live one.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    model = apps.get_model("dsr", "DataStore")
    # An early migration's model lacks the fields added since (a later one fills them in).
    fields = {field.name for field in model._meta.get_fields()}
    model.objects.get_or_create(
        key=PORTAL_STORE_KEY,
        defaults={name: value for name, value in PORTAL_STORE.items() if name in fields},
    )
