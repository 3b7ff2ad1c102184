"""Validation of what customers type about themselves."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.encoding import punycode
from django.utils.translation import gettext as _


def normalise_phone(raw: str, *, region: str = "") -> str:
    """Return ``raw`` in E.164 (``+4930123456``); raise ValidationError if it is not a number.

    A number without a country code is read as a number of ``region`` (an ISO country code).
    """
    raw = raw.strip()
    if not raw:
        return ""
    if raw.startswith("00"):
        # The international call prefix of most of the world, typed for the "+".
        raw = "+" + raw[2:]
    if len(raw) > 32:
        raise ValidationError(_("That phone number is too long."), code="phone_length")
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("Enter a phone number with its country code, for example +49 30 1234567."),
            code="phone_invalid",
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _(
                "That does not look like a valid phone number. Please check it and include the "
                "country code, for example +49 30 1234567."
            ),
            code="phone_invalid",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


#: Postal codes of the countries most of Inper's customers live in: how each is written, with
#: an example for the message. Other countries' codes are taken as typed.
POSTAL_CODES: dict[str, tuple[str, str]] = {
    "AT": (r"\d{4}", "1010"),
    "AU": (r"\d{4}", "2000"),
    "BE": (r"\d{4}", "1000"),
    "CA": (r"[A-Z]\d[A-Z] \d[A-Z]\d", "K1A 0B1"),
    "CH": (r"\d{4}", "8001"),
    "CZ": (r"\d{3} \d{2}", "110 00"),
    "DE": (r"\d{5}", "10115"),
    "DK": (r"\d{4}", "1050"),
    "ES": (r"\d{5}", "28001"),
    "FI": (r"\d{5}", "00100"),
    "FR": (r"\d{5}", "75001"),
    "GB": (r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", "SW1A 1AA"),
    "IE": (r"[A-Z]\d[\dW] [A-Z\d]{4}", "D02 X285"),
    "IT": (r"\d{5}", "00118"),
    "LI": (r"\d{4}", "9490"),
    "LU": (r"\d{4}", "1111"),
    "NL": (r"\d{4} [A-Z]{2}", "1012 AB"),
    "NO": (r"\d{4}", "0150"),
    "PL": (r"\d{2}-\d{3}", "00-001"),
    "PT": (r"\d{4}-\d{3}", "1000-001"),
    "SE": (r"\d{3} \d{2}", "111 22"),
    "US": (r"\d{5}(-\d{4})?", "94105"),
}


def normalise_postal_code(raw: str, country: str) -> str:
    """Return the postal code ``raw`` as ``country`` writes it (upper case, its space where it
    belongs); raise ValidationError if it cannot be one of that country's."""
    code = " ".join(raw.upper().split())
    known = POSTAL_CODES.get(country)
    if known is None or not code:
        return code
    pattern, example = known
    if country == "LU":
        code = code.removeprefix("L-")
    if " " in example and " " not in code:
        # Typed without its space ("sw1a1aa"): it goes where the example has it, counted
        # from the end (the first part's length varies: "W1A 1AA", "SW1A 1AA").
        tail = len(example) - example.index(" ") - 1
        if len(code) > tail:
            code = f"{code[:-tail]} {code[-tail:]}"
    if not re.fullmatch(pattern, code):
        from django_countries import countries

        raise ValidationError(
            _(
                "This postal code does not fit the country chosen (%(country)s). A postal "
                "code there looks like this: %(example)s."
            ),
            code="postal_code",
            params={"country": countries.name(country), "example": example},
        )
    return code


def age_on(birth: date, today: date) -> int:
    """Return the age in whole years on ``today`` of someone born on ``birth``."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def validate_date_of_birth(value: date, *, today: date) -> None:
    """Refuse dates in the future, implausibly old dates, and people under the minimum age."""
    if value > today:
        raise ValidationError(_("A date of birth cannot be in the future."), code="dob_future")
    if value.year < 1900:
        raise ValidationError(_("Please check the year of the date of birth."), code="dob_old")
    if age_on(value, today) < settings.ACCOUNTS_MINIMUM_AGE:
        raise ValidationError(
            _("Inper's shop and this portal are for adults aged %(age)s or older.")
            % {"age": settings.ACCOUNTS_MINIMUM_AGE},
            code="dob_minor",
        )


# Zero-width (non-)joiners are part of correct spelling in Persian, Indic scripts and emoji;
# the left-to-right, right-to-left and Arabic letter marks, of writing in Arabic and Hebrew
# (unlike overrides, embeddings and isolates, they reorder nothing but the spaces and
# punctuation beside them).
_JOINERS = frozenset("\u200c\u200d\u200e\u200f\u061c")


#: Line and paragraph separators (U+2028, U+2029): line breaks that a text area does not show
#: as such everywhere.
_LINE_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n"})


def normalise_line_breaks(value: str) -> str:
    """Return ``value`` with Unicode's line and paragraph separators as plain newlines (the
    free-text details of a request may span lines, like any text area's)."""
    return value.translate(_LINE_BREAKS)


def validate_plain_text(value: str) -> None:
    """Refuse control and invisible formatting characters (bidirectional overrides and the like)
    in names and addresses: they have no place there and can disguise what is shown."""
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and char not in _JOINERS):
            raise ValidationError(
                _("Please remove invisible or control characters from this field."),
                code="control_characters",
            )


def validate_plain_lines(value: str) -> None:
    """:func:`validate_plain_text` for text of several lines (details, notes, reasons): line
    breaks and tabs are allowed, other control and invisible formatting characters are not."""
    validate_plain_text(value.replace("\n", " ").replace("\r", " ").replace("\t", " "))


#: Characters that can disguise what a text shows: controls other than line breaks and tabs,
#: bidirectional overrides and isolates, zero-width and other invisible format characters. A
#: regular expression's character class, read alike by Python and by JSON Schema (ECMA 262),
#: so that the API's schema can say what its fields refuse.
DISGUISING = (
    "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u00ad\\u180e\\u200b"
    "\\u202a-\\u202e\\u2060-\\u206f\\ufeff\\ufff9-\\ufffb"
)
_DISGUISING = re.compile(f"[{DISGUISING}]")
#: :data:`DISGUISING`, and line breaks and tabs: what a text of one line (a name) refuses.
DISGUISING_ONE_LINE = f"{DISGUISING}\\x09\\x0a\\x0d\\u2028\\u2029"
_DISGUISING_ONE_LINE = re.compile(f"[{DISGUISING_ONE_LINE}]")


def validate_undisguised(value: str) -> None:
    """Refuse the characters of :data:`DISGUISING` in text another Inper system sends (the
    API), which the person and officers read later."""
    if _DISGUISING.search(value):
        raise ValidationError(
            _("Please remove invisible or control characters from this field."),
            code="control_characters",
        )


def validate_undisguised_line(value: str) -> None:
    """:func:`validate_undisguised` for text of one line (a name): line breaks are refused too,
    as the portal's own forms refuse them."""
    validate_undisguised(value)
    if _DISGUISING_ONE_LINE.search(value):
        raise ValidationError(
            _("Please write this on one line."),
            code="line_breaks",
        )


def validate_mailable_email(value: str) -> None:
    """Refuse an address that Django's validator lets through but no e-mail could be sent to:
    invisible or control characters (joiners too: in an address they only disguise it), the
    replacement character of a form sent in another encoding, or a domain that mail cannot
    carry as it is written (one that IDNA cannot encode, whose labels are too long once
    encoded, or that encodes to another domain)."""
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise ValidationError(
            _("Please remove invisible or control characters from this field."),
            code="control_characters",
        )
    domain = value.rpartition("@")[2]
    try:
        if "\ufffd" in value:
            raise UnicodeError
        # The domain mail goes to must be the one stored: IDNA maps some characters (an
        # ideographic full stop becomes a dot) and refuses labels that are not punycode.
        encoded = punycode(domain)
        decoded = encoded.encode("ascii").decode("idna")
        if domain.lower() not in (encoded.lower(), decoded.lower()):
            raise UnicodeError
    except UnicodeError:
        raise ValidationError(EmailValidator.message, code=EmailValidator.code) from None
    if any(len(_alphabets(part)) > 1 for part in (value.rpartition("@")[0], *domain.split("."))):
        # "example.com" typed with a Cyrillic "a" (U+0430): shown like another address.
        raise ValidationError(
            _(
                "This address mixes letters of different alphabets (such as Latin and "
                "Cyrillic) in one part, so it looks like another address: please type it again."
            ),
            code="mixed_alphabets",
        )


#: Alphabets whose letters look alike (homographs): an address mixing them within one part
#: is taken for another.
_LOOKALIKE = ("LATIN", "CYRILLIC", "GREEK")


def _alphabets(text: str) -> set[str]:
    """Return the look-alike alphabets of ``text``'s letters."""
    found = set()
    for char in text:
        if char.isalpha():
            script = unicodedata.name(char, "").split(" ", 1)[0]
            if script in _LOOKALIKE:
                found.add(script)
    return found
