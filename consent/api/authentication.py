"""Bearer tokens of Inper's other systems: ``Authorization: Bearer inper_<prefix>_<secret>``.

Only the SHA-256 of a token is stored. A token's client and hash are cached briefly (a minute)
in the shared cache so that reads do not query the database; revoking a token, or changing or
deactivating its client, makes that entry stale at once (see ``StampedEntry``). The presented
token is still compared with the stored hash on every request, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from privacy_portal.cache import MISSING, StampedEntry, stamps_renew

from ..models import ApiClient, ApiToken

PREFIX = "inper_"
KEYWORD = "Bearer"
CACHE_SECONDS = 60


def _entry(prefix: str) -> StampedEntry:
    return StampedEntry(f"consent:api-token:{prefix}", CACHE_SECONDS)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_issue(*, client: ApiClient, expires_at: Any = None) -> tuple[ApiToken, str]:
    """Create a token for ``client``; return the row and the token, which is shown only once."""
    prefix = secrets.token_hex(4)
    token = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken.objects.create(
        client=client, prefix=prefix, token_hash=token_hash(token), expires_at=expires_at
    )
    _forget([prefix])  # a lookup of the prefix may have cached "unknown"
    return row, token


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke ``token`` at once: its cached entry is stale from now on."""
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    _forget([token.prefix])


def api_client_forget(client: ApiClient) -> None:
    """Make the cached entries of every token of ``client`` stale (after a change of the
    client: its scopes, or its deactivation)."""
    _forget(list(client.tokens.values_list("prefix", flat=True)))


def _forget(prefixes: list[str]) -> None:
    stamps_renew(_entry(prefix) for prefix in prefixes)


def _token_row(prefix: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("client")
        .filter(prefix=prefix, revoked_at=None, client__is_active=True)
        .first()
    )


def token_cached(prefix: str, prefetch: list[str] | None = None) -> tuple[dict[str, Any], Any]:
    """Read the token's cached entry and the cache keys in ``prefetch`` in one round trip;
    return what was read and the entry (the client and the token's hash, ``"-"`` for a token
    known not to be valid, or :data:`MISSING`)."""
    entry = _entry(prefix)
    found = cache.get_many([*entry.keys(), *(prefetch or [])])
    return found, entry.value(found)


def token_prefix(header: str) -> tuple[str, str] | None:
    """Return the prefix and the token of an ``Authorization`` header, or None if it is not a
    well-formed bearer token."""
    keyword, _, token = header.partition(" ")
    if keyword != KEYWORD or not token.startswith(PREFIX) or len(token) > 100:
        return None
    return token[len(PREFIX) :].split("_", 1)[0], token


def _lookup(
    prefix: str, prefetch: list[str] | None = None
) -> tuple[tuple[ApiClient, str] | None, dict[str, Any]]:
    """Return the token's client and hash (from the cache when it can), and the values of the
    cache keys in ``prefetch``, read in the same round trip."""
    found, cached = token_cached(prefix, prefetch)
    prefetched = {key: found[key] for key in prefetch or [] if key in found}
    if cached is not MISSING:
        return (cached if cached != "-" else None), prefetched
    entry = _entry(prefix)
    now = timezone.now()
    row = _token_row(prefix)
    if row is not None and (row.expires_at is None or row.expires_at > now):
        timeout = CACHE_SECONDS
        if row.expires_at is not None:
            timeout = max(1, min(timeout, int((row.expires_at - now).total_seconds())))
        entry.store(found, (row.client, row.token_hash), timeout)
        return (row.client, row.token_hash), prefetched
    entry.store(found, "-")
    return None, prefetched


class ApiTokenAuthentication(BaseAuthentication):
    """Bearer tokens. A view with ``prefetch_keys(**url_kwargs)`` has those cache keys read
    with the token's, in one round trip to the cache; it finds them in ``request.prefetched``."""

    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[ApiClient, str] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        parsed = token_prefix(header)
        if parsed is None:
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        prefix, token = parsed
        context = request.parser_context or {}
        view = context.get("view")
        keys_of = getattr(view, "prefetch_keys", None)
        prefetch = keys_of(**context.get("kwargs", {})) if keys_of else None
        found, request.prefetched = _lookup(prefix, prefetch)  # type: ignore[attr-defined]
        if found is None or not hmac.compare_digest(found[1], token_hash(token)):
            raise exceptions.AuthenticationFailed("Unknown, expired or revoked token.")
        return found[0], token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="consent"'


class HasScope(BasePermission):
    """The client's scopes include the view's ``required_scope``."""

    message = "This token lacks the scope this endpoint needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        client: Any = request.user
        return isinstance(client, ApiClient) and getattr(view, "required_scope", "") in (
            client.scopes or []
        )


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Describes the bearer tokens in the OpenAPI schema."""

    target_class = "consent.api.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token per client system (inper_<prefix>_<secret>), with scopes.",
        }
