"""allauth adapter: e-mails in the person's language and in the portal's name, and the adult
confirmation at sign-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import ratelimit
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms import BaseForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from privacy_portal import crypto
from privacy_portal.audit.services import audit_record
from privacy_portal.pseudonymise import keyed_hash, normalise_email, ratelimit_client

from .models import User
from .validators import validate_mailable_email


@dataclass(frozen=True)
class PortalSite:
    """The ``current_site`` of allauth's e-mails ("Hello from …", "Thank you for using …")."""

    name: str
    domain: str


def portal_site() -> PortalSite:
    """Return the portal's name in the active language and the host of ``PORTAL_BASE_URL``.

    Without django.contrib.sites, allauth would name the site after the request's host
    ("Thank you for using localhost:8101!")."""
    return PortalSite(
        name=gettext("Inper Privacy Portal"), domain=urlsplit(settings.PORTAL_BASE_URL).netloc
    )


def on_portal(url: str) -> str:
    """Return ``url``, built by allauth from the host the request came in on, on the portal's
    own address: a link followed on another host (127.0.0.1 for localhost, an internal name)
    would leave the person signed out there."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    base = urlsplit(settings.PORTAL_BASE_URL)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


#: How long a client that signed in to an account keeps a count of failed sign-ins of its own
#: there (see ``AccountAdapter._get_login_attempts_cache_key``).
KNOWN_CLIENT_SECONDS = 90 * 24 * 60 * 60


def _known_client_key(client: str, login: str) -> str:
    """The cache key saying that ``client`` (:func:`ratelimit_client`'s) signed in to ``login``."""
    return "login-known:" + keyed_hash(f"{normalise_email(login)} {client}", purpose="login-known")


def login_client_remember(request: HttpRequest, user: User) -> None:
    """Remember (by a keyed hash, for :data:`KNOWN_CLIENT_SECONDS`) that this client signed in
    to ``user``'s account: someone else's wrong guesses do not lock it out of it."""
    try:
        key = _known_client_key(ratelimit_client("login", request), user.email)
    except PermissionDenied:  # no client address (a sign-in made by code, not by a browser)
        return
    cache.set(key, 1, KNOWN_CLIENT_SECONDS)


def user_display(user: User) -> str:
    """Return how allauth names an account to its owner: by its e-mail address (the account's
    ``str`` is an id, for logs and staff)."""
    return user.email


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Where signing in leads without a ``next`` page: compliance officers to their
        dashboard, other staff to the admin, customers to their account."""
        user = request.user
        if user.has_perm("dsr.use_dashboard"):
            return reverse("dashboard:queue")
        if user.is_staff:
            return reverse("admin:index")
        url: str = super().get_login_redirect_url(request)
        return url

    def clean_email(self, email: str) -> str:
        """Refuse, in every allauth form that takes an address (sign-up, adding one, password
        reset), an address no e-mail could be sent to."""
        validate_mailable_email(email)
        cleaned: str = super().clean_email(email)
        # "exämple.org" and "xn--exmple-cua.org" are one mailbox: one account, one subject.
        return normalise_email(cleaned)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """allauth counts failed sign-ins per account, so that guesses sent from many places
        are limited too; but then five wrong passwords sent by anyone lock the owner out, even
        with the right one. A client that signed in to the account before
        (:func:`login_client_remember`) has a count of its own at that account instead."""
        key: str = super()._get_login_attempts_cache_key(request, **credentials)
        login = str(credentials.get("email", credentials.get("username", "")))
        client = ratelimit_client("login", request)
        return f"{key}:{client}" if cache.get(_known_client_key(client, login)) else key

    def get_from_email(self) -> str:
        """The portal's sender, named in the language the e-mail is written in."""
        from privacy_portal.mail import from_address

        return from_address()

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Send allauth's e-mails in the language of the account they are about, in the
        portal's name, with their links on ``PORTAL_BASE_URL`` like every other e-mail's."""
        user = context.get("user")
        if not isinstance(user, User):
            user = User.objects.filter(email__iexact=email).only("preferred_language").first()
        language = user.preferred_language if user else translation.get_language()
        links = {
            name: on_portal(value)
            for name, value in context.items()
            if name.endswith("_url") and isinstance(value, str)
        }
        try:
            with translation.override(language):
                super().send_mail(
                    template_prefix, email, {**context, **links, "current_site": portal_site()}
                )
        except Exception:
            if template_prefix.startswith("account/email/email_confirmation"):
                # It did not go out: allauth's cooldown for the address must not hold back the
                # next try (the account or address is not kept either: see the URL map).
                ratelimit.clear(self.request, action="confirm_email", key=email.lower())
            raise

    @transaction.atomic
    def save_user(
        self, request: HttpRequest, user: User, form: BaseForm, commit: bool = True
    ) -> User:
        """Save a new account with the adult confirmation and the language in use."""
        user = super().save_user(request, user, form, commit=False)
        if form.cleaned_data.get("confirm_adult"):
            user.adult_confirmed_at = timezone.now()
        language = translation.get_language() or ""
        if language[:2] in {"en", "de"}:
            user.preferred_language = language[:2]
        if commit:
            user.save()
            audit_record(
                actor=user,
                action="account.signed_up",
                target=user,
                after={"adult_confirmed": user.adult_confirmed_at is not None},
            )
        return user


class MFAAdapter(DefaultMFAAdapter):
    """Second factors' secrets (the TOTP key, the recovery codes' seed) are encrypted at rest
    with ``PORTAL_ENCRYPTION_KEYS``, like every other secret the portal keeps."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt_text(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt_text(encrypted_text)
