"""Re-encrypting what the portal keeps encrypted at rest under the current key.

``PORTAL_ENCRYPTION_KEYS`` lists Fernet keys: the first encrypts, every one decrypts. To rotate,
a new key is put first and :func:`encryption_keys_rotate` re-encrypts every value listed in
``PORTAL_ENCRYPTED_FIELDS`` (connector and webhook secrets, export-package keys, request
identities) under it, after which the old key can be removed (see docs/operations.md). Export
packages themselves are encrypted with keys of their own, which are among those values, so the
files need not be rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction

from privacy_portal import crypto
from privacy_portal.audit.services import audit_record


@dataclass
class FieldReport:
    """What happened to one encrypted field: values re-encrypted (or, when checking, readable),
    and the ids of rows whose value no configured key can decrypt."""

    done: int = 0
    unreadable: list[Any] = field(default_factory=list)


def encryption_keys_rotate(
    *, check_only: bool = False, batch_size: int = 200
) -> dict[str, FieldReport]:
    """Re-encrypt every encrypted value under the first key (or, with ``check_only``, only
    check that every one can be decrypted); return a report per field."""
    reports: dict[str, FieldReport] = {}
    for label in settings.PORTAL_ENCRYPTED_FIELDS:
        model_label, name = label.rsplit(".", 1)
        model = apps.get_model(model_label)
        report = reports[label] = FieldReport()
        ids = list(
            model._default_manager.exclude(**{f"{name}__isnull": True})
            .exclude(**{name: b""})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(ids), batch_size):
            with transaction.atomic():
                rows = list(
                    model._default_manager.select_for_update()
                    .filter(pk__in=ids[start : start + batch_size])
                    .only("pk", name)
                )
                changed = []
                for row in rows:
                    token = bytes(getattr(row, name) or b"")
                    if not token:
                        continue
                    try:
                        rotated = crypto.decrypt(token) if check_only else crypto.rotate(token)
                    except crypto.InvalidToken:
                        report.unreadable.append(row.pk)
                        continue
                    report.done += 1
                    if not check_only:
                        setattr(row, name, rotated)
                        changed.append(row)
                if changed:
                    model._default_manager.bulk_update(changed, [name])
    if not check_only:
        with transaction.atomic():
            audit_record(
                actor=None,
                action="crypto.keys_rotated",
                target=("privacy_portal.crypto", "keys"),
                after={
                    label: {"reencrypted": report.done, "unreadable": len(report.unreadable)}
                    for label, report in reports.items()
                },
            )
    return reports
