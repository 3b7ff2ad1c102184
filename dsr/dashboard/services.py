"""The dashboard's own actions on requests, each in one transaction with its audit event; the
decisions themselves (verify, approve, reject, extend, cancel, assign, retry, manual steps)
are the request services of :mod:`dsr.services`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy_portal.audit.models import AuditEvent
from privacy_portal.audit.services import audit_record, scope_of

from .. import notifications
from ..models import DataSubjectRequest, ExportPackage, RequestNote, State
from ..packages import package_is_available
from ..services import TransitionError, has_visible_text

#: How long after the download link was sent again it is not sent once more.
RESEND_PAUSE = timedelta(minutes=5)


@transaction.atomic
def dsr_request_note_add(*, request: DataSubjectRequest, actor: Any, body: str) -> RequestNote:
    """Add an internal note of staff to a request (never shown to the person). The audit event
    names the note, not its text."""
    body = body.strip()
    if not has_visible_text(body):
        raise ValidationError(_("Write the note first."))
    locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    if locked.redacted_at is not None:
        raise TransitionError(_("This request was redacted; nothing can be added to it."))
    note = RequestNote.objects.create(request=locked, author=actor, body=body[:4000])
    audit_record(
        actor=actor,
        action="dsr.request.note_added",
        target=note,
        scope=locked,
        after={"note": note.pk},
    )
    return note


@transaction.atomic
def dsr_request_resend_download_link(*, request: DataSubjectRequest, actor: Any) -> None:
    """Send the person the e-mail with the link to their copy again (for example when it was
    lost in a spam folder). Only while the copy can still be downloaded."""
    locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    package = ExportPackage.objects.filter(request=locked).first()
    if package is None or not package_is_available(package):
        raise TransitionError(_("There is no copy to download for this request (any more)."))
    if locked.state not in (State.COMPLETED, State.PARTIALLY_COMPLETED) or not locked.email:
        raise TransitionError(_("The download link can only be sent for a finished request."))
    if AuditEvent.objects.filter(
        scope=scope_of(locked),
        action="dsr.request.link_resent",
        occurred_at__gte=timezone.now() - RESEND_PAUSE,
    ).exists():
        # A second click, or a colleague at the same time: one e-mail is on its way.
        raise TransitionError(
            _(
                "The link was sent again a few minutes ago. Give the e-mail time to arrive "
                "before sending it once more."
            )
        )
    notifications.completed(locked)
    audit_record(
        actor=actor,
        action="dsr.request.link_resent",
        target=locked,
        after={"package": package.pk},
    )
