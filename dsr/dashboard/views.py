"""The dashboard's pages and actions. Each view checks the role, binds a form, calls one
service or selector, and renders or redirects; refusals of the services become messages."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST, require_safe

from privacy_portal.admin_site import search_keep, search_kept
from privacy_portal.dbutils import parsed_id
from privacy_portal.pseudonymise import email_hash, normalise_email
from privacy_portal.spreadsheet import csv_cell

from .. import deadlines, retention, services, stores
from ..identity import subject_of
from ..models import DataStore, DataSubjectRequest, Regime, RetentionJobRun, StoreTask
from . import audit, metrics, preview, processing, selectors
from .access import officer_required
from .forms import (
    AuditFilterForm,
    CancelForm,
    ExtendForm,
    LiftRestrictionForm,
    ManualStepForm,
    NoteForm,
    QueueFilterForm,
    RejectForm,
    SearchForm,
    VerifyForm,
    YearForm,
)
from .labels import STATE_LABELS
from .services import dsr_request_note_add, dsr_request_resend_link

VIEW = ("dsr.view_datasubjectrequest",)
DECIDE = ("dsr.change_datasubjectrequest",)
QUEUE_PAGE_SIZE = 50


def _no_store(response: HttpResponseBase) -> HttpResponseBase:
    response["Cache-Control"] = "no-store, private"
    return response


# --- the queue ----------------------------------------------------------------------------------


@require_safe
@officer_required(*VIEW)
def queue(request: HttpRequest) -> HttpResponse:
    """Every request, filtered, searched, sorted and paged; counts by state; what is urgent."""
    form = QueueFilterForm(request.GET or None, officers=selectors.officers())
    filters = form.filters() if request.GET else {}
    if filters.get("named"):
        filters["name_term"] = search_kept(request, filters["named"])
    paginator = Paginator(selectors.queue(filters, me=request.user), QUEUE_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(item, selectors.urgency(item, now)) for item in page.object_list]
    query = {k: str(v) for k, v in request.GET.items() if k != "page" and v}
    counts = selectors.queue_counts()
    return render(
        request,
        "dashboard/queue.html",
        {
            "form": form,
            "search": SearchForm(),
            "rows": rows,
            "page": page,
            "query": urlencode(query),
            "counts": counts,
            "states": [
                (value, label, counts.by_state[value]) for value, label in STATE_LABELS.items()
            ],
            "status": filters.get("status") or "open",
            "person_search": bool(filters.get("person")),
            "name_search": filters.get("name_term", "").split()[:5],
            "name_search_lost": bool(filters.get("named")) and not filters.get("name_term"),
            # Where "Assign to me" leads back to ("here" is the base's name of the page).
            "back_to": request.get_full_path(),
        },
    )


#: The digits of a reference's number (DSR-2026-000042), and a whole reference.
_REFERENCE_DIGITS = 6
_REFERENCE = re.compile(rf"DSR-\d{{4}}-\d{{{_REFERENCE_DIGITS}}}")


@require_POST
@officer_required(*VIEW)
def search(request: HttpRequest) -> HttpResponse:
    """Find requests by reference, by e-mail address through its keyed hash, or by name
    (posted, and redirected to a URL that holds no address and no name)."""
    form = SearchForm(request.POST)
    if not form.is_valid():
        typed = str(request.POST.get("term") or "").strip()
        messages.error(
            request,
            _("That is too long for a reference, an e-mail address or a name.")
            if typed
            else _("Type a reference, an e-mail address or a name."),
        )
        return redirect("dashboard:queue")
    term = form.cleaned_data["term"].strip()
    if "@" in term:
        key = email_hash(normalise_email(term))
        return redirect(
            f"{reverse('dashboard:queue')}?{urlencode({'status': 'all', 'person': key})}"
        )
    reference = term.upper()
    if DataSubjectRequest.objects.filter(reference=reference).exists():
        return redirect("dashboard:request", reference)
    if _REFERENCE.fullmatch(reference) or (
        term.isascii() and term.isdecimal() and len(term) <= _REFERENCE_DIGITS
    ):
        # A reference, or its number (the requests whose reference ends with it).
        return redirect(
            f"{reverse('dashboard:queue')}?{urlencode({'status': 'all', 'q': reference})}"
        )
    if any(char.isalpha() for char in term) and not reference.startswith("DSR-"):
        # A name: kept in the session, named in the URL by a key (no name in a URL or a log).
        key = search_keep(request, term[:100])
        return redirect(
            f"{reverse('dashboard:queue')}?{urlencode({'status': 'all', 'named': key})}"
        )
    # Anything else (a phone number) finds nothing, and goes in no URL.
    messages.warning(
        request,
        _(
            "No request has that reference. Search by a reference (DSR-2026-000042), its "
            "number (42), the person's exact e-mail address, or their name."
        ),
    )
    return redirect("dashboard:queue")


# --- one request --------------------------------------------------------------------------------


def _page_or_404(reference: str) -> selectors.RequestPage:
    page = selectors.request_page(reference)
    if page is None:
        raise Http404
    return page


def _due_before_extension(page: selectors.RequestPage) -> datetime | None:
    """The deadline an extension replaced, as its audit event recorded it."""
    for entry in page.timeline:
        if entry.event.action == "dsr.request.extended":
            before = (entry.event.before or {}).get("due_at")
            return datetime.fromisoformat(before) if isinstance(before, str) else None
    return None


def _finds_by(store: DataStore, request: DataSubjectRequest) -> list[tuple[str, str]]:
    """What staff find the person by in ``store``, for a step they do by hand: each identity
    the store knows people by, with the request's values (kept until the request ends, also
    once an erasure deleted the account)."""
    subject = subject_of(request)
    # The account by the name stores' instructions give its number.
    labels = {**dict(DataStore.Identity.choices), "customer_id": _("Portal account id")}
    found = []
    for kind in store.identities or ():
        values = subject.identity(kind)
        if values:
            found.append((str(labels.get(kind, kind)), ", ".join(values)))
    return found


def _render_request(
    request: HttpRequest, reference: str, *, status: int = 200, **forms: Any
) -> HttpResponse:
    page = _page_or_404(reference)
    done_forms: dict[int, ManualStepForm] = forms.pop("done_forms", {})
    context: dict[str, Any] = {
        "page": page,
        "req": page.request,
        "verify_form": VerifyForm(prefix="verify"),
        "reject_form": RejectForm(prefix="reject"),
        "extend_form": ExtendForm(prefix="extend"),
        "extended_due_at": deadlines.extended_due_at(page.request),
        "due_before_extension": _due_before_extension(page),
        # When beat closes a request whose link nobody used (maintenance.close_unverified).
        "link_expires": page.request.verification_sent_at
        + timedelta(days=settings.DSR_VERIFICATION_DAYS)
        if page.request.verification_sent_at
        else None,
        "lift_form": LiftRestrictionForm(prefix="lift"),
        "note_form": NoteForm(prefix="note"),
        "cancel_form": CancelForm(prefix="cancel"),
        # One form per waiting step, each with ids of its own, and what finds the person there.
        "task_rows": [
            (
                row,
                done_forms.get(row.task.pk)
                or ManualStepForm(prefix=f"done-{row.task.pk}", action=row.task.action),
                _finds_by(row.task.store, page.request),
            )
            if row.task.state == "waiting" and row.task.waiting_for == "manual"
            else (row, None, [])
            for row in page.tasks
        ],
        "preview": (
            preview.erasure_preview(page.request)
            if page.request.type == "erasure" and (page.can["preview"] or page.can["approve"])
            else None
        ),
        "me": request.user,
        "progress": selectors.progress(page.request),
    }
    context.update(forms)
    return render(request, "dashboard/request.html", context, status=status)


@require_safe
@officer_required(*VIEW)
def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """The person, their identity check, the timeline, the store tasks, and the decisions."""
    if reference != reference.upper() and reference.upper().startswith("DSR-"):
        return redirect("dashboard:request", reference.upper())  # typed in lower case
    return _render_request(request, reference)


@require_GET
@officer_required(*VIEW)
def request_progress(request: HttpRequest, reference: str) -> JsonResponse:
    """The request's state and task progress, for the page to follow it without reloading."""
    found = get_object_or_404(DataSubjectRequest, reference=reference)
    response = JsonResponse(selectors.progress(found))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@officer_required(*VIEW)
def receipt(request: HttpRequest, reference: str) -> HttpResponse:
    """What each store did for the request, as a page to print or save: the proof."""
    page = _page_or_404(reference)
    from ..erasure import erasure_record_valid

    record = page.erasure_record
    return render(
        request,
        "dashboard/receipt.html",
        {
            "page": page,
            "req": page.request,
            "record": record,
            "record_valid": record is not None and erasure_record_valid(record),
            "generated_at": timezone.now(),
            "unreached": _not_asked(page),
            # Not a clean run on paper when it was none: what failed, was retried, was left.
            "setbacks": [
                entry for entry in page.timeline if entry.event.action in _SETBACK_ACTIONS
            ],
        },
    )


#: The timeline's events a receipt lists apart: steps that failed, staff's retries, an answer
#: given without a failed step.
_SETBACK_ACTIONS = frozenset(
    {"dsr.task.failed", "dsr.task.retried", "dsr.request.answered_without_failed"}
)


def _not_asked(page: selectors.RequestPage) -> list[tuple[str, str]]:
    """The stores the request's plan left out because none of the ways they find people is
    known for this person, with those ways: the receipt names every registered store."""
    ids: list[int] = []
    for entry in page.timeline:
        if entry.event.action == "dsr.request.planned":
            ids += [
                pk for pk in (entry.event.after or {}).get("unreached") or [] if isinstance(pk, int)
            ]
    stores = DataStore.objects.in_bulk(ids)
    return [(stores[pk].display_name(), stores[pk].identities_text()) for pk in ids if pk in stores]


def _back(reference: str, anchor: str = "") -> HttpResponse:
    url = reverse("dashboard:request", args=[reference])
    return redirect(f"{url}#{anchor}" if anchor else url)


def _act(
    request: HttpRequest,
    reference: str,
    action: Callable[[DataSubjectRequest], Any],
    success: str | Callable[[Any], str],
    *,
    anchor: str = "",
) -> HttpResponse:
    """Call a service on the request; report its refusal, or its success, as a message (or
    as ``success`` says of the service's result)."""
    found = get_object_or_404(DataSubjectRequest, reference=reference)
    try:
        result = action(found)
    except services.TransitionError as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success(result) if callable(success) else success)
    return _back(reference, anchor)


@require_POST
@officer_required(*DECIDE)
def assign(request: HttpRequest, reference: str) -> HttpResponse:
    """Assign the request to me (or release it), unless someone changed it meanwhile."""
    seen = request.POST.get("seen", "")
    expected = parsed_id(seen)
    to_me = request.POST.get("to") == "me"
    target = request.POST.get("next", "")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        target = reverse("dashboard:request", args=[reference])
    found = get_object_or_404(DataSubjectRequest, reference=reference)
    try:
        services.dsr_request_assign(
            request=found,
            assignee=request.user if to_me else None,
            actor=request.user,
            expected_assignee_id=expected,
        )
    except services.TransitionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("%(ref)s is now yours.") % {"ref": reference}
            if to_me
            else _("%(ref)s is no longer assigned.") % {"ref": reference},
        )
    return redirect(target)


@require_POST
@officer_required(*DECIDE)
def verify(request: HttpRequest, reference: str) -> HttpResponse:
    form = VerifyForm(request.POST, prefix="verify")
    if not form.is_valid():
        return _render_request(request, reference, status=400, verify_form=form)
    return _act(
        request,
        reference,
        lambda found: services.dsr_request_verify_manually(
            request=found,
            actor=request.user,
            method=form.cleaned_data["method"],
            note=form.cleaned_data["note"],
        ),
        lambda checked: (
            _(
                "The identity check was recorded, and the request approved: for its type the "
                "settings need no other decision."
            )
            if checked.approved_at is not None
            else _("The identity check was recorded.")
        ),
    )


@require_POST
@officer_required(*DECIDE)
def approve(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda found: services.dsr_request_approve(request=found, actor=request.user),
        _("Approved. The stores are being worked through."),
    )


@require_POST
@officer_required(*DECIDE)
def reject(request: HttpRequest, reference: str) -> HttpResponse:
    form = RejectForm(request.POST, prefix="reject")
    if not form.is_valid():
        return _render_request(request, reference, status=400, reject_form=form)
    return _act(
        request,
        reference,
        lambda found: services.dsr_request_reject(
            request=found,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        ),
        _("Rejected. The person was told why, and of their right to complain."),
    )


@require_POST
@officer_required(*DECIDE)
def extend(request: HttpRequest, reference: str) -> HttpResponse:
    form = ExtendForm(request.POST, prefix="extend")
    if not form.is_valid():
        return _render_request(request, reference, status=400, extend_form=form)
    return _act(
        request,
        reference,
        lambda found: services.dsr_request_extend(
            request=found, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        _("The deadline was extended and the person was told why."),
    )


@require_POST
@officer_required(*DECIDE)
def lift_restriction(request: HttpRequest, reference: str) -> HttpResponse:
    """Lift a completed restriction: the person is e-mailed the reason first, then the stores
    lift it. A refusal answers with the page and what is wrong (400 for the reason, 409 for the
    request's state, 503 if the e-mail could not be sent), and changes nothing."""
    form = LiftRestrictionForm(request.POST, prefix="lift")
    found = get_object_or_404(DataSubjectRequest, reference=reference)
    if not form.is_valid():
        return _render_request(request, reference, status=400, lift_form=form)
    try:
        services.dsr_restriction_lift(
            request=found, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        form.add_error("reason", error)
        return _render_request(request, reference, status=400, lift_form=form)
    except services.TransitionError as error:
        messages.error(request, str(error))
        return _render_request(request, reference, status=409)
    except services.LiftNoticeError as error:
        messages.error(request, str(error))
        return _render_request(request, reference, status=503, lift_form=form)
    messages.success(
        request, _("The person was told by e-mail; the stores are lifting the restriction.")
    )
    left = services.restriction_left_in(found)
    if left:
        messages.warning(
            request,
            _(
                "These stores restricted the data, but no step can lift it there now (switched "
                "off, or no longer able to): lift it by hand in %(stores)s."
            )
            % {"stores": ", ".join(store.display_name() for store in left)},
        )
    return _back(reference, "lift")


@require_POST
@officer_required(*DECIDE)
def cancel(request: HttpRequest, reference: str) -> HttpResponse:
    """Cancel the request as the person asked staff to: how they asked is kept as a note, and
    the person is told by e-mail."""
    form = CancelForm(request.POST, prefix="cancel")
    if not form.is_valid():
        return _render_request(request, reference, status=400, cancel_form=form)

    @transaction.atomic
    def cancel_with_note(found: DataSubjectRequest) -> DataSubjectRequest:
        cancelled = services.dsr_request_cancel(request=found, actor=request.user)
        body = _("Cancelled as the person asked: %(how)s") % {"how": form.cleaned_data["how"]}
        dsr_request_note_add(request=cancelled, actor=request.user, body=body)
        return cancelled

    return _act(
        request,
        reference,
        cancel_with_note,
        _("The request was cancelled; the person is told by e-mail."),
    )


@require_POST
@officer_required(*DECIDE, "dsr.add_requestnote")
def note(request: HttpRequest, reference: str) -> HttpResponse:
    form = NoteForm(request.POST, prefix="note")
    if not form.is_valid():
        return _render_request(request, reference, status=400, note_form=form)
    return _act(
        request,
        reference,
        lambda found: dsr_request_note_add(
            request=found, actor=request.user, body=form.cleaned_data["body"]
        ),
        _("Note added."),
        anchor="notes",
    )


@require_POST
@officer_required(*DECIDE)
def resend_link(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda found: dsr_request_resend_link(request=found, actor=request.user),
        lambda which: (
            _("The e-mail with the confirmation link was sent again.")
            if which == "confirmation"
            else _("The e-mail with the download link was sent again.")
        ),
    )


@require_POST
@officer_required(*DECIDE)
def answer_without_failed(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda found: services.dsr_request_answer_without_failed(request=found, actor=request.user),
        _("The person is being answered without the failed step."),
        anchor="tasks",
    )


@require_POST
@officer_required(*DECIDE)
def preview_start(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda found: preview.dsr_request_preview_start(request=found, actor=request.user),
        # Stays on the page while the plan fills in: it says what started, not that it runs.
        _("The search of every store started: the plan below fills in as they answer."),
        anchor="preview",
    )


@require_GET
@officer_required(*VIEW)
def preview_panel(request: HttpRequest, reference: str) -> HttpResponse:
    """The preview's current state, as the part of the page the script swaps in."""
    found = get_object_or_404(DataSubjectRequest, reference=reference)
    response = render(
        request,
        "dashboard/_preview.html",
        {"req": found, "preview": preview.erasure_preview(found)},
    )
    response["Cache-Control"] = "no-store"
    return response


# --- store tasks --------------------------------------------------------------------------------


def _task(pk: int) -> StoreTask:
    return get_object_or_404(StoreTask.objects.select_related("request"), pk=pk)


@require_POST
@officer_required(*VIEW, "dsr.change_storetask")
def task_retry(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(pk)
    try:
        services.dsr_task_retry(task=task, actor=request.user)
    except services.TransitionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The task was queued again."))
    return _back(task.request.reference, "tasks")


@require_POST
@officer_required(*VIEW, "dsr.change_storetask")
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a manual step done, with what was done, an optional evidence file and, for a copy,
    the files with the person's data from the system (as the admin's manual-step page does)."""
    task = _task(pk)
    form = ManualStepForm(request.POST, request.FILES, prefix=f"done-{task.pk}", action=task.action)
    if not form.is_valid():
        return _render_request(
            request, task.request.reference, status=400, done_forms={task.pk: form}
        )
    try:
        stores.manual_step_complete(
            task=task,
            actor=request.user,
            note=form.cleaned_data["note"],
            evidence=form.cleaned_data.get("evidence"),
            data_files=form.cleaned_data.get("data_files") or (),
            nothing_held=form.cleaned_data.get("nothing_held", False),
        )
    except PermissionDenied as error:
        messages.error(request, str(error))
    except (services.TransitionError, ValidationError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, _("The step was marked done."))
    return _back(task.request.reference, "tasks")


@require_GET
@officer_required(*VIEW, "dsr.view_storetask")
def task_evidence(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Download the evidence file of a manual step (never served from a public URL)."""
    task = _task(pk)
    if not task.evidence:
        raise Http404
    response = FileResponse(task.evidence.open("rb"), as_attachment=True)
    return _no_store(response)


# --- metrics and reports ------------------------------------------------------------------------


def _months(request: HttpRequest) -> int:
    months = parsed_id(request.GET.get("months", ""))
    return months if months in metrics.PERIODS else 12


def _csv_response(filename: str, rows: Iterable[Iterable[Any]]) -> HttpResponseBase:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([csv_cell(value) for value in row]) for row in rows),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _no_store(response)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_safe
@officer_required(*VIEW)
def metrics_page(request: HttpRequest) -> HttpResponse:
    """Charts of the monthly figures, each with its table and CSV."""
    months = _months(request)
    figures = metrics.all_metrics(months)
    return render(
        request,
        "dashboard/metrics.html",
        {
            "figures": figures,
            "charts": [figure.chart() for figure in figures],
            "months": months,
            "periods": metrics.PERIODS,
        },
    )


@require_GET
@officer_required(*VIEW)
def metrics_csv(request: HttpRequest, key: str) -> HttpResponseBase:
    if key not in metrics.METRICS:
        raise Http404
    months = _months(request)
    figure = metrics.metric(key, months)
    return _csv_response(f"inper-{key}-{months}-months.csv", [figure.columns, *figure.rows])


@require_safe
@officer_required(*VIEW)
def yearly(request: HttpRequest) -> HttpResponse:
    """The yearly figures regulators ask for, for any year."""
    year = YearForm.year_from(request.GET or None)
    law = YearForm.law_from(request.GET)
    rows = metrics.yearly(year, law)
    table, columns = metrics.yearly_table(rows), metrics.yearly_columns()
    # On the page, the figures go down and the types of request across (a dozen figures
    # across would need a screen three times as wide); the CSV keeps a row per type.
    return render(
        request,
        "dashboard/yearly.html",
        {
            "year": year,
            "rows": rows,
            "types": [row[0] for row in table],
            # The column of all requests' totals (the opt-outs of selling follow it).
            "total_column": next(i for i, row in enumerate(rows) if row.type == "all"),
            "opt_outs": any(row.type == metrics.OPT_OUT_SHARING for row in rows),
            "figures": [
                [column, *[row[index] for row in table]]
                for index, column in enumerate(columns)
                if index
            ],
            "years": range(timezone.now().year, metrics.first_year() - 1, -1),
            "law": law,
            "laws": Regime.choices,
        },
    )


@require_GET
@officer_required(*VIEW)
def yearly_csv(request: HttpRequest) -> HttpResponseBase:
    year = YearForm.year_from(request.GET or None)
    law = YearForm.law_from(request.GET)
    rows = metrics.yearly(year, law)
    return _csv_response(
        f"inper-requests-{year}{'-' + law if law else ''}.csv",
        [metrics.yearly_columns(), *metrics.yearly_table(rows)],
    )


# --- audit trail --------------------------------------------------------------------------------


@require_safe
@officer_required("audit.view_auditevent")
def audit_trail(request: HttpRequest) -> HttpResponse:
    """Filter the audit trail; see the chain's state."""
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    # A filter to correct shows no events: they would read as the filter's result.
    events, older = audit.page(filters) if not form.errors else ([], None)
    # Staff by their names, as the request's timeline names them; others by kind and number.
    staff = selectors.staff_names(events)
    # Requests by their references, as officers know them (the trail keeps their ids).
    references = selectors.request_references(events)
    # What changed, in words (stores, requests and staff by name); the stored values beside.
    changes = selectors.changes_said(events, staff=staff)
    rows = [
        (
            event,
            staff.get(event.actor_id or 0, "") if event.actor_type == "person" else "",
            selectors.action_text(event.action),
            references.get(event.scope or "", ""),
            changes[event.pk],
        )
        for event in events
    ]
    query = {k: str(v) for k, v in request.GET.items() if k != "before" and v}
    return render(
        request,
        "dashboard/audit.html",
        {
            "form": form,
            "events": events,
            "rows": rows,
            "older": older,
            "query": urlencode(query),
            "chain": audit.chain_state(),
            "action_text": selectors.action_text,
        },
    )


@require_GET
@officer_required("audit.view_auditevent")
def audit_csv(request: HttpRequest) -> HttpResponseBase:
    """Export the filtered events as CSV, streamed (the export is audited)."""
    form = AuditFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        # A filter the trail cannot apply exports nothing, not the whole trail: the page
        # says which filter to correct.
        refused = audit_trail(request)
        refused.status_code = 400
        return refused
    filters = form.filters() if request.GET else {}
    audit.audit_export_record(actor=request.user, filters=filters)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return _csv_response(f"inper-audit-{stamp}.csv", audit.csv_rows(audit.events(filters)))


@require_POST
@officer_required("audit.view_auditevent")
def audit_verify(request: HttpRequest) -> HttpResponse:
    audit.chain_verify_start(actor=request.user)
    messages.info(request, _("The chain is being verified; reload this page in a moment."))
    return redirect("dashboard:audit")


# --- record of processing -----------------------------------------------------------------------


@require_safe
@officer_required("dsr.view_datastore")
def processing_record(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "dashboard/processing.html",
        {
            "entries": processing.record_of_processing(),
            "purposes": processing.processing_purposes(),
            "controller": processing.controller(),
            "security_measures": processing.SECURITY_MEASURES,
            "generated_at": timezone.now(),
        },
    )


@require_GET
@officer_required("dsr.view_datastore")
def processing_csv(request: HttpRequest) -> HttpResponseBase:
    rows = processing.csv_rows(processing.record_of_processing(), processing.processing_purposes())
    return _csv_response("inper-record-of-processing.csv", rows)


# --- retention ----------------------------------------------------------------------------------


@require_safe
@officer_required("dsr.view_retentionjobrun")
def retention_page(request: HttpRequest) -> HttpResponse:
    """The retention jobs, their last real and dry runs, and what those did."""
    runs = list(RetentionJobRun.objects.select_related("actor")[:50])
    jobs = []
    for job in retention.JOBS.values():
        jobs.append(
            {
                "job": job,
                "last_real": next((r for r in runs if r.job == job.key and not r.dry_run), None)
                or RetentionJobRun.objects.filter(job=job.key, dry_run=False).first(),
                "last_dry": next((r for r in runs if r.job == job.key and r.dry_run), None),
            }
        )
    return render(
        request,
        "dashboard/retention.html",
        {
            "jobs": jobs,
            "runs": [
                (
                    run,
                    retention.JOBS[run.job].label if run.job in retention.JOBS else run.job,
                    stores_said,
                )
                for run, stores_said in zip(
                    runs, selectors.retention_stores_said(runs), strict=True
                )
            ],
        },
    )


@require_POST
@officer_required("dsr.view_retentionjobrun")
def retention_dry_run(request: HttpRequest, job: str) -> HttpResponse:
    """Ask a worker for a dry run of one job (it changes nothing)."""
    if job not in retention.JOBS:
        raise Http404
    from ..tasks import retention_job_task

    actor: Any = request.user
    transaction.on_commit(lambda: retention_job_task.delay(job, True, actor.pk))
    messages.info(
        request,
        _("A dry run of “%(job)s” was started; its report appears below in a moment.")
        % {"job": retention.JOBS[job].label},
    )
    return redirect("dashboard:retention")
