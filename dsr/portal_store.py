"""The portal's own tables, registered as the first data store."""

from __future__ import annotations

from typing import Any

PORTAL_STORE_KEY = "portal"

PORTAL_STORE: dict[str, Any] = {
    "name": "Inper Privacy Portal",
    "owner": "Privacy team",
    "description": "Customer accounts, addresses, marketing and cookie choices, and "
    "privacy requests, kept by this portal.",
    "categories": ["account", "contact", "marketing", "cookies", "device"],
    "purposes": "Running customer accounts; recording and honouring privacy choices; "
    "answering privacy requests.",
    "legal_basis": "Contract (account); legal obligation (privacy choices and requests)",
    "recipients": "None outside Inper",
    "source": "You, when you use the portal or the shop",
    "country": "DE",
    "retention_rule": "Account data until you close the account; consent records and "
    "request records 24 months after they end, as proof.",
    "legal_hold_rule": "Records of consent and of requests are kept as proof "
    "(pseudonymised) after an erasure.",
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
    apps.get_model("dsr", "DataStore").objects.get_or_create(
        key=PORTAL_STORE_KEY, defaults=PORTAL_STORE
    )
