"""The consent read API answered from the cache, without the REST framework's machinery.

``GET /api/v1/consent/customers/<id>/`` is by far the most frequent request the portal serves
(Inper's other systems ask before every message they send). When the client's token and the
customer's answer are both in the cache, the answer takes one round trip to the cache, and the
REST framework's request wrapping, authentication and permission classes, content negotiation
and response rendering cost more than everything else together. This middleware, last in
``MIDDLEWARE`` (every other middleware has run, and adds its headers to the answer as to any
other), answers such a read itself with the bytes and headers the view gives:

- the same checks, in the same functions: a well-formed bearer token whose cached entry is
  valid (compared with the presented token in constant time), a client holding the
  ``consent:read`` scope, an answer cached under the current catalogue;
- the same body (the REST framework's JSON renderer) and the same headers (``Allow``).

Anything else is passed on to the view unchanged, which answers exactly as before, errors
included: another method, a query string, an ``Accept`` other than JSON, a token that is
malformed, unknown, revoked, not cached or lacks the scope, an answer not cached. Tests compare
the two paths' responses.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..models import ApiClient, ApiScope
from ..selectors import consent_current_cached, consent_current_keys
from .authentication import token_cached, token_hash, token_prefix

#: The path of ``consent_api:customer`` (a test checks that it matches the URL conf).
PATH = re.compile(r"/api/v1/consent/customers/([0-9]{1,18})/")
_JSON = frozenset({"", "*/*", "application/json"})
_ALLOW = "GET, HEAD, OPTIONS"


class ConsentReadFastPath:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET" and settings.CONSENT_API_FAST_PATH:
            match = PATH.fullmatch(request.path_info)
            if match is not None:
                response = self.answer(request, int(match[1]))
                if response is not None:
                    return response
        return self.get_response(request)

    def answer(self, request: HttpRequest, customer_id: int) -> HttpResponse | None:
        meta = request.META
        if meta.get("QUERY_STRING") or meta.get("HTTP_ACCEPT", "") not in _JSON:
            return None
        parsed = token_prefix(meta.get("HTTP_AUTHORIZATION", ""))
        if parsed is None:
            return None
        prefix, token = parsed
        found, entry = token_cached(prefix, consent_current_keys(customer_id))
        if not isinstance(entry, tuple):
            return None
        client, stored_hash = entry
        if not (
            isinstance(client, ApiClient)
            and hmac.compare_digest(stored_hash, token_hash(token))
            and ApiScope.READ in (client.scopes or [])
        ):
            return None
        body = consent_current_cached(customer_id, found)
        if body is None:
            return None
        response = HttpResponse(body, content_type="application/json")
        response["Allow"] = _ALLOW
        return response
