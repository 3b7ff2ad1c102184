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

#: How long after a link was sent again it is not sent once more.
RESEND_PAUSE = timedelta(minutes=5)
#: Within this time, the same note by the same member of staff is the same form sent twice.
NOTE_REPEAT_WINDOW = timedelta(seconds=30)


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
    body = body[:4000]
    same = (
        RequestNote.objects.filter(
            request=locked,
            author=actor,
            created_at__gte=timezone.now() - NOTE_REPEAT_WINDOW,
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if same is not None and same.body == body:
        # The same form sent twice (a double click, a reload): one note, kept once.
        return same
    note = RequestNote.objects.create(request=locked, author=actor, body=body)
    audit_record(
        actor=actor,
        action="dsr.request.note_added",
        target=note,
        scope=locked,
        after={"note": note.pk},
    )
    return note


@transaction.atomic
def dsr_request_resend_link(*, request: DataSubjectRequest, actor: Any) -> str:
    """Send the person again the e-mail with the link their request waits on (for example
    when it was lost in a spam folder): while their address is unconfirmed, the confirmation
    link (the same link, expiring when it did); once their copy is ready, the download link,
    while it can still be downloaded. Return which: ``"confirmation"`` or ``"download"``."""
    locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    if locked.state == State.AWAITING_IDENTITY and locked.verification_nonce:
        _refuse_if_sent_recently(locked, "dsr.request.verification_resent")
        notifications.verification_link(locked, again=True)
        audit_record(actor=actor, action="dsr.request.verification_resent", target=locked)
        return "confirmation"
    package = ExportPackage.objects.filter(request=locked).first()
    if package is None or not package_is_available(package):
        raise TransitionError(_("There is no copy to download for this request (any more)."))
    if locked.state not in (State.COMPLETED, State.PARTIALLY_COMPLETED) or not locked.email:
        raise TransitionError(_("The download link can only be sent for a finished request."))
    _refuse_if_sent_recently(locked, "dsr.request.link_resent")
    notifications.completed(locked)
    audit_record(
        actor=actor,
        action="dsr.request.link_resent",
        target=locked,
        after={"package": package.pk},
    )
    return "download"


def _refuse_if_sent_recently(locked: DataSubjectRequest, action: str) -> None:
    """Refuse to send the e-mail of ``action`` again within :data:`RESEND_PAUSE` of the last."""
    if AuditEvent.objects.filter(
        scope=scope_of(locked), action=action, occurred_at__gte=timezone.now() - RESEND_PAUSE
    ).exists():
        # A second click, or a colleague at the same time: one e-mail is on its way.
        raise TransitionError(
            _(
                "The link was sent again a few minutes ago. Give the e-mail time to arrive "
                "before sending it once more."
            )
        )
