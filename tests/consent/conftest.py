"""Helpers for the consent tests."""

from __future__ import annotations

from typing import Any

import pytest

from consent import services
from consent.models import ConsentEvent


def record(user_or_subject: Any, key: str, granted: bool, source: str = "api") -> ConsentEvent:
    subject = (
        user_or_subject
        if isinstance(user_or_subject, services.ConsentSubject)
        else services.subject_for_user(user_or_subject)
    )
    return services.consent_record(
        subject=subject, purpose_key=key, granted=granted, source=source, actor=None
    )


@pytest.fixture
def api_client_factory(db: Any):
    """Return a function making an API client with scopes and returning (client, token)."""
    from consent.api.authentication import api_token_issue
    from consent.models import ApiClient

    def make(*scopes: str, name: str = "shop"):
        client = ApiClient.objects.create(name=name, scopes=list(scopes))
        _row, token = api_token_issue(client=client)
        return client, token

    return make
