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
    )
    page = compliance_client.get("/dashboard/processing/").content.decode()
    for text in (
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
    assert newsletter[5] == "Consent" and newsletter[8].startswith("United States")


def test_officers_cannot_reach_the_registrys_secrets(compliance_user):
    # The registry is read-only for officers: no permission to change stores (or their
    # secrets), in the admin or anywhere else.
    assert compliance_user.has_perm("dsr.view_datastore")
    assert not compliance_user.has_perm("dsr.change_datastore")
    assert not compliance_user.has_perm("dsr.add_datastore")
