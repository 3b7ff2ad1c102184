"""Swagger UI for the API, served from the sidecar package (no CDN) and compatible with the
portal's Content-Security-Policy: the page and its start-up script are separate files, and the
page has no inline style."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "consent/api_docs.html"
