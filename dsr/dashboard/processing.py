"""The record of processing activities (GDPR Art. 30), generated from the data-store registry
and the purpose catalogue: what Inper keeps where, why, on what legal basis, who receives it,
in which country and under which safeguard, and for how long."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from privacy_portal.categories import DataCategory

from ..models import DataStore


@dataclass(frozen=True)
class Purpose:
    """One purpose of the catalogue, as the record of processing lists it."""

    key: str
    text: str
    legal_basis: str
    kind: str


def processing_purposes() -> list[Purpose]:
    """Return the purposes of the consent catalogue (key, text shown to people, legal basis,
    kind), in the catalogue's order: the one place the record of processing reads it from."""
    from consent.catalogue import catalogue
    from consent.models import LegalBasis, PurposeKind

    bases = dict(LegalBasis.choices)
    kinds = dict(PurposeKind.choices)
    language = get_language()
    return [
        Purpose(
            key=purpose.key,
            text=purpose.title(language),
            legal_basis=str(bases.get(purpose.legal_basis, purpose.legal_basis)),
            kind=str(kinds.get(purpose.kind, purpose.kind)),
        )
        for purpose in catalogue().purposes
    ]


@dataclass(frozen=True)
class StoreEntry:
    store: DataStore
    categories: list[str]
    country: str
    transfer: str


def _country(store: DataStore) -> str:
    return str(store.country.name) if store.country else ""


def record_of_processing() -> list[StoreEntry]:
    """Return one entry per registered store (enabled ones first)."""
    labels = dict(DataCategory.choices)
    entries = []
    for store in DataStore.objects.order_by("-enabled", "position", "name"):
        entries.append(
            StoreEntry(
                store=store,
                categories=[str(labels.get(key, key)) for key in store.categories or []],
                country=_country(store),
                transfer=store.transfer_safeguard,
            )
        )
    return entries


def controller() -> dict[str, str]:
    """Return who is responsible, as the record names them (GDPR Art. 30(1)(a))."""
    return {
        "name": "Inper Ltd",
        "contact": settings.PORTAL_PRIVACY_EMAIL,
        "dpo": settings.PORTAL_DPO_CONTACT,
        "representative": settings.PORTAL_EU_REPRESENTATIVE,
    }


#: What protects the personal data the portal holds (GDPR Art. 30(1)(g), Art. 32(1)), as the
#: portal does it: each line names a measure this code base carries out.
SECURITY_MEASURES = (
    gettext_lazy("Every page over TLS only (HSTS); cookies sent over TLS only."),
    gettext_lazy(
        "Staff sign in with two-factor authentication; each role sees only what it needs "
        "(support, compliance officers, administrators)."
    ),
    gettext_lazy(
        "People re-enter their password before their data is shown, changed, erased or "
        "downloaded; sessions end after 30 minutes unused and 12 hours at most."
    ),
    gettext_lazy(
        "Copies of people's data encrypted at rest with a key per copy, downloadable for a "
        "limited time, then destroyed; the passwords of connected systems encrypted at rest."
    ),
    gettext_lazy(
        "Records kept as proof name nobody: addresses as keyed hashes, IP addresses shortened."
    ),
    gettext_lazy(
        "Every staff action and every step of a request in a hash-chained audit trail, "
        "checked daily."
    ),
    gettext_lazy("Limits on sign-in attempts and on requests filed, per address and account."),
)


def csv_rows(entries: list[StoreEntry], purposes: list[Purpose]) -> list[list[Any]]:
    """Return the record as CSV rows: a header, one row per store, then the catalogue."""
    rows: list[list[Any]] = [
        [
            _("Store"),
            _("Owner"),
            _("In use"),
            _("Data categories"),
            _("Whose data"),
            _("Purposes"),
            _("Legal basis"),
            _("Source"),
            _("Recipients"),
            _("Country"),
            _("Transfer safeguard"),
            _("Retention"),
            _("Legal hold"),
        ]
    ]
    for entry in entries:
        store = entry.store
        rows.append(
            [
                store.name,
                _(store.owner),
                _("yes") if store.enabled else _("no"),
                "; ".join(entry.categories),
                # The portal's own store has translated texts (see dsr.portal_store).
                _(store.data_subjects) if store.data_subjects else "",
                _(store.purposes),
                _(store.legal_basis),
                _(store.source),
                _(store.recipients),
                entry.country,
                entry.transfer,
                _(store.retention_rule),
                _(store.legal_hold_rule),
            ]
        )
    if purposes:
        rows.append([])
        rows.append([_("Purpose"), _("Text shown to people"), _("Legal basis"), _("Kind")])
        rows.extend([[p.key, p.text, p.legal_basis, p.kind] for p in purposes])
    return rows
