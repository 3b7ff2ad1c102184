"""Brute force: limits hold under 20 parallel guesses (real Redis), per account and per IP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from dsr.models import DataSubjectRequest
from tests.conftest import login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
PARALLEL = 20


def _parallel(func, count: int = PARALLEL) -> list:
    def run(i: int):
        try:
            return func(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def _login_attempt(email: str, password: str) -> str:
    response = Client().post("/accounts/login/", {"login": email, "password": password})
    body = response.content.decode()
    if response.status_code == 429 or "Too many failed login attempts" in body:
        return "limited"
    if "password you specified are not correct" in body:
        return "checked"
    return f"other:{response.status_code}"


def test_twenty_parallel_password_guesses_check_at_most_five(redis_cache):
    victim = UserFactory(email="victim@example.com")
    results = _parallel(lambda i: _login_attempt(victim.email, f"guess-{i}"))
    assert results.count("checked") <= 5, results
    assert results.count("checked") + results.count("limited") == PARALLEL, results
    # Even the right password is refused while the account is locked out.
    assert _login_attempt(victim.email, "correct-horse-battery-staple") == "limited"


def test_guesses_from_one_address_at_many_accounts_are_limited_too(redis_cache):
    accounts = [UserFactory(email=f"target{i}@example.com") for i in range(PARALLEL)]
    results = _parallel(lambda i: _login_attempt(accounts[i].email, "wrong-password"))
    assert results.count("checked") <= 10, results


def test_twenty_parallel_reauthentication_guesses_check_at_most_ten(redis_cache):
    user = UserFactory(email="reauth@example.com")

    def guess(i: int) -> int:
        client = login(Client(), user)
        return client.post("/accounts/reauthenticate/", {"password": f"nope-{i}"}).status_code

    codes = _parallel(guess)
    assert codes.count(429) >= PARALLEL - 10, codes


def test_twenty_parallel_requests_respect_the_intake_limit(redis_cache, settings):
    settings.DSR_INTAKE_RATE = "5/h"
    codes = _parallel(
        lambda i: (
            Client()
            .post("/requests/new/", {"type": "access", "email": f"flood{i}@example.com"})
            .status_code
        )
    )
    assert codes.count(302) == 5 and codes.count(429) == PARALLEL - 5, codes
    assert DataSubjectRequest.objects.count() == 5


def test_twenty_parallel_download_code_guesses_from_many_addresses_check_at_most_five(
    redis_cache,
):
    import re

    from django.core import mail
    from django.core.cache import cache

    from dsr.notifications import status_token
    from dsr.services import dsr_request_approve, dsr_request_verify_manually
    from tests.dsr.helpers import file_request, run_pending_tasks

    guest = file_request(type="access", email="code.guess@example.com", channel="portal_guest")
    guest = dsr_request_verify_manually(
        request=guest, actor=None, method="staff_callback", note="Called back"
    )
    guest = run_pending_tasks(dsr_request_approve(request=guest, actor=None))
    token = status_token(guest)
    url = f"/requests/{guest.reference}/download/code/?t={token}"
    Client().post(url, {"send": "1", "t": token})
    code = re.search(r"\b(\d{8})\b", mail.outbox[-1].body).group(1)
    wrong = [f"{(int(code) + 1 + i) % 10**8:08d}" for i in range(PARALLEL)]

    def guess(i: int) -> int:
        # Each guess from an address of its own: only the count per request can stop them.
        client = Client(REMOTE_ADDR=f"198.51.100.{i + 1}")
        return client.post(url, {"code": wrong[i], "t": token}).status_code

    assert set(_parallel(guess)) == {400}
    # Every guess was counted: none lost to another guess at the same moment.
    assert cache.get(f"dsr-download-code-attempts-{guest.pk}") == PARALLEL
    # Five guesses were allowed in all: now even the right code is refused.
    right = Client(REMOTE_ADDR="198.51.100.200").post(url, {"code": code, "t": token})
    assert right.status_code == 400 and right["Content-Type"].startswith("text/html")
