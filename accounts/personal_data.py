"""What the accounts app holds about a person, for access and erasure requests."""

from django.utils.translation import gettext_lazy as _

from dsr.connectors.portal import ERASE_DELETE, ModelDeclaration

DECLARATIONS = [
    ModelDeclaration(
        model="accounts.Address",
        entity="addresses",
        identity="user_id",
        identity_kind="customer_id",
        fields=(
            "label",
            "recipient",
            "line1",
            "line2",
            "postal_code",
            "city",
            "region",
            "country",
            "is_default_shipping",
            "created_at",
            "updated_at",
        ),
        erase=ERASE_DELETE,
        order=10,
    ),
    ModelDeclaration(
        model="account.EmailAddress",
        entity="email_addresses",
        identity="user_id",
        identity_kind="customer_id",
        fields=("email", "verified", "primary"),
        erase=ERASE_DELETE,
        descriptions={
            "verified": _("Whether you confirmed the address"),
            "primary": _("Whether it is the address we write to"),
        },
        order=10,
    ),
    ModelDeclaration(
        model="mfa.Authenticator",
        entity="second_factors",
        identity="user_id",
        identity_kind="customer_id",
        fields=("type", "created_at", "last_used_at"),
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
        identity="user_id",
        identity_kind="customer_id",
        fields=("expire_date",),
        erase=ERASE_DELETE,
        descriptions={"expire_date": _("When the session ends unless you use the portal")},
        order=10,
    ),
    ModelDeclaration(
        model="accounts.User",
        entity="account",
        identity="pk",
        identity_kind="customer_id",
        fields=(
            "email",
            "first_name",
            "last_name",
            "phone",
            "date_of_birth",
            "country",
            "preferred_language",
            "date_joined",
            "last_login",
            "adult_confirmed_at",
            "closed_at",
        ),
        erase=ERASE_DELETE,
        order=90,
    ),
]
