"""The categories of personal data named in Inper's privacy statement: one vocabulary for the
"my data" page, the data-store registry and the record of processing."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


class DataCategory(models.TextChoices):
    ACCOUNT = "account", _("Account and profile")
    CONTACT = "contact", _("Contact details and addresses")
    ORDERS = "orders", _("Orders and payments")
    SUPPORT = "support", _("Support requests and communication")
    CONTRIBUTIONS = "contributions", _("Reviews, surveys and forum posts")
    UPLOADS = "uploads", _("Photos and videos you upload")
    MARKETING = "marketing", _("Marketing choices")
    COOKIES = "cookies", _("Cookies and browsing")
    DEVICE = "device", _("Device and connection data")
    THIRD_PARTY = "third_party", _("Information from others")


DESCRIPTIONS: dict[str, StrOrPromise] = {
    DataCategory.ACCOUNT: _(
        "Your name, e-mail address, sign-in details, date of birth, country and language."
    ),
    DataCategory.CONTACT: _("Your phone number and the postal addresses in your address book."),
    DataCategory.ORDERS: _(
        "What you ordered, when, where it was shipped and what you paid. Card details are "
        "tokenised by our payment provider; we never see the full number."
    ),
    DataCategory.SUPPORT: _(
        "Questions you sent us by e-mail, phone or at a trade show, and our answers."
    ),
    DataCategory.CONTRIBUTIONS: _(
        "Product reviews, survey answers and what you post on the Inper Forum (posts there are "
        "public)."
    ),
    DataCategory.UPLOADS: _(
        "Photos and videos you upload, with their file names, length and EXIF data (camera, "
        "time and sometimes location)."
    ),
    DataCategory.MARKETING: _(
        "Whether you agreed to our newsletter, text messages or phone calls, and when."
    ),
    DataCategory.COOKIES: _(
        "Your cookie choices, and what you viewed, searched for and bought on our websites."
    ),
    DataCategory.DEVICE: _(
        "IP address, browser and device details, page response and interaction data, and "
        "country-level location."
    ),
    DataCategory.THIRD_PARTY: _(
        "Information we receive from marketers, partners, researchers and our account "
        "verification service."
    ),
}
