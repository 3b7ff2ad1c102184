"""What the accounts app holds about a person, for access and erasure requests."""

from django.utils.translation import gettext_lazy as _

from dsr.connectors.portal import ERASE_DELETE, ModelDeclaration

from .models import ADDRESS_FIELDS, PROFILE_FIELDS

DECLARATIONS = [
    ModelDeclaration(
        model="accounts.Address",
        entity="addresses",
        title=_("addresses"),
        identity="user_id",
        identity_kind="customer_id",
        fields=(*ADDRESS_FIELDS, "created_at", "updated_at"),
        portable=ADDRESS_FIELDS,
        erase=ERASE_DELETE,
        order=10,
    ),
    ModelDeclaration(
        model="account.EmailAddress",
        entity="email_addresses",
        title=_("e-mail addresses"),
        identity="user_id",
        identity_kind="customer_id",
        fields=("email", "verified", "primary"),
        portable=("email", "primary"),
        erase=ERASE_DELETE,
        descriptions={
            "verified": _("Whether you confirmed the address"),
            "primary": _("Whether it is the address we write to"),
        },
        order=10,
    ),
    ModelDeclaration(
        model="accounts.FormerEmail",
        entity="earlier_email_addresses",
        title=_("earlier e-mail addresses"),
        identity="user_id",
        identity_kind="customer_id",
        fields=("email", "replaced_at"),
        erase=ERASE_DELETE,
        descriptions={
            "email": _("An address you used before; Inper's other systems may know you by it"),
            "replaced_at": _("When you replaced it"),
        },
        order=10,
    ),
    ModelDeclaration(
        model="mfa.Authenticator",
        entity="second_factors",
        title=_("second factors"),
        identity="user_id",
        identity_kind="customer_id",
        fields=("type", "created_at", "last_used_at"),
        # How the account is protected: not data to take to another service (GDPR Art. 20).
        portable=(),
        erase=ERASE_DELETE,
        descriptions={
            "type": _("Kind of second factor (the secret itself is not included)"),
            "created_at": _("When you set it up"),
            "last_used_at": _("When you last used it"),
        },
        order=10,
    ),
    ModelDeclaration(
        model="accounts.Session",
        entity="sessions",
        title=_("browsers you are signed in on"),
        staff_title=_("browsers the person is signed in on"),
        identity="user_id",
        identity_kind="customer_id",
        fields=("expire_date",),
        # How the account is protected: not data to take to another service (GDPR Art. 20).
        portable=(),
        erase=ERASE_DELETE,
        descriptions={"expire_date": _("When the session ends unless you use the portal")},
        order=10,
    ),
    ModelDeclaration(
        model="accounts.User",
        entity="account",
        title=_("account"),
        identity="pk",
        identity_kind="customer_id",
        fields=(
            "email",
            *PROFILE_FIELDS,
            "date_joined",
            "last_login",
            "adult_confirmed_at",
            "closed_at",
        ),
        portable=("email", *PROFILE_FIELDS),
        erase=ERASE_DELETE,
        order=90,
    ),
]
