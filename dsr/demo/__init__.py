"""The demo world's stores: the Inper shop database, the uploads folder, the newsletter platform
and group CRM (small HTTP services), and the systems staff handle by hand (payment provider,
Google Analytics, parcel carrier), all filled for the demo customers and registered.

``seed_demo_world`` is idempotent: it creates what is missing, restores the demo customers'
data that an erasure removed, and re-registers the stores with their current addresses.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop

from accounts.models import User
from dsr.models import DataStore
from privacy_portal.permissions import COMPLIANCE_GROUP

from . import services, shop, uploads


def demo_dir() -> Path:
    """Return the folder of the demo world's data (under ``PORTAL_VAR_DIR``)."""
    path = Path(settings.VAR_DIR) / "demo"
    path.mkdir(parents=True, exist_ok=True)
    return path


def services_path() -> Path:
    return demo_dir() / "services.sqlite3"


def services_path_checked() -> Path:
    """:func:`services_path`, for the commands that serve or change the demo services: only
    in development, and once ``seed_demo`` made them."""
    from django.core.management.base import CommandError

    if not (settings.DEBUG or getattr(settings, "PORTAL_DEMO", False)):
        raise CommandError("The demo services are for development only (set DEBUG or PORTAL_DEMO).")
    if not services_path().exists():
        raise CommandError("Run `python manage.py seed_demo` first.")
    return services_path()


_SERVICE_SECRETS = (services.NEWSLETTER, services.GROUP_CRM, services.NEWSLETTER_CONSENT)


def services_secrets() -> dict[str, str]:
    """Return the secrets the portal shares with the demo services (made on first use, and
    completed for a secret that an earlier demo did not have)."""
    path = demo_dir() / "services-secrets.json"
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in _SERVICE_SECRETS if name not in data]
    if missing:
        data.update({name: secrets.token_hex(32) for name in missing})
        fresh = path.with_suffix(".new")
        fresh.unlink(missing_ok=True)
        descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(data, handle)
        fresh.replace(path)
    return data


# --- the demo customers in each system ------------------------------------------------------------

_PHOTOS: dict[str, list[uploads.Photo]] = {
    "anna.schmidt@example.com": [
        uploads.Photo(
            "IMG_2041.jpg",
            "Canon",
            "EOS R6",
            datetime(2025, 6, 1, 10, 30, tzinfo=UTC),
            52.5163,
            13.3777,
            (40, 110, 170),
        ),
        uploads.Photo(
            "IMG_2077.jpg",
            "Canon",
            "EOS R6",
            datetime(2025, 6, 14, 18, 5, tzinfo=UTC),
            52.5200,
            13.4050,
            (150, 90, 60),
        ),
        uploads.Photo(
            "drone-view.jpg",
            "Inper",
            "Aerial X2",
            datetime(2025, 8, 2, 7, 45, tzinfo=UTC),
            52.4862,
            13.4716,
            (70, 140, 90),
        ),
    ],
    "ben.carter@example.com": [
        uploads.Photo(
            "P1010034.jpg",
            "Panasonic",
            "DC-GH6",
            datetime(2025, 5, 20, 12, 0, tzinfo=UTC),
            51.7520,
            -1.2577,
            (120, 120, 160),
        ),
        uploads.Photo(
            "P1010035.jpg",
            "Panasonic",
            "DC-GH6",
            datetime(2025, 5, 20, 12, 4, tzinfo=UTC),
            51.7540,
            -1.2540,
            (90, 150, 150),
        ),
    ],
    "chloe.martin@example.com": [
        uploads.Photo(
            "IMG_0412.jpg",
            "Apple",
            "iPhone 16",
            datetime(2025, 9, 9, 16, 20, tzinfo=UTC),
            45.7640,
            4.8357,
            (180, 120, 80),
        ),
    ],
    "dan.lee@example.com": [
        uploads.Photo(
            "PXL_20250704.jpg",
            "Google",
            "Pixel 9",
            datetime(2025, 7, 4, 20, 15, tzinfo=UTC),
            37.7936,
            -122.3958,
            (30, 60, 120),
        ),
    ],
    "customer1@example.net": [
        uploads.Photo(
            "DSC01234.jpg",
            "Sony",
            "ILCE-7M4",
            datetime(2025, 4, 2, 9, 0, tzinfo=UTC),
            48.1372,
            11.5756,
            (100, 100, 100),
        ),
    ],
}


def _people() -> list[shop.ShopPerson]:
    from accounts.demo import CUSTOMERS

    people = []
    for spec in CUSTOMERS:
        home = (spec.get("addresses") or [{}])[0]
        address = ", ".join(
            part
            for part in (
                home.get("line1"),
                f"{home.get('postal_code', '')} {home.get('city', '')}".strip(),
            )
            if part
        )
        people.append(
            shop.ShopPerson(
                email=spec["email"],
                first_name=spec["first_name"],
                last_name=spec["last_name"],
                phone=spec.get("phone", ""),
                address=address,
                birth_date=spec.get("date_of_birth"),
                newsletter=spec["email"] != "chloe.martin@example.com",
            )
        )
    return people


def _without_password(url: sa.URL) -> str:
    bare = sa.URL.create(url.drivername, url.username, None, url.host, url.port, url.database)
    return bare.render_as_string(hide_password=False)


# --- registering the stores ---------------------------------------------------------------------

_FINANCIAL = "Financial records: kept 10 years (HGB §257, AO §147), anonymised on erasure"


def _stores() -> list[dict[str, Any]]:
    shop_url = shop.database_url()
    base = settings.DSR_DEMO_SERVICES_URL
    return [
        {
            "key": "inper-shop",
            "name": "Inper shop",
            "owner": gettext_noop("E-commerce team"),
            "description": gettext_noop(
                "The online shop: customer accounts, orders, reviews, support "
                "tickets and what was viewed on the site."
            ),
            "data_subjects": gettext_noop(
                "Customers and guests who ordered, reviewed or wrote to support"
            ),
            "categories": [
                "account",
                "contact",
                "orders",
                "support",
                "contributions",
                "cookies",
                "device",
            ],
            "purposes": gettext_noop(
                "Selling and delivering products; customer support; improving the shop."
            ),
            "legal_basis": gettext_noop(
                "Contract (orders, support); legal obligation (financial records); "
                "legitimate interest (browsing statistics)"
            ),
            "recipients": gettext_noop(
                "Parcel carrier (delivery address); payment provider (payments); Inper's "
                "affiliates and subsidiaries (customer records, group CRM)"
            ),
            "source": gettext_noop("You, when you order, write to us or browse the shop"),
            "country": "DE",
            "retention_rule": gettext_noop(
                "Orders and order lines: 10 years for financial regulations, then "
                "deleted; on erasure the personal columns are anonymised. Pages you viewed: 14 "
                "months. Support requests: 3 years after they were opened. Everything else: "
                "until you ask us to erase it or close your account."
            ),
            "legal_hold_rule": gettext_noop(
                "Orders under a tax audit or a legal claim are kept until it ends."
            ),
            "identities": ["email", "order_number"],
            "connector": "dsr.connectors.sql.SQLConnector",
            "config": shop.store_config(_without_password(shop_url)),
            "secrets": {"password": shop_url.password} if shop_url.password else {},
            "position": 10,
        },
        {
            "key": "newsletter",
            "name": "Newsletter platform",
            "owner": gettext_noop("Marketing team"),
            "description": gettext_noop(
                "Who receives the newsletter, and which mailings were opened."
            ),
            "categories": ["marketing", "device"],
            "data_subjects": gettext_noop("Newsletter subscribers"),
            "purposes": gettext_noop("Sending the newsletter you subscribed to."),
            "legal_basis": gettext_noop("Consent (GDPR Art. 6(1)(a))"),
            "recipients": gettext_noop("None"),
            "source": gettext_noop("You, when you subscribe"),
            "country": "IE",
            "transfer_safeguard": gettext_noop("Hosted in the EU"),
            "retention_rule": gettext_noop(
                "Until you unsubscribe or ask us to erase it; a hash of the address "
                "stays on the suppression list so that it is never mailed again."
            ),
            "identities": ["email"],
            "connector": "dsr.connectors.http.HTTPConnector",
            "config": {
                "url": f"{base}/newsletter/dsr",
                "timeout_seconds": 10,
                "send_identities": ["email"],
                "actions": ["locate", "export", "erase", "restrict"],
                "purpose_keys": ["marketing_email"],
                "names": {"en": "Newsletter platform", "de": "Newsletter-Plattform"},
                "entity_names": {
                    "subscriber": {"en": "subscription", "de": "Abonnement"},
                    "campaign_events": {"en": "newsletter events", "de": "Newsletter-Ereignisse"},
                    "suppression_list": {"en": "do-not-mail list", "de": "Sperrliste"},
                },
                "descriptions": services.DESCRIPTIONS,
            },
            "secrets": {"signing_secret": services_secrets()[services.NEWSLETTER]},
            "position": 20,
        },
        {
            "key": "uploads",
            "name": "Photo and video uploads",
            "owner": gettext_noop("Community team"),
            "description": gettext_noop("Photos and videos you uploaded, with their EXIF data."),
            "categories": ["uploads", "device"],
            "data_subjects": gettext_noop("Customers who uploaded photos or videos"),
            "purposes": gettext_noop(
                "Showing your photos and videos in the Inper Forum and gallery."
            ),
            "legal_basis": gettext_noop("Contract"),
            "recipients": gettext_noop("Anyone, for what you chose to publish on the Inper Forum"),
            "source": gettext_noop("You, when you upload"),
            "country": "DE",
            "retention_rule": gettext_noop("Until you delete them or ask us to erase them."),
            "identities": ["email"],
            "connector": "dsr.connectors.files.FileStoreConnector",
            "config": {
                "root": str(demo_dir() / "uploads"),
                "folders": [uploads.FOLDER],
                "names": {"en": "Photo and video uploads", "de": "Hochgeladene Fotos und Videos"},
                "entity_names": {"files": {"en": "files", "de": "Dateien"}},
                "descriptions": uploads.DESCRIPTIONS,
            },
            "secrets": {},
            "position": 30,
        },
        {
            "key": "payment-provider",
            "name": "Payment provider",
            "owner": gettext_noop("Finance team"),
            "description": gettext_noop(
                "Tokenised cards and payment records, kept by our payment provider."
            ),
            "categories": ["orders"],
            "data_subjects": gettext_noop("Customers who paid by card"),
            "purposes": gettext_noop("Taking payments for orders."),
            "legal_basis": gettext_noop(
                "Contract; legal obligation (anti-money-laundering records)"
            ),
            "recipients": gettext_noop("Card schemes and banks"),
            "source": gettext_noop("You, when you pay"),
            "country": "NL",
            "retention_rule": gettext_noop(
                "Payment records: as anti-money-laundering law requires (5 years)."
            ),
            "identities": ["email", "order_number"],
            "connector": "dsr.connectors.manual.ManualConnector",
            "config": {
                "actions": ["export", "erase"],
                "names": {"en": "Payment provider", "de": "Zahlungsdienstleister"},
                "assigned_group": COMPLIANCE_GROUP,
                "instructions": {
                    "export": "Sign in to the payment provider's dashboard, search the customer "
                    "by the request's e-mail address, export the customer profile and payments "
                    "as CSV, and attach the file here.",
                    "erase": "Sign in to the payment provider's dashboard, search the customer "
                    "by the request's e-mail address, delete the customer profile and stored "
                    "card tokens (payment records stay with the provider under AML law), and "
                    "attach the confirmation as evidence.",
                },
            },
            "secrets": {},
            "position": 40,
        },
        {
            "key": "google-analytics",
            "name": "Google Analytics",
            "owner": gettext_noop("Web team"),
            "description": gettext_noop(
                "Statistics about visits to Inper's websites (if you accepted analytics cookies)."
            ),
            "categories": ["cookies", "device"],
            "data_subjects": gettext_noop("Visitors who allowed analytics cookies"),
            "purposes": gettext_noop("Understanding how our websites are used."),
            "legal_basis": gettext_noop("Consent (analytics cookies)"),
            "recipients": gettext_noop("Google Ireland Ltd"),
            "source": gettext_noop("Your browser, when you accepted analytics cookies"),
            "country": "US",
            "transfer_safeguard": gettext_noop(
                "EU-US Data Privacy Framework; standard contractual clauses"
            ),
            "retention_rule": gettext_noop("14 months."),
            "identities": ["customer_id"],
            "connector": "dsr.connectors.manual.ManualConnector",
            "config": {
                "actions": ["erase", "restrict"],
                # An objection to statistics or to transfers outside the EEA (Google, in the
                # United States), or consent to analytics cookies withdrawn, stops it here.
                "purpose_keys": ["statistics", "analytics", "international_transfers"],
                "assigned_group": COMPLIANCE_GROUP,
                "instructions": {
                    "erase": "In Google Analytics, open Admin, then Data deletion requests (User "
                    "explorer), delete the user whose user id is the portal account id of the "
                    "request, and attach the confirmation as evidence.",
                    "restrict": "In Google Analytics, open Admin, then Data filters, and add the "
                    "portal account id of the request to the excluded user ids, so that no more "
                    "of the person's visits are recorded or sent to Google; attach the "
                    "confirmation as evidence.",
                    "lift_restriction": "In Google Analytics, open Admin, then Data filters, "
                    "and remove the portal account id of the request from the excluded user "
                    "ids; complete this step with a note.",
                },
            },
            "secrets": {},
            "position": 50,
        },
        {
            "key": "parcel-carrier",
            "name": "Parcel carrier",
            "owner": gettext_noop("Logistics team"),
            "description": gettext_noop(
                "Delivery names, addresses and phone numbers we gave the carrier."
            ),
            "categories": ["contact", "orders"],
            "data_subjects": gettext_noop("Customers whose orders were delivered"),
            "purposes": gettext_noop("Delivering your orders."),
            "legal_basis": gettext_noop("Contract"),
            "recipients": gettext_noop("The carrier's delivery partners"),
            "source": gettext_noop("The shop, when an order is shipped"),
            "country": "DE",
            "retention_rule": gettext_noop("The carrier's own: 6 months after delivery."),
            "identities": ["email", "order_number"],
            "connector": "dsr.connectors.manual.ManualConnector",
            "config": {
                "actions": ["notify"],
                "names": {"en": "Parcel carrier", "de": "Paketdienst"},
                "assigned_group": COMPLIANCE_GROUP,
                "instructions": {
                    "notify": "E-mail the carrier's privacy desk (privacy@carrier.example) the "
                    "request's reference, its type and the person's e-mail address, ask them "
                    "to apply it to their delivery records, and attach their answer."
                },
                # It receives delivery addresses of the shop's orders, nothing else.
                "shared_from": ["inper-shop"],
            },
            "is_recipient": True,
            "secrets": {},
            "position": 60,
        },
        {
            "key": "group-crm",
            "name": "Inper group CRM",
            "owner": gettext_noop("Inper group sales"),
            "description": gettext_noop(
                "The customer records Inper shares with its affiliates and "
                "subsidiaries to provide its products and services."
            ),
            "categories": ["account", "contact", "orders"],
            "data_subjects": gettext_noop("Customers"),
            "purposes": gettext_noop("Serving you across Inper's companies."),
            "legal_basis": gettext_noop("Legitimate interest"),
            "recipients": gettext_noop("Inper's affiliates and subsidiaries"),
            "source": gettext_noop("The shop"),
            "country": "US",
            "transfer_safeguard": gettext_noop("Standard contractual clauses"),
            "retention_rule": gettext_noop("As long as you are a customer."),
            "identities": ["email"],
            "connector": "dsr.connectors.http.HTTPConnector",
            "config": {
                "url": f"{base}/group-crm/dsr",
                "names": {"en": "Inper group CRM", "de": "CRM der Inper-Gruppe"},
                "timeout_seconds": 10,
                "send_identities": ["email"],
                "actions": ["notify", "restrict"],
                # An objection to transfers outside the EEA restricts the record kept in the
                # United States, for the compliance team to review what may stay.
                "purpose_keys": ["international_transfers"],
                "entity_names": {
                    "customer_record": {"en": "customer record", "de": "Kundendatensatz"}
                },
                # It receives the shop's customer records, nothing else.
                "shared_from": ["inper-shop"],
            },
            "is_recipient": True,
            "secrets": {"signing_secret": services_secrets()[services.GROUP_CRM]},
            "position": 70,
        },
    ]


def register_stores() -> list[DataStore]:
    """Create or update the demo stores in the registry."""
    registered = []
    with transaction.atomic():
        for spec in _stores():
            spec = dict(spec)
            store_secrets = spec.pop("secrets")
            store, _created = DataStore.objects.update_or_create(
                key=spec.pop("key"), defaults={"enabled": True, **spec}
            )
            store.set_secrets(store_secrets)
            store.save(update_fields=("secrets_encrypted",))
            registered.append(store)
    return registered


#: The newsletter platform as a client of the consent API.
NEWSLETTER_CLIENT = "Newsletter platform"


def newsletter_consent_register(customer_ids: list[int]) -> None:
    """Subscribe the newsletter platform to the portal's consent webhook (marketing choices),
    and record in the ledger the subscriptions it brings of the demo customers who have made no
    choice of e-mail marketing yet (a choice they made since stands)."""
    from consent.models import ApiClient, ApiScope, ConsentState, Source, WebhookSubscription
    from consent.services import consent_record, subject_for_user
    from privacy_portal.crypto import encrypt

    secret = services_secrets()[services.NEWSLETTER_CONSENT]
    with transaction.atomic():
        client, _created = ApiClient.objects.get_or_create(
            name=NEWSLETTER_CLIENT, defaults={"scopes": [ApiScope.READ.value]}
        )
        WebhookSubscription.objects.update_or_create(
            client=client,
            defaults={
                "url": f"{settings.DSR_DEMO_SERVICES_URL.rstrip('/')}{services.CONSENT_PATH}",
                "kinds": ["marketing"],
                "is_active": True,
                "secret_encrypted": encrypt(secret.encode()),
            },
        )
        for user in User.objects.filter(pk__in=customer_ids):
            subject = subject_for_user(user)
            chosen = ConsentState.objects.filter(
                subject=subject, purpose__key=services.NEWSLETTER_PURPOSE
            )
            if not chosen.exists():
                consent_record(
                    subject=subject,
                    purpose_key=services.NEWSLETTER_PURPOSE,
                    granted=True,
                    source=Source.API,
                    actor=client,
                    note="Subscribed on the newsletter platform (confirmed there)",
                    evidence={"via": "newsletter platform"},
                )


def seed_demo_world(say: Callable[[str], Any] | None = None) -> None:
    """Create and fill every demo store and register it (idempotent)."""
    people = _people()
    url = shop.database_url()
    shop.fill(url, people, extra_orders={"anna.schmidt@example.com": 5})
    subscribers = [person for person in people if person.newsletter]
    accounts = dict(
        User.objects.filter(email__in=[person.email for person in subscribers]).values_list(
            "email", "pk"
        )
    )
    services.fill(
        services_path(),
        [
            services.Subscriber(
                person.email, person.first_name, customer_id=accounts.get(person.email)
            )
            for person in subscribers
        ],
    )
    written = uploads.fill(demo_dir() / "uploads", _PHOTOS)
    stores = register_stores()
    newsletter_consent_register(list(accounts.values()))
    if say is not None:
        where = (
            url.database if url.drivername == "sqlite" else f"PostgreSQL database {url.database}"
        )
        say(f"Demo shop: {where}")
        say(f"Demo uploads: {demo_dir() / 'uploads'} ({written} photos written)")
        say(f"Demo services (newsletter, group CRM): {settings.DSR_DEMO_SERVICES_URL}")
        say("Registered stores: " + ", ".join(store.key for store in stores))
