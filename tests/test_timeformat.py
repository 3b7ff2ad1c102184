"""Times on pages: written in UTC with the zone named, marked for the browser's own zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

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


def test_a_day_of_a_moment_is_marked_for_the_readers_zone_and_a_plain_date_is_not():
    moment = datetime(2026, 1, 15, 3, 30, tzinfo=UTC)
    with translation.override("en"):
        assert _render("{{ when|local_date }}", when=moment) == (
            '<time datetime="2026-01-15T03:30:00+00:00" data-local="date">15 January 2026</time>'
        )
        assert 'data-local="short-date">15 Jan 2026<' in _render(
            '{{ when|local_date:"short" }}', when=moment
        )
        assert _render("{{ when|local_date }}", when=date(2026, 1, 15)) == "15 January 2026"
        assert _render('{{ when|local_time:"time" }}', when=moment).endswith(
            'data-local="time">03:30 UTC</time>'
        )
    assert _render("{{ when|local_date }}", when=None) == ""
