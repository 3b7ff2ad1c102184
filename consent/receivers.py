"""At sign-in, the browser's banner choice is linked to the account (latest choice wins)."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account import signals as account_signals
from django.dispatch import receiver

from .cookie import banner_cookie_of

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
