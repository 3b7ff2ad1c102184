"""Pseudonymisation helpers: what the portal keeps instead of raw identifiers.

- IP addresses are truncated (IPv4 to /24, IPv6 to /48) before they are stored anywhere.
- User agents, e-mail addresses and other identities are kept, where the portal needs to
  recognise them again, only as keyed hashes (HMAC-SHA256 under ``PORTAL_HASH_KEY``), each
  with its own purpose so that hashes from different contexts cannot be joined.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.http import HttpRequest


def truncate_ip(ip: str | None) -> str:
    """Return ``ip`` with its host part zeroed (IPv4 /24, IPv6 /48), or "" if invalid."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def client_ip(request: HttpRequest) -> str:
    """Return the client's address as seen through the configured number of trusted proxies."""
    return get_adapter().get_client_ip(request) or ""


def client_ip_truncated(request: HttpRequest) -> str:
    """Return the client's address, truncated for storage."""
    try:
        return truncate_ip(client_ip(request))
    except Exception:  # a malformed X-Forwarded-For must never break a request
        return ""


def ratelimit_client(group: str, request: HttpRequest) -> str:
    """Return what a rate limit counts an anonymous client by: a keyed hash of its address
    (IPv6 by its /48 network, as one household or office has many), so that the cache holds
    no address, nor a hash of one that anyone could reverse by trying every address."""
    ip = client_ip(request).strip()
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return keyed_hash("unknown", purpose="ratelimit")
    if address.version == 6:
        address = ipaddress.ip_network(f"{address}/48", strict=False).network_address
    return keyed_hash(str(address), purpose="ratelimit")


def ratelimit_account_or_client(group: str, request: HttpRequest) -> str:
    """Return what a rate limit counts by: the account when signed in, else the client."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"account:{user.pk}"
    return ratelimit_client(group, request)


def keyed_hash(value: str, *, purpose: str) -> str:
    """Return the hex HMAC-SHA256 of ``value`` for ``purpose`` under the portal's hash key."""
    key = settings.PORTAL_HASH_KEY.encode()
    message = purpose.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def normalise_email(email: str) -> str:
    """Return the form of an e-mail address used for matching and kept: trimmed, in lower
    case, its domain in the letters people read (a label in punycode, ``xn--…``, decoded), so
    that both spellings of one mailbox are one address."""
    email = email.strip().lower()
    local, at, domain = email.rpartition("@")
    if at and "xn--" in domain:
        # One mail cannot reach is left as it is: the address's validator says so.
        with contextlib.suppress(UnicodeError):
            domain = domain.encode("ascii").decode("idna").lower()
    return f"{local}@{domain}" if at else email


def email_hash(email: str) -> str:
    """Return the keyed hash that identifies an e-mail address without storing it."""
    return keyed_hash(normalise_email(email), purpose="email")


def user_agent_hash(request: HttpRequest) -> str:
    """Return a keyed hash of the request's user agent (empty when none was sent)."""
    agent = request.headers.get("User-Agent", "")
    return keyed_hash(agent, purpose="user-agent")[:32] if agent else ""
