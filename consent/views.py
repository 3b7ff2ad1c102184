"""The consent pages: preference centre, history and receipt, cookie settings, double opt-in
confirmation, one-click unsubscribe, policy versions. Views are thin: they bind a form, call
one service and render or redirect."""

from __future__ import annotations

import json
from typing import Any

from allauth.account.internal.flows.reauthentication import raise_if_reauthentication_required
from allauth.core.exceptions import ReauthenticationRequired
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, Window
from django.db.models.functions import Lag
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from accounts.models import User
from privacy_portal.language import language_of_the_email

from . import selectors, services, tokens
from .catalogue import catalogue
from .cookie import banner_cookie_make, banner_cookie_of, banner_cookie_set
from .forms import ChoiceForm, CookieChoiceForm
from .models import Channel, PolicyDocument, PolicyVersion, PurposeKind, Source, UsedToken
from .policies import POLICY_LANGUAGE, parse_policy
from .ratelimits import too_many_requests
from .receipts import consent_receipt


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (guaranteed by login_required)
    return user


def _bad_request(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "consent/problem.html", {"message": message}, status=status)


# --- preference centre ------------------------------------------------------------------------


@login_required
@require_safe
def preferences(request: HttpRequest) -> HttpResponse:
    """Show every purpose and channel with its legal basis, what it means, and a switch."""
    subject = services.subject_of_user(_user(request))
    choices = selectors.consent_current(subject)
    return render(
        request,
        "consent/preferences.html",
        {
            "marketing": [c for c in choices if c.purpose.kind == PurposeKind.MARKETING],
            "processing": [c for c in choices if c.purpose.kind == PurposeKind.PROCESSING],
            "any_marketing_on": any(
                c.granted or c.status == "pending"
                for c in choices
                if c.purpose.kind == PurposeKind.MARKETING
            ),
            "gpc": services.gpc_signal(request),
            # Text messages and calls go to the profile's number: none, none to switch on.
            "no_phone": not _user(request).phone,
            "number_channels": NUMBER_CHANNELS,
        },
    )


#: Marketing sent to the profile's phone number.
NUMBER_CHANNELS = (Channel.SMS.value, Channel.PHONE.value)


@login_required
@require_POST
def preference_update(request: HttpRequest, key: str) -> HttpResponse:
    """Switch one purpose on or off (a grant with double opt-in sends a confirmation first).

    Switching off a use that other systems of Inper carry out files the request that makes
    them stop too (see :func:`dsr.consent_bridge.request_for_switch_off`): an objection, which
    asks for the password first like any request that changes how data is processed, or a
    withdrawal, which takes effect at once."""
    from dsr.consent_bridge import (
        being_carried_out_for_switch_on,
        file_for_switch_off,
        lift_for_switch_on,
        request_for_switch_off,
    )
    from dsr.models import DataSubjectRequest

    form = ChoiceForm(request.POST)
    if not form.is_valid():
        return _bad_request(request, _("Please choose on or off."))
    purpose = catalogue().by_key.get(key)
    if purpose is not None and purpose.kind == PurposeKind.COOKIE:
        # Cookies are chosen per browser, where they are set: in the cookie settings.
        return _bad_request(
            request, _("Cookies are chosen for each browser, in the cookie settings.")
        )
    user = _user(request)
    granted = form.cleaned_data["granted"]
    if granted and purpose is not None and purpose.channel in NUMBER_CHANNELS and not user.phone:
        # A consent to texts or calls without a number would cover whatever number is added.
        messages.error(
            request,
            _(
                "“%(title)s” is still off: add your phone number to your profile first, as "
                "text messages and calls go to it."
            )
            % {"title": purpose.title()},
        )
        return redirect(reverse("consent:preferences") + f"#purpose-{key}")
    files = "" if granted else request_for_switch_off(key)
    if files == "objection":
        try:
            # allauth keeps this POST and replays it once the password is confirmed.
            raise_if_reauthentication_required(request, app="")
        except ReauthenticationRequired:
            messages.info(
                request,
                _("Nothing has changed yet. Confirm it is you with your password, and it is done."),
            )
            raise
    filed, recorded = None, False
    try:
        if files == "withdraw_consent":
            # A new withdrawal request records the choice itself (with its reference).
            filed, recorded = file_for_switch_off(user, key, files)
        if not recorded:
            outcome = services.consent_choose(
                subject=services.subject_for_user(user),
                purpose_key=key,
                granted=granted,
                source=Source.PREFERENCE_CENTRE,
                actor=user,
                request=request,
            )
        if files == "objection":
            filed, _new = file_for_switch_off(user, key, files)
        lifted: list[DataSubjectRequest] = []
        running: list[DataSubjectRequest] = []
        if granted and outcome.event is not None and outcome.event.granted:
            # Switched on again: what their objection to it stopped elsewhere may resume (once
            # an objection still being carried out is done).
            theirs = DataSubjectRequest.objects.filter(user=user)
            lifted = lift_for_switch_on(theirs, key, actor=user)
            running = being_carried_out_for_switch_on(theirs, key)
    except services.ConsentError:
        return _bad_request(request, _("This choice does not exist or cannot be changed."))
    title = catalogue().by_key[key].title()
    if filed is not None:
        messages.success(
            request,
            _(
                "“%(title)s” is now off. Request %(reference)s tells Inper's other systems "
                "that use your data this way to stop too; you can follow it under Requests."
            )
            % {"title": title, "reference": filed.reference},
        )
    elif outcome.pending is not None:
        messages.info(
            request,
            _(
                "Almost done: we sent an e-mail to %(email)s. “%(title)s” starts once you click "
                "the link in it."
            )
            % {"email": user.email, "title": title},
        )
    elif running:
        said = [_("“%(title)s” is now on.") % {"title": title}]
        said.append(
            ngettext(
                "Request %(references)s is already being carried out: once it is done, "
                "Inper's other systems are told that they may use your data this way again.",
                "Requests %(references)s are already being carried out: once they are done, "
                "Inper's other systems are told that they may use your data this way again.",
                len(running),
            )
            % {"references": ", ".join(r.reference for r in running)}
        )
        if lifted:
            said.append(
                _("What request %(reference)s stopped may start again.")
                % {"reference": ", ".join(r.reference for r in lifted)}
            )
        messages.success(request, " ".join(said))
    elif lifted:
        messages.success(
            request,
            _(
                "“%(title)s” is now on. Inper's other systems that stopped using your data "
                "this way for request %(reference)s are told that they may again."
            )
            % {"title": title, "reference": ", ".join(r.reference for r in lifted)},
        )
    elif outcome.event is not None and outcome.event.granted:
        messages.success(request, _("“%(title)s” is now on.") % {"title": title})
    elif outcome.event is not None and outcome.event.source == Source.GPC:
        messages.warning(
            request,
            _(
                "Your browser sends a Global Privacy Control signal, so “%(title)s” stays off. "
                "Turn the signal off in your browser to switch it on."
            )
            % {"title": title},
        )
    else:
        messages.success(request, _("“%(title)s” is now off.") % {"title": title})
    return redirect(reverse("consent:preferences") + f"#purpose-{key}")


@login_required
@require_POST
def stop_all_marketing(request: HttpRequest) -> HttpResponse:
    """Withdraw every marketing channel at once."""
    user = _user(request)
    events = services.consent_stop_all_marketing(
        subject=services.subject_for_user(user),
        source=Source.PREFERENCE_CENTRE,
        actor=user,
        request=request,
    )
    if events:
        messages.success(request, _("Done: Inper will not send you any marketing."))
    else:
        messages.info(request, _("All marketing was already off."))
    return redirect("consent:preferences")


@login_required
@require_safe
def history(request: HttpRequest) -> HttpResponse:
    """List the person's own consent events, newest first, each with the choice before it on
    the same purpose: "withdrawn" is said only of a consent that was given."""
    events = selectors.consent_events_for_user(_user(request)).annotate(
        given_before=Window(Lag("granted"), partition_by=[F("purpose_id")], order_by=F("id").asc())
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "consent/history.html", {"page": page})


@login_required
@require_GET
def receipt(request: HttpRequest) -> HttpResponse:
    """Download the consent receipt (JSON)."""
    subject = services.subject_of_user(_user(request))
    body = consent_receipt(subject, language=(get_language() or "en")[:2])
    response = HttpResponse(
        json.dumps(body, indent=2, ensure_ascii=False), content_type="application/json"
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="inper-consent-receipt-{stamp}.json"'
    return response


# --- double opt-in ----------------------------------------------------------------------------


_TOKEN_MESSAGES = {
    "expired": (
        410,
        gettext_lazy("This link has expired. Please switch the choice on again to get a new one."),
    ),
    "used": (410, gettext_lazy("This link was already used.")),
    "replaced": (
        410,
        gettext_lazy(
            "This link no longer works: you asked for a newer one, or switched this choice "
            "off, since. Use the link in the most recent e-mail, or switch the choice on again."
        ),
    ),
    "invalid": (
        400,
        gettext_lazy("This link is not valid. Please copy the whole link from the e-mail."),
    ),
}


def _token_problem(request: HttpRequest, error: tokens.TokenError) -> HttpResponse:
    status, message = _TOKEN_MESSAGES.get(error.reason, _TOKEN_MESSAGES["invalid"])
    return _bad_request(request, str(message), status=status)


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm a double opt-in. The GET shows a button (mail scanners follow links)."""
    try:
        link = tokens.token_read(token, kind=tokens.CONFIRM)
        language_of_the_email(request, services.confirmation_language(link))
        if request.method == "GET" and UsedToken.objects.filter(nonce=link.nonce).exists():
            raise tokens.TokenError("used")
        if request.method == "GET" and services.consent_confirmation_replaced(link):
            raise tokens.TokenError("replaced")
        if request.method == "POST":
            services.consent_confirm(token=token, request=request)
    except tokens.TokenError as error:
        return _token_problem(request, error)
    purpose = catalogue().by_key.get(link.purpose_key)
    return render(
        request,
        "consent/confirm.html",
        {"purpose": purpose, "done": request.method == "POST"},
    )


# --- unsubscribe ------------------------------------------------------------------------------


@csrf_exempt  # RFC 8058: the mailbox provider POSTs without cookies; the token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: say what the link does, with a button. POST (one-click or the button): withdraw.

    A repeated POST of a genuine link answers 200 again without recording anything: mail
    clients may retry a one-click unsubscribe (RFC 8058) and expect success for an address
    that is already unsubscribed. Forged, malformed or expired links are still refused."""
    if too_many_requests(request, "unsubscribe", settings.CONSENT_RATE_UNSUBSCRIBE):
        return render(request, "429.html", status=429)
    context: dict[str, Any]
    try:
        link = tokens.token_read(token, kind=tokens.UNSUBSCRIBE)
        purpose = catalogue().by_key.get(link.purpose_key)
        if purpose is None:
            raise tokens.TokenError("invalid")
        # The page speaks the e-mail's language, which the browser may not.
        language_of_the_email(request, selectors.subject_language(link.subject_id))
        if request.method == "POST":
            services.consent_unsubscribe(token=token, request=request)
            used = True
        else:
            # Used, and the channel still off: nothing more to do (on again, the button is).
            used = UsedToken.objects.filter(
                nonce=link.nonce
            ).exists() and not services.unsubscribe_pending(link)
        context = {"purpose": purpose, "done": used, "token": token}
    except tokens.TokenError as error:
        if error.reason != "used":
            return _token_problem(request, error)
        context = {"done": True, "again": True}
    response = render(request, "consent/unsubscribe.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response


# --- cookies ----------------------------------------------------------------------------------


def cookie_choice_of(request: HttpRequest) -> set[str] | None:
    """Return the categories granted in this browser (or for the account), None if undecided."""
    cookie = banner_cookie_of(request)
    if cookie is not None and cookie.is_current(
        material_version=catalogue().cookie_policy_material_version
    ):
        return set(cookie.granted)
    user: Any = request.user
    if user.is_authenticated:
        choices = selectors.consent_current(
            services.subject_of_user(user), kinds=(PurposeKind.COOKIE,)
        )
        if any(choice.decided_at for choice in choices if not choice.purpose.always_on):
            return {choice.key for choice in choices if choice.granted}
    return None


@require_http_methods(["GET", "HEAD", "POST"])
def cookies(request: HttpRequest) -> HttpResponse:
    """Cookie settings without JavaScript: every category with its services and cookies."""
    granted = cookie_choice_of(request)
    gpc = services.gpc_signal(request)
    form = CookieChoiceForm(
        request.POST if request.method == "POST" else None, initial_granted=granted or set()
    )
    if request.method == "POST" and form.is_valid():
        previous = banner_cookie_of(request)
        user: Any = request.user
        visitor_id, granted_keys = services.consent_banner_save(
            visitor_id=previous.visitor_id if previous else None,
            choices=form.choices(),
            request=request,
            language=get_language(),
            account=user if user.is_authenticated else None,
        )
        messages.success(request, _("Your cookie choices were saved."))
        response = redirect("consent:cookies")
        banner_cookie_set(
            response, banner_cookie_make(visitor_id, granted_keys), secure=request.is_secure()
        )
        return response
    cat = catalogue()
    return render(
        request,
        "consent/cookies.html",
        {
            "form": form,
            "rows": [
                (purpose, form[purpose.key] if purpose.key in form.fields else None)
                for purpose in cat.cookie_categories
            ],
            "decided": granted is not None,
            "gpc": gpc,
            "policy": selectors.cookie_policy_current(),
            "lifetime_months": round(settings.CONSENT_CHOICE_LIFETIME_DAYS / 30.4),
        },
        status=400 if request.method == "POST" else 200,
    )


def _sharing_uses(request: HttpRequest, granted_cookies: set[str]) -> list[tuple[Any, bool | None]]:
    """The uses that count as selling or sharing personal data (those Global Privacy Control
    covers), each with whether it is on for this browser (its ``granted_cookies``) or person
    (None: only an account or an e-mail address can say, and there is neither)."""
    user: Any = request.user
    current = (
        {
            choice.key: choice.granted
            for choice in selectors.consent_current(services.subject_of_user(user))
        }
        if user.is_authenticated
        else {}
    )
    uses: list[tuple[Any, bool | None]] = []
    for purpose in catalogue().purposes:
        if not purpose.honours_gpc or not purpose.switchable:
            continue
        if purpose.kind == PurposeKind.COOKIE:
            uses.append((purpose, purpose.key in granted_cookies))
        else:
            uses.append((purpose, current.get(purpose.key, False) if current else None))
    return uses


@require_http_methods(["GET", "HEAD", "POST"])
def opt_out_sharing(request: HttpRequest) -> HttpResponse:
    """ "Do Not Sell or Share My Personal Information" (CCPA): one button switches off, in this
    browser and for the signed-in person, every use Global Privacy Control covers."""
    from dsr.consent_bridge import file_for_switch_off, request_for_switch_off

    cookies_on = cookie_choice_of(request) or set()
    uses = _sharing_uses(request, cookies_on)
    if request.method == "POST":
        if too_many_requests(request, "opt_out_sharing", settings.CONSENT_RATE_BANNER):
            return _bad_request(request, _("Too many attempts. Please wait a minute."), 429)
        user: Any = request.user
        sharing = {purpose.key for purpose, _on in uses}
        response = redirect("consent:opt_out_sharing")
        previous = banner_cookie_of(request)
        visitor_id, granted_keys = services.consent_banner_save(
            visitor_id=previous.visitor_id if previous else None,
            choices={
                purpose.key: purpose.key in cookies_on and purpose.key not in sharing
                for purpose in catalogue().cookie_categories
                if purpose.switchable
            },
            request=request,
            language=get_language(),
            account=user if user.is_authenticated else None,
            source=Source.OPT_OUT_SHARING,
        )
        banner_cookie_set(
            response, banner_cookie_make(visitor_id, granted_keys), secure=request.is_secure()
        )
        filed = []
        if user.is_authenticated:
            for purpose, on in uses:
                if purpose.kind == PurposeKind.COOKIE or not on:
                    continue
                recorded = False
                if request_for_switch_off(purpose.key) == "withdraw_consent":
                    # A new withdrawal records the choice and tells the systems that share it.
                    request_filed, recorded = file_for_switch_off(
                        user, purpose.key, "withdraw_consent"
                    )
                    filed.append(request_filed)
                if not recorded:
                    services.consent_record(
                        subject=services.subject_for_user(user),
                        purpose_key=purpose.key,
                        granted=False,
                        source=Source.OPT_OUT_SHARING,
                        actor=user,
                        request=request,
                    )
        said = [
            _("Done: Inper will not sell or share your personal information.")
            if user.is_authenticated
            else _(
                "Done in this browser. What Inper shares about people who agreed to it is tied "
                "to their e-mail address: see below."
            )
        ]
        references = [done.reference for done in filed]
        if references:
            said.append(
                _("Request %(reference)s tells Inper's other systems that share it to stop.")
                % {"reference": ", ".join(references)}
            )
        messages.success(request, " ".join(said))
        return response
    # Without an account: the uses tied to an e-mail address are withdrawn by a request.
    by_address = [purpose.key for purpose, on in uses if on is None]
    withdraw_url = (
        reverse("dsr:new")
        + "?"
        + urlencode({"type": "withdraw_consent", "purposes": by_address}, doseq=True)
        if by_address
        else ""
    )
    return render(
        request,
        "consent/opt_out_sharing.html",
        {"uses": uses, "gpc": services.gpc_signal(request), "withdraw_url": withdraw_url},
    )


# --- policies ---------------------------------------------------------------------------------


def _policy_page(
    request: HttpRequest, document: str, version: int | None, template: str, **extra: Any
) -> HttpResponse:
    versions = selectors.policy_versions(document)
    if not versions:
        raise Http404
    shown = (
        versions[0]
        if version is None
        else next((v for v in versions if v.version == version), None)
    )
    if shown is None:
        raise Http404
    return render(
        request,
        template,
        {
            "policy": shown,
            "blocks": parse_policy(shown.body),
            "body_language": POLICY_LANGUAGE,
            "body_in_other_language": (get_language() or "").split("-")[0] != POLICY_LANGUAGE,
            "updated": shown.published_at,
            "versions": versions,
            "is_current": shown == versions[0],
            "material_change": selectors.policy_material_change(versions)
            if shown == versions[0]
            else None,
            **extra,
        },
    )


@require_safe
def statement(request: HttpRequest, version: int | None = None) -> HttpResponse:
    """Show the privacy statement (or an earlier version) with its versions."""
    return _policy_page(
        request, PolicyDocument.PRIVACY_STATEMENT, version, "consent/statement.html"
    )


@require_safe
def cookie_policy(request: HttpRequest, version: int | None = None) -> HttpResponse:
    """Show the cookie policy (or an earlier version) with its versions."""
    return _policy_page(
        request,
        PolicyDocument.COOKIE_POLICY,
        version,
        "consent/cookie_policy.html",
        # The policy says the cookies are "listed below": every category's, as set now.
        cookie_categories=catalogue().cookie_categories,
    )


@login_required
@require_POST
def notice_seen(request: HttpRequest, pk: int) -> HttpResponse:
    """Dismiss the notice of a material policy change."""
    policy = get_object_or_404(PolicyVersion, pk=pk, material=True)
    services.policy_acknowledge(user=_user(request), policy_version=policy)
    return redirect(request.POST.get("next", "") if _safe(request) else "home")


def _safe(request: HttpRequest) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    return url_has_allowed_host_and_scheme(
        request.POST.get("next", ""), allowed_hosts={request.get_host()}
    )


# --- Global Privacy Control -------------------------------------------------------------------


@require_safe
def gpc_json(request: HttpRequest) -> JsonResponse:
    """The Global Privacy Control support resource (``/.well-known/gpc.json``)."""
    response = JsonResponse({"gpc": True, "lastUpdate": "2026-11-01"})
    response["Cache-Control"] = "public, max-age=86400"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
