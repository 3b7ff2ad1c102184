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
