"""Public privacy pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .policies import STATEMENT_UPDATED, statement_blocks


@require_GET
def statement(request: HttpRequest) -> HttpResponse:
    """Show the privacy statement with its last-updated date."""
    return render(
        request,
        "consent/statement.html",
        {"blocks": statement_blocks(), "updated": STATEMENT_UPDATED},
    )
