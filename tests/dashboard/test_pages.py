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
