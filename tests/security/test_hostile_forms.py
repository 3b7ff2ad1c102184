"""Every form of the portal, fed hostile input as the person the form is for:

- a fixed corpus (SQL injection, markup, path traversal, NUL, right-to-left and zero-width
  characters, template syntax, 100,000 characters...) in every field, one field at a time with
  valid values in the others, so that each value reaches the services;
- random text from hypothesis in any mix of fields (every code point, control characters
  included, lone surrogates replaced; and strings of up to 200,000 characters), with a fixed
  seed, ``FUZZ_EXAMPLES`` per form (10 by default; by hand:
  ``FUZZ_EXAMPLES=200 make pytest PYTEST_ARGS=tests/security/test_hostile_forms.py``);
- invalid UTF-8 in the body, a 10 MB body and 10,000 fields.

Every answer must be below 500, must not return the input unescaped (nor may the page a
redirect leads to), and a refused input must leave every table as it was. The forms are found
on their pages (see ``tests/security/hostile.py``), so a new field is fuzzed without a change
here; a scene whose page no longer has its form fails.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote_plus, urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.security.hostile import (
    CORPUS,
    SCENES,
    World,
    changed_tables,
    fingerprint,
    forms_on,
    fuzz_settings,
    hostile_file,
    refused,
    rolled_back,
    submit,
)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
IDS = [scene.name for scene in SCENES]


@pytest.fixture
def relaxed(settings: Any) -> None:
    """No rate limits (they are tested on their own, and would stop the fuzzing early)."""
    settings.RATELIMIT_ENABLE = False
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture
def world(relaxed: None) -> World:
    return World()


@pytest.mark.parametrize("scene", SCENES, ids=IDS)
def test_the_corpus_in_every_field(world, scene):
    client = world.client(scene.who)
    forms = forms_on(client, scene.page(world), scene.only)
    assert forms, f"{scene.name}: no form"
    problems: list[str] = []
    tried = 0
    for form in forms:
        valid = {**form.valid(), **scene.extra}
        # The valid values are accepted: the hostile ones get as far as the services.
        scene.prepare(world)
        with rolled_back(client):
            send = client.post if form.method == "post" else client.get
            assert not refused(send(form.action, valid)), f"{scene.name}: {form.action} refused"
        for name in [*form.fields, *scene.extra]:
            for label, value in CORPUS.items():
                hostile: Any = hostile_file(value) if name in form.files else value
                where = f"{scene.name} {form.method} {form.action} {name}={label}"
                scene.prepare(world)
                problems += submit(
                    client, form, {**valid, name: hostile}, hostile=[value], where=where
                )
                tried += 1
    print(f"corpus, {scene.name}: {tried} tried, {len(problems)} failures")
    assert not problems, "\n".join(problems[:30])


def _without_lone_surrogates(text: str) -> str:
    """Pair surrogates into their character and replace lone ones (they cannot be sent)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def hostile_text() -> st.SearchStrategy[str]:
    """Any text: every code point (controls, format characters, private use...), short or
    up to 200,000 characters long, marked so that a reflection cannot be mistaken for the
    page's own markup."""
    anything = st.characters(codec=None)
    short = st.text(anything, max_size=200)
    controls = st.text(st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Co")), max_size=40)
    huge = st.builds(
        lambda unit, size: (unit * (size // len(unit) + 1))[:size],
        st.text(anything, min_size=1, max_size=8),
        st.integers(1_000, 200_000),
    )
    return st.one_of(short, controls, huge).map(
        lambda text: f"Zq{_without_lone_surrogates(text)}qZ"
    )


def _random_text(world: World, client: Any, scene: Any, form: Any) -> tuple[int, list[str]]:
    """Fuzz one form: each example keeps some fields valid and gives the others random text."""
    valid = {**form.valid(), **scene.extra}
    names = [name for name in [*form.fields, *scene.extra] if name not in form.files]
    strategy = st.fixed_dictionaries(
        {
            **{name: st.just(value) for name, value in valid.items()},
            **{name: st.one_of(st.just(valid[name]), hostile_text()) for name in names},
        }
    )
    tried = 0

    @given(data=strategy)
    @fuzz_settings(EXAMPLES)
    def fuzz(data: dict[str, str]) -> None:
        nonlocal tried
        tried += 1
        hostile = [value for name, value in data.items() if value != valid[name]]
        scene.prepare(world)
        found = submit(client, form, data, hostile=hostile, where=f"{scene.name} {form.action}")
        assert not found, found

    try:
        fuzz()
    except AssertionError as error:
        return tried, [str(error)[:2000]]
    return tried, []


@pytest.mark.parametrize("scene", SCENES, ids=IDS)
def test_random_text_in_every_form(world, scene):
    client = world.client(scene.who)
    problems: list[str] = []
    tried = 0
    for form in forms_on(client, scene.page(world), scene.only):
        count, found = _random_text(world, client, scene, form)
        tried += count
        problems += found
    print(f"random text, {scene.name}: {tried} tried, {len(problems)} failures")
    assert tried and not problems, "\n".join(problems)


INVALID_UTF8 = b"\xff\xfe\xc3(\xed\xa0\x80"  # not UTF-8; the last three, a lone surrogate


def _body(data: dict[str, str], raw: dict[str, bytes]) -> bytes:
    """A form body with ``raw`` values as they are (not percent-encoded)."""
    parts = [urlencode({name: value}).encode() for name, value in data.items() if name not in raw]
    parts += [quote_plus(name).encode() + b"=" + value for name, value in raw.items()]
    return b"&".join(parts)


@pytest.mark.parametrize("scene", SCENES, ids=IDS)
def test_invalid_utf8_a_10_mb_body_and_10000_fields(world, scene):
    """Raw bytes that are not UTF-8 in each field, a body too large and too many fields: each
    refused (400/413) before any view runs."""
    client = world.client(scene.who)
    problems: list[str] = []
    tried = 0
    for form in forms_on(client, scene.page(world), scene.only):
        if form.method != "post":
            continue
        valid = {**form.valid(), **scene.extra}
        bodies = {f"invalid UTF-8 in {name}": _body(valid, {name: INVALID_UTF8}) for name in valid}
        bodies["10 MB"] = _body(valid, {"details": b"x" * 10_000_000})
        bodies["10,000 fields"] = _body(valid, {f"f{n}": b"x" for n in range(10_000)})
        for label, body in bodies.items():
            tried += 1
            scene.prepare(world)
            with rolled_back(client):
                before = fingerprint()
                response = client.generic(
                    "POST", form.action, body, content_type="application/x-www-form-urlencoded"
                )
                changed = changed_tables(before, fingerprint())
            where = f"{scene.name} {form.action} ({label})"
            if response.status_code >= 500:
                problems.append(f"{where}: answered {response.status_code}")
            if label in ("10 MB", "10,000 fields"):
                if response.status_code not in (400, 413) or changed:
                    problems.append(f"{where}: {response.status_code}, changed {changed}")
            elif response.status_code != 400 or changed:
                # Else Django reads the bytes as replacement characters and stores them.
                problems.append(f"{where}: {response.status_code}, changed {changed}")
    print(f"bodies, {scene.name}: {tried} tried, {len(problems)} failures")
    assert not problems, "\n".join(problems)


def test_evidence_is_kept_under_a_generated_name(world, settings, tmp_path):
    """An evidence file's own name can be a person's name (it would outlive their erasure on
    disk) or nothing a file system accepts (emoji only): the portal keeps neither."""
    settings.MEDIA_ROOT = tmp_path
    task = world.manual_step
    client = world.client("compliance")
    for name in ("anna-schmidt-psp-export.PDF", "\U0001f600" * 40 + ".pdf", "../../etc/passwd.pdf"):
        with rolled_back(client):
            (form,) = forms_on(client, f"/dashboard/requests/{task.request.reference}/", "tasks")
            upload = SimpleUploadedFile(name, b"%PDF-1.4 proof", "application/pdf")
            response = client.post(
                form.action, {**form.valid(), f"done-{task.pk}-evidence": upload}
            )
            assert response.status_code == 302 and not refused(response), name
            task.refresh_from_db()
            stored = task.evidence.name
            assert re.fullmatch(r"dsr/evidence/\d{4}/\d{2}/[0-9a-f]{24}(\.pdf)?", stored), stored
            assert (tmp_path / stored).read_bytes() == b"%PDF-1.4 proof"


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("charset", ["utf-16", "latin-1"])
def test_a_form_in_another_encoding_is_refused_on_every_page(
    client, customer, settings, charset, debug
):
    """Django refuses to parse a form that says it is not UTF-8 (BadRequest); answered 400
    before any view, signed in or not, and in DEBUG too (whose error page reads the form)."""
    from tests.conftest import login

    settings.DEBUG = debug
    signed_in = login(Client(raise_request_exception=False), customer)
    anonymous = Client(raise_request_exception=False)
    for who, path in ((anonymous, "/accounts/login/"), (anonymous, "/"), (signed_in, "/account/")):
        response = who.generic(
            "POST",
            path,
            b"first_name=Mallory",
            content_type=f"application/x-www-form-urlencoded; charset={charset}",
        )
        assert response.status_code == 400, (path, response.status_code)
    customer.refresh_from_db()
    assert customer.first_name != "Mallory"
