"""Every e-mail about requests, accounts and consent, sent through the real services, read as
its recipient reads it: in their language, fully rendered, with working absolute links, the
reference, and nobody else's data (and, to officers, none of the requester's)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import resolve
from django.utils import formats, timezone, translation
from django.utils.html import strip_tags
from django.utils.translation import gettext

from dsr import maintenance, notifications
from dsr.models import DataSubjectRequest, IdentityMethod, State, TaskState
from dsr.services import (
    dsr_request_approve,
    dsr_request_extend,
    dsr_request_reject,
    dsr_request_verify_manually,
)
from privacy_portal import mail as portal_mail
from privacy_portal.permissions import COMPLIANCE_GROUP
from tests.dsr.helpers import add_store, answer_without_failed, file_request, run_pending_tasks
from tests.factories import AddressFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LANGUAGES = ["de", "en"]
# Words any German e-mail of the portal uses; an English one uses none of them.
GERMAN = re.compile(r"\b(Sie|Ihre?[nmrs]?|wir|und|der|die|das|Anfrage|Daten)\b")
LINK = re.compile(r"https?://[^\s<>\"')]+")
HREF = re.compile(r'href="([^"]+)"')


@pytest.fixture(autouse=True)
def rendered(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[str, dict[str, Any]]]:
    """Remember, for each message sent, its template and context, so that a German message
    can be compared with the English rendering of the same e-mail."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    render = portal_mail.render_email

    def recording(template: str, context: Any, *, language: str | None = None) -> Any:
        subject, text, html = render(template, context, language=language)
        seen[text] = (template, dict(context))
        return subject, text, html

    monkeypatch.setattr(portal_mail, "render_email", recording)
    return seen


@pytest.fixture
def officers(db: Any) -> dict[str, Any]:
    return {
        language: StaffFactory(group=COMPLIANCE_GROUP, preferred_language=language)
        for language in LANGUAGES
    }


@pytest.fixture
def bystander(db: Any) -> Any:
    user = UserFactory(email="bob.bystander@example.com", first_name="Bob", last_name="Bystander")
    AddressFactory(user=user, line1="9 Bystander Street")
    file_request(type="access", user=user)
    return user


def person(language: str) -> Any:
    user = UserFactory(
        email=f"alice.{language}@example.com",
        first_name="Alice",
        last_name="Zimmermann",
        preferred_language=language,
    )
    AddressFactory(user=user, line1="1 Alice Road")
    return user


def _sentences(text: str) -> set[str]:
    """The English sentences (three words or more) of ``text``, links and signature aside."""
    found = set()
    for line in text.splitlines():
        for sentence in re.split(r"(?<=[.:!?])\s+", line.strip()):
            words = re.findall(r"[A-Za-z\u2019']+", LINK.sub("", sentence))
            if len(words) >= 3 and "privacy@inper.com" not in sentence:
                found.add(sentence.strip())
    return found


def check(
    message: EmailMessage,
    *,
    language: str,
    reference: str | list[str],
    rendered: dict[str, tuple[str, dict[str, Any]]],
    forbidden: tuple[str, ...] = (),
    theirs: str = "",
) -> str:
    """Assert everything every e-mail must satisfy; return its plain text."""
    subject, body = message.subject, message.body
    # Sent in the portal's name, in the language it is written in.
    assert message.from_email.startswith(
        "Inper Datenschutz <" if language == "de" else "Inper Privacy <"
    )
    html = next((c for c, kind in getattr(message, "alternatives", []) if kind == "text/html"), "")
    for part in (subject, body, html):
        for syntax in ("{{", "}}", "{%", "%}", "%(", ")s"):
            assert syntax not in part, (syntax, part)
    for part in (subject, body):
        for entity in ("&#x27;", "&#39;", "&amp;", "&quot;", "&lt;", "&gt;"):
            assert entity not in part, (entity, part)
    links = set(LINK.findall(body))
    assert links, body
    for link in links | set(HREF.findall(str(html))):
        assert link.startswith(settings.PORTAL_BASE_URL + "/"), link
        resolve(urlsplit(link).path)
    if html:
        assert set(HREF.findall(str(html))) == {link.replace("&", "&amp;") for link in links}
        # Read aloud in its own language.
        assert f'<html lang="{language}">' in str(html)
    for ref in [reference] if isinstance(reference, str) else reference:
        assert ref in subject + body, (ref, subject, body)
        if html:
            assert ref in html
    for secret in forbidden:
        assert secret.lower() not in (subject + body + str(html)).lower(), (secret, body)

    template, context = rendered[body]
    english_subject, english_body, _ = portal_mail.render_email(template, context, language="en")
    if language == "de":
        assert subject != english_subject
        assert GERMAN.search(subject + " " + body), body
        leaked = {s for s in _sentences(english_body) if s in body and s not in theirs}
        assert not leaked, leaked
        assert not any(s in english_subject for s in [subject])
        if html:
            for sentence in _sentences(english_body) - _sentences(theirs):
                assert sentence not in html, sentence
    else:
        assert (subject, body) == (english_subject, english_body)
        assert not GERMAN.search(body.replace("Inper", "")), body
    return body


def to(address: str) -> list[EmailMessage]:
    return [m for m in mail.outbox if m.to == [address]]


def only(address: str) -> EmailMessage:
    (message,) = to(address)
    return message


#: What an officer's e-mail must not hold of the requester made by :func:`person`.
REQUESTER = ("Alice", "Zimmermann", "Alice Road")


def check_person(
    message: EmailMessage,
    *,
    language: str,
    reference: str | list[str],
    rendered: dict[str, tuple[str, dict[str, Any]]],
    bystander: Any,
    theirs: str = "",
) -> str:
    """:func:`check` for an e-mail to the person, which holds nothing of the bystander and
    comes with an HTML part beside its plain text."""
    assert any(kind == "text/html" for _, kind in getattr(message, "alternatives", []))
    return check(
        message,
        language=language,
        reference=reference,
        rendered=rendered,
        forbidden=(bystander.email, "Bystander"),
        theirs=theirs,
    )


def check_officers(
    officers: dict[str, Any],
    request: DataSubjectRequest,
    customer: Any,
    rendered: dict[str, tuple[str, dict[str, Any]]],
) -> dict[str, str]:
    """:func:`check` the one e-mail each officer got about ``request``, which holds nothing of
    the requester; return their plain texts by the officer's language."""
    return {
        language: check(
            only(officer.email),
            language=language,
            reference=request.reference,
            rendered=rendered,
            forbidden=(customer.email, *REQUESTER),
        )
        for language, officer in officers.items()
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_guest_is_acknowledged_asked_to_confirm_and_reminded(
    language, rendered, bystander, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    address = f"guest.{language}@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(
            type="access",
            email=address,
            channel="portal_guest",
            language=language,
            full_name="Gustav Guest",
            actor=None,
        )
    assert request.state == State.AWAITING_IDENTITY
    forbidden = (bystander.email, "Bystander", "Gustav")  # name unproven: not repeated
    acknowledgement, link = sorted(to(address), key=lambda m: "verify" in m.body)
    check(
        acknowledgement,
        language=language,
        reference=request.reference,
        rendered=rendered,
        forbidden=forbidden,
    )
    body = check(
        link, language=language, reference=request.reference, rendered=rendered, forbidden=forbidden
    )
    assert "/requests/verify/" in body
    # The acknowledgement says that the link comes next, not that it might.
    with translation.override(language):
        follows = gettext(
            "We are sending you a second message with a link to confirm your e-mail address. "
            "We do nothing with your request until you use it."
        )
    assert follows in " ".join(acknowledgement.body.split())
    # Both give the same advice to someone who did not ask: ignore them.
    with translation.override(language):
        ignore = gettext(
            "If you did not make this request, ignore these e-mails: nothing will happen."
        )
    assert ignore in " ".join(acknowledgement.body.split())
    assert "we will stop it" not in acknowledgement.body

    mail.outbox.clear()
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        verification_sent_at=timezone.now() - timedelta(days=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.verification_reminders() == [request.reference]
    reminder = only(address)
    check(
        reminder,
        language=language,
        reference=request.reference,
        rendered=rendered,
        forbidden=forbidden,
    )
    assert reminder.subject != link.subject
    assert "/requests/verify/" in reminder.body
    # It says that it is a reminder, and until when the link works (5 days left, not 7).
    assert reminder.body != link.body
    expires = timezone.localtime(
        DataSubjectRequest.objects.get(pk=request.pk).verification_sent_at
        + timedelta(days=settings.DSR_VERIFICATION_DAYS)
    )
    with translation.override(language):
        until = formats.date_format(expires, "DATETIME_FORMAT")
    assert until in reminder.body and until in reminder.alternatives[0][0]
    # A time ending in "p.m." is not followed by a second full stop.
    assert f"{until}." not in reminder.body + str(reminder.alternatives[0][0])


#: How an e-mail greets the account holder these tests file for.
HELLO_ALICE = {"en": "Hello Alice,", "de": "Hallo Alice,"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_request_held_after_a_credential_change_and_the_officers(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    from accounts.services import account_record_credentials_change

    customer = person(language)
    account_record_credentials_change(user=customer, action="account.password_changed")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(type="access", user=customer)
    assert request.held_reason == "credentials_recently_changed"
    held = [m for m in to(customer.email) if "acknowledged" not in m.subject]
    assert len(held) == 2
    for message in held:
        check_person(
            message,
            language=language,
            reference=request.reference,
            rendered=rendered,
            bystander=bystander,
        )
    assert message.body.startswith(HELLO_ALICE[language])
    for body in check_officers(officers, request, customer, rendered).values():
        assert "credentials_recently_changed" not in body  # said in words, not as a code


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_duplicate_is_linked_and_the_person_told(
    language, rendered, bystander, django_capture_on_commit_callbacks
):
    customer = person(language)
    first = file_request(type="erasure", user=customer)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        second = file_request(type="erasure", user=customer)
    assert second.state == State.DUPLICATE
    body = check_person(
        only(customer.email),
        language=language,
        reference=[second.reference, first.reference],
        rendered=rendered,
        bystander=bystander,
    )
    assert body.startswith(HELLO_ALICE[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_extension_gives_its_reason(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    customer = person(language)
    request = file_request(type="erasure", user=customer)
    mail.outbox.clear()
    reason = (
        "Wir ziehen unser F&E-Archiv um." if language == "de" else "We're moving our R&D archive."
    )
    with django_capture_on_commit_callbacks(execute=True):
        dsr_request_extend(request=request, actor=officers["en"], reason=reason)
    body = check_person(
        only(customer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
        theirs=reason,
    )
    assert reason in body


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_restriction_about_to_be_lifted_gives_its_reason(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    """GDPR Art. 18(3): told before the restriction is lifted, and why."""
    from dsr.services import dsr_restriction_lift

    customer = person(language)
    with django_capture_on_commit_callbacks(execute=True):
        request = run_pending_tasks(
            dsr_request_approve(
                request=file_request(type="restriction", user=customer), actor=officers["en"]
            )
        )
    assert request.state == State.COMPLETED
    mail.outbox.clear()
    reason = (
        "Ihre Beschwerde zur Bestellung ist geklärt."
        if language == "de"
        else "Your complaint about the order was settled."
    )
    dsr_restriction_lift(request=request, actor=officers["en"], reason=reason)
    body = check_person(
        only(customer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
        theirs=reason,
    )
    assert reason in body
    assert ("Aufsichtsbehörde" if language == "de" else "supervisory authority") in body


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_access_request_completed_with_its_link(
    language, rendered, bystander, django_capture_on_commit_callbacks
):
    customer = person(language)
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(type="access", user=customer)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request = run_pending_tasks(request)
    assert request.state == State.COMPLETED and request.outcome != "no_data_found"
    body = check_person(
        only(customer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
    )
    assert f"/requests/{request.reference}/" in body


def _erasure_run(customer: Any, officer: Any, capture: Any) -> DataSubjectRequest:
    """The customer's erasure, approved by ``officer`` and run, with the e-mails it sent from
    then on in the outbox."""
    request = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=officer
    )
    mail.outbox.clear()
    with capture(execute=True):
        return run_pending_tasks(request)


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_erasure_completed_with_what_each_system_did(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    customer = person(language)
    request = _erasure_run(customer, officers["en"], django_capture_on_commit_callbacks)
    assert request.state == State.COMPLETED
    body = check_person(
        only(customer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
    )
    assert re.search(r"^- .+: .*\d", body, re.M), body
    assert "privacy_requests" not in body  # entities named for people, not as tables


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_erasure_that_deleted_the_account_while_a_step_waits_gives_the_links(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    """The account is gone before the request is done (a step for staff waits): the person is
    told, with links to follow this request and their other open ones without signing in."""
    add_store("payments", "tests.dsr.connectors.StaffStepConnector")
    customer = person(language)
    other = file_request(type="rectification", user=customer, details="My old address")
    request = _erasure_run(customer, officers["en"], django_capture_on_commit_callbacks)
    assert request.state == State.WAITING
    assert not type(customer).objects.filter(pk=customer.pk).exists()
    body = check_person(
        only(customer.email),
        language=language,
        reference=[request.reference, other.reference],
        rendered=rendered,
        bystander=bystander,
    )
    # Each link opens its request's page without an account.
    for reference in (request.reference, other.reference):
        link = next(u for u in LINK.findall(body) if f"/requests/{reference}/" in u)
        url = urlsplit(link)
        page = Client().get(f"{url.path}?{url.query}")
        assert page.status_code == 200 and reference in page.content.decode()


def _both_parts(message: EmailMessage) -> list[str]:
    """The plain text and the HTML part's text, each on one line as a person reads it."""
    html = next(c for c, kind in getattr(message, "alternatives", []) if kind == "text/html")
    return [" ".join(message.body.split()), " ".join(strip_tags(str(html)).split())]


def test_an_erasure_counts_one_record_as_one(
    rendered, officers, django_capture_on_commit_callbacks
):
    """A system that deleted one record says "1 record deleted", in the plain text and the
    HTML part alike, and a count of nothing made anonymous is not listed."""
    add_store("uploads", "tests.dsr.connectors.FlakyConnector", name="Photo and video uploads")
    customer = person("en")
    request = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=officers["en"]
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run_pending_tasks(request)

    for text in _both_parts(only(customer.email)):
        assert "Photo and video uploads: 1 record deleted" in text, text
        assert "1 record kept: Proof that Inper answered your requests" in text, text
        assert "1 records" not in text and "0 records made anonymous" not in text, text


def test_a_copy_available_for_one_day_says_one_day(settings, django_capture_on_commit_callbacks):
    settings.DSR_PACKAGE_DAYS = 1
    customer = person("en")
    request = file_request(type="access", user=customer)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        notifications.completed(request)

    for text in _both_parts(only(customer.email)):
        assert "The download is available for 1 day." in text, text


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_access_request_that_found_nothing(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    address = f"nobody.{language}@example.com"
    request = file_request(
        type="access",
        email=address,
        channel="phone",
        actor=officers["en"],
        identity_method="staff_document",
        identity_note="Passport seen",
        language=language,
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request = run_pending_tasks(request)
    assert request.outcome == "no_data_found"
    check_person(
        only(address),
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_copy_destroyed_by_an_erasure(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    customer = person(language)
    access = file_request(type="access", user=customer)
    erasure = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=officers["en"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_pending_tasks(erasure)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        access = run_pending_tasks(access)
    assert access.outcome == "copy_erased"
    check_person(
        only(customer.email),
        language=language,
        reference=access.reference,
        rendered=rendered,
        bystander=bystander,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_partially_completed_request_and_the_failed_task_for_officers(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    names = {"en": "Payment records", "de": "Zahlungsbelege"}
    add_store(
        "flaky",
        "tests.dsr.connectors.FlakyConnector",
        config={"fail_times": 99, "permanent": True, "names": names},
    )
    customer = person(language)
    request = file_request(type="access", user=customer)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request = run_pending_tasks(request)
    # The officers are told at once; the person once an officer answers without the step.
    assert request.state == State.WAITING
    assert not [m for m in mail.outbox if m.to == [customer.email]]
    with django_capture_on_commit_callbacks(execute=True):
        request = answer_without_failed(request)
    assert request.state == State.PARTIALLY_COMPLETED
    letter = only(customer.email)
    assert ("größtenteils erledigt" if language == "de" else "is mostly done") in letter.subject
    check_person(
        only(customer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
    )
    for officer_language, body in check_officers(officers, request, customer, rendered).items():
        assert names[officer_language] in body  # the store as the officer's language names it
        # The link leads to the request, not to the queue.
        assert f"/dashboard/requests/{request.reference}/" in body
        told = {"en": "answer them without it", "de": "ohne ihn beantworten"}
        assert told[officer_language] in body


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_rejection_gives_the_reason_and_the_right_to_complain(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    customer = person(language)
    request = file_request(type="erasure", user=customer)
    mail.outbox.clear()
    note = "Wir prüfen noch R&D's Ansprüche." if language == "de" else "R&D's claims are pending."
    with django_capture_on_commit_callbacks(execute=True):
        dsr_request_reject(request=request, actor=officers["en"], reason="other", note=note)
    body = check_person(
        only(customer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
        theirs=note,
    )
    assert note in body
    assert ("Aufsichtsbehörde" if language == "de" else "supervisory authority") in body
    assert body.startswith(HELLO_ALICE[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_guest_gets_a_download_code(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    customer = person(language)
    request = file_request(
        type="access",
        email=customer.email,
        channel="phone",
        actor=officers["en"],
        identity_method="staff_document",
        identity_note="Passport seen",
    )
    # Linked to the person's account, and still followed by the e-mailed link and a code, as
    # for anyone without an account (the e-mails must not tell whether there is one).
    assert request.user_id == customer.pk and request.language == language
    request = run_pending_tasks(request)
    mail.outbox.clear()
    url = notifications.request_url(request).removeprefix(settings.PORTAL_BASE_URL)
    token = url.split("?t=")[1]
    response = Client().post(
        f"/requests/{request.reference}/download/code/?t={token}", {"send": "1"}
    )
    assert response.status_code == 302
    body = check_person(
        only(customer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
    )
    assert re.search(r"^\s+\d{8}$", body, re.M)
    assert body.startswith(HELLO_ALICE[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_account_closed(language, rendered, bystander, django_capture_on_commit_callbacks):
    from accounts.services import account_close

    customer = person(language)
    address = customer.email
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        account_close(user=customer, actor=customer)
    closed = [
        m
        for m in to(address)
        if "closed" in m.subject.lower() or "geschlossen" in m.subject.lower()
    ]
    assert closed, [m.subject for m in to(address)]
    request = DataSubjectRequest.objects.get(email=address, type="erasure")
    check_person(
        closed[0],
        language=language,
        reference=request.reference,
        rendered=rendered,
        bystander=bystander,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_officers_are_told_of_requests_due_soon_and_manual_steps(
    language, rendered, officers, django_capture_on_commit_callbacks
):
    add_store("payments", "tests.dsr.connectors.StaffStepConnector")
    customer = person("de" if language == "en" else "en")
    request = file_request(type="erasure", user=customer)
    request = dsr_request_approve(request=request, actor=officers["en"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request = run_pending_tasks(request)
    assert request.state == State.WAITING
    forbidden = (customer.email, *REQUESTER)
    officer = officers[language]
    check(
        only(officer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        forbidden=forbidden,
    )

    mail.outbox.clear()
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        due_at=timezone.now() + timedelta(days=3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert request.reference in maintenance.warn_due_soon()
    check(
        only(officer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        forbidden=forbidden,
    )

    mail.outbox.clear()
    request.tasks.filter(state=TaskState.WAITING).update(
        started_at=timezone.now() - timedelta(days=3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.remind_manual_tasks()
    check(
        only(officer.email),
        language=language,
        reference=request.reference,
        rendered=rendered,
        forbidden=forbidden,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_identity_checked_by_hand_leaves_no_extra_mail_untranslated(
    language, rendered, officers, bystander, django_capture_on_commit_callbacks
):
    address = f"checked.{language}@example.com"
    request = file_request(
        type="access", email=address, channel="portal_guest", language=language, actor=None
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dsr_request_verify_manually(
            request=request,
            actor=officers["en"],
            method=IdentityMethod.STAFF_CALLBACK,
            note="Called back",
        )
    languages = {address: language, **{o.email: lang for lang, o in officers.items()}}
    for message in mail.outbox:
        check_person(
            message,
            language=languages[message.to[0]],
            reference=request.reference,
            rendered=rendered,
            bystander=bystander,
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_newsletter_confirmation_and_its_welcome(
    language, rendered, bystander, django_capture_on_commit_callbacks
):
    from consent.services import consent_confirm, consent_signup_opt_in

    customer = person(language)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        consent_signup_opt_in(user=customer)
    body = check_person(
        only(customer.email),
        language=language,
        reference=[],
        rendered=rendered,
        bystander=bystander,
    )
    (link,) = [link for link in LINK.findall(body) if "/confirm/" in link]

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        consent_confirm(token=urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1])
    welcome = only(customer.email)
    body = check_person(
        welcome, language=language, reference=[], rendered=rendered, bystander=bystander
    )
    assert "Alice" in body
    assert welcome.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_password_reset(language, rendered, bystander, django_capture_on_commit_callbacks):
    customer = person(language)
    mail.outbox.clear()
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/reset/", {"email": customer.email})
    assert response.status_code == 302
    message = only(customer.email)
    assert bystander.email not in message.body
    if language == "de":
        assert GERMAN.search(message.subject + message.body), message.body
    links = LINK.findall(message.body)
    assert any("/password/reset/key/" in link for link in links), message.body
    for link in links:  # on the portal's address, like every other e-mail's
        assert link.startswith(f"{settings.PORTAL_BASE_URL}/"), link
        resolve(urlsplit(link).path)
    for syntax in ("{{", "{%", "&#x27;", "&amp;"):
        assert syntax not in message.subject + message.body
    # In the portal's words and sign-off, not allauth's ("Hello from …!", "Password Reset
    # Email"), and without the address the request came from.
    subject = {"en": "Inper: Reset your password", "de": "Inper: Ihr Passwort zurücksetzen"}
    assert message.subject == subject[language]
    assert "Hello from" not in message.body and "Thank you for using" not in message.body
    assert "privacy@inper.com" in message.body

    mail.outbox.clear()
    key = next(link for link in links if "/password/reset/key/" in link)
    with django_capture_on_commit_callbacks(execute=True):
        form = client.get(urlsplit(key).path, follow=True)
        client.post(
            form.redirect_chain[-1][0] if form.redirect_chain else urlsplit(key).path,
            {"password1": "A-new-passphrase-2026!", "password2": "A-new-passphrase-2026!"},
            REMOTE_ADDR="203.0.113.77",
        )
    changed = only(customer.email)
    assert "203.0.113" not in changed.body and "IP" not in changed.body
    if language == "en":
        assert changed.subject == "Inper: Your password was reset"
        assert "This change was just made to your Inper account:" in changed.body
