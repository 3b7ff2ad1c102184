"""The customer's own account pages: profile and addresses, data overview, closure."""

from __future__ import annotations

from typing import Any

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from privacy_portal.drafts import draft_mark, draft_take, login_required_keeping_draft
from privacy_portal.language import language_apply, language_unless_chosen

from . import selectors, services
from .forms import AddressForm, CloseAccountForm, ProfileForm
from .models import Address, User


def _data(request: HttpRequest) -> Any:
    """Return the submitted form data for a POST (even an empty one), else None."""
    return request.POST if request.method == "POST" else None


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (guaranteed by login_required)
    return user


#: The session key of a browser whose account was just closed (the page that says so).
_JUST_CLOSED = "account-just-closed"
_SIGNED_OUT = gettext_lazy(
    "You were signed out. Sign in again to save your changes: what you typed is kept."
)


def _draft(request: HttpRequest) -> dict[str, Any] | None:
    """Return what the person typed on this page before their session ended (to fill in
    again, not saved yet), saying so."""
    draft = draft_take(request) if request.method == "GET" else None
    if draft is not None:
        messages.warning(
            request,
            _(
                "What you typed before you were signed out is filled in again. It is not "
                "saved yet: check it and save it."
            ),
        )
    return draft


def _form_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Render a page with a form: 400 for a refused submission; the form marked as written
    signed in, so that it is kept if the session ends before it is sent."""
    return render(
        request,
        template,
        {**context, "draft_mark": draft_mark(request.user)},
        status=400 if request.method == "POST" else 200,
    )


@login_required_keeping_draft(ProfileForm.base_fields, _SIGNED_OUT)
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """Show and edit the profile; list the address book."""
    user = _user(request)
    form = ProfileForm(
        _data(request), instance=User.objects.get(pk=user.pk), initial=_draft(request)
    )
    if request.method == "POST" and form.is_valid():
        changed = services.account_profile_update(user=user, actor=user, data=form.cleaned_data)
        if changed:
            messages.success(request, _("Your profile was saved."))
        else:
            messages.info(request, _("Nothing changed."))
        response = redirect("accounts:profile")
        if "preferred_language" in changed:
            language_apply(response, form.cleaned_data["preferred_language"])
        return response
    return _form_page(
        request,
        "accounts/profile.html",
        {"form": form, "addresses": selectors.user_addresses(user)},
    )


@login_required
def data_overview(request: HttpRequest) -> HttpResponse:
    """Show what Inper holds about the signed-in person, by category and by store."""
    from dsr.holdings import holdings_of

    user = _user(request)
    return render(
        request,
        "accounts/data.html",
        {"categories": selectors.data_overview(user), "holdings": holdings_of(user)},
    )


@login_required_keeping_draft(AddressForm.base_fields, _SIGNED_OUT)
@require_http_methods(["GET", "POST"])
def address_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    # A new address is most likely in the country the person lives in.
    initial = _draft(request) or ({"country": user.country} if user.country else None)
    form = AddressForm(_data(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.address_create(user=user, actor=user, data=form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The address was added."))
            return redirect("accounts:profile")
    return _form_page(request, "accounts/address_form.html", {"form": form, "creating": True})


def _own_address(request: HttpRequest, pk: int) -> Address:
    # Someone else's address is simply not found: no hint that it exists.
    return get_object_or_404(Address, pk=pk, user=_user(request))


@login_required_keeping_draft(AddressForm.base_fields, _SIGNED_OUT)
@require_http_methods(["GET", "POST"])
def address_update(request: HttpRequest, pk: int) -> HttpResponse:
    address = _own_address(request, pk)
    form = AddressForm(
        _data(request),
        instance=Address.objects.get(pk=address.pk),
        initial=_draft(request),
    )
    if request.method == "POST" and form.is_valid():
        services.address_update(address=address, actor=_user(request), data=form.cleaned_data)
        messages.success(request, _("The address was saved."))
        return redirect("accounts:profile")
    return _form_page(
        request,
        "accounts/address_form.html",
        {"form": form, "address": address, "creating": False},
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_delete(request: HttpRequest, pk: int) -> HttpResponse:
    address = _own_address(request, pk)
    if request.method == "POST":
        services.address_delete(address=address, actor=_user(request))
        messages.success(request, _("The address was deleted."))
        return redirect("accounts:profile")
    return render(request, "accounts/address_confirm_delete.html", {"address": address})


@login_required
@require_POST
def address_make_default(request: HttpRequest, pk: int) -> HttpResponse:
    address = _own_address(request, pk)
    services.address_set_default(address=address, actor=_user(request))
    messages.success(request, _("This is now your default shipping address."))
    return redirect("accounts:profile")


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def close(request: HttpRequest) -> HttpResponse:
    """Explain what closing the account means, then close it (after re-authentication)."""
    form = CloseAccountForm(_data(request))
    if request.method == "POST" and form.is_valid():
        user = _user(request)
        services.account_close(user=user, actor=user)
        language = user.preferred_language or settings.LANGUAGE_CODE
        logout(request)
        # In the new session, for the page that says so, in the account's language.
        request.session[_JUST_CLOSED] = language
        return redirect("accounts:closed")
    return render(
        request,
        "accounts/close.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@require_safe
def closed(request: HttpRequest) -> HttpResponse:
    """Confirm that the account was closed, to the browser that closed it, once; anyone else
    (signed in, or never having closed one) goes to the start page."""
    language = request.session.pop(_JUST_CLOSED, None)
    if request.user.is_authenticated or not language:
        return redirect("home")
    language_unless_chosen(request, language if isinstance(language, str) else None)
    return render(request, "accounts/closed.html")


def email_addresses(request: HttpRequest) -> HttpResponse:
    """allauth's e-mail address page, which says why nothing was sent when the confirmation
    of an address is asked for within its rate limit (allauth then sends nothing, and says
    nothing either): asked for again, or an address changed to again a few minutes after it
    was changed away from (whose earlier link may no longer work)."""
    from allauth.account import views as allauth_views
    from allauth.account.internal.flows.email_verification import (
        consume_email_verification_rate_limit,
    )
    from allauth.account.models import EmailAddress

    email = str(request.POST.get("email") or "").strip() if request.method == "POST" else ""
    asked = "action_send" in request.POST or "action_add" in request.POST
    held = (
        asked
        and bool(email)
        and request.user.is_authenticated
        and not consume_email_verification_rate_limit(request, email, dry_run=True)
    )
    if held and "action_send" in request.POST:
        held = EmailAddress.objects.filter(
            user_id=request.user.pk, email__iexact=email, verified=False
        ).exists()
    response: HttpResponse = allauth_views.email(request)
    if held and response.status_code == 302:
        messages.info(
            request,
            _(
                "We sent a confirmation e-mail to %(email)s a few minutes ago: look for it, also "
                "in your spam folder. If its link no longer works (the address was changed in "
                "between), ask for a new one with “Send the confirmation e-mail again” in a few "
                "minutes."
            )
            % {"email": email},
        )
    return response
