"""Checking what only the person would know (an order number) against the stores."""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from privacy_portal.pseudonymise import normalise_email

from .connectors.base import StoreError, Subject
from .connectors.registry import connector_for
from .models import DataStore, DataSubjectRequest

logger = logging.getLogger(__name__)


def account_id_for(email: str) -> str | None:
    """Return the id of the account whose verified address is ``email``, if there is one.

    A request filed without signing in (by a guest, or recorded by staff) is about the account
    that holds the same address: the person proved control of that address, or staff checked
    who they are, before anything runs."""
    from allauth.account.models import EmailAddress

    user_id = (
        EmailAddress.objects.filter(email__iexact=normalise_email(email), verified=True)
        .values_list("user_id", flat=True)
        .first()
    )
    return str(user_id) if user_id is not None else None


def account_holding(email: str) -> Any | None:
    """Return the active account whose own address is ``email``, verified, or None.

    "Own" is the account's address (``User.email``, compared as the portal compares addresses:
    :func:`~privacy_portal.pseudonymise.normalise_email`), not merely one of its addresses: a
    request filed for it then has the subject the account's own requests have, so that the
    one open request per person and type still holds."""
    from accounts.models import User

    account_id = account_id_for(email)
    if account_id is None:
        return None
    user = User.objects.filter(pk=account_id, is_active=True).first()
    if user is None or normalise_email(user.email) != normalise_email(email):
        return None
    return user


def _name_words(name: str) -> list[str]:
    """The words of ``name`` as compared: without accents, case or punctuation."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    return re.findall(r"\w+", plain)


def account_name_differs(request: DataSubjectRequest, account: Any = None) -> str:
    """Return the name of the account ``request`` is about if the name given with the request
    is not theirs ("" if it is, or either is missing): the officer must see that the person
    who asked may not be the account holder, whatever the e-mail address says. Accents, case,
    word order and extra names (a middle name, a name at birth) do not make a difference; a
    surname the account does not have does. ``account``: the account to compare with, where the
    request is not linked to it (a duplicate recorded by staff for its address)."""
    user = account if account is not None else (request.user if request.user_id else None)
    if user is None or not request.full_name:
        return ""
    holder = user.full_name
    given, theirs = set(_name_words(request.full_name)), _name_words(holder)
    if not theirs or theirs[-1] in given:
        return ""
    return str(holder)


def subject_of(request: DataSubjectRequest) -> Subject:
    """Return the identities of the request's subject, as connectors take them."""
    data = request.snapshot()
    email = data.get("email") or request.email
    return Subject(
        email=email,
        customer_id=data.get("customer_id") or account_id_for(email),
        phone=data.get("phone"),
        order_numbers=tuple(data.get("order_numbers") or ()),
        name=data.get("name"),
        former_emails=tuple(data.get("former_emails") or ()),
    )


def confirm_knowledge(request: DataSubjectRequest) -> bool:
    """Return True if a store that knows order numbers ties the given one to the address."""
    subject = subject_of(request)
    if not subject.order_numbers:
        return False
    for store in DataStore.objects.filter(enabled=True):
        if "order_number" not in (store.identities or []):
            continue
        try:
            if connector_for(store).confirm_identity(subject):
                return True
        except StoreError:
            logger.warning("identity check failed", extra={"store": store.key})
    return False


#: What a typed search term must look like to be looked up as an order number in the stores
#: (a word of letters, digits and dashes: not an address, a name or a phone number).
ORDER_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/_.]{2,63}")


def emails_for_order_number(term: str) -> set[str]:
    """Return the e-mail addresses the stores that know order numbers tie to ``term`` (for
    support: the customer calling about an order). A store that cannot answer is skipped."""
    term = term.strip()
    if not ORDER_NUMBER.fullmatch(term) or not any(ch.isdigit() for ch in term):
        return set()
    found: set[str] = set()
    for store in DataStore.objects.filter(enabled=True):
        if "order_number" not in (store.identities or []):
            continue
        try:
            found.update(connector_for(store).emails_for_order_number(term))
        except StoreError:
            logger.warning("order number search failed", extra={"store": store.key})
    return found
