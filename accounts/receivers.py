"""allauth's events written to the audit trail (sign-in, credentials, second factors), and what
signing in leaves behind in the session."""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from privacy_portal.audit.services import audit_record
from privacy_portal.drafts import drafts_forget_others
from privacy_portal.language import language_unless_chosen

from .adapter import login_client_remember
from .services import account_email_replaced, account_record_credentials_change


@receiver(account_signals.user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action="account.logged_in", target=user)


@receiver(user_logged_in)
def _client_known(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Every sign-in (the portal's, the admin's, after the second factor where one is asked).
    if request is not None and hasattr(request, "META"):
        login_client_remember(request, user)


@receiver(user_logged_in)
def _drafts_of_others_forgotten(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Every sign-in (the portal's, the admin's), after the session kept its data.
    if request is not None and hasattr(request, "session"):
        drafts_forget_others(request, user)


@receiver(user_logged_in)
def _speaks_their_language(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # What signing in says ("Signed in as …") is in the person's language, as every page after
    # it is (``UserLanguageMiddleware``): unless they chose one in this browser.
    if request is not None and hasattr(request, "COOKIES"):
        language_unless_chosen(request, getattr(user, "preferred_language", None))


@receiver(account_signals.authentication_step_completed)
def _reauthenticated(sender: Any, request: Any, user: Any, method: str, **kwargs: Any) -> None:
    # A fresh session key after re-authentication: a key seen before it is worth nothing.
    if kwargs.get("reauthenticated") and request is not None and hasattr(request, "session"):
        request.session.cycle_key()
        audit_record(
            actor=user, action="account.reauthenticated", target=user, after={"method": method}
        )


@receiver(account_signals.password_changed)
@receiver(account_signals.password_set)
@receiver(account_signals.password_reset)
def _password_changed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    account_record_credentials_change(user=user, action="account.password.changed")


@receiver(account_signals.email_changed)
def _email_changed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Confirming the address an account signed up with replaces none: nothing changed that
    # should hold the new customer's requests.
    replaced, current = kwargs.get("from_email_address"), kwargs.get("to_email_address")
    if replaced is None:
        return
    account_record_credentials_change(user=user, action="account.email.changed")
    account_email_replaced(
        user=user, old=replaced.email, new=current.email if current is not None else user.email
    )


@receiver(account_signals.email_added)
def _email_added(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action="account.email.added", target=user)


@receiver(account_signals.email_removed)
def _email_removed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action="account.email.removed", target=user)


@receiver(account_signals.email_confirmed)
def _email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    audit_record(
        actor=email_address.user, action="account.email.confirmed", target=email_address.user
    )


@receiver(mfa_signals.authenticator_added)
@receiver(mfa_signals.authenticator_removed)
@receiver(mfa_signals.authenticator_reset)
def _authenticator_changed(
    sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    signal = kwargs.get("signal")
    verb = {
        mfa_signals.authenticator_added: "added",
        mfa_signals.authenticator_removed: "removed",
        mfa_signals.authenticator_reset: "reset",
    }.get(signal, "changed")
    audit_record(
        actor=user, action=f"account.mfa.{verb}", target=user, after={"type": authenticator.type}
    )
