"""Log lines hold ids, never personal data: the formatter's second line of defence."""

from __future__ import annotations

import importlib.util
import json
import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import RequestFactory

from privacy_portal.logs import ScrubbingJsonFormatter, ScrubPersonalDataFilter, scrub


def _line(record: logging.LogRecord) -> str:
    ScrubPersonalDataFilter().filter(record)
    return ScrubbingJsonFormatter("%(levelname)s %(name)s %(message)s").format(record)


def test_a_request_is_logged_as_its_method_and_path_only():
    request = RequestFactory().get(
        "/dashboard/?q=alice.canary%40example.com&person=Canary+Person&status=%00"
    )
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Bad Request: %s", (request.path,), None
    )
    record.request = request
    line = json.loads(_line(record))
    assert line["request"] == "GET /dashboard/"
    assert "canary" not in json.dumps(line).lower()


def test_addresses_phone_numbers_and_ips_in_messages_are_masked():
    record = logging.LogRecord(
        "dsr",
        logging.ERROR,
        __file__,
        1,
        "store said %s",
        ("no customer alice@example.com, +49 151 1234 5678, from 203.0.113.9",),
        None,
    )
    line = _line(record)
    assert "alice@example.com" not in line and "1234 5678" not in line
    assert "203.0.113.9" not in line and "[email]" in line


def test_the_portal_logs_through_the_scrubbing_formatter():
    formatters = settings.LOGGING["formatters"]
    assert any("ScrubbingJsonFormatter" in str(spec.get("()", "")) for spec in formatters.values())


def test_a_long_line_is_masked_without_trying_every_position():
    # A 100,000-character path used to take half a minute: the address pattern was tried from
    # every position inside the run of letters.
    line = "/requests/" + "A" * 100_000 + "/ from alice.canary@example.com"
    assert scrub(line) == "/requests/" + "A" * 100_000 + "/ from [email]"


def test_a_nul_character_gets_the_400_page_and_one_log_line_without_a_traceback(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.get("/requests/", {"q": "a\x00b"})
    assert response.status_code == 400
    assert "We couldn't read that request" in response.content.decode()
    refused = [r for r in caplog.records if r.getMessage() == "request refused: NUL character"]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING
    assert not any(r.exc_info for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


def test_the_400_page_speaks_the_visitors_language(client):
    response = client.get("/requests/", {"q": "a\x00b"}, headers={"accept-language": "de"})
    page = response.content.decode()
    assert response.status_code == 400
    assert '<html lang="de">' in page and "Diese Anfrage konnten wir nicht lesen" in page


def test_a_request_django_refuses_as_suspicious_is_one_warning_line(support_client, caplog):
    """An admin filter no list offers (as the password-hash oracle tried) answers 400; the log
    says so in one warning line, not as an error with a traceback."""
    import io

    from django.utils.module_loading import import_string

    caplog.set_level(logging.INFO)
    response = support_client.get("/admin/accounts/user/?password__startswith=pbkdf2")
    assert response.status_code == 400
    [record] = [r for r in caplog.records if r.name.startswith("django.security.")]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ScrubbingJsonFormatter("%(levelname)s %(name)s %(message)s"))
    for name in settings.LOGGING["handlers"]["console"]["filters"]:
        handler.addFilter(import_string(settings.LOGGING["filters"][name]["()"])())
    handler.handle(record)
    line = json.loads(stream.getvalue())
    assert line["levelname"] == "WARNING" and "exc_info" not in line
    assert "Traceback" not in stream.getvalue()


SINGLE_USE_PATHS = (
    "/requests/verify/eyJyIjo0Mn0:1vS3cr:Tok-en_1/",
    "/privacy/confirm/eyJzIjo3fQ:1vS3cr:Tok-en_2/",
    "/unsubscribe/eyJwIjoibSJ9:1vS3cr:Tok-en_3/",
    "/accounts/confirm-email/MTI:1vS3cr:Tok-en_4/",
    "/accounts/password/reset/key/2-cz8v1k-S3cretTok-en_5/",
    # As probes send them: in capitals, and with a space or quote decoded before the secret.
    "/REQUESTS/VERIFY/eyJyIjo0Mn0:1vS3cr:Tok-en_6/",
    '/privacy/confirm/"eyJzIjo3fQ:1vS3cr:Tok-en_7/',
    "/unsubscribe/ eyJwIjoibSJ9:1vS3cr:Tok-en_8/",
)


@pytest.mark.parametrize("path", SINGLE_USE_PATHS)
def test_the_secret_of_a_single_use_link_never_reaches_a_log(path):
    secret = path.rstrip("/").rsplit("/", 1)[1].strip(' "')
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"GET %s HTTP/1.1" 200 512', (path,), None
    )
    assert secret not in _line(record) and "[token]" in _line(record)

    # gunicorn's access log (privacy_portal/gunicorn.conf.py) prints the path it is given.
    spec = importlib.util.spec_from_file_location(
        "portal_gunicorn_conf", Path(settings.BASE_DIR) / "privacy_portal" / "gunicorn.conf.py"
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    logger = conf.AccessLogger.__new__(conf.AccessLogger)
    atoms = logger.atoms(
        SimpleNamespace(status="200 OK", sent=512),
        None,
        {"REQUEST_METHOD": "GET", "PATH_INFO": path},
        timedelta(milliseconds=3),
    )
    assert secret not in atoms["U"] and atoms["U"].endswith("/[token]/")


def test_paths_without_a_secret_are_logged_as_they_are():
    for path in ("/accounts/password/reset/key/done/", "/requests/DSR-2026-000123/"):
        assert scrub(path) == path


def test_djangos_own_records_are_written_once_and_masked():
    """With DEBUG on, Django's default console handler printed its records a second time,
    unmasked (a refused CSRF check quotes the path with the link's secret): every record of
    Django's goes through the portal's masking handler only."""
    django_logger = logging.getLogger("django")
    assert django_logger.handlers == [] and django_logger.propagate
    (portal,) = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, ScrubbingJsonFormatter)
    ]
    assert any(isinstance(f, ScrubPersonalDataFilter) for f in portal.filters)
