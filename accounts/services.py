"""Changes to customer accounts. Each runs in one transaction and writes its audit event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy_portal.audit.services import audit_record
from privacy_portal.mail import send_email_on_commit

from .closure import closure_handler
from .models import ADDRESS_FIELDS, PROFILE_FIELDS, Address, FormerEmail, User


def _changed(instance: Any, data: Mapping[str, Any], fields: tuple[str, ...]) -> list[str]:
    return [name for name in fields if name in data and getattr(instance, name) != data[name]]


@transaction.atomic
def account_profile_update(*, user: User, actor: User, data: Mapping[str, Any]) -> list[str]:
    """Apply the profile fields in ``data``; return the names of the fields that changed.

    The audit event names the fields, never their values.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    changed = _changed(user, data, PROFILE_FIELDS)
    if not changed:
        return []
    for name in changed:
        setattr(user, name, data[name])
    user.full_clean(exclude=["password", "email"])
    user.save(update_fields=changed)
    audit_record(
        actor=actor,
        action="account.profile.updated",
        target=user,
        after={"fields": sorted(changed)},
    )
    return changed


def _clear_other_defaults(address: Address) -> None:
    Address.objects.filter(user_id=address.user_id, is_default_shipping=True).exclude(
        pk=address.pk
    ).update(is_default_shipping=False)


@transaction.atomic
def address_create(*, user: User, actor: User, data: Mapping[str, Any]) -> Address:
    """Add an address to ``user``'s address book (the first one becomes the default)."""
    # Lock the account row so two parallel adds cannot both pass the limit or both be default.
    User.objects.select_for_update().only("pk").get(pk=user.pk)
    count = Address.objects.filter(user=user).count()
    if count >= settings.ACCOUNTS_MAX_ADDRESSES:
        raise ValidationError(
            _("Your address book is full (%(max)s addresses). Please delete one first.")
            % {"max": settings.ACCOUNTS_MAX_ADDRESSES}
        )
    address = Address(user=user, **{k: v for k, v in data.items() if k in ADDRESS_FIELDS})
    if any(_same_place(address, kept) for kept in Address.objects.filter(user=user)):
        raise ValidationError(_("This address is in your address book already."))
    if count == 0:
        address.is_default_shipping = True
    if address.is_default_shipping:
        Address.objects.filter(user=user, is_default_shipping=True).update(
            is_default_shipping=False
        )
    address.full_clean(exclude=["user"])
    address.save()
    audit_record(actor=actor, action="account.address.created", target=address, scope=user)
    return address


def _same_place(one: Address, other: Address) -> bool:
    """Whether two addresses of a book are the same place for the same recipient (however the
    words were spaced or capitalised)."""
    fields = ("recipient", "line1", "line2", "postal_code", "city", "region", "country")

    def said(address: Address) -> tuple[str, ...]:
        return tuple(" ".join(str(getattr(address, f) or "").split()).casefold() for f in fields)

    return said(one) == said(other)


@transaction.atomic
def address_update(*, address: Address, actor: User, data: Mapping[str, Any]) -> list[str]:
    """Change an address; return the names of the fields that changed."""
    address = Address.objects.select_for_update().get(pk=address.pk)
    if address.is_default_shipping:
        # The default changes only by choosing another address as default.
        data = {**data, "is_default_shipping": True}
    changed = _changed(address, data, ADDRESS_FIELDS)
    if not changed:
        return []
    for name in changed:
        setattr(address, name, data[name])
    if "is_default_shipping" in changed and address.is_default_shipping:
        _clear_other_defaults(address)
    address.full_clean(exclude=["user"])
    address.save()
    audit_record(
        actor=actor,
        action="account.address.updated",
        target=address,
        scope=f"accounts.user:{address.user_id}",
        after={"fields": sorted(changed)},
    )
    return changed


@transaction.atomic
def address_set_default(*, address: Address, actor: User) -> None:
    """Make ``address`` the default shipping address."""
    address = Address.objects.select_for_update().get(pk=address.pk)
    if address.is_default_shipping:
        return
    _clear_other_defaults(address)
    address.is_default_shipping = True
    address.save(update_fields=("is_default_shipping", "updated_at"))
    audit_record(
        actor=actor,
        action="account.address.made_default",
        target=address,
        scope=f"accounts.user:{address.user_id}",
    )


@transaction.atomic
def address_delete(*, address: Address, actor: User) -> None:
    """Delete an address; if it was the default, the oldest remaining one becomes default."""
    address = Address.objects.select_for_update().get(pk=address.pk)
    was_default, user_id, address_id = address.is_default_shipping, address.user_id, address.pk
    address.delete()
    if was_default:
        successor = Address.objects.filter(user_id=user_id).order_by("id").first()
        if successor is not None:
            successor.is_default_shipping = True
            successor.save(update_fields=("is_default_shipping", "updated_at"))
    audit_record(
        actor=actor,
        action="account.address.deleted",
        target=("accounts.address", str(address_id)),
        scope=f"accounts.user:{user_id}",
    )


@transaction.atomic
def account_sessions_end(*, user: User, actor: User | None, reason: str) -> None:
    """End every session of ``user`` on every device."""
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    audit_record(actor=actor, action="account.sessions.ended", target=user, reason=reason)


@transaction.atomic
def account_close(*, user: User, actor: User) -> User:
    """Close ``user``'s account: sign-in is disabled, every session ends, the closure is handed
    to the erasure workflow, and a confirmation e-mail is sent."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.closed_at is not None:
        return user
    user.closed_at = timezone.now()
    user.is_active = False
    user.session_generation += 1
    user.save(update_fields=("closed_at", "is_active", "session_generation"))
    audit_record(actor=actor, action="account.closed", target=user)
    # The handler records the address with the erasure it opens, before it is released.
    handled = closure_handler()(user=user, actor=actor)
    send_email_on_commit(
        template="account/closed",
        to=user.email,
        context={"first_name": user.first_name, "reference": getattr(handled, "reference", "")},
        language=user.preferred_language,
    )
    _account_release_address(user, actor=actor)
    return user


def _account_release_address(user: User, *, actor: User) -> None:
    """Give up a closed account's addresses, so that the person can open a new account with
    them at any time; the closed account keeps placeholders that never receive mail."""
    from allauth.account.models import EmailAddress

    for address in EmailAddress.objects.filter(user=user):
        address.email = f"closed-{user.pk}-{address.pk}@closed.invalid"
        address.primary = False
        address.save(update_fields=("email", "primary"))
    user.email = f"closed-{user.pk}@closed.invalid"
    user.save(update_fields=("email",))
    audit_record(actor=actor, action="account.address_released", target=user)


def account_record_credentials_change(*, user: User, action: str) -> None:
    """Note a password or e-mail change (audited, and remembered to hold sensitive requests)."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(credentials_changed_at=timezone.now())
        audit_record(actor=user, action=action, target=user)


def account_email_replaced(*, user: User, old: str, new: str) -> None:
    """Keep the address the person replaced: Inper's other systems still know them by it, so
    their requests search those systems by it too. Taking an earlier address back makes it
    current again, no longer a former one."""
    from privacy_portal.pseudonymise import normalise_email

    old, new = normalise_email(old), normalise_email(new)
    if not old or old == new:
        return
    FormerEmail.objects.update_or_create(
        user=user, email=old, defaults={"replaced_at": timezone.now()}
    )
    FormerEmail.objects.filter(user=user, email=new).delete()
