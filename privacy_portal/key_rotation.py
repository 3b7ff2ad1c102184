"""Re-encrypting what the portal keeps encrypted at rest under the current key.

``PORTAL_ENCRYPTION_KEYS`` lists Fernet keys: the first encrypts, every one decrypts. To rotate,
a new key is put first and :func:`encryption_keys_rotate` re-encrypts every value listed in
``PORTAL_ENCRYPTED_FIELDS`` (connector and webhook secrets, export-package keys, request
identities) and ``PORTAL_ENCRYPTED_JSON_KEYS`` (second factors' secrets) under it, after which
the old key can be removed (see docs/operations.md). Export
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


def _rotate_json(
    label: str, keys: tuple[str, ...], *, check_only: bool, batch_size: int
) -> FieldReport:
    """Re-encrypt (or check) the values under ``keys`` of a JSON column's objects; a value
    stored in plain text before it was encrypted is encrypted."""
    model_label, name = label.rsplit(".", 1)
    manager = apps.get_model(model_label)._default_manager
    report = FieldReport()
    ids = list(manager.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            rows = list(
                manager.select_for_update()
                .filter(pk__in=ids[start : start + batch_size])
                .only("pk", name)
            )
            changed = []
            for row in rows:
                data = getattr(row, name)
                present = [key for key in keys if isinstance(data, dict) and data.get(key)]
                try:
                    rotated = {
                        key: crypto.decrypt_text(data[key])
                        if check_only
                        else crypto.rotate_text(data[key])
                        for key in present
                    }
                except crypto.InvalidToken:
                    report.unreadable.append(row.pk)
                    continue
                report.done += len(present)
                if present and not check_only:
                    setattr(row, name, {**data, **rotated})
                    changed.append(row)
            if changed:
                manager.bulk_update(changed, [name])
    return report


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
    for label, keys in settings.PORTAL_ENCRYPTED_JSON_KEYS.items():
        reports[label] = _rotate_json(label, keys, check_only=check_only, batch_size=batch_size)
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
