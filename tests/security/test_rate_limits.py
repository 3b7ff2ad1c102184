"""Brute force: limits hold under 20 parallel guesses (real Redis), per account and per IP.

Passwords, re-authentication, request intake, a guest's confirmation link (with its order
number), a guest's download page (links and one-time codes), and the admin's sign-in with its
second factor. Each guess runs in a thread of its own, with its own database connection.
"""

from __future__ import annotations

import time
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


WRONG_PASSWORD = "The e-mail address or the password is not correct."


def _verdict(response, wrong: str) -> str:
    """Say what became of a guess: "limited" (refused unchecked), "checked" (found wrong),
    "accepted", or something else."""
    body = response.content.decode()
    if response.status_code == 429 or "Too many failed sign-in attempts" in body:
        return "limited"
    if wrong in body:
        return "checked"
    if response.status_code == 302:
        return "accepted"
    return f"other:{response.status_code}"


def _tally(figure, what: str, outcomes: list, passed: object, limit: int) -> None:
    """Record the figure: how many of the parallel guesses got through (``passed``) beyond
    ``limit`` count as failures."""
    through = outcomes.count(passed)
    detail = ", ".join(f"{outcomes.count(o)} {o}" for o in sorted(set(outcomes), key=str))
    figure(f"{what} ({detail})", len(outcomes), max(0, through - limit))


def _named(codes: list[int], **names: str) -> list[str]:
    """Name answers: 429 "limited", and the others as given (``s302="accepted"``)."""
    return [names.get(f"s{code}", "limited" if code == 429 else str(code)) for code in codes]


def _login_attempt(email: str, password: str, address: str = "127.0.0.1") -> str:
    client = Client(REMOTE_ADDR=address)
    response = client.post("/accounts/login/", {"login": email, "password": password})
    return _verdict(response, WRONG_PASSWORD)


def test_twenty_parallel_password_guesses_check_at_most_five(redis_cache, figure):
    victim = UserFactory(email="victim@example.com")
    # From 20 addresses: only the count per account can stop them.
    results = _parallel(lambda i: _login_attempt(victim.email, f"guess-{i}", f"192.0.2.{i + 1}"))
    _tally(figure, "password guesses at one account", results, "checked", 5)
    assert results.count("checked") <= 5, results
    assert results.count("checked") + results.count("limited") == PARALLEL, results
    # Even the right password is refused while the account is locked out.
    assert _login_attempt(victim.email, "correct-horse-battery-staple", "192.0.2.200") == "limited"


def test_others_guesses_do_not_lock_the_owner_out_where_they_signed_in_before(redis_cache):
    """Guesses from many places stop at five for the account, also the right password from a
    new place; but the owner's browser, where they signed in before, counts on its own."""
    owner = UserFactory(email="owner@example.com")
    home = "198.51.100.50"
    assert _login_attempt(owner.email, "correct-horse-battery-staple", home) == "accepted"
    guesses = [_login_attempt(owner.email, f"guess-{i}", f"192.0.2.{i + 1}") for i in range(8)]
    assert guesses == ["checked"] * 5 + ["limited"] * 3
    assert _login_attempt(owner.email, "correct-horse-battery-staple", "192.0.2.99") == "limited"
    assert _login_attempt(owner.email, "correct-horse-battery-staple", home) == "accepted"
    # Guesses from there stop at five as well.
    mine = [_login_attempt(owner.email, f"mine-{i}", home) for i in range(6)]
    assert mine == ["checked"] * 5 + ["limited"]


def test_guesses_from_one_address_at_many_accounts_are_limited_too(redis_cache, figure):
    accounts = [UserFactory(email=f"target{i}@example.com") for i in range(PARALLEL)]
    results = _parallel(lambda i: _login_attempt(accounts[i].email, "wrong-password"))
    _tally(figure, "password guesses from one address", results, "checked", 10)
    assert results.count("checked") <= 10, results


def test_twenty_parallel_reauthentication_guesses_check_at_most_ten(redis_cache, figure):
    user = UserFactory(email="reauth@example.com")

    def guess(i: int) -> int:
        client = login(Client(), user)
        return client.post("/accounts/reauthenticate/", {"password": f"nope-{i}"}).status_code

    codes = _parallel(guess)
    _tally(figure, "re-authentication guesses", _named(codes, s200="checked"), "checked", 10)
    assert codes.count(429) >= PARALLEL - 10, codes


def test_twenty_parallel_requests_respect_the_intake_limit(redis_cache, figure, settings):
    settings.DSR_INTAKE_RATE = "5/h"
    codes = _parallel(
        lambda i: (
            Client()
            .post("/requests/new/", {"type": "access", "email": f"flood{i}@example.com"})
            .status_code
        )
    )
    _tally(figure, "requests filed from one address", _named(codes, s302="filed"), "filed", 5)
    assert codes.count(302) == 5 and codes.count(429) == PARALLEL - 5, codes
    assert DataSubjectRequest.objects.count() == 5


def test_twenty_parallel_requests_for_one_inbox_from_many_addresses_send_five(
    redis_cache, figure, settings, mailoutbox
):
    """Someone who files request after request for another person's e-mail address, from
    many client addresses, cannot flood that inbox: five an hour are filed, the rest refused
    with the form kept and the reason given."""
    settings.DSR_INTAKE_RATE_PER_EMAIL = "5/h"
    codes = _parallel(
        lambda i: (
            Client(REMOTE_ADDR=f"203.0.113.{i + 1}")
            .post(
                "/requests/new/",
                {"type": "erasure", "email": "victim@example.com", "understood": "on"},
            )
            .status_code
        )
    )
    _tally(figure, "requests filed for one e-mail address", _named(codes, s302="filed"), "filed", 5)
    assert codes.count(302) == 5 and codes.count(429) == PARALLEL - 5, codes
    assert DataSubjectRequest.objects.filter(email="victim@example.com").count() == 5
    # At most two e-mails for each filed request (receipt, confirmation link), none for the rest.
    assert 5 <= len([m for m in mailoutbox if m.to == ["victim@example.com"]]) <= 10
    refused = Client(REMOTE_ADDR="198.51.100.9").post(
        "/requests/new/",
        {
            "type": "erasure",
            "email": "Victim@Example.com",
            "full_name": "Vic Tim",
            "understood": "on",
        },
    )
    page = refused.content.decode()
    assert refused.status_code == 429 and "for this e-mail address" in page
    assert 'value="Vic Tim"' in page
    # Another address is not held back by it.
    other = Client(REMOTE_ADDR="198.51.100.9").post(
        "/requests/new/",
        {"type": "erasure", "email": "someone.else@example.com", "understood": "on"},
    )
    assert other.status_code == 302


def test_twenty_parallel_download_code_guesses_from_many_addresses_check_at_most_five(
    redis_cache, figure
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

    codes = _parallel(guess)
    counted = cache.get(f"dsr-download-code-attempts-{guest.pk}")
    figure(f"code guesses at one download from 20 addresses ({counted} counted)", 20, 20 - counted)
    assert set(codes) == {400}
    # Every guess was counted: none lost to another guess at the same moment.
    assert cache.get(f"dsr-download-code-attempts-{guest.pk}") == PARALLEL
    # Five guesses were allowed in all: now even the right code is refused.
    right = Client(REMOTE_ADDR="198.51.100.200").post(url, {"code": code, "t": token})
    assert right.status_code == 400 and right["Content-Type"].startswith("text/html")


# --- guests: the confirmation link (with its order number) and the download page ---------------


def _completed_guest(email: str) -> tuple[DataSubjectRequest, str]:
    """A guest's access request, carried out, its package ready; and its signed link."""
    from dsr.notifications import status_token
    from dsr.services import dsr_request_approve, dsr_request_verify_manually
    from tests.dsr.helpers import file_request, run_pending_tasks

    guest = file_request(type="access", email=email, channel="portal_guest")
    guest = dsr_request_verify_manually(
        request=guest, actor=None, method="staff_callback", note="Called back"
    )
    guest = run_pending_tasks(dsr_request_approve(request=guest, actor=None))
    return guest, status_token(guest)


def _pending_guest(email: str) -> tuple[DataSubjectRequest, str]:
    """A guest's access request waiting for its confirmation link; and the link's token."""
    from dsr.notifications import verification_token
    from tests.dsr.helpers import file_request

    guest = file_request(type="access", email=email, channel="portal_guest")
    return guest, verification_token(guest)


def test_a_confirmation_link_takes_one_order_number_of_twenty_parallel_ones(redis_cache, figure):
    """Per request: the link and its knowledge check work once, whoever races for it."""
    from privacy_portal.audit.models import AuditEvent

    guest, token = _pending_guest("guest.race@example.com")

    def confirm(i: int) -> int:
        client = Client(REMOTE_ADDR=f"198.51.100.{i + 1}")
        response = client.post(f"/requests/verify/{token}/", {"order_number": f"ORDER-{i}"})
        return response.status_code

    codes = _parallel(confirm)
    # Refused: the link was used up, or (the first ones) the number matched no order.
    named = _named(codes, s302="taken", s400="link used up")
    _tally(figure, "order numbers at one confirmation link", named, "taken", 1)
    assert sorted(codes) == [302] + [400] * (PARALLEL - 1), codes
    guest.refresh_from_db()
    assert guest.state == "in_review" and guest.verification_nonce == ""
    assert len(guest.snapshot()["order_numbers"]) == 1
    moves = AuditEvent.objects.filter(object_id=str(guest.pk), action="dsr.request.state_changed")
    assert moves.filter(reason="email_confirmed_knowledge_unmatched").count() == 1


def test_confirmation_links_from_one_address_are_limited(redis_cache, figure, settings):
    """Per client address: 20 links tried at once from one address, 5 are looked at."""
    settings.DSR_VERIFY_RATE = "5/h"
    links = [_pending_guest(f"guest.{i}@example.com") for i in range(PARALLEL)]

    def confirm(i: int) -> int:
        url = f"/requests/verify/{links[i][1]}/"
        return Client().post(url, {"order_number": ""}).status_code

    codes = _parallel(confirm)
    named = _named(codes, s302="looked at")
    _tally(figure, "confirmation links from one address", named, "looked at", 5)
    assert codes.count(302) == 5 and codes.count(429) == PARALLEL - 5, codes
    pending = DataSubjectRequest.objects.filter(state="awaiting_identity").count()
    assert pending == PARALLEL - 5


def test_download_codes_from_one_address_are_limited(redis_cache, figure, settings):
    """Per client address: 20 guesses at 20 guests' downloads at once, 5 are checked."""
    settings.DSR_DOWNLOAD_CODE_RATE = "5/h"
    downloads = [_completed_guest(f"guest.{i}@example.com") for i in range(PARALLEL)]

    def guess(i: int) -> int:
        guest, token = downloads[i]
        url = f"/requests/{guest.reference}/download/code/"
        return Client().post(url, {"code": "12345678", "t": token}).status_code

    codes = _parallel(guess)
    _tally(figure, "download codes from one address", _named(codes, s400="checked"), "checked", 5)
    assert codes.count(400) == 5 and codes.count(429) == PARALLEL - 5, codes
    assert not any(guest.package.download_count for guest, _token in downloads)


def test_twenty_forged_download_links_find_nothing(redis_cache, figure):
    """The links are signed: altered ones (from 20 addresses at once) find no request, send no
    code and download nothing."""
    from django.core import mail
    from django.core.cache import cache

    guest, token = _completed_guest("guest.link@example.com")
    other, _other_token = _completed_guest("guest.other@example.com")
    value, _sep, signature = token.rpartition(":")
    forged = [f"{value}:{signature[:-4]}{i:04d}" for i in range(PARALLEL - 1)]
    forged.append(token)  # a real link, used on another request's page

    def try_link(i: int) -> int:
        reference = other.reference if i == PARALLEL - 1 else guest.reference
        client = Client(REMOTE_ADDR=f"203.0.113.{i + 1}")
        url = f"/requests/{reference}/download/code/"
        return client.post(url, {"send": "1", "t": forged[i]}).status_code

    sent = len(mail.outbox)
    codes = _parallel(try_link)
    named = _named(codes, s404="found nothing")
    _tally(figure, "forged or misused download links", named, "found", 0)
    assert set(codes) == {404}
    assert len(mail.outbox) == sent
    assert cache.get(f"dsr-download-code-{guest.pk}") is None
    assert cache.get(f"dsr-download-code-{other.pk}") is None


# --- the admin's sign-in: allauth's, with the second factor ---------------------------------------


def _admin_login_attempt(email: str, password: str, address: str = "127.0.0.1") -> str:
    client = Client(REMOTE_ADDR=address)
    # The admin sends everyone to allauth's sign-in (and back to the admin afterwards).
    login_url = client.get("/admin/login/?next=/admin/")["Location"]
    assert login_url.startswith("/accounts/login/?next=")
    response = client.post(login_url, {"login": email, "password": password})
    return _verdict(response, WRONG_PASSWORD)


def test_the_admin_sign_in_checks_five_of_twenty_parallel_guesses_at_one_account(
    redis_cache, figure
):
    from tests.factories import StaffFactory

    staff = StaffFactory(group="Support")
    results = _parallel(
        lambda i: _admin_login_attempt(staff.email, f"guess-{i}", f"192.0.2.{i + 1}")
    )
    _tally(figure, "admin sign-in guesses at one account", results, "checked", 5)
    assert results.count("checked") <= 5, results
    assert results.count("checked") + results.count("limited") == PARALLEL, results
    assert _admin_login_attempt(staff.email, "correct-horse-battery-staple") == "limited"
    # The admin's own form is not a way round: it signs no one in.
    client = Client()
    client.post(
        "/admin/login/", {"username": staff.email, "password": "correct-horse-battery-staple"}
    )
    assert "_auth_user_id" not in client.session


def test_the_admin_sign_in_checks_ten_guesses_from_one_address_at_twenty_accounts(
    redis_cache, figure
):
    from tests.factories import StaffFactory

    accounts = [StaffFactory(group="Support") for _ in range(PARALLEL)]
    results = _parallel(lambda i: _admin_login_attempt(accounts[i].email, "wrong-password"))
    _tally(figure, "admin sign-in guesses from one address", results, "checked", 10)
    assert results.count("checked") <= 10, results
    assert results.count("checked") + results.count("limited") == PARALLEL, results


def _halfway(staff, address: str) -> Client:
    """A client that gave ``staff``'s right password and must now give the second factor."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(
        "/accounts/login/?next=/admin/",
        {"login": staff.email, "password": "correct-horse-battery-staple"},
    )
    assert response["Location"].startswith("/accounts/2fa/authenticate/"), response.status_code
    return client


def _code_attempt(client: Client, code: str) -> str:
    response = client.post("/accounts/2fa/authenticate/", {"code": code})
    return _verdict(response, "Incorrect code")


def _wrong_code() -> str:
    from accounts.demo import totp_code
    from tests.factories import TOTP_SECRET

    right = {totp_code(TOTP_SECRET, at=time.time() + drift) for drift in (-30, 0, 30)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in right)


def test_twenty_parallel_second_factor_guesses_at_one_staff_account_check_five(redis_cache, figure):
    from accounts.demo import totp_code
    from tests.factories import TOTP_SECRET, StaffFactory

    staff = StaffFactory(group="Compliance officer")
    clients = [_halfway(staff, f"192.0.2.{i + 1}") for i in range(PARALLEL)]
    wrong = _wrong_code()
    results = _parallel(lambda i: _code_attempt(clients[i], wrong))
    _tally(figure, "second-factor guesses at one account", results, "checked", 5)
    assert results.count("checked") <= 5, results
    assert results.count("checked") + results.count("limited") == PARALLEL, results
    # Locked: the right code from yet another address is refused too.
    assert _code_attempt(_halfway(staff, "192.0.2.200"), totp_code(TOTP_SECRET)) == "limited"


def test_second_factor_guesses_from_one_address_at_twenty_staff_accounts_check_ten(
    redis_cache, figure
):
    from tests.factories import StaffFactory

    clients = [_halfway(StaffFactory(group="Support"), "127.0.0.1") for _ in range(PARALLEL)]
    wrong = _wrong_code()
    results = _parallel(lambda i: _code_attempt(clients[i], wrong))
    _tally(figure, "second-factor guesses from one address", results, "checked", 10)
    assert results.count("checked") <= 10, results
    assert results.count("checked") + results.count("limited") == PARALLEL, results


def test_the_limits_count_clients_without_keeping_their_addresses(redis_cache, settings):
    """Anonymous clients are counted by a keyed hash of their address: the cache holds no
    address, nor an unkeyed hash that anyone could reverse by trying every address; an IPv6
    client is counted by its /48 network; each client has a limit of its own."""
    import hashlib

    import redis
    from django.test import RequestFactory

    from privacy_portal.pseudonymise import ratelimit_client

    settings.DSR_INTAKE_RATE = "1/h"
    address = "203.0.113.77"
    first = Client(REMOTE_ADDR=address)
    assert (
        first.post("/requests/new/", {"type": "access", "email": "a@example.com"}).status_code
        == 302
    )
    assert (
        first.post("/requests/new/", {"type": "access", "email": "b@example.com"}).status_code
        == 429
    )
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert (
        other.post("/requests/new/", {"type": "access", "email": "c@example.com"}).status_code
        == 302
    )

    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    stored = b" ".join(client.keys("*")).decode()
    assert address not in stored and hashlib.md5(address.encode()).hexdigest() not in stored  # noqa: S324

    def key(ip: str) -> str:
        return ratelimit_client("g", RequestFactory().get("/", REMOTE_ADDR=ip))

    assert key("2001:db8:1:aaaa::1") == key("2001:db8:1:bbbb::2") != key("2001:db8:2::1")
    assert key(address) != key("203.0.113.78") and address not in key(address)
    counted_as = key(address)
    settings.PORTAL_HASH_KEY = "another-key-0123456789abcdef0123456789"
    assert key(address) != counted_as  # keyed: not to be found without the portal's key


@pytest.mark.parametrize("address", ["203.0.113.77", "2001:db8:77::5"])
def test_sign_in_limits_keep_neither_the_address_nor_what_was_typed(redis_cache, settings, address):
    """allauth counts failed sign-ins per client and per account: through the portal's cache
    keys it does so by keyed hashes, so the cache holds neither the client's address (nor its
    IPv6 network) nor the plain SHA-256 of the e-mail address typed; and the limit still holds
    (the sixth guess at one account is refused)."""
    import hashlib
    import ipaddress

    import redis

    customer = UserFactory(email="kept.out@example.com")
    outcomes = [_login_attempt(customer.email, f"wrong-{n}", address=address) for n in range(6)]
    assert outcomes == ["checked"] * 5 + ["limited"], outcomes

    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    stored = b" ".join(client.keys("*")).decode()
    assert ":login_failed:" in stored and ":login:" in stored
    prefix = 48 if ":" in address else 32
    network = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
    typed = hashlib.sha256(customer.email.encode()).hexdigest()
    for secret in (address, network, typed, customer.email):
        assert secret not in stored, secret
