"""The demo world's people: customers with profiles and addresses, and one staff member per
role, all with known credentials (listed in the README). For development and tests only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from datetime import date
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from .models import Address, User
from .roles import COMPLIANCE_GROUP, SUPPORT_GROUP

# Demo credentials are published in the README on purpose; seed_demo refuses to run in production.
DEMO_PASSWORD = "inper-demo-2026"  # noqa: S105
# A fixed TOTP secret so that the demo's staff can sign in with any authenticator app, or
# with `manage.py demo_totp` which prints the current code.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105

CUSTOMERS: list[dict[str, Any]] = [
    {
        "email": "anna.schmidt@example.com",
        "first_name": "Anna",
        "last_name": "Schmidt",
        "phone": "+493012345678",
        "date_of_birth": date(1988, 4, 12),
        "country": "DE",
        "preferred_language": "de",
        "addresses": [
            {
                "label": "Home",
                "recipient": "Anna Schmidt",
                "line1": "Lindenstraße 5",
                "postal_code": "10969",
                "city": "Berlin",
                "country": "DE",
                "is_default_shipping": True,
            },
            {
                "label": "Office",
                "recipient": "Anna Schmidt",
                "line1": "Friedrichstraße 120",
                "postal_code": "10117",
                "city": "Berlin",
                "country": "DE",
            },
        ],
    },
    {
        "email": "ben.carter@example.com",
        "first_name": "Ben",
        "last_name": "Carter",
        "phone": "+442079460958",
        "date_of_birth": date(1979, 9, 30),
        "country": "GB",
        "preferred_language": "en",
        "addresses": [
            {
                "label": "Home",
                "recipient": "Ben Carter",
                "line1": "14 Orchard Lane",
                "postal_code": "OX1 2JD",
                "city": "Oxford",
                "country": "GB",
                "is_default_shipping": True,
            },
        ],
    },
    {
        "email": "chloe.martin@example.com",
        "first_name": "Chloé",
        "last_name": "Martin",
        "phone": "+33612345678",
        "country": "FR",
        "preferred_language": "en",
        "addresses": [
            {
                "recipient": "Chloé Martin",
                "line1": "8 rue des Lilas",
                "postal_code": "69003",
                "city": "Lyon",
                "country": "FR",
                "is_default_shipping": True,
            },
        ],
    },
    {
        "email": "dan.lee@example.com",
        "first_name": "Dan",
        "last_name": "Lee",
        "phone": "+14155550123",
        "country": "US",
        "preferred_language": "en",
        "addresses": [
            {
                "recipient": "Dan Lee",
                "line1": "500 Market St",
                "line2": "Apt 4",
                "postal_code": "94105",
                "city": "San Francisco",
                "region": "CA",
                "country": "US",
                "is_default_shipping": True,
            },
        ],
    },
]

STAFF: list[dict[str, Any]] = [
    {
        "email": "support@inper.example",
        "first_name": "Sam",
        "last_name": "Support",
        "group": SUPPORT_GROUP,
    },
    {
        "email": "compliance@inper.example",
        "first_name": "Carla",
        "last_name": "Compliance",
        "group": COMPLIANCE_GROUP,
    },
    {"email": "admin@inper.example", "first_name": "Ada", "last_name": "Admin", "superuser": True},
]


def demo_account(email: str, **fields: Any) -> User:
    """Create or reset a verified account with the demo password."""
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(email=email)
    for name, value in fields.items():
        setattr(user, name, value)
    user.is_active = True
    user.closed_at = None
    user.adult_confirmed_at = user.adult_confirmed_at or timezone.now()
    user.set_password(DEMO_PASSWORD)
    user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def demo_give_totp(user: User) -> None:
    """Give ``user`` the demo TOTP secret and a fresh set of recovery codes."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    Authenticator.objects.filter(user=user).delete()
    TOTP.activate(user, DEMO_TOTP_SECRET)
    RecoveryCodes.activate(user)


def totp_code(secret: str = DEMO_TOTP_SECRET, *, at: float | None = None) -> str:
    """Return the RFC 6238 code (6 digits, 30 s) of ``secret`` at time ``at`` (default: now)."""
    counter = int((time.time() if at is None else at) // 30)
    key = base64.b32decode(secret.encode("ascii"), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


@transaction.atomic
def seed_demo_people() -> None:
    """Create or reset the demo customers and staff."""
    for spec in CUSTOMERS:
        spec = dict(spec)
        addresses = spec.pop("addresses")
        user = demo_account(spec.pop("email"), **spec)
        if not user.addresses.exists():
            for address in addresses:
                Address.objects.create(user=user, **address)
    for spec in STAFF:
        spec = dict(spec)
        group = spec.pop("group", None)
        superuser = spec.pop("superuser", False)
        user = demo_account(spec.pop("email"), is_staff=True, is_superuser=superuser, **spec)
        if group:
            user.groups.set([Group.objects.get(name=group)])
        demo_give_totp(user)
