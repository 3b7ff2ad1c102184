"""The German translation: every entry translated and compiled, formal throughout ("Sie",
also for django-allauth's texts, whose own German says "du"), and no English left on the pages
customers see in German."""

from __future__ import annotations

import gettext
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import translation

from dsr.models import State
from tests.conftest import login, require
from tests.dsr.helpers import file_request, open_package, run_pending_tasks
from tests.factories import AddressFactory, UserFactory

CATALOGUES = [Path(path) / "de" / "LC_MESSAGES" / "django.po" for path in settings.LOCALE_PATHS]
INFORMAL = re.compile(r"\b(du|dich|dir|dein|deine[mnrs]?)\b", re.IGNORECASE)

# English that a German page must not show: the portal's own texts and allauth's.
ENGLISH = (
    "Sign in",
    "Sign out",
    "Sign In",
    "Sign Up",
    "Forgot your password?",
    "Password",
    "Email address",
    "E-mail address",
    "My account",
    "Your privacy",
    "Privacy choices",
    "Cookie settings",
    "Save",
    "Cancel",
    "request",
    "Requests",
    "Two-factor",
    "Skip to main content",
)
# Words that occur in English sentences and never in German ones.
ENGLISH_WORDS = re.compile(r"\b(the|and|your|you|with|this|that|for|we|is|are|not|of|to)\b")
# Names that German uses as they are.
NAMES = {"Isle of Man"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} (GNU gettext) is not installed")
    assert path is not None
    return path


def _catalogue(path: Path) -> dict[Any, str]:
    with path.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


def _entries(output: str) -> list[str]:
    """Return the msgids in a PO file's text, without the header."""
    return [m for m in re.findall(r'^msgid "(.*)"$', output, re.MULTILINE) if m]


# --- the catalogues --------------------------------------------------------------------------


def _untranslated_and_fuzzy(po: Path) -> list[str]:
    """Return the msgids of the catalogue's untranslated and fuzzy entries."""
    found = []
    for option in ("--untranslated", "--only-fuzzy"):
        output = subprocess.run(
            [_tool("msgattrib"), option, "--no-obsolete", str(po)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found += _entries(output)
    return found


def _compiled_is_stale(po: Path, mo: Path, work: Path) -> bool:
    """Return whether the compiled catalogue ``mo`` says something else than ``po``."""
    fresh = work / "fresh.mo"
    subprocess.run([_tool("msgfmt"), "-o", str(fresh), str(po)], check=True)
    return _catalogue(mo) != _catalogue(fresh)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.parent.parent.parent.name))
def test_every_entry_is_translated_and_none_is_fuzzy(po):
    assert _untranslated_and_fuzzy(po) == [], "run `make messages`, translate, unflag fuzzy"
    # msgfmt --check: placeholders (python-format), plural forms and the header are right.
    checked = subprocess.run(
        [_tool("msgfmt"), "--check", "-o", "/dev/null", str(po)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.parent.parent.parent.name))
def test_the_compiled_catalogue_is_that_of_the_po_file(po, tmp_path):
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `make messages`"
    assert not _compiled_is_stale(po, mo, tmp_path), f"{mo} is stale: run `make messages`"


def test_the_catalogue_checks_find_what_they_look_for(tmp_path):
    po = tmp_path / "django.po"
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    po.write_text(
        header + 'msgid "Done"\nmsgstr "Erledigt"\n\n'
        '#, fuzzy\nmsgid "Doing"\nmsgstr "Erledigt"\n\nmsgid "To do"\nmsgstr ""\n'
    )
    assert sorted(_untranslated_and_fuzzy(po)) == ["Doing", "To do"]
    mo = tmp_path / "django.mo"
    subprocess.run([_tool("msgfmt"), "-o", str(mo), str(po)], check=True)
    assert not _compiled_is_stale(po, mo, tmp_path)
    po.write_text(po.read_text().replace('msgstr "Erledigt"', 'msgstr "Fertig"', 1))
    assert _compiled_is_stale(po, mo, tmp_path)


def test_the_wait_message_in_german_says_one_thing():
    with translation.override("de"):
        text = translation.ngettext(
            "For your security we paused this. Please try again in %(minutes)s minute at the "
            "latest.",
            "For your security we paused this. Please try again in %(minutes)s minutes at the "
            "latest.",
            5,
        ) % {"minutes": 5}
    assert text == (
        "Zu Ihrer Sicherheit haben wir dies pausiert. Bitte versuchen Sie es spätestens in "
        "5 Minuten erneut."
    )


def test_no_translation_says_du():
    for po in CATALOGUES:
        for msgid, msgstr in _catalogue(po.with_suffix(".mo")).items():
            assert not INFORMAL.search(msgstr), f"{po}: {msgid!r} is informal: {msgstr!r}"


def test_every_informal_allauth_text_in_use_has_a_formal_override():
    """allauth's German says "du": each of its texts that the installed allauth apps use is
    translated formally in our catalogues (new ones appear here when allauth is upgraded)."""
    root = Path(apps.get_app_config("allauth").path)
    installed = {
        config.name.split(".", 1)[1]
        for config in apps.get_app_configs()
        if config.name.startswith("allauth.")
    }
    assert {"account", "mfa"} <= installed

    def used(path: Path) -> bool:
        parts = path.relative_to(root).parts
        if parts[0] == "templates":
            return parts[1] in installed | {"allauth"}
        return len(parts) == 1 or parts[0] in installed | {"core", "templatetags"}

    sources = " ".join(
        re.sub(r"\s+", " ", path.read_text())
        for path in root.rglob("*")
        if path.suffix in (".py", ".html", ".txt") and used(path)
    )
    theirs = _catalogue(root / "locale" / "de" / "LC_MESSAGES" / "django.mo")
    ours: dict[Any, str] = {}
    for po in CATALOGUES:
        ours.update(_catalogue(po.with_suffix(".mo")))
    missing = []
    for key, text in theirs.items():
        msgid = key[0] if isinstance(key, tuple) else key
        pieces = re.split(r"%\(\w+\)[sd]|%[sd]|\{\w+\}|\s*\n\s*", msgid)
        in_use = msgid and max(pieces, key=len).strip() in sources
        if in_use and INFORMAL.search(text) and key not in ours:
            missing.append(msgid)
    assert missing == [], "add these to locale_allauth/de/LC_MESSAGES/django.po"


#: A sentence that starts by telling "du" what to do ("Gib eine gültige E-Mail Adresse an.").
INFORMAL_IMPERATIVE = re.compile(r"(?:^|[.!?:]\s+)(Gib|Lade|Wähle|Klicke|Bestätige|Gebe)\b")


def test_djangos_own_messages_stay_formal_whichever_app_translates_them_too():
    """An app's German catalogue that also translates one of Django's messages (Django REST
    framework's, informally: "Gib eine gültige E-Mail Adresse an.") wins over Django's own;
    ours puts those formally again."""
    import django

    root = Path(django.__file__).parent / "conf" / "locale" / "de" / "LC_MESSAGES"
    informal = []
    with translation.override("de"):
        for msgid in _catalogue(root / "django.mo"):
            if isinstance(msgid, str) and msgid:
                text = translation.gettext(msgid)
                if INFORMAL.search(text) or INFORMAL_IMPERATIVE.search(text):
                    informal.append((msgid, text))
    assert informal == [], "add these to locale_allauth/de/LC_MESSAGES/django.po"


# --- what customers see -----------------------------------------------------------------------


def _visible_text(page: str) -> str:
    """Return the text a person reads on the page: text nodes and the attributes read out.
    Leave out the text of a published policy: staff publish it in one language (English so
    far), as a whole document."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    page = re.sub(r'<div class="policy-text"[^>]*>.*?</div>', " ", page, flags=re.DOTALL)
    spoken = re.findall(r'\b(?:aria-label|title|placeholder|alt|data-confirm)="([^"]*)"', page)
    text = re.sub(r"<[^>]+>", "\n", page)
    return html.unescape("\n".join([text, *spoken]))


def _assert_german(url: str, page: str) -> None:
    text = _visible_text(page)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    english = [line for line in lines if ENGLISH_WORDS.search(line) and line not in NAMES]
    assert english == [], f"{url} shows English: {english[:5]}"
    for phrase in ENGLISH:
        assert not re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text), (
            f"{url} shows {phrase!r}"
        )
    assert not INFORMAL.search(text), f"{url} speaks informally: {INFORMAL.search(text)}"


@pytest.fixture
def german_customer(customer):
    customer.preferred_language = "de"
    customer.save(update_fields=["preferred_language"])
    AddressFactory(user=customer, is_default_shipping=True)
    return customer


@pytest.fixture
def german_visitor() -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    return client


ANONYMOUS_PAGES = [
    "/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/requests/new/",
    "/privacy/cookies/",
    "/privacy/statement/",
    "/privacy/cookie-policy/",
    "/no-such-page/",
]
CUSTOMER_PAGES = [
    "/",
    "/account/",
    "/account/data/",
    "/account/close/",
    "/privacy/",
    "/privacy/cookies/",
    "/privacy/history/",
    "/requests/",
    "/requests/new/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/2fa/",
    "/accounts/reauthenticate/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_pages_for_visitors_show_no_english_in_german(german_visitor, url):
    response = german_visitor.get(url)
    assert response.status_code in (200, 404)
    assert response["Content-Language"] == "de"
    _assert_german(url, response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize("url", CUSTOMER_PAGES)
def test_pages_for_customers_show_no_english_in_german(german_customer, url):
    client = login(Client(), german_customer, reauthenticated=True)
    response = client.get(url)
    assert response.status_code == 200
    _assert_german(url, response.content.decode())


@pytest.mark.django_db
def test_the_english_check_finds_english(client):
    with pytest.raises(AssertionError, match="shows English"):
        _assert_german("/", client.get("/").content.decode())


@pytest.mark.django_db
def test_a_request_page_shows_no_english_in_german(german_customer):
    request = file_request(type="access", user=german_customer)
    assert request.language == "de"
    client = login(Client(), german_customer)
    url = f"/requests/{request.reference}/"
    _assert_german(url, client.get(url).content.decode())


@pytest.mark.django_db
def test_allauth_pages_speak_formally_in_german(german_visitor, german_customer):
    """Our formal catalogue wins over allauth's informal one."""
    login_page = german_visitor.get("/accounts/login/").content.decode()
    assert "Passwort vergessen?" in login_page
    assert ">Anmelden<" in login_page
    reset = german_visitor.get("/accounts/password/reset/").content.decode()
    assert "Geben Sie unten Ihre E-Mail-Adresse ein" in reset
    assert "Gib deine" not in reset
    signup = german_visitor.get("/accounts/signup/").content.decode()
    assert "Sie haben bereits ein Konto?" in signup

    client = login(Client(), german_customer, reauthenticated=True)
    emails = client.get("/accounts/email/").content.decode()
    assert "Aktuelle E-Mail-Adresse" in emails
    assert "E-Mail-Adresse ändern" in emails
    reauthenticate = client.get("/accounts/reauthenticate/").content.decode()
    assert "fragen wir noch einmal, wer Sie sind" in reauthenticate
    assert "Geben Sie Ihr Passwort ein:" in reauthenticate


@pytest.mark.django_db
def test_allauth_emails_to_a_german_customer_are_formal(german_customer):
    Client().post("/accounts/password/reset/", {"email": german_customer.email})
    [message] = mail.outbox
    assert "Jemand, hoffentlich Sie, hat darum gebeten" in message.body
    assert "Passwort" in message.subject
    assert not INFORMAL.search(message.subject + message.body)


@pytest.mark.django_db
def test_the_cookie_banner_speaks_german(client):
    config = client.get("/privacy/banner/config.json?lang=de").json()
    texts = [*config["texts"].values()]
    for category in config["categories"]:
        texts += [category["title"], category["description"]]
    assert config["texts"]["accept_all"] == "Alle akzeptieren"
    assert [text for text in texts if ENGLISH_WORDS.search(text)] == []


@pytest.mark.django_db
def test_a_german_customers_access_package_explains_itself_in_german(german_customer):
    english = UserFactory(preferred_language="en")
    german = run_pending_tasks(file_request(type="access", user=german_customer))
    other = run_pending_tasks(file_request(type="access", user=english))
    assert german.state == other.state == State.COMPLETED

    archive = open_package(german)
    cover = archive.read("index.html").decode()
    assert "Ihre personenbezogenen Daten bei Inper" in cover
    # The portal's own store describes itself in the person's language.
    assert "Kundenkonten, Adressen, Marketing- und Cookie-Entscheidungen" in cover
    assert "Keine außerhalb von Inper" in cover
    entities = json.loads(archive.read("data-dictionary.json"))["portal"]["entities"]
    assert entities["account"]["columns"]["first_name"] == "Vorname"
    assert entities["email_addresses"]["columns"]["verified"] == (
        "Ob Sie die Adresse bestätigt haben"
    )
    # The worker's language does not leak between requests.
    entities = json.loads(open_package(other).read("data-dictionary.json"))["portal"]["entities"]
    assert entities["account"]["columns"]["first_name"] == "first name"


@pytest.mark.django_db
def test_the_german_data_dictionary_has_no_english_column_descriptions(german_customer):
    from django.utils import translation

    from dsr.connectors.portal import _descriptions, declarations

    earlier = run_pending_tasks(file_request(type="access", user=german_customer))
    german = run_pending_tasks(file_request(type="access", user=german_customer))
    assert earlier.state == german.state == State.COMPLETED and earlier.completed_at

    entities = json.loads(open_package(german).read("data-dictionary.json"))["portal"]["entities"]
    declared = {declaration.entity: declaration for declaration in declarations()}
    assert {"account", "addresses", "privacy_requests"} <= set(entities)
    english = []
    for entity, found in entities.items():
        with translation.override("en"):
            described = {k: str(v) for k, v in _descriptions(declared[entity]).items()}
        english += [
            f"{entity}.{column}: {text}"
            for column, text in found["columns"].items()
            if text == described[column]
        ]
    assert english == []
    # Descriptions of entities this person has no record in are translated too.
    with translation.override("de"):
        german_texts = {
            f"{entity}.{column}": str(text)
            for entity, declaration in declared.items()
            for column, text in _descriptions(declaration).items()
        }
    with translation.override("en"):
        english_texts = {
            f"{entity}.{column}": str(text)
            for entity, declaration in declared.items()
            for column, text in _descriptions(declaration).items()
        }
    assert [key for key, text in german_texts.items() if text == english_texts[key]] == []


def test_every_text_in_the_code_is_in_the_catalogue(tmp_path):
    """``make messages`` on a copy of the project adds no entry: no text of the code or the
    templates is shown in English to a German reader for want of an entry."""
    _tool("xgettext")
    root = Path(settings.BASE_DIR)
    copy = tmp_path / "project"
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo")
    for name in ("privacy_portal", "accounts", "consent", "dsr", "templates", "locale"):
        shutil.copytree(root / name, copy / name, ignore=ignored)
    for path in settings.LOCALE_PATHS[1:]:  # other catalogues: present, not regenerated
        shutil.copytree(path, copy / Path(path).name, ignore=ignored)
    shutil.copy(root / "manage.py", copy / "manage.py")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "de", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    po = "locale/de/LC_MESSAGES/django.po"
    missing = set(_entries((copy / po).read_text())) - set(_entries((root / po).read_text()))
    assert missing == set(), f"not in {po}: run `make messages` and translate them"


@pytest.mark.parametrize(
    ("language", "names"),
    [
        ("en", {"NR": "Nauru", "SA": "Saudi Arabia", "BS": "Bahamas"}),
        ("de", {"NR": "Nauru", "SA": "Saudi-Arabien", "PG": "Papua-Neuguinea", "HK": "Hongkong"}),
    ],
)
def test_countries_are_named_as_people_write_them(language, names):
    from django_countries import countries

    with translation.override(language):
        listed = dict(countries)
    assert {code: listed[code] for code in names} == names


def test_the_demo_shops_reasons_for_keeping_records_read_in_the_persons_language():
    """A store's configuration holds its reasons in English; the demo's are in the catalogue,
    so that a German customer's erasure summary gives them in German."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from dsr.demo.shop import store_config

    basis = store_config("sqlite://")["tables"]["orders"]["retention"]["basis"]
    row = {
        "action": "erase",
        "deleted": 2,
        "anonymised": 3,
        "retained": [{"name": "Bestellungen", "count": 3, "anonymised": True, "basis": basis}],
    }
    with translation.override("de"):
        text = render_to_string("dsr/receipt_outcome.txt", {"row": row})
    assert "Bestellungen: " in text and "Handels- und Steuerrecht (HGB §257, AO §147)" in text
    assert "commercial and tax law" not in text
