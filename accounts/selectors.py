"""Reads about a customer's account, shaped for the pages that show them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from privacy_portal.categories import DESCRIPTIONS, DataCategory

from .models import Address, FormerEmail, User


@dataclass(frozen=True)
class HeldItem:
    label: str
    value: str


@dataclass(frozen=True)
class CategoryOverview:
    key: str
    title: str
    description: str
    items: list[HeldItem] = field(default_factory=list)
    note: str = ""
    actions: list[tuple[str, str]] = field(default_factory=list)


def user_addresses(user: User) -> QuerySet[Address]:
    """Return ``user``'s addresses, default first."""
    return Address.objects.filter(user=user).order_by("-is_default_shipping", "id")


def account_former_emails(
    user_id: int | str | None, *, searchable: bool = False
) -> tuple[str, ...]:
    """Return the addresses the account had before, oldest first. ``searchable``: only those
    no other account has since proven to be its own (an address given up can come to someone
    else, whose records a search by it would find)."""
    if user_id is None:
        return ()
    former = FormerEmail.objects.filter(user_id=user_id)
    if searchable:
        from allauth.account.models import EmailAddress

        taken = EmailAddress.objects.filter(email__iexact=OuterRef("email"), verified=True)
        former = former.exclude(Exists(taken.exclude(user_id=user_id)))
    return tuple(former.values_list("email", flat=True).order_by("replaced_at", "id"))


def _not_set(value: object) -> str:
    return str(value) if value else _("not given")


def _marketing_choices(user: User) -> list[HeldItem]:
    """Each marketing channel and whether the person agreed to it, as the preference centre
    shows them."""
    from consent.models import PurposeKind
    from consent.selectors import consent_current
    from consent.services import subject_of_user

    items = []
    for choice in consent_current(subject_of_user(user), kinds=(PurposeKind.MARKETING,)):
        if choice.status == "pending":
            value = _("Waiting for your confirmation")
        else:
            value = _("on") if choice.granted else _("off")
        items.append(HeldItem(choice.title, value))
    return items


def _category(key: str, **shown: Any) -> CategoryOverview:
    """A category of the privacy statement, by its title and description, with ``shown``."""
    return CategoryOverview(
        key=key,
        title=str(DataCategory(key).label),
        description=str(DESCRIPTIONS[key]),
        **shown,
    )


def _copy_notes() -> Callable[..., str]:
    """Return, for a category, the systems registered as holding it (in the person's words)
    and how to get a copy: an access request collects the copies of those that can be copied;
    for the others, or if no system holds it, the person writes to Inper. ``elsewhere``
    leaves the portal out (for what the page already shows)."""
    from dsr.models import Action, DataStore
    from dsr.portal_store import PORTAL_STORE_KEY
    from dsr.services import connector_supports

    holders: dict[str, list[tuple[str, bool, bool]]] = {}
    for store in DataStore.objects.filter(enabled=True).order_by("position", "name"):
        copied = connector_supports(store, Action.EXPORT)
        for key in store.categories or ():
            holders.setdefault(key, []).append(
                (store.display_name(), copied, store.key == PORTAL_STORE_KEY)
            )

    def note(key: str, *, elsewhere: bool = False) -> str:
        held = [entry for entry in holders.get(key, []) if not (elsewhere and entry[2])]
        email = settings.PORTAL_PRIVACY_EMAIL
        if not held:
            if elsewhere:
                return ""
            return _(
                "None of the systems this portal reaches holds it. If Inper holds any of it "
                "about you, write to %(email)s for a copy."
            ) % {"email": email}
        names = ", ".join(name for name, _copied, _portal in held)
        others = [name for name, copied, _portal in held if not copied]
        where = (_("Also kept in: %(stores)s.") if elsewhere else _("Kept in: %(stores)s.")) % {
            "stores": names
        }
        if not others:
            copy = _("An access request gives you a copy of it.")
        elif len(others) < len(held):
            copy = _(
                "An access request gives you a copy of it, except from %(others)s: write to "
                "%(email)s to ask what they hold about you."
            ) % {"others": ", ".join(others), "email": email}
        else:
            copy = _(
                "This portal cannot copy it from there: write to %(email)s to ask what they "
                "hold about you."
            ) % {"email": email}
        return f"{where} {copy}"

    return note


def data_overview(user: User) -> list[CategoryOverview]:
    """Return what Inper holds about ``user``, by category of the privacy statement.

    Categories the portal can read are listed item by item; the others say where the data is
    kept and how to obtain a copy.
    """
    address_count = Address.objects.filter(user=user).count()
    ask_copy = _copy_notes()
    elsewhere = (
        DataCategory.ORDERS,
        DataCategory.SUPPORT,
        DataCategory.CONTRIBUTIONS,
        DataCategory.UPLOADS,
    )
    return [
        _category(
            DataCategory.ACCOUNT,
            items=[
                HeldItem(_("E-mail address"), user.email),
                *(
                    [HeldItem(_("Earlier e-mail addresses"), ", ".join(former))]
                    if (former := account_former_emails(user.pk))
                    else []
                ),
                HeldItem(_("Name"), _not_set(user.full_name)),
                HeldItem(
                    _("Date of birth"),
                    date_format(user.date_of_birth) if user.date_of_birth else _("not given"),
                ),
                HeldItem(_("Country"), _not_set(user.country.name if user.country else "")),
                HeldItem(_("Language"), user.get_preferred_language_display()),
                HeldItem(_("Member since"), date_format(user.date_joined)),
                HeldItem(
                    _("Two-factor authentication"),
                    _("on") if is_mfa_enabled(user) else _("off"),
                ),
            ],
            note=ask_copy(DataCategory.ACCOUNT, elsewhere=True),
            actions=[(_("Edit my profile"), "accounts:profile")],
        ),
        _category(
            DataCategory.CONTACT,
            items=[
                HeldItem(_("Phone"), _not_set(user.phone)),
                HeldItem(_("Addresses in your address book"), str(address_count)),
            ],
            note=ask_copy(DataCategory.CONTACT, elsewhere=True),
            actions=[(_("Manage my addresses"), "accounts:profile")],
        ),
        *[_category(key, note=ask_copy(key)) for key in elsewhere],
        # The portal keeps the person's choices itself: they see and change them there.
        _category(
            DataCategory.MARKETING,
            items=_marketing_choices(user),
            # Which e-mails they opened and the like: in the other systems that hold it.
            note=ask_copy(DataCategory.MARKETING, elsewhere=True),
            actions=[(_("Manage my choices"), "consent:preferences")],
        ),
        _category(
            DataCategory.COOKIES,
            note=" ".join(
                (
                    _("Your cookie choices are kept for each browser, in your cookie settings."),
                    ask_copy(DataCategory.COOKIES, elsewhere=True),
                )
            ),
            actions=[(_("Cookie settings"), "consent:cookies")],
        ),
        *[
            _category(key, note=ask_copy(key))
            for key in (DataCategory.DEVICE, DataCategory.THIRD_PARTY)
        ],
    ]
