"""The portal's own settings: a value that cannot work stops the portal at its system checks,
not at the first request or task that needs it."""

from __future__ import annotations

import secrets

from cryptography.fernet import Fernet
from django.core.checks import CheckMessage, run_checks


def _problems(code: str, *, deploy: bool = False) -> list[CheckMessage]:
    checked = run_checks(include_deployment_checks=deploy)
    return [problem for problem in checked if problem.id == code]


def test_an_encryption_key_that_is_not_a_fernet_key_fails_the_system_checks(settings):
    assert _problems("portal.E001") == []
    settings.PORTAL_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), secrets.token_hex(32)]
    (problem,) = _problems("portal.E001")
    assert problem.msg.startswith("PORTAL_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key")
    assert "Fernet.generate_key()" in problem.hint
    assert settings.PORTAL_ENCRYPTION_KEYS[1] not in problem.msg + problem.hint


def test_no_encryption_key_at_all_fails_the_system_checks(settings):
    settings.PORTAL_ENCRYPTION_KEYS = []
    (problem,) = _problems("portal.E001")
    assert problem.msg == "PORTAL_ENCRYPTION_KEYS is empty."
