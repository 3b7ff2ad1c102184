"""The consent ledger: append-only in the database, current state in step, one consistent
state when two tabs change the same purpose at once."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from consent import services
from consent.models import ConsentEvent, ConsentState, ConsentSubject, PurposeVersion, Source
from consent.selectors import consent_current, consent_events
from privacy_portal.audit.models import AuditEvent
from tests.consent.conftest import at_once

pytestmark = pytest.mark.django_db


def _request(**headers):
    return RequestFactory().post(
        "/privacy/", REMOTE_ADDR="203.0.113.77", HTTP_USER_AGENT="Firefox/140", **headers
    )


def test_a_grant_is_one_event_with_its_proof_and_the_state_follows(customer):
    subject = services.subject_for_user(customer)

    event = services.consent_record(
        subject=subject,
        purpose_key="surveys",
        granted=True,
        source=Source.PREFERENCE_CENTRE,
        actor=customer,
        request=_request(),
        language="de",
    )

    event.refresh_from_db()
    assert event.ip_truncated == "203.0.113.0"
    assert len(event.user_agent_hash) == 32 and "Firefox" not in event.user_agent_hash
    assert event.source == "preference_centre" and event.actor_type == "subject"
    assert event.language == "de"
    version = PurposeVersion.objects.get(pk=event.purpose_version_id)
    assert event.text_hash == version.text_hash("de") != version.text_hash("en")
    assert event.policy_version.document == "privacy_statement"
    state = ConsentState.objects.get(subject=subject, purpose__key="surveys")
    assert state.granted and state.event_id == event.pk
    surveys = next(c for c in consent_current(subject) if c.key == "surveys")
    assert surveys.granted and surveys.status == "granted"


@pytest.mark.usefixtures("postgres")
def test_the_database_refuses_to_change_or_delete_ledger_rows(customer):
    subject = services.subject_for_user(customer)
    event = services.consent_record(
        subject=subject, purpose_key="surveys", granted=True, source="api", actor=None
    )
    for statement in (
        "UPDATE consent_consentevent SET granted = false WHERE id = %s",
        "DELETE FROM consent_consentevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        PurposeVersion.objects.filter(pk=event.purpose_version_id).update(texts={})
    event.refresh_from_db()
    assert event.granted is True


def test_unknown_and_fixed_purposes_are_refused_without_a_ledger_row(customer):
    subject = services.subject_for_user(customer)
    for key, code in (("no_such_purpose", "unknown_purpose"), ("orders", "not_switchable")):
        with pytest.raises(services.ConsentError) as error:
            services.consent_record(
                subject=subject, purpose_key=key, granted=False, source="api", actor=None
            )
        assert error.value.code == code
    assert not ConsentEvent.objects.exists()


def test_stop_all_marketing_withdraws_only_what_is_on(customer):
    subject = services.subject_for_user(customer)
    services.consent_record(
        subject=subject, purpose_key="marketing_sms", granted=True, source="api", actor=None
    )

    events = services.consent_stop_all_marketing(
        subject=subject, source=Source.PREFERENCE_CENTRE, actor=customer
    )

    # SMS was on; post is on by default (legitimate interest); e-mail and phone were off.
    assert sorted(e.purpose.key for e in events) == ["marketing_post", "marketing_sms"]
    current = {c.key: c for c in consent_current(subject)}
    assert not any(
        current[k].granted for k in ("marketing_email", "marketing_sms", "marketing_post")
    )
    assert services.consent_stop_all_marketing(subject=subject, source="api", actor=None) == []


def test_staff_changes_are_audited_without_the_note(customer, support_user):
    subject = services.subject_for_user(customer)
    event = services.consent_record(
        subject=subject,
        purpose_key="marketing_phone",
        granted=False,
        source=Source.STAFF,
        actor=support_user,
        note="Customer called on 12 Nov",
    )
    assert event.actor_type == "staff" and event.actor_id == support_user.pk
    audit = AuditEvent.objects.get(action="consent.recorded", object_id=str(event.pk))
    assert audit.actor_id == support_user.pk and "called" not in str(audit.after)


def test_a_material_text_change_asks_again_and_never_carries_the_grant_over(customer, superuser):
    subject = services.subject_for_user(customer)
    services.consent_record(
        subject=subject, purpose_key="surveys", granted=True, source="api", actor=None
    )
    texts = {"en": {"title": "Surveys", "description": "New wording."}}

    services.purpose_text_update(
        purpose_id=ConsentState.objects.get().purpose_id,
        texts=texts,
        material=True,
        change_summary="Now also by phone",
        actor=superuser,
    )

    surveys = next(c for c in consent_current(subject) if c.key == "surveys")
    assert (surveys.status, surveys.granted, surveys.version, surveys.outdated) == (
        "renew",
        False,
        1,
        True,
    )


def test_a_correction_keeps_the_choice_but_shows_the_old_version(customer, superuser):
    subject = services.subject_for_user(customer)
    services.consent_record(
        subject=subject, purpose_key="surveys", granted=True, source="api", actor=None
    )
    purpose_id = ConsentState.objects.get().purpose_id
    services.purpose_text_update(
        purpose_id=purpose_id,
        texts={"en": {"title": "Surveys", "description": "Typo fixed."}},
        material=False,
        change_summary="typo",
        actor=superuser,
    )
    surveys = next(c for c in consent_current(subject) if c.key == "surveys")
    assert surveys.granted and surveys.outdated and surveys.version == 1


def test_pseudonymising_detaches_the_person_keeps_the_ledger_and_suppresses_the_address(
    customer, superuser
):
    subject = services.subject_for_user(customer)
    services.consent_record(
        subject=subject, purpose_key="marketing_email", granted=False, source="api", actor=None
    )
    visitor = services.subject_for_visitor(__import__("uuid").uuid4())
    ConsentSubject.objects.filter(pk=visitor.pk).update(user=customer)
    count = ConsentEvent.objects.count()

    services.consent_subject_pseudonymise(subject=subject, actor=superuser)

    for row in ConsentSubject.objects.filter(pk__in=[subject.pk, visitor.pk]):
        assert row.user_id is None and row.visitor_id is None and row.email_hash is None
        assert row.pseudonymised_at and len(row.pseudonym) == 64
    assert ConsentEvent.objects.count() == count
    assert services.suppression_has(channel="email", address=customer.email.upper())
    assert list(consent_events(subject))


def test_subject_for_email_keeps_only_a_hash_and_is_adopted_at_sign_up(customer):
    contact = services.subject_for_email("Trade.Show@Example.com")
    assert contact.email_hash and "example" not in contact.email_hash
    assert services.subject_for_email("trade.show@example.com") == contact
    assert services.subject_for_email(customer.email) == services.subject_for_user(customer)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres")
def test_two_tabs_toggling_the_same_purpose_end_in_one_consistent_state(customer):
    subject = services.subject_for_user(customer)

    def toggle(n):
        for _ in range(5):
            services.consent_record(
                subject=subject,
                purpose_key="personalisation",
                granted=n % 2 == 0,
                source="preference_centre",
                actor=customer,
            )

    errors = at_once(toggle, 8)

    assert errors == []
    last = ConsentEvent.objects.filter(subject=subject).order_by("-id").first()
    state = ConsentState.objects.get(subject=subject, purpose__key="personalisation")
    assert ConsentEvent.objects.filter(subject=subject).count() == 40
    assert (state.event_id, state.granted) == (last.pk, last.granted)
