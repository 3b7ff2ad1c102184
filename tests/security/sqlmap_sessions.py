"""Sign in the people sqlmap plays (for ``tests/security/sqlmap.sh``) and print them as shell
variables: session cookies of a customer (re-authenticated), a compliance officer and a support
agent (second factor used), a CSRF secret, an API token with every scope and the reference of a
request its client filed. Run with the environment of the portal being tested."""

from __future__ import annotations

import os
import shlex

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_portal.settings.test")
django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from accounts.models import User  # noqa: E402
from consent.api.authentication import api_token_issue  # noqa: E402
from consent.models import ApiClient, ApiScope  # noqa: E402
from dsr.models import Channel  # noqa: E402
from dsr.services import Intake, dsr_request_file  # noqa: E402
from tests.conftest import login  # noqa: E402


def _session(email: str, **kwargs: bool) -> str:
    client = login(Client(), User.objects.get(email=email), **kwargs)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def main() -> None:
    api_client, _created = ApiClient.objects.get_or_create(
        name="sqlmap", defaults={"scopes": list(ApiScope.values)}
    )
    _row, token = api_token_issue(client=api_client)
    filed = dsr_request_file(
        intake=Intake(type="access", email="ben.carter@example.com", channel=Channel.API),
        actor=api_client,
    )
    values = {
        "SESSION_COOKIE": settings.SESSION_COOKIE_NAME,
        "CSRF_COOKIE": settings.CSRF_COOKIE_NAME,
        "CSRF": get_random_string(32),
        "CUSTOMER": _session("anna.schmidt@example.com", reauthenticated=True),
        "OFFICER": _session("compliance@inper.example", mfa=True),
        "SUPPORT": _session("support@inper.example", mfa=True),
        "TOKEN": token,
        "REFERENCE": filed.reference,
        "CUSTOMER_ID": str(User.objects.get(email="anna.schmidt@example.com").pk),
    }
    for name, value in values.items():
        print(f"{name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
