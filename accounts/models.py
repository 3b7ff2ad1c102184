"""The customer's account and address book."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from privacy_portal.pseudonymise import normalise_email

if TYPE_CHECKING:
    from .sessions import SessionStore


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        """Create an account identified by ``email``."""
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=normalise_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        """Create a superuser (staff, all permissions)."""
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=normalise_email(username or ""))


#: The fields of a customer's profile, which they edit themselves (and staff, correcting it).
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "date_of_birth",
    "country",
    "preferred_language",
)

#: What a person gives of an address (and may change).
ADDRESS_FIELDS = (
    "label",
    "recipient",
    "line1",
    "line2",
    "postal_code",
    "city",
    "region",
    "country",
    "is_default_shipping",
)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who can sign in: a customer, or a member of staff (``is_staff``)."""

    email = models.EmailField(_("e-mail address"), unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    phone = models.CharField(
        _("phone"), max_length=20, blank=True, help_text=_("Stored in international format.")
    )
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    country = CountryField(_("country"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
    )
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    adult_confirmed_at = models.DateTimeField(_("confirmed 18 or older at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # When the password or e-mail address last changed: sensitive requests right after such a
    # change are held (a taken-over account must not export or erase the owner's data).
    credentials_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Part of the session hash: raising it ends every session of the account.
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        indexes = [
            models.Index(fields=("last_name", "first_name"), name="accounts_user_name_idx"),
            models.Index(fields=("phone",), name="accounts_user_phone_idx"),
        ]

    def __str__(self) -> str:
        return f"{_('Account')} #{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.first_name

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django ends sessions whose stored hash no longer matches; including the generation
        # lets the portal end all of an account's sessions at once (closure, takeover).
        return salted_hmac(
            "accounts.User.session",
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class Address(models.Model):
    """A postal address in the customer's address book."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("account")
    )
    label = models.CharField(
        _("label"), max_length=60, blank=True, help_text=_("For example “Home” or “Office”.")
    )
    recipient = models.CharField(_("recipient"), max_length=150)
    line1 = models.CharField(_("street and number"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    region = models.CharField(_("region or state"), max_length=100, blank=True)
    country = CountryField(_("country"))
    is_default_shipping = models.BooleanField(_("default shipping address"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ("-is_default_shipping", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("user",),
                condition=models.Q(is_default_shipping=True),
                name="accounts_address_one_default_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{_('Address')} #{self.pk}"


class FormerEmail(models.Model):
    """An address the account had before the person changed it.

    Inper's other systems (the shop, the newsletter, uploads) know the person by the address
    they gave them, which a change in the portal does not change: requests search them by
    these too. Kept while the account exists; deleted with it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="former_emails"
    )
    email = models.EmailField(_("e-mail address"), max_length=254)
    replaced_at = models.DateTimeField(_("replaced on"), default=timezone.now)

    class Meta:
        verbose_name = _("earlier e-mail address")
        verbose_name_plural = _("earlier e-mail addresses")
        ordering = ("replaced_at", "id")
        constraints = [
            models.UniqueConstraint(fields=("user", "email"), name="accounts_former_email_once")
        ]

    def __str__(self) -> str:
        return self.email


class Session(AbstractBaseSession):
    """A browser's session: Django's database session, plus the account signed in with it,
    so that an erasure deletes the person's sessions (they hold the address they signed in
    with) instead of leaving them until they expire."""

    user_id = models.BigIntegerField(_("account"), null=True, blank=True, db_index=True)

    class Meta(AbstractBaseSession.Meta):
        db_table = "accounts_session"

    @classmethod
    def get_session_store_class(cls) -> type[SessionStore]:
        from .sessions import SessionStore

        return SessionStore
