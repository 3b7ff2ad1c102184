"""The demo services answer malformed requests with 400, as a real service would."""

from __future__ import annotations

import io
import json

import pytest

from dsr.demo import services


@pytest.mark.parametrize("length", ["abc", "-5", "1e3"])
def test_a_content_length_that_is_not_a_size_answers_400(tmp_path, length):
    app = services.DemoServices(tmp_path / "services.sqlite3", {"newsletter-consent": "s" * 32})
    answered: list[str] = []
    environ = {
        "PATH_INFO": services.CONSENT_PATH,
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": length,
        "wsgi.input": io.BytesIO(b"{}"),
    }
    body = b"".join(app(environ, lambda status, headers: answered.append(status)))
    assert answered == ["400 Bad Request"]
    assert json.loads(body) == {"error": {"code": "bad_length"}}


def test_a_demo_outage_refuses_the_service_until_it_ends(tmp_path, settings):
    """``manage.py demo_outage``: the portal reads the refusal as one not to retry, so that
    staff see the failed step and retry it once the service is back."""
    from django.core.management import call_command

    from dsr.connectors.http import _RETRY_STATUSES

    settings.VAR_DIR = tmp_path
    settings.PORTAL_DEMO = True
    (tmp_path / "demo").mkdir()
    app = services.DemoServices(tmp_path / "demo" / "services.sqlite3", {})

    def post(endpoint: str) -> tuple[str, bytes]:
        answered: list[str] = []
        environ = {
            "PATH_INFO": f"/{endpoint}/dsr",
            "REQUEST_METHOD": "POST",
            "CONTENT_LENGTH": "2",
            "wsgi.input": io.BytesIO(b"{}"),
        }
        body = b"".join(app(environ, lambda status, headers: answered.append(status)))
        return answered[0], body

    out = io.StringIO()
    call_command("demo_outage", "newsletter", stdout=out)
    assert "refuses the portal's requests" in out.getvalue()
    status, body = post("newsletter")
    assert status.startswith("422") and json.loads(body) == {"error": {"code": "demo_outage"}}
    assert not post("group-crm")[0].startswith("422")  # only the service taken down
    assert 422 not in _RETRY_STATUSES  # failed at once, not retried for minutes

    call_command("demo_outage", "newsletter", "--end", stdout=io.StringIO())
    assert not post("newsletter")[0].startswith("422")
