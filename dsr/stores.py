"""Services of the data-store registry: checking a store's connection, and completing the
manual steps of stores without an API."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from privacy_portal.audit.services import audit_record
from privacy_portal.permissions import COMPLIANCE_GROUP, in_group

from .connectors.base import ExportResult, HealthResult, StoreError
from .connectors.registry import connector_for
from .models import Action, DataStore, StoreTask, TaskState
from .services import TransitionError, dsr_task_complete_manual, has_visible_text

logger = logging.getLogger(__name__)


def datastore_check(*, store: DataStore, actor: Any) -> HealthResult:
    """Run the store's health check ("test connection"), record the outcome on the store and
    in the audit trail, and return it."""
    try:
        result = connector_for(store).health_check()
    except StoreError as error:
        result = HealthResult(False, str(error))
    except Exception as error:  # a broken connector must not break the admin
        logger.exception("health check crashed", extra={"store": store.key})
        result = HealthResult(
            False, _("Unexpected error (%(error)s).") % {"error": type(error).__name__}
        )
    with transaction.atomic():
        DataStore.objects.filter(pk=store.pk).update(
            last_checked_at=timezone.now(),
            last_check_ok=result.ok,
            last_check_detail=result.detail[:500],
        )
        audit_record(
            actor=actor,
            action="dsr.store.checked",
            target=store,
            after={"ok": result.ok},
        )
    store.refresh_from_db(fields=("last_checked_at", "last_check_ok", "last_check_detail"))
    return result


def may_complete(user: Any, task: StoreTask) -> bool:
    """Return True if ``user`` may complete ``task``: a member of the group it is assigned
    to, a compliance officer, or a superuser."""
    if not user.has_perm("dsr.change_manualstep"):
        return False
    return in_group(user, COMPLIANCE_GROUP) or bool(
        task.assigned_group and in_group(user, task.assigned_group)
    )


#: Why a copy step cannot be marked done as it is (the staff's form says it at its field).
MISSING_COPY = gettext_lazy(
    "Attach the person's data from this system, or tick that it holds nothing about them."
)


def manual_step_complete(
    *,
    task: StoreTask,
    actor: Any,
    note: str,
    evidence: UploadedFile[Any] | None = None,
    data_files: Sequence[UploadedFile[Any]] = (),
    nothing_held: bool = False,
) -> StoreTask:
    """Complete a manual step with a note and optional evidence; for an export, the files
    obtained from the system go into the person's package (encrypted like the rest), or
    ``nothing_held`` says the system holds nothing about the person (for any other step: staff
    found nothing of the person's there to act on)."""
    if not may_complete(actor, task):
        raise PermissionDenied(_("This step is assigned to another group."))
    if not has_visible_text(note):
        # Checked before the person's files are written anywhere.
        raise ValidationError(_("Describe what you did."))
    if task.action == Action.EXPORT and not data_files and not nothing_held:
        raise ValidationError(MISSING_COPY)
    with transaction.atomic():
        # Locked before any file is written: a colleague completing the same step at the same
        # moment waits here, then finds it done, and their files never replace these.
        task = StoreTask.objects.select_for_update().select_related("store").get(pk=task.pk)
        if task.state != TaskState.WAITING or task.waiting_for != "manual":
            raise TransitionError(_("This step is not waiting for anyone."))
        receipt: dict[str, Any] = {}
        if task.action == Action.EXPORT and data_files:
            from .packages import PartSink

            with PartSink.for_task(task) as sink, translation.override(sink.language):
                # The person reads it, in their request's language, in the data dictionary.
                description = _("Obtained from %(store)s by Inper staff") % {
                    "store": task.store.display_name(sink.language)
                }
                for upload in data_files:
                    sink.file(upload.name or "file", upload, description=description)
                sink.commit(ExportResult({}, files=len(data_files)))
            receipt["files"] = len(data_files)
        elif task.action == Action.EXPORT or nothing_held:
            receipt["nothing_held"] = True
        return dsr_task_complete_manual(
            task=task, actor=actor, note=note, evidence=evidence, receipt=receipt
        )
