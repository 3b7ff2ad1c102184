"""Site-wide behaviour: pages, languages, health, error pages, security headers."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client, RequestFactory
from django.utils import timezone

from privacy_portal.views import server_error

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_home_links_to_every_part(client):
    page = client.get("/").content.decode()
    for link in ("/accounts/login/", "/accounts/signup/", "/privacy/statement/"):
        assert f'href="{link}"' in page


def test_a_visitor_without_an_account_is_shown_how_to_stop_marketing(client, customer):
    """The choices card leads to a sign-in; a guest (a trade-show contact) is also offered the
    request that stops marketing without one, with the objection already chosen (and every
    marketing use ticked: tests/dsr/test_views.py)."""
    page = client.get("/").content.decode()
    assert 'href="/requests/new/?type=objection&amp;marketing=all"' in page
    form = client.get("/requests/new/?type=objection&marketing=all").content.decode()
    assert re.search(
        r'<input[^>]*value="objection"[^>]*checked|<option value="objection" selected', form
    )
    client.force_login(customer)
    assert "?type=objection" not in client.get("/").content.decode()


def test_privacy_statement_is_shown_with_its_date(client):
    page = client.get("/privacy/statement/").content.decode()
    assert "Last updated" in page
    assert "<h2>Children\u2019s Privacy</h2>" in page
    assert "privacy@inper.com" in page


@pytest.mark.parametrize(
    "url",
    [
        "/privacy/statement/",
        "/privacy/statement/v1/",
        "/privacy/cookie-policy/",
        "/privacy/cookie-policy/v1/",
    ],
)
def test_a_german_policy_page_marks_the_english_text_and_says_so(client, url):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    page = client.get(url).content.decode()
    assert '<html lang="de">' in page
    # Screen readers read the policy, published in English only, with English pronunciation.
    assert '<div class="policy-text" lang="en">' in page
    assert "Dieser Text liegt nur auf Englisch vor." in page


def test_a_material_change_is_announced_on_the_statement_itself(client, superuser, monkeypatch):
    """The statement promises a prominent notice on its page of a material change: visitors
    without an account see it too, for 90 days, with what changed and the earlier text."""
    from datetime import timedelta

    from consent import selectors
    from consent.services import policy_publish

    def notice() -> str:
        page = client.get("/privacy/statement/").content.decode()
        return page.split('class="notice notice-warning policy-change"', 1)[-1].split("</section>")[
            0
        ]

    assert "policy-change" not in client.get("/privacy/statement/").content.decode()
    policy_publish(
        document="privacy_statement",
        body="## Sharing\nWe now share order data with a payment partner.",
        material=True,
        summary={"en": "Order data now goes to a payment partner.", "de": "Neu: Zahlungspartner."},
        actor=superuser,
    )
    shown = notice()
    assert "We changed our privacy statement on" in shown
    assert "Order data now goes to a payment partner." in shown
    assert 'href="/privacy/statement/v1/"' in shown  # the text in force before the change
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    assert "Neu: Zahlungspartner." in notice()
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]
    # Reading the earlier version is not the place for it; nor is a minor edit a new notice.
    assert "policy-change" not in client.get("/privacy/statement/v1/").content.decode()
    policy_publish(
        document="privacy_statement",
        body="## Sharing\nWe now share order data with a payment partner (typo fixed).",
        material=False,
        summary={"en": "A typo."},
        actor=superuser,
    )
    assert "Order data now goes to a payment partner." in notice()
    later = timezone.now() + timedelta(days=91)
    monkeypatch.setattr(selectors, "timezone", SimpleNamespace(now=lambda: later))
    assert "policy-change" not in client.get("/privacy/statement/").content.decode()


def test_an_english_policy_page_needs_no_language_note(client):
    page = client.get("/privacy/statement/").content.decode()
    assert '<div class="policy-text">' in page
    assert "available in English only" not in page


def test_switching_to_german_translates_the_site_and_remembers_it(customer_client, customer):
    response = customer_client.post("/language/", {"language": "de", "next": "/account/"})
    assert response.status_code == 302 and response["Location"] == "/account/"
    page = customer_client.get("/account/").content.decode()
    assert 'lang="de"' in page
    assert "Mein Konto" in page
    customer.refresh_from_db()
    assert customer.preferred_language == "de"
    # Said, in the language chosen: it changes the e-mails too.
    assert "Unsere E-Mails an Sie sind ab jetzt ebenfalls auf Deutsch." in page
    # A visitor without an account is told nothing of e-mails.
    visitor = Client()
    visitor.post("/language/", {"language": "de", "next": "/"})
    assert "Unsere E-Mails" not in visitor.get("/").content.decode()


def test_the_language_menu_names_each_language_in_itself(client):
    """Someone who cannot read the page's language still finds their own in the menu."""
    client.post("/language/", {"language": "de", "next": "/"})
    page = client.get("/").content.decode()
    assert '<option value="en" lang="en">English</option>' in page
    assert '<option value="de" selected lang="de">Deutsch</option>' in page


def test_language_switch_refuses_foreign_redirects(client):
    response = client.post("/language/", {"language": "de", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_healthz_and_readyz(client):
    assert client.get("/healthz").content == b"ok\n"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}


def test_readyz_names_what_is_down(client, monkeypatch):
    monkeypatch.setattr("privacy_portal.views._check_broker", lambda: False)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"


def test_unknown_pages_get_the_portal_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "find that page" in response.content.decode()


def test_a_database_outage_answers_a_friendly_503():
    request = RequestFactory().get("/")
    try:
        raise OperationalError("could not connect to server")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "briefly unavailable" in response.content.decode()


def test_other_errors_answer_the_500_page():
    request = RequestFactory().get("/")
    try:
        raise ValueError("boom")
    except ValueError:
        response = server_error(request)
    assert response.status_code == 500
    assert "boom" not in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/requests/?q=a%00b",  # refused before most of the middleware: the same headers
        "/requests/%00/",
        "/requests/?q=%FF",
        "/api/v1/consent/purposes/?q=%00",
    ],
)
def test_pages_send_careful_headers(client, path):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]
    assert response["Permissions-Policy"]


def test_a_wrong_method_on_the_api_is_answered_in_json(client):
    response = client.get("/api/v1/stores/callback/")
    assert response.status_code == 405 and response["Content-Type"] == "application/json"
    assert response.json() == {"error": "method_not_allowed", "detail": "Use POST."}
    page = client.put("/requests/new/")
    assert page.status_code == 405 and page["Content-Type"].startswith("text/html")


def test_the_content_security_policy_is_django_csp_s_own_and_views_may_still_change_it(
    client, rf, settings, monkeypatch
):
    from csp.decorators import csp_update
    from csp.utils import build_policy
    from django.http import HttpResponse

    from privacy_portal.middleware import ContentSecurityPolicyMiddleware

    built = []
    monkeypatch.setattr(
        "privacy_portal.middleware.build_policy",
        lambda **kw: built.append(kw) or build_policy(**kw),
    )
    for url in ("/", "/api/v1/consent/purposes/", "/privacy/banner/config.json"):
        assert client.get(url)["Content-Security-Policy"] == build_policy()
    assert len(built) <= 2  # once (and once for the report-only header), not per response
    monkeypatch.undo()

    @csp_update({"img-src": "https://images.inper.example"})
    def view(request):
        return HttpResponse("ok")

    middleware = ContentSecurityPolicyMiddleware(view)
    own = middleware(rf.get("/"))["Content-Security-Policy"]
    assert "https://images.inper.example" in own and own != build_policy()

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/")["Content-Security-Policy"] == "default-src 'none'"


def _production_env(**extra):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "privacy_portal.settings.production",
        "ALLOWED_HOSTS": "privacy.inper.example",
        "PORTAL_HASH_KEY": "a-test-hash-key-that-is-long-enough-0123",
        "PORTAL_ENCRYPTION_KEYS": "q2B3VqT9mGdC0E9xJ8eQm2l8vKk3c6yqP1n0o9r8s7Q=",
        "SECRET_KEY": "x9!k2@m4#p6$r8%t0^v2&y4*a6(c8)e0_g2+i4=k6-m8q0s2u4w6",
        "DATABASE_URL": "postgres://portal@db.invalid:5432/portal",
        "CELERY_BROKER_URL": "redis://redis.invalid:6379/1",
        "EMAIL_URL": "smtp+tls://mail.invalid:587",
        "PORTAL_BASE_URL": "https://privacy.inper.example",
        "CONSENT_SMS_WEBHOOK_SECRET": "a-test-sms-secret-that-is-long-enough",
    }
    env.update({name: value for name, value in extra.items() if value is not None})
    for name in [name for name, value in extra.items() if value is None]:  # left out
        env.pop(name, None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    return env


# What the README promises production passes (and `make check` runs).
CHECK_DEPLOY = ("check", "--deploy", "--fail-level", "WARNING")


def _manage_in_production(*args: str, **extra: str | None) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` with ``args`` under the production settings, given
    ``_production_env(**extra)``."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_production_env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage_in_production(*CHECK_DEPLOY)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_passes_before_the_cache_is_reachable():
    """As with the database: a deployment is checked before its services run (compose)."""
    result = _manage_in_production(*CHECK_DEPLOY, REDIS_URL="redis://redis.invalid:6379/0")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_warns_while_replies_of_stop_cannot_be_received():
    result = _manage_in_production(*CHECK_DEPLOY, CONSENT_SMS_WEBHOOK_SECRET=None)
    assert result.returncode != 0
    assert "consent.W001" in result.stderr and "STOP" in result.stderr


def test_check_deploy_warns_of_a_public_address_without_https():
    result = _manage_in_production(
        *CHECK_DEPLOY,
        PORTAL_BASE_URL="http://privacy.inper.example",
    )
    assert result.returncode != 0
    assert "portal.W001" in result.stderr and "PORTAL_BASE_URL" in result.stderr


def test_production_settings_refuse_a_weak_secret_key():
    result = _manage_in_production("check", SECRET_KEY="short")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_settings_read_earlier_secret_keys_and_refuse_a_weak_one():
    earlier = [secrets.token_urlsafe(48), secrets.token_urlsafe(48)]
    shown = _manage_in_production(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)",
        SECRET_KEY_FALLBACKS=",".join(earlier),
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == repr(earlier)
    refused = _manage_in_production("check", SECRET_KEY_FALLBACKS=f"{earlier[0]},short")
    assert refused.returncode != 0 and "SECRET_KEY_FALLBACKS" in refused.stderr


def test_production_settings_refuse_an_encryption_key_that_is_not_a_fernet_key():
    """``openssl rand -hex 32`` makes a key of another form: refused at start-up, with how to
    make one, instead of at the first encryption; the key itself is not repeated."""
    wrong = "ab" * 32
    result = _manage_in_production(
        "check", PORTAL_ENCRYPTION_KEYS=f"q2B3VqT9mGdC0E9xJ8eQm2l8vKk3c6yqP1n0o9r8s7Q=,{wrong}"
    )
    assert result.returncode != 0
    assert "PORTAL_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key" in result.stderr
    assert "Fernet.generate_key()" in result.stderr and wrong not in result.stderr


@pytest.mark.parametrize(
    ("unset", "said"),
    [
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:////tmp/portal.sqlite3"}, "not SQLite"),
        ({"CELERY_BROKER_URL": None, "REDIS_URL": None}, "CELERY_BROKER_URL"),
        ({"EMAIL_URL": None, "PORTAL_BASE_URL": None}, "EMAIL_URL, PORTAL_BASE_URL"),
    ],
)
def test_production_settings_refuse_the_development_services(unset, said):
    """Left out, these would quietly mean SQLite, a broker in a folder, e-mail into files and
    links to localhost."""
    result = _manage_in_production("check", **unset)
    assert result.returncode != 0 and said in result.stderr, result.stderr[-2000:]


def test_gunicorn_and_the_workers_default_to_the_production_settings():
    """Started without DJANGO_SETTINGS_MODULE, the web entry point and Celery's app both take
    the production settings (which refuse to start without their secrets), never debug."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    web = subprocess.run(
        [sys.executable, "-c", "import privacy_portal.wsgi"],
        cwd=ROOT,
        env={**env, "SECRET_KEY": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert web.returncode != 0 and "SECRET_KEY" in web.stderr, web.stderr[-2000:]
    worker = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, privacy_portal.celery; print(os.environ['DJANGO_SETTINGS_MODULE'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.stdout.strip() == "privacy_portal.settings.production", worker.stderr


@pytest.mark.parametrize("path", ["/", "/privacy/statement/", "/privacy/cookies/", "/healthz"])
def test_pages_answer_head_as_they_answer_get(client, path):
    """Uptime monitors and link checkers ask with HEAD."""
    assert client.head(path).status_code == client.get(path).status_code == 200


def test_a_wrong_method_gets_a_page_that_says_so(client):
    response = client.get("/language/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    page = response.content.decode()
    assert "This address does not work that way" in page and "Go to the start page" in page
    # The API's own answers keep their JSON.
    api = client.post("/api/schema/")
    assert api.status_code == 405 and b"not allowed" in api.content
    assert b"does not work that way" not in api.content


def test_the_demo_serves_its_own_error_pages_and_its_static_files_without_debug(tmp_path):
    """``make run``'s settings: no debug page lists the portal's URLs to a visitor who
    mistypes one; the static files come from the source folders, without collectstatic."""
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "from django.test.utils import setup_test_environment\n"
        "setup_test_environment()\n"
        "client = Client()\n"
        "missing = client.get('/no-such-page/')\n"
        "print(settings.DEBUG, settings.PORTAL_DEMO, missing.status_code)\n"
        "page = missing.content.decode()\n"
        "print('URLconf' in page, 'Page not found' in page)\n"
        "static = client.get('/static/css/portal.css')\n"
        "print(static.status_code, b''.join(static.streaming_content)[:20] != b'')\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "privacy_portal.settings.dev",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
    }
    env.pop("DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.split("\n")[:3] == ["False True 404", "False True", "200 True"], done.stderr
