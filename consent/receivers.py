"""At sign-in, the browser's banner choice is linked to the account (latest choice wins); a
changed e-mail address or phone number makes the account's cached consent answer stale (it
names the channels on which they are suppressed)."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account import signals as account_signals
from django.db.models.signals import post_save
from django.dispatch import receiver

from .cookie import banner_cookie_of
from .selectors import consent_current_forget

logger = logging.getLogger(__name__)


@receiver(account_signals.user_logged_in)
def _link_banner_choice(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    cookie = banner_cookie_of(request) if request is not None else None
    if cookie is None:
        return
    from .services import consent_link_visitor

    try:
        consent_link_visitor(user=user, visitor_id=cookie.visitor_id, request=request)
    except Exception:  # signing in must never fail because of the banner
        logger.exception("linking the banner choice failed")


#: The account's fields its cached consent answer depends on.
_ANSWERED_FIELDS = frozenset({"email", "phone"})


@receiver(post_save, sender="accounts.User")
def _forget_answer(
    sender: Any, instance: Any, created: bool, update_fields: Any, **kwargs: Any
) -> None:
    if not created and (update_fields is None or _ANSWERED_FIELDS & set(update_fields)):
        consent_current_forget(instance.pk)
