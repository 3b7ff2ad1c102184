"""Every dashboard page renders for an officer, with what an officer needs on it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_every_page_renders(compliance_client, erasure, completed_access, guest_access):
    for path in (
        "/dashboard/",
        "/dashboard/?status=all&sort=-received",
        f"/dashboard/requests/{erasure.reference}/",
        f"/dashboard/requests/{completed_access.reference}/",
        f"/dashboard/requests/{completed_access.reference}/receipt/",
        f"/dashboard/requests/{guest_access.reference}/",
        "/dashboard/metrics/",
        "/dashboard/metrics/yearly/",
        "/dashboard/audit/",
        "/dashboard/processing/",
        "/dashboard/retention/",
    ):
        response = compliance_client.get(path)
        assert response.status_code == 200, (path, response.content.decode()[:2000])


def test_the_request_page_of_a_finished_erasure_renders_without_the_account(
    compliance_client, compliance_user, erasure
):
    from dsr.services import dsr_request_approve
    from tests.dsr.helpers import run_pending_tasks

    done = run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))
    assert done.state == "completed" and done.user_id is None
    for path in (
        f"/dashboard/requests/{done.reference}/",
        f"/dashboard/requests/{done.reference}/receipt/",
    ):
        response = compliance_client.get(path)
        assert response.status_code == 200
    assert "signature valid" in response.content.decode()
