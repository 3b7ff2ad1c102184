"""The demo requests give the dashboard something to show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dsr.dashboard.demo import seed_demo_requests
from dsr.models import (
    DataSubjectRequest,
    ExportPackage,
    RequestType,
    State,
    StoreTask,
    TaskState,
)
from dsr.services import dsr_request_approve
from privacy_portal.permissions import COMPLIANCE_GROUP
from tests.dsr.helpers import add_store
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_demo_requests_cover_open_and_finished_work_and_are_made_once():
    StaffFactory(group=COMPLIANCE_GROUP)
    assert seed_demo_requests(count=14) == 14
    states = set(DataSubjectRequest.objects.values_list("state", flat=True))
    assert State.IN_REVIEW in states and State.COMPLETED in states
    assert seed_demo_requests(count=14) == 0


def test_older_demo_requests_had_their_manual_steps_done(settings, tmp_path):
    """With a store that needs staff (the demo's payment provider), requests dated back more
    than two weeks are finished, their steps done by the officer; younger ones may wait."""
    settings.MEDIA_ROOT = tmp_path
    officer = StaffFactory(group=COMPLIANCE_GROUP)
    add_store("payments", "tests.dsr.connectors.StaffStepConnector")
    assert seed_demo_requests(count=30) == 30
    old = DataSubjectRequest.objects.filter(
        received_at__lt=timezone.now() - timedelta(days=15),
        state__in=(State.COMPLETED, State.RUNNING, State.WAITING),
    )
    assert old.count() > 10
    assert set(old.values_list("state", flat=True)) == {State.COMPLETED}
    steps = StoreTask.objects.filter(request__in=old, store__key="payments")
    assert steps.count() > 10
    assert set(steps.values_list("state", "completed_by")) == {(TaskState.SUCCEEDED, officer.pk)}
    # A copy is built once no step waits: not before its manual step is done.
    copies = ExportPackage.objects.filter(request__type=RequestType.ACCESS)
    waiting = copies.filter(request__state=State.WAITING)
    assert waiting.exists() and not waiting.filter(built_at__isnull=False).exists()
    assert not copies.filter(request__state=State.COMPLETED, built_at__isnull=True).exists()


def _sends(callbacks) -> list[str]:
    """The callbacks that would send workers a message."""
    names = [getattr(c, "__qualname__", "") for c in callbacks]
    return [name for name in names if name.endswith("_on_commit.<locals>.send")]


def test_the_demo_requests_leave_the_workers_no_messages(django_capture_on_commit_callbacks):
    """Their tasks run while they are made; messages for that work would queue ahead of the
    first request a newcomer files."""
    StaffFactory(group=COMPLIANCE_GROUP)
    with django_capture_on_commit_callbacks() as callbacks:
        assert seed_demo_requests(count=14) == 14
    assert _sends(callbacks) == []
    assert DataSubjectRequest.objects.filter(state=State.COMPLETED).exists()

    # Outside the demo, approving a request does send its tasks.
    request = DataSubjectRequest.objects.filter(state=State.IN_REVIEW).first()
    with django_capture_on_commit_callbacks() as callbacks:
        dsr_request_approve(request=request, actor=None)
    assert "send_planned_on_commit.<locals>.send" in _sends(callbacks)
