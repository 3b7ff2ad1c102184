"""Times on pages: written in UTC with the zone named, marked for the browser's own zone."""

from __future__ import annotations

from datetime import UTC, datetime

from django.template import Context, Template
from django.utils import translation


def _render(source: str, **context: object) -> str:
    return Template("{% load portal_time %}" + source).render(Context(context))


def test_a_time_is_written_in_utc_inside_an_element_holding_the_exact_moment():
    moment = datetime(2026, 1, 15, 9, 30, 5, tzinfo=UTC)
    with translation.override("de"):
        html = _render("{{ when|local_time }}", when=moment)
    assert html == (
        '<time datetime="2026-01-15T09:30:05+00:00" data-local="long">'
        "15. Januar 2026, 09:30 UTC</time>"
    )
    with translation.override("en"):
        short = _render('{{ when|local_time:"short" }}', when=moment)
    assert short.endswith('data-local="short">15 Jan 2026, 09:30 UTC</time>')


def test_no_time_writes_nothing_so_that_a_default_can_take_its_place():
    assert _render('{{ when|local_time|default:"never" }}', when=None) == "never"
    assert _render("{{ when|local_time }}", when="<script>") == ""
