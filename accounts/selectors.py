"""Reads about a customer's account, shaped for the pages that show them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.db.models import QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from privacy_portal.categories import DESCRIPTIONS, DataCategory

from .models import Address, User


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


def _copy_notes() -> Callable[[str], str]:
    """Return, for a category the portal cannot show item by item, where it is kept and how to
    get a copy: from the stores registered as holding it whose copies an access request
    collects, or, if none does, by writing to Inper (no request could promise it)."""
    from dsr.models import Action, DataStore
    from dsr.services import connector_supports

    copied: dict[str, list[str]] = {}
    for store in DataStore.objects.filter(enabled=True).order_by("position", "name"):
        if connector_supports(store, Action.EXPORT):
            for key in store.categories or ():
                copied.setdefault(key, []).append(store.name)

    def note(key: str) -> str:
        if key in copied:
            return _("Kept in: %(stores)s. An access request gives you a copy of it.") % {
                "stores": ", ".join(copied[key])
            }
        return _(
            "None of the systems this portal reaches holds it. If Inper holds any of it about "
            "you, write to %(email)s for a copy."
        ) % {"email": settings.PORTAL_PRIVACY_EMAIL}

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
            actions=[(_("Edit my profile"), "accounts:profile")],
        ),
        _category(
            DataCategory.CONTACT,
            items=[
                HeldItem(_("Phone"), _not_set(user.phone)),
                HeldItem(_("Addresses in your address book"), str(address_count)),
            ],
            actions=[(_("Manage my addresses"), "accounts:profile")],
        ),
        *[_category(key, note=ask_copy(key)) for key in elsewhere],
        # The portal keeps the person's choices itself: they see and change them there.
        _category(
            DataCategory.MARKETING,
            items=_marketing_choices(user),
            note=_(
                "Which of our e-mails you opened and the like is kept in Inper's other "
                "systems. An access request gives you a copy of it."
            ),
            actions=[(_("Manage my choices"), "consent:preferences")],
        ),
        _category(
            DataCategory.COOKIES,
            note=_(
                "Your cookie choices are kept for each browser, in your cookie settings. What "
                "you viewed and searched on our websites is kept in Inper's other systems. An "
                "access request gives you a copy of it."
            ),
            actions=[(_("Cookie settings"), "consent:cookies")],
        ),
        *[
            _category(key, note=ask_copy(key))
            for key in (DataCategory.DEVICE, DataCategory.THIRD_PARTY)
        ],
    ]
