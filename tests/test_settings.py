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
    hint = problem.hint or ""
    assert "Fernet.generate_key()" in hint
    assert settings.PORTAL_ENCRYPTION_KEYS[1] not in problem.msg + hint


def test_no_encryption_key_at_all_fails_the_system_checks(settings):
    settings.PORTAL_ENCRYPTION_KEYS = []
    (problem,) = _problems("portal.E001")
    assert problem.msg == "PORTAL_ENCRYPTION_KEYS is empty."


def test_a_public_address_without_https_is_a_deployment_warning(settings):
    """The development default is http://localhost:8000; a deployment must not keep it."""
    settings.PORTAL_BASE_URL = "http://privacy.inper.example"
    assert _problems("portal.W001") == []  # not a problem on a developer's machine
    (problem,) = _problems("portal.W001", deploy=True)
    assert problem.msg.startswith("PORTAL_BASE_URL (http://privacy.inper.example) is not")

    settings.PORTAL_BASE_URL = "https://privacy.inper.example"
    assert _problems("portal.W001", deploy=True) == []
