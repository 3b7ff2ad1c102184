"""The portal's own settings: a value that cannot work stops the portal at its system checks,
not at the first request or task that needs it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, run_checks
from django.test import Client
from django.urls import reverse

from consent.marketing import unsubscribe_url
from consent.services import subject_for_user
from dsr.notifications import status_token, verification_token
from privacy_portal import crypto
from tests.conftest import login
from tests.dsr.helpers import file_request


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


@pytest.mark.django_db
@pytest.mark.parametrize("kept", [True, False], ids=["old key kept", "old key gone"])
def test_what_the_old_secret_key_signed_works_only_while_it_is_a_fallback(settings, customer, kept):
    """Given a session and the links of e-mails already sent, when SECRET_KEY changes, they
    keep working while the old key is in SECRET_KEY_FALLBACKS, and only then."""
    signed_in = login(Client(), customer)
    guest = file_request(type="access", email="guest@example.com", channel="portal_guest")
    links = {
        "a guest's status link": f"/requests/{guest.reference}/?t={status_token(guest)}",
        "a confirmation link": reverse("dsr:verify", args=[verification_token(guest)]),
        "an unsubscribe link": urlsplit(
            unsubscribe_url(subject=subject_for_user(customer), purpose_key="marketing_email")[0]
        ).path,
    }

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY] if kept else []
    settings.SECRET_KEY = "rotated-" + secrets.token_urlsafe(48)

    assert (signed_in.get("/account/").status_code == 200) is kept  # else: to the sign-in page
    for what, link in links.items():
        assert (Client().get(link).status_code == 200) is kept, what


def _demo_keys(var: Path, **extra: str) -> dict[str, str]:
    """The keys the demo's settings give, with ``var`` as its folder."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SECRET_KEY", "PORTAL_HASH_KEY", "PORTAL_ENCRYPTION_KEYS")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="privacy_portal.settings.dev", PORTAL_VAR_DIR=str(var), **extra
    )
    script = (
        "import json; from django.conf import settings as s; print(json.dumps("
        "[s.SECRET_KEY, s.PORTAL_HASH_KEY, s.PORTAL_ENCRYPTION_KEYS[0]]))"
    )
    printed = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    ).stdout
    return dict(zip(("secret", "hash", "encryption"), json.loads(printed), strict=True))


def test_each_demo_has_keys_of_its_own(tmp_path):
    """Links signed by one checkout's demo are worth nothing to another's: its keys are made
    at random the first time, kept for every later start, and usable (a Fernet key)."""
    first, again = _demo_keys(tmp_path / "one"), _demo_keys(tmp_path / "one")
    other = _demo_keys(tmp_path / "two")
    assert first == again
    assert all(first[name] != other[name] for name in first)
    assert "dev-only" not in first["secret"] and "dev-only" not in first["hash"]
    assert crypto.keys_problem([first["encryption"]]) is None
    assert oct((tmp_path / "one" / "keys.json").stat().st_mode & 0o777) == "0o600"
    # Set in the environment, a key is the environment's.
    assert _demo_keys(tmp_path / "one", SECRET_KEY="x" * 50)["secret"] == "x" * 50


def test_a_demo_made_before_keeps_the_keys_its_data_was_encrypted_with(tmp_path):
    (tmp_path / "portal.sqlite3").touch()
    kept = _demo_keys(tmp_path)
    assert kept["secret"].startswith("dev-only") and kept["hash"].startswith("dev-only")
