"""The demo requests give the dashboard something to show."""

from __future__ import annotations

import pytest

from dsr.dashboard.demo import seed_demo_requests
from dsr.models import DataSubjectRequest, State
from privacy_portal.permissions import COMPLIANCE_GROUP
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_demo_requests_cover_open_and_finished_work_and_are_made_once():
    StaffFactory(group=COMPLIANCE_GROUP)
    assert seed_demo_requests(count=14) == 14
    states = set(DataSubjectRequest.objects.values_list("state", flat=True))
    assert State.IN_REVIEW in states and State.COMPLETED in states
    assert seed_demo_requests(count=14) == 0
