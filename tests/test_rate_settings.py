"""A limit's rate is read as django-ratelimit reads it, and a rate it cannot read stops the
portal at its system checks instead of failing the first form that uses it."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from privacy_portal.ratelimits import rate_window


@pytest.mark.parametrize(
    ("rate", "seconds"), [("10/h", 3600), ("120/m", 60), ("5/15m", 900), ("1/2D", 172800)]
)
def test_a_rate_gives_its_window_in_seconds(rate, seconds):
    assert rate_window(rate) == seconds


@pytest.mark.parametrize("rate", ["", "10", "ten/h", "10/hour", "0/h", "10/h;", "/m", "10/w"])
def test_anything_else_is_not_a_rate(rate):
    with pytest.raises(ValueError):
        rate_window(rate)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("DSR_INTAKE_RATE", "dsr.E001"),
        ("DSR_OPT_OUT_RATE", "dsr.E001"),
        ("DSR_DOWNLOAD_CODE_RATE", "dsr.E001"),
        ("CONSENT_RATE_BANNER", "consent.E002"),
    ],
)
def test_a_misspelt_rate_fails_the_system_checks(settings, name, code):
    assert code not in {problem.id for problem in run_checks()}
    setattr(settings, name, "10 per hour")
    problems = [problem for problem in run_checks() if problem.id == code]
    assert [problem.msg.split()[0] for problem in problems] == [name]
