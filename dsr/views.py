"""The person's side of requests: file one, confirm it, follow it, download the result."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from allauth.account.internal.flows.reauthentication import (
    is_reauthentication_required,
    raise_if_reauthentication_required,
)
from allauth.core.exceptions import ReauthenticationRequired
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_safe,
)
from django_ratelimit.core import is_ratelimited

from consent.cookie import banner_cookie_of, banner_cookie_set
from privacy_portal.drafts import DRAFT_FIELD, draft_keep, draft_mark, draft_take, form_values
from privacy_portal.language import language_of_the_email
from privacy_portal.mail import send_email
from privacy_portal.pseudonymise import email_hash, normalise_email, ratelimit_account_or_client
from privacy_portal.ratelimits import rate_window
from privacy_portal.views import too_many_attempts

from . import notifications, selectors, services
from .consent_bridge import (
    marketing_purposes,
    purpose_choices,
    purposes_for,
    withdraw_in_browser,
)
from .engine import still_objected, tasks_done
from .forms import (
    ASKED,
    TYPE_HELP,
    DownloadCodeForm,
    GuestRequestForm,
    RequestForm,
    VerifyForm,
)
from .models import (
    TERMINAL_STATES,
    Action,
    Channel,
    DataSubjectRequest,
    IdentityMethod,
    RequestType,
    State,
    TaskState,
)
from .packages import package_chunks, package_is_available, package_record_download

logger = logging.getLogger(__name__)
_ANSWERED = (State.COMPLETED, State.PARTIALLY_COMPLETED)
_View = Callable[..., HttpResponseBase]

_CODE_TTL = 10 * 60
#: Wrong codes a download takes in :data:`_ATTEMPT_WINDOW` seconds, whatever the number of
#: codes sent meanwhile (asking for a new code does not start the count again).
_CODE_ATTEMPTS = 5
_ATTEMPT_WINDOW = 60 * 60
#: Codes of one download that work at the same time (the newest ones).
_CODES_KEPT = 3
#: Seconds in which a right code's download, started by the page it leads to, may begin.
_GRANT_TTL = 5 * 60


def _over_limit(request: HttpRequest, group: str, rate: str, *, count: bool) -> bool:
    """Whether this browser's person (their account, or their client address) used up
    ``rate`` in ``group``; ``count`` counts this request too."""
    return bool(
        is_ratelimited(
            request, group=group, key=ratelimit_account_or_client, rate=rate, increment=count
        )
    )


def _posts_limited(group: str, setting: str) -> Callable[[_View], _View]:
    """Limit POSTs to the rate in ``setting``: per account for a signed-in person, per client
    address for everyone else (so that one address's guests cannot use up a customer's
    requests). Beyond it, a 429 page that says how long to wait."""

    def decorator(view: _View) -> _View:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            rate = getattr(settings, setting)
            if request.method == "POST" and _over_limit(request, group, rate, count=True):
                return too_many_attempts(request, retry_after=rate_window(rate))
            return view(request, *args, **kwargs)

        return limited

    return decorator


def _type_cards() -> list[tuple[str, str, str]]:
    return [(value, str(label), str(TYPE_HELP[value])) for value, label in RequestType.choices]


def _data(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


@require_safe
def request_list(request: HttpRequest) -> HttpResponse:
    """The signed-in person's requests (a page explaining the options for everyone else)."""
    if not request.user.is_authenticated:
        return render(request, "dsr/start.html", {"types": _type_cards()})
    return render(
        request,
        "dsr/list.html",
        {
            "requests": selectors.requests_of(request.user),
            "by_email": selectors.requests_by_email_of(request.user),
            "days": settings.DSR_VERIFICATION_DAYS,
        },
    )


def _intake_limit(request: HttpRequest, *, signed_in: bool) -> tuple[str, str]:
    """The limit the request sent counts against, as its group and rate: ``DSR_INTAKE_RATE``,
    or for an opt-out ``DSR_OPT_OUT_RATE``, a count of its own, so that the requests of others
    behind the same client address never keep anyone's marketing going."""
    purposes = request.POST.getlist("purposes")[:50]
    if services.is_opt_out(request.POST.get("type", ""), purposes, signed_in=signed_in):
        return "dsr-opt-out", settings.DSR_OPT_OUT_RATE
    return "dsr-intake", settings.DSR_INTAKE_RATE


def _intake_limited(request: HttpRequest, limit: tuple[str, str], *, filing: bool) -> bool:
    """Whether this browser's person filed as many requests as ``limit`` allows; ``filing``
    counts one more. Only requests that are filed count: a form sent back for a typo does
    not."""
    group, rate = limit
    return _over_limit(request, group, rate, count=filing)


def _address_limited(request: HttpRequest, email: str) -> bool:
    """Whether requests filed without signing in for ``email`` (from any client address)
    reached ``DSR_INTAKE_RATE_PER_EMAIL``, counting this one: each sends e-mails to it."""
    key = email_hash(normalise_email(email))
    return bool(
        is_ratelimited(
            request,
            group="dsr-intake-email",
            key=lambda _group, _request: key,
            rate=settings.DSR_INTAKE_RATE_PER_EMAIL,
            increment=True,
        )
    )


def _initial_from_link(request: HttpRequest) -> dict[str, Any]:
    """What a link to the form chooses: ``?type=`` a type, ``?purposes=`` the uses to tick
    and ``?marketing=all`` every direct-marketing use; what the type cannot name is not
    ticked."""
    kind = request.GET.get("type", "")
    wanted = set(request.GET.getlist("purposes")[:50])
    if request.GET.get("marketing") == "all":
        wanted |= marketing_purposes()
    return {"type": kind, "purposes": sorted(wanted & purposes_for(kind))}


def _link_query(request: HttpRequest) -> str:
    """The query of the link that opened the form, as far as it chooses something (what
    :func:`_initial_from_link` reads): the language switch comes back to it."""
    chosen = [
        (name, value)
        for name in ("type", "purposes", "marketing")
        for value in request.GET.getlist(name)[:50]
    ]
    return urlencode(chosen)


@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest) -> HttpResponse:
    """File a request: signed in (re-authenticated for anything sensitive) or as a guest.
    Beyond the intake limit, the form comes back as it was sent, saying how long to wait."""
    user: Any = request.user
    signed_in = user.is_authenticated
    if request.method == "POST" and not signed_in and request.POST.get(DRAFT_FIELD):
        # Written signed in, sent after the session ended: not a guest's request. Keep what
        # was written for after signing in again.
        values = {
            **form_values(request, ("type", "details")),
            # Keys of uses of data: a few dozen characters each.
            "purposes": [key[:64] for key in request.POST.getlist("purposes")[:50]],
        }
        return draft_keep(
            request,
            values=values,
            message=_(
                "You were signed out. Sign in again to send your request: what you wrote is kept."
            ),
        )
    form_class = RequestForm if signed_in else GuestRequestForm
    draft = draft_take(request) if signed_in else None
    initial = draft or _initial_from_link(request)
    form = form_class(_data(request), initial=initial)
    limit = _intake_limit(request, signed_in=signed_in)
    limited = request.method == "POST" and _intake_limited(request, limit, filing=False)
    # Which limit paused it: this browser's, or (for a guest) the e-mail address's.
    rate, for_address = limit[1], False
    if request.method == "POST" and not limited and form.is_valid():
        data = form.cleaned_data
        # Everything but an opt-out discloses, changes or erases something (an objection
        # beyond direct marketing changes how the person's data is processed).
        if signed_in and not services.is_opt_out(
            data["type"], data.get("purposes") or (), signed_in=True
        ):
            # allauth keeps this POST and replays it after the person confirms their password;
            # its page says why it asks, not that the request went out.
            try:
                raise_if_reauthentication_required(request, app="")
            except ReauthenticationRequired:
                messages.info(
                    request,
                    _(
                        "Your request is not sent yet. Confirm it is you with your password, "
                        "and it is sent."
                    ),
                )
                raise
        intake = services.Intake(
            type=data["type"],
            email=user.email if signed_in else data["email"],
            channel=Channel.PORTAL if signed_in else Channel.PORTAL_GUEST,
            user=user if signed_in else None,
            full_name=user.full_name if signed_in else data.get("full_name", ""),
            country=str(data.get("country") or ""),
            language=get_language() or settings.LANGUAGE_CODE,
            details=data.get("details", ""),
            purposes=tuple(data.get("purposes") or ()),
        )
        try:
            if _intake_limited(request, limit, filing=True):  # another tab filed meanwhile
                raise _IntakeLimited
            if not signed_in and _address_limited(request, intake.email):
                rate, for_address = settings.DSR_INTAKE_RATE_PER_EMAIL, True
                raise _IntakeLimited
            filed = services.dsr_request_file(intake=intake, actor=user if signed_in else None)
        except _IntakeLimited:
            limited = True
        except ValidationError as error:
            form.add_error(None, error)
        else:
            response = _after_filing(request, filed)
            # Cookie categories taken back are taken back in this browser too.
            cookie = withdraw_in_browser(filed, banner_cookie_of(request))
            if cookie is not None:
                banner_cookie_set(response, cookie, secure=request.is_secure())
            return response
    wait = rate_window(rate) if limited else 0
    response = render(
        request,
        "dsr/new.html",
        {
            "form": form,
            "type_help": TYPE_HELP,
            "signed_in": signed_in,
            "draft_mark": draft_mark(user) if signed_in else "",
            "wait_minutes": max(1, -(-wait // 60)) if limited else 0,
            "for_address": for_address,
            "link_query": _link_query(request),
        },
        status=429 if limited else 400 if request.method == "POST" else 200,
    )
    if limited:
        response["Retry-After"] = str(wait)
    return response


class _IntakeLimited(Exception):
    """The intake limit was reached between the form's check and its filing."""


def _after_filing(request: HttpRequest, filed: DataSubjectRequest) -> HttpResponse:
    if request.user.is_authenticated:
        messages.success(request, _("We received your request %(ref)s.") % {"ref": filed.reference})
        return redirect("dsr:detail", filed.reference)
    # The same answer whoever the address belongs to. Opt-outs need no confirmation link (for
    # any address), so they are not told to wait for one; once approved, their withdrawals
    # are in the consent ledger.
    # An opt-out linked to an open request of the same address took effect as well: the page
    # must not tell that such a request exists.
    linked_opt_out = filed.state == State.DUPLICATE and services.request_is_opt_out(filed)
    if filed.identity_method == IdentityMethod.NOT_REQUIRED or linked_opt_out:
        done = "done" if filed.approved_at is not None or linked_opt_out else "started"
        return redirect(f"{reverse('dsr:sent')}?opt_out={done}")
    if services.request_opt_out_part(filed):
        # Its objection to direct marketing took effect; the rest waits for the link.
        return redirect(f"{reverse('dsr:sent')}?opt_out=partly")
    return redirect("dsr:sent")


@require_safe
def request_sent(request: HttpRequest) -> HttpResponse:
    """What a guest is told after filing: check your e-mail, or (for an opt-out) that no
    confirmation is needed."""
    opt_out = request.GET.get("opt_out", "")
    return render(
        request,
        "dsr/sent.html",
        {
            "days": settings.DSR_VERIFICATION_DAYS,
            "opt_out": opt_out if opt_out in ("done", "started", "partly") else "",
        },
    )


def _from_verification_token(token: str) -> tuple[int, str]:
    try:
        data = signing.loads(token, salt=notifications.VERIFY_SALT)
        return int(data["r"]), str(data["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise services.VerificationError(_("This link is not valid.")) from None


@require_http_methods(["GET", "POST"])
@_posts_limited("dsr-verify", "DSR_VERIFY_RATE")
def request_verify(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm a guest's request from the e-mailed link (GET shows a button; POST confirms,
    so that link scanners in mailboxes do not confirm anything)."""
    try:
        request_id, nonce = _from_verification_token(token)
        pending = services.dsr_request_for_verification(request_id=request_id, nonce=nonce)
    except services.VerificationError as error:
        return render(request, "dsr/link_invalid.html", {"message": str(error)}, status=400)
    language_of_the_email(request, pending.language)
    data = _data(request)
    if data is not None and not pending.knowledge_required:
        # The page asks for no order number: one posted anyway is ignored, not an error that
        # the page would not show.
        data = data.copy()
        data.pop("order_number", None)
    form = VerifyForm(data)
    if request.method == "POST" and form.is_valid():
        try:
            verified = services.dsr_request_verify_email(
                request_id=request_id,
                nonce=nonce,
                order_number=form.cleaned_data["order_number"],
                retry_unmatched=True,
            )
        except services.VerificationError as error:
            return render(request, "dsr/link_invalid.html", {"message": str(error)}, status=400)
        except services.OrderNumberUnmatched as unmatched:
            form.add_error(
                "order_number",
                ngettext(
                    "This is not the number of an order made with this e-mail address. Check it "
                    "in your order confirmation and try again (once more at most), or leave the "
                    "field empty and our privacy team will confirm who you are.",
                    "This is not the number of an order made with this e-mail address. Check it "
                    "in your order confirmation and try again (%(tries)s more times at most), or "
                    "leave the field empty and our privacy team will confirm who you are.",
                    unmatched.tries_left,
                )
                % {"tries": unmatched.tries_left},
            )
        else:
            # The request's page says what comes next (a held request: who contacts them).
            messages.success(request, _("Thank you: your e-mail address is confirmed."))
            return HttpResponseRedirect(
                notifications.request_url(verified).removeprefix(settings.PORTAL_BASE_URL)
            )
    return render(
        request,
        "dsr/verify.html",
        {
            "pending": pending,
            "form": form,
            "uses": notifications.purpose_titles(pending),
            "stopped": services.request_opt_out_part(pending),
        },
        status=400 if request.method == "POST" else 200,
    )


class _StatusLinkExpired(Http404):
    """A guest's status link older than ``DSR_STATUS_LINK_DAYS`` (the request page explains;
    elsewhere it is simply not found)."""


def _owned(request: HttpRequest, reference: str) -> tuple[DataSubjectRequest, str]:
    """Return the request the visitor may see (theirs by account, or by the signed link of a
    guest) and the link token; anything else is simply not found."""
    user: Any = request.user
    token = request.GET.get("t") or request.POST.get("t") or ""
    if user.is_authenticated:
        found = DataSubjectRequest.objects.filter(reference=reference, user=user).first()
        if found is not None:
            return found, ""
    if token:
        try:
            data = signing.loads(
                token,
                salt=notifications.STATUS_SALT,
                max_age=timedelta(days=settings.DSR_STATUS_LINK_DAYS),
            )
        except signing.SignatureExpired:
            raise _StatusLinkExpired from None
        except signing.BadSignature:
            raise Http404 from None
        found = DataSubjectRequest.objects.filter(reference=reference, pk=data.get("r")).first()
        if found is not None and found.followed_by_link:
            return found, token
    raise Http404


def _link_expired(request: HttpRequest) -> HttpResponse:
    message = _("This link has expired. The newest e-mail about your request has a new one.")
    return render(request, "dsr/link_invalid.html", {"message": message}, status=410)


def _reference_as_written(request: HttpRequest, reference: str, view: str) -> HttpResponse | None:
    """A redirect to the page of ``view`` with the reference as it is written, if it was typed
    in lower case or copied with a space (a page opened in the browser, not a form's POST)."""
    written = reference.strip().upper()
    if request.method == "POST" or reference == written or not written.startswith("DSR-"):
        return None
    path = reverse(view, args=[written])
    query = request.META.get("QUERY_STRING", "")
    return redirect(f"{path}?{query}" if query else path)


@require_safe
def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """Follow one request: state, deadline, progress and history."""
    as_written = _reference_as_written(request, reference, "dsr:detail")
    if as_written is not None:
        return as_written
    if not request.user.is_authenticated and not request.GET.get("t"):
        return redirect_to_login(request.get_full_path())
    try:
        found, token = _owned(request, reference)
    except _StatusLinkExpired:
        return _link_expired(request)
    if token:
        language_of_the_email(request, found.language)
    done, total = tasks_done(found)
    package = getattr(found, "package", None)
    package_ready = package is not None and package_is_available(package)
    titles = dict(purpose_choices())
    original = found.duplicate_of if found.state == State.DUPLICATE else None
    original_url = ""
    if original is not None and not token and original.user_id == found.user_id:
        # Both the signed-in person's.
        original_url = reverse("dsr:detail", args=[original.reference])
        if original.followed_by_link:
            original_url += f"?t={notifications.status_token(original)}"
    elif original is not None and token and original.followed_by_link:
        # Followed by link: the e-mails of both went to the same address and link both
        # (whichever account either was linked to, which the page must not tell).
        original_url = reverse("dsr:detail", args=[original.reference])
        original_url += f"?t={notifications.status_token(original)}"
    # An erasure asked for while signed in ends by erasing the account (and its session): the
    # open page follows it on by the signed link, which works once the account is gone.
    follow_token = token or (
        notifications.status_token(found)
        if found.user_id and found.type == RequestType.ERASURE and found.is_open
        else ""
    )
    return render(
        request,
        "dsr/detail.html",
        {
            "req": found,
            # Waiting for an officer to retry a step that failed, not for a step done by hand.
            "held_by_failure": found.state == State.WAITING
            and found.tasks.filter(state=TaskState.FAILED).exists(),
            # Answered without them: the systems the answer still lacks.
            "not_reached": [
                task.store.display_name()
                for task in found.tasks.filter(state=TaskState.FAILED)
                .exclude(action=Action.LIFT)
                .select_related("store")
                .order_by("store__position", "store__name")
            ]
            if found.state == State.PARTIALLY_COMPLETED
            else [],
            # Their objection is done and a use it stopped is still off: how to undo it.
            "may_switch_on": not token
            and found.type in services.PER_PURPOSE_TYPES
            and found.state in _ANSWERED
            and not found.restriction_lift_started_at
            and still_objected(found),
            "token": token,
            "follow_token": follow_token,
            "receipts": (
                notifications.plain_receipts(found)
                if found.type in (RequestType.ERASURE, RequestType.RECTIFICATION)
                and found.state in _ANSWERED
                else []
            ),
            "done": done,
            "total": total,
            "terminal": found.settled,
            "history": selectors.history(found),
            "package": package,
            "package_ready": package_ready,
            # Back from confirming the password for the download: start it.
            "download_now": (
                request.GET.get("download") == "1"
                and package_ready
                and not token
                and not is_reauthentication_required(request, app="")
            ),
            "can_cancel": services.person_may_cancel(found),
            # A restriction carried out: the systems it could not reach, said plainly.
            "not_restricted": (
                [store.display_name() for store in services.restriction_not_reaching(found)]
                if found.type == RequestType.RESTRICTION and found.state in _ANSWERED
                else []
            ),
            "asked": ASKED.get(found.type, ""),
            "purposes": [titles.get(key, key) for key in found.purposes or ()],
            "original": original,
            "original_url": original_url,
            # It ended without being carried out, and this one with it.
            "original_ended": original is not None
            and original.state in (State.CANCELLED, State.REJECTED, State.CLOSED_UNVERIFIED),
            "original_answered": original is not None
            and original.state in (State.COMPLETED, State.PARTIALLY_COMPLETED),
            # A request nobody confirmed is replaced by a newer one of the same kind.
            "superseded": original is not None and original.received_at > found.received_at,
        },
    )


@require_GET
def request_progress(request: HttpRequest, reference: str) -> JsonResponse:
    """The request's progress, for the page to update itself without a reload."""
    found, _token = _owned(request, reference)
    done, total = tasks_done(found)
    return JsonResponse(
        {
            "state": found.state,
            "state_label": str(found.get_state_display()),
            "done": done,
            "total": total,
            "terminal": found.settled,
            "lifting": found.restriction_lifting,
        }
    )


@require_http_methods(["GET", "HEAD", "POST"])
def request_cancel(request: HttpRequest, reference: str) -> HttpResponse:
    """Ask whether to cancel the request (a page of its own, with a button that says what it
    does, where a browser's dialog offers "OK" and "Cancel"), then cancel it."""
    as_written = _reference_as_written(request, reference, "dsr:cancel")
    if as_written is not None:
        return as_written
    if request.method != "POST" and not request.user.is_authenticated and not request.GET.get("t"):
        return redirect_to_login(request.get_full_path())
    try:
        found, token = _owned(request, reference)
    except _StatusLinkExpired:
        return _link_expired(request)
    back = reverse("dsr:detail", args=[found.reference])
    back = f"{back}?t={token}" if token else back
    if request.method != "POST":
        if not services.person_may_cancel(found):
            return redirect(back)
        if token:
            language_of_the_email(request, found.language)
        return render(request, "dsr/cancel.html", {"req": found, "token": token, "back": back})
    actor = request.user if request.user.is_authenticated else None
    try:
        services.dsr_request_cancel(request=found, actor=actor, by_person=True)
    except services.TransitionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Your request was cancelled."))
    return redirect(back)


def _stream(found: DataSubjectRequest, actor: Any) -> StreamingHttpResponse:
    package = found.package
    package_record_download(package=package, actor=actor)
    response = StreamingHttpResponse(package_chunks(package), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="inper-data-{found.reference}.zip"'
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_GET
def request_download(request: HttpRequest, reference: str) -> HttpResponseBase:
    """Download the access package (signed-in owner, after re-authentication)."""
    found, _token = _owned(request, reference)
    if found.user_id != request.user.pk:
        # A guest's status link shows progress to whoever holds it; their copy needs the code
        # sent to their address (``request_download_guest``), not someone else's password.
        raise Http404
    unavailable = _no_download(request, found, "")
    if unavailable is not None:
        return unavailable
    if is_reauthentication_required(request, app=""):
        # After the password, back to the request's page, which starts the download: the
        # password page would otherwise stay on screen as if nothing had happened.
        back = f"{reverse('dsr:detail', args=[found.reference])}?download=1"
        return redirect(f"{reverse('account_reauthenticate')}?{urlencode({'next': back})}")
    return _stream(found, request.user)


def _no_download(
    request: HttpRequest, found: DataSubjectRequest, token: str
) -> HttpResponse | None:
    """Return the page saying why ``found`` has nothing to download, or None if it has: a
    copy that expired or was deleted is gone (410); one still being made is not there yet
    (409); a request of another type has none (404). The page leads back to the request
    (by its signed link ``token`` for a guest), not to a new one."""
    package = getattr(found, "package", None)
    if package is not None and package_is_available(package):
        return None
    if package is not None and (package.built_at is not None or package.purged_at is not None):
        # Expired, or destroyed (also before it was finished) by the person's erasure.
        message, status = _("This download is no longer available."), 410
    elif found.type in (RequestType.ACCESS, RequestType.PORTABILITY) and (
        found.state not in TERMINAL_STATES
    ):
        message, status = _("Your copy is not ready yet. We will e-mail you when it is."), 409
    else:
        message, status = _("This request has no download."), 404
    back = reverse("dsr:detail", args=[found.reference]) + (f"?t={token}" if token else "")
    context = {"message": message, "title": _("No download"), "back_url": back}
    return render(request, "dsr/link_invalid.html", context, status=status)


def _code_key(found: DataSubjectRequest) -> str:
    return f"dsr-download-code-{found.pk}"


def _grant_key(found: DataSubjectRequest) -> str:
    """The session key of a right code's download, not started yet (its expiry)."""
    return f"dsr-download-granted-{found.pk}"


def _attempts_key(found: DataSubjectRequest) -> str:
    return f"dsr-download-code-attempts-{found.pk}"


def _unexpired_codes(state: Any) -> list[tuple[str, float]]:
    """Return the (hash, expiry) of the codes sent for a download that still work."""
    if not state:
        return []
    # A code sent before codes were kept as a list: one, expiring with its cache entry.
    codes = state.get("codes") or [(state["hash"], time.time() + _CODE_TTL)]
    return [(digest, until) for digest, until in codes if until > time.time()]


def _code_matches(entered: str, state: Any) -> bool:
    """Whether ``entered`` (a hash) is one of the codes that still work, each compared."""
    matched = False
    for digest, _until in _unexpired_codes(state):
        matched |= secrets.compare_digest(entered, digest)
    return matched


def _count_attempt(found: DataSubjectRequest) -> int:
    """Count one guess at the request's download codes and return the count in this window
    (the window starts with the first guess)."""
    key = _attempts_key(found)
    cache.add(key, 0, _ATTEMPT_WINDOW)
    try:
        return int(cache.incr(key))
    except ValueError:  # the window ended between the two calls
        return _CODE_ATTEMPTS + 1


def _codes_locked_message() -> str:
    return _(
        "A wrong code was typed too often for this download. To protect your data, codes "
        "are refused for up to an hour; then ask for a new one."
    )


@require_http_methods(["GET", "POST"])
@_posts_limited("dsr-download-code", "DSR_DOWNLOAD_CODE_RATE")
def request_download_guest(request: HttpRequest, reference: str) -> HttpResponseBase:
    """Download by the request's signed link (a request filed without signing in, also once
    it is linked to an account): a one-time code sent to its address first."""
    found, token = _owned(request, reference)
    if token:
        language_of_the_email(request, found.language)
    if not token:
        # The signed-in owner downloads after confirming their password (``request_download``):
        # the e-mailed link, opened signed in, leads there.
        if request.method == "GET":
            return redirect("dsr:download", reference=found.reference)
        raise Http404
    unavailable = _no_download(request, found, token)
    if unavailable is not None:
        return unavailable
    url = f"{reverse('dsr:download_guest', args=[found.reference])}?t={token}"
    granted = request.session.get(_grant_key(found), 0) > time.time()
    if request.method == "GET" and request.GET.get("download") == "1" and granted:
        # The page after a right code starts this once; the code it was granted for worked once.
        del request.session[_grant_key(found)]
        return _stream(found, None)
    form = DownloadCodeForm(request.POST if "code" in request.POST else None)
    state = cache.get(_code_key(found))
    if request.method == "POST" and "send" in request.POST:
        if (cache.get(_attempts_key(found)) or 0) >= _CODE_ATTEMPTS:
            # A new code would be refused too: say so instead of sending one.
            messages.error(request, _codes_locked_message())
            return redirect(url)
        code = f"{secrets.randbelow(10**8):08d}"
        # A code asked for again (a second click, a slow e-mail) leaves the earlier ones
        # working until they expire: the person may type the one from the first e-mail.
        codes = [
            *_unexpired_codes(state)[-(_CODES_KEPT - 1) :],
            (hashlib.sha256(code.encode()).hexdigest(), time.time() + _CODE_TTL),
        ]
        cache.set(_code_key(found), {"codes": codes}, _CODE_TTL)
        send_email(
            template="dsr/download_code",
            to=found.email,
            context={
                "code": code,
                "request": found,
                "minutes": _CODE_TTL // 60,
                "first_name": notifications.first_name(found),
            },
            language=found.language,
        )
        messages.info(request, _("We sent a code to your e-mail address."))
        return redirect(url)
    if request.method == "POST" and form.is_valid():
        entered = hashlib.sha256(form.cleaned_data["code"].strip().encode()).hexdigest()
        # Each guess counts before it is checked, atomically (parallel guesses from many
        # addresses share the count); the code works once.
        attempts = _count_attempt(found) if state else 0
        if (
            state
            and attempts <= _CODE_ATTEMPTS
            and _code_matches(entered, state)
            and cache.delete(_code_key(found))
        ):
            cache.delete(_attempts_key(found))
            # A page of its own, which starts the download: a file answering the form would
            # leave the form's page, with the error of a wrong code typed before, on screen.
            request.session[_grant_key(found)] = time.time() + _GRANT_TTL
            return redirect(url)
        if attempts >= _CODE_ATTEMPTS:
            form.add_error("code", _codes_locked_message())
        else:
            form.add_error(
                "code", _("That code is not right, or it has expired. Ask for a new one.")
            )
    return render(
        request,
        "dsr/download_guest.html",
        {
            "req": found,
            "token": token,
            "form": form,
            "code_sent": bool(state),
            "download_now": granted and request.method == "GET",
        },
        status=400 if request.method == "POST" else 200,
    )
