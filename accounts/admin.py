"""Support staff find customers here: profile and addresses, never passwords or second-factor
secrets. Every change made here is audited."""

from __future__ import annotations

import re
from typing import Any

from allauth.account.admin import EmailAddressAdmin as AllauthEmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django_countries.filters import CountryFilter

from privacy_portal.admin_site import (
    KEPT_SEARCH_VAR,
    AuditedModelAdmin,
    changed_fields,
    search_keep,
    search_kept,
)
from privacy_portal.audit.services import audit_record
from privacy_portal.dbutils import parsed_id
from privacy_portal.pseudonymise import normalise_email

from .forms import AddressForm, ProfileChecks
from .models import ADDRESS_FIELDS, PROFILE_FIELDS, Address, FormerEmail, User
from .services import account_email_replaced


def linked_person(request: HttpRequest) -> dict[str, str]:
    """The person a link from support's customer pages names, for a form that records a
    request or a choice for them: a customer by their account's number (``?customer=``), with
    the name, country and language their request needs; or an address support searched for by
    the key that names the search (``?s=``): addresses are never in a link. Nothing else of a
    link is taken (a crafted one could otherwise fill a form ready to save)."""
    customer = parsed_id(request.GET.get("customer", ""))
    if customer is not None:
        user = (
            User.objects.filter(pk=customer, is_staff=False, is_superuser=False)
            .only("email", "first_name", "last_name", "country", "preferred_language", "phone")
            .first()
        )
        if user is None:
            return {}
        return {
            "email": user.email,
            "full_name": user.full_name,
            "country": str(user.country or ""),
            "language": user.preferred_language or "",
            # A marketing choice said for texts or calls reaches the account's number too.
            "phone": user.phone or "",
        }
    kept = search_kept(request, request.GET.get(KEPT_SEARCH_VAR, ""))
    return {"email": kept} if _looks_like_email(kept) else {}


def _has_account(email: str) -> bool:
    """Whether any account (a staff one too) has ``email`` as its address or an added one."""
    email = normalise_email(email)
    return User.objects.filter(
        Q(email__iexact=email) | Q(emailaddress__email__iexact=email)
    ).exists()


def _looks_like_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


class CorrectionsOnRequests(AuditedModelAdmin):
    """A change to a customer's profile or addresses is also noted on the correction requests
    of theirs being carried out, and staff are told which (the change is the correction)."""

    #: The attribute of the object changed that holds the customer's account id.
    customer_attribute = "user_id"

    def _noted(self, request: HttpRequest, obj: Any, fields: list[str]) -> list[str]:
        from dsr.services import corrections_made_by_staff

        references = corrections_made_by_staff(
            user_id=getattr(obj, self.customer_attribute), actor=request.user, fields=fields
        )
        if references:
            messages.info(
                request,
                _("Noted on correction request %(references)s, as where it was corrected.")
                % {"references": ", ".join(references)},
            )
        return references

    def change_reason(self, request: HttpRequest, obj: Any, fields: list[str]) -> str:
        """The customer's corrections this change carries out (noted on each), or that it was
        made without one, which staff are told; nothing for a staff account."""
        references = self._noted(request, obj, fields)
        customer = User.objects.filter(
            pk=getattr(obj, self.customer_attribute), is_staff=False, is_superuser=False
        ).exists()
        if not customer:  # a staff account, which superusers change: no customer's request
            return ""
        if references:
            return f"corrected_for:{','.join(references)}"
        messages.warning(
            request,
            _(
                "No correction request of this customer's is being carried out, so this "
                "change is recorded as made without one. If the customer asked for it, "
                "record their request too."
            ),
        )
        return "without_correction_request"

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._noted(request, obj, changed_fields(message) or [str(obj._meta.verbose_name)])
        return super().log_addition(request, obj, message)


class AddressInline(admin.StackedInline):  # type: ignore[type-arg]
    model = Address
    form = AddressForm  # checked as the customer's own address book checks it
    extra = 0
    fields = ADDRESS_FIELDS


class FormerEmailInline(admin.TabularInline):  # type: ignore[type-arg]
    """The addresses the customer had before, by which Inper's other systems may know them
    (read only: recorded when the address changes)."""

    model = FormerEmail
    extra = 0
    fields = ("email", "replaced_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


#: Searched without accents on PostgreSQL.
_NAME_FIELDS = frozenset({"first_name", "last_name"})


@admin.register(User)
class UserAdmin(CorrectionsOnRequests):
    customer_attribute = "pk"
    list_display = (
        "email",
        "first_name",
        "last_name",
        "country",
        "is_active",
        "is_staff",
        "date_joined",
    )
    # Only the countries customers are in (the field's choices are every country).
    list_filter = ("is_active", "is_staff", ("country", CountryFilter), "groups")
    # An earlier address finds the customer too: they may write from it.
    search_fields = ("email", "former_emails__email", "first_name", "last_name", "phone")
    ordering = ("-date_joined",)
    form = ProfileChecks  # a correction is checked as the customer's own would be
    inlines = (AddressInline, FormerEmailInline)
    readonly_fields = ("date_joined", "adult_confirmed_at", "closed_at", "last_login")
    list_per_page = 50

    def get_list_display(self, request: HttpRequest) -> Any:
        """Staff accounts are a superuser's to see (``get_queryset``): for everyone else a
        column and filters of staff status and groups would always say no and find nothing."""
        shown = super().get_list_display(request)
        return shown if request.user.is_superuser else [f for f in shown if f != "is_staff"]

    def get_list_filter(self, request: HttpRequest) -> Any:
        shown = super().get_list_filter(request)
        if request.user.is_superuser:
            return shown
        return [f for f in shown if f not in ("is_staff", "groups")]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets: list[Any] = [
            (None, {"fields": ("email",)}),
            (_("Profile"), {"fields": PROFILE_FIELDS}),
            (
                _("Status"),
                {
                    "fields": (
                        "is_active",
                        "date_joined",
                        "last_login",
                        "adult_confirmed_at",
                        "closed_at",
                    )
                },
            ),
        ]
        if request.user.is_superuser:
            fieldsets.append((_("Staff"), {"fields": ("is_staff", "is_superuser", "groups")}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Officers correct a profile as a rectification asks; the address the account signs
        in with, and whether it may sign in at all, are for superusers (a caller claiming to
        be the customer must not take the account over through staff)."""
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return (*fields, "email", "is_active")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        replaced = change and "email" in form.changed_data
        if replaced:
            # As ``_hold_sensitive_requests`` does for an address changed on its own page.
            obj.credentials_changed_at = timezone.now()
        super().save_model(request, obj, form, change)
        if replaced:
            account_email_replaced(user=obj, old=form.initial.get("email", ""), new=obj.email)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        """Show support customers only: staff accounts (and a superuser's) are for superusers."""
        queryset: QuerySet[User] = super().get_queryset(request)
        if not request.user.is_superuser:
            queryset = queryset.exclude(Q(is_staff=True) | Q(is_superuser=True))
        return queryset

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """A search for an e-mail address that finds no account says what support can still do:
        people known only to Inper's other systems (a trade-show contact, a newsletter
        subscriber, a shop order as a guest) have no account here, but their requests and
        choices can be recorded by their address."""
        response = super().changelist_view(request, extra_context)
        context: dict[str, Any] = getattr(response, "context_data", None) or {}
        term = request.GET.get(SEARCH_VAR, "").strip()
        changelist = context.get("cl")
        if changelist is None or changelist.result_count:
            return response
        if _looks_like_email(term):
            # Whatever the list's filters, and also a staff account the list does not show.
            unknown = [term] if not _has_account(term) else []
        else:
            # The number of an order the shop has, placed as a guest: its address.
            from dsr.identity import emails_for_order_number

            unknown = sorted(e for e in emails_for_order_number(term) if not _has_account(e))
            if unknown:
                context["order_number"] = term
        if unknown:
            context["no_account_for"] = unknown[0]
            # The links to record for it name it by a kept search's key, not in the address.
            context["no_account_key"] = search_keep(request, unknown[0])
            context["can_record_request"] = request.user.has_perm("dsr.add_datasubjectrequest")
            context["can_record_choice"] = request.user.has_perm("consent.record_on_behalf")
        return response

    def get_search_fields(self, request: HttpRequest) -> Any:
        """Names are matched without their accents: "Muller" finds "Müller" and "Jose" "José",
        as support types what they hear on the phone (on SQLite too: ``privacy_portal.sqlite``)."""
        fields = super().get_search_fields(request)
        return [f"{name}__unaccent" if name in _NAME_FIELDS else name for name in fields]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[User], search_term: str
    ) -> tuple[QuerySet[User], bool]:
        """Also find customers by phone number typed in any common format, and by the number
        of an order in a store that knows order numbers (the shop)."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Phones are stored as +<country><number>; match typed numbers by their digits, with
        # or without the country code or a national leading zero.
        # "+49 (0)30 …": the bracketed national zero is not dialled with the country code.
        digits = re.sub(r"\D", "", search_term.replace("(0)", "")).lstrip("0")
        if len(digits) >= 6:
            results |= queryset.filter(phone__contains=digits)
        from dsr.identity import emails_for_order_number

        emails = emails_for_order_number(search_term)
        if emails:
            same = Q()
            for email in emails:
                same |= Q(email__iexact=email)
            owners = EmailAddress.objects.filter(same).values("user_id")
            results |= queryset.filter(same | Q(pk__in=owners))
        return results, may_have_duplicates

    def _audit_scope(self, obj: Any) -> str:
        return f"accounts.user:{obj.pk}"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        """The customer's page links to their requests by a kept search of their address."""
        if obj is not None:
            context["their_requests_key"] = search_keep(request, obj.email)
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(Address)
class AddressAdmin(CorrectionsOnRequests):
    form = AddressForm
    list_display = ("__str__", "user", "city", "country", "is_default_shipping")
    list_filter = ("country",)
    search_fields = ("user__email", "recipient", "city", "postal_code")
    raw_id_fields = ("user",)
    list_select_related = ("user",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Address]:
        """Show the addresses of customers only, as the customer list does: a staff account's
        address (and its e-mail address beside it) is for superusers."""
        queryset: QuerySet[Address] = super().get_queryset(request)
        if not request.user.is_superuser:
            queryset = queryset.exclude(Q(user__is_staff=True) | Q(user__is_superuser=True))
        return queryset

    def _audit_scope(self, obj: Any) -> str:
        return f"accounts.user:{obj.user_id}"


# allauth's own admin for authenticators shows their secrets; staff may only see and remove
# them (to reset a lost second factor), and only superusers.
if admin.site.is_registered(Authenticator):
    admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(AuditedModelAdmin):
    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    fields = ("user", "type", "created_at", "last_used_at")
    readonly_fields = fields
    raw_id_fields = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def _audit_scope(self, obj: Any) -> str:
        return f"accounts.user:{obj.user_id}"


def _changed_label(model: Any, name: str) -> str:
    """Return a field as an admin change message names it (its label, untranslated)."""
    with translation.override(None):
        return str(capfirst(model._meta.get_field(name).verbose_name))


# allauth's admin of e-mail addresses (account data) and Django's of staff roles (who may do
# what): superusers only, and audited like every other change here.
if admin.site.is_registered(EmailAddress):
    admin.site.unregister(EmailAddress)
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


def _hold_sensitive_requests(user_id: int) -> None:
    """A sign-in address changed in the admin holds the account's copies and erasures for an
    officer, as one changed by its owner does (``DSR_HOLD_AFTER_CREDENTIAL_CHANGE_HOURS``): a
    caller who talked staff into it must not receive or erase the owner's data unnoticed."""
    User.objects.filter(pk=user_id).update(credentials_changed_at=timezone.now())


@admin.register(EmailAddress)
class EmailAddressAdmin(AuditedModelAdmin, AllauthEmailAddressAdmin):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "email" in form.changed_data or "user" in form.changed_data:
            _hold_sensitive_requests(obj.user_id)
        if change and "email" in form.changed_data and "user" not in form.changed_data:
            account_email_replaced(user=obj.user, old=form.initial.get("email", ""), new=obj.email)

    def make_verified(self, request: HttpRequest, queryset: QuerySet[EmailAddress]) -> None:
        with transaction.atomic():
            unverified = list(queryset.filter(verified=False))
            super().make_verified(request, queryset)
            for address in EmailAddress.objects.filter(
                pk__in=[address.pk for address in unverified], verified=True
            ):
                audit_record(
                    actor=request.user,
                    action="admin.changed",
                    target=address,
                    scope=self._audit_scope(address),
                    after={"fields": [str(_changed_label(EmailAddress, "verified"))]},
                )

    make_verified.short_description = AllauthEmailAddressAdmin.make_verified.short_description  # type: ignore[attr-defined]

    # Django's admin log names an object by str(), which is the address itself here; the log
    # outlives the account's erasure, so it names the address by its id, as for accounts.
    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return _named_by_id(super().log_addition(request, obj, message))

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return _named_by_id(super().log_change(request, obj, message))

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        return _named_by_id(super().log_deletions(request, queryset))

    def _audit_scope(self, obj: Any) -> str:
        return f"accounts.user:{obj.user_id}"


def _named_by_id(logged: Any) -> Any:
    """Replace the e-mail address in the admin log entries ``logged`` by its id."""
    entries = logged if isinstance(logged, list) else [logged]
    for entry in entries:
        if isinstance(entry, LogEntry) and entry.pk is not None:
            entry.object_repr = f"{capfirst(EmailAddress._meta.verbose_name)} #{entry.object_id}"
            LogEntry.objects.filter(pk=entry.pk).update(object_repr=entry.object_repr)
    return logged


@admin.register(Group)
class GroupAdmin(AuditedModelAdmin, DjangoGroupAdmin):
    pass
