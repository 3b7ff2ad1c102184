"""Requests in the states the dashboard works with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from dsr.models import DataSubjectRequest, State
from tests.dsr.helpers import file_request, run_pending_tasks
from tests.factories import AddressFactory, UserFactory


def due_in(request: DataSubjectRequest, days: float) -> DataSubjectRequest:
    """Move a request's deadline (as if it had been received earlier)."""
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        due_at=timezone.now() + timedelta(days=days)
    )
    request.refresh_from_db()
    return request


@pytest.fixture
def erasure(customer: Any) -> DataSubjectRequest:
    """An erasure by a signed-in customer, waiting for an officer's approval."""
    AddressFactory(user=customer, line1="1 Erasure Road")
    request = file_request(type="erasure", user=customer)
    assert request.state == State.IN_REVIEW
    return request


@pytest.fixture
def completed_access(db: Any) -> DataSubjectRequest:
    """An access request that ran to completion, with its package ready."""
    person = UserFactory(email="access.person@example.com")
    request = run_pending_tasks(file_request(type="access", user=person))
    assert request.state == State.COMPLETED
    return request


@pytest.fixture
def guest_access(db: Any) -> DataSubjectRequest:
    """An access request by someone without an account, waiting for them to confirm it."""
    request = file_request(type="access", email="guest.person@example.com", channel="portal_guest")
    assert request.state == State.AWAITING_IDENTITY
    return request
