"""The portal's use of the shared cache: entries that writers invalidate without races, and
the Redis backend.

The Redis backend is Django's, with one client per connection pool.

Django's backend builds a new ``redis.Redis`` for every cache call, and building one (with its
table of response callbacks) costs about as much as the round trip to Redis itself. A client
is safe to share between threads (each command takes a connection from the pool) and its pool
reconnects after a fork, so one per pool serves the whole process. ``incr`` is one round trip
(a script) instead of two, still refusing a key that does not exist, as Django's does. Keys
are not checked for memcached's limits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from django.db import transaction

# allauth's rate-limit keys: ``allauth:rl:<app>:<action>:<amount>/<seconds>/<per>:`` then, per
# client, ``ip:<address>`` (IPv6 has colons) or, per key, the SHA-256 of e.g. the e-mail
# address typed; its locks add ``:lock``.
_ALLAUTH_LIMIT = re.compile(r"(allauth:rl:[^:]*:[^:]*:[^:]*/(?:ip|key):)(ip:)?(.+?)(:lock)?")


def cache_key(key: str, key_prefix: str, version: int) -> str:
    """Build a cache key as Django does (``KEY_FUNCTION``), except that allauth's sign-in limits
    count a client by a keyed hash of its address, and an account by a keyed hash of what was
    typed, instead of the address itself and a plain SHA-256 (which anyone can reverse by
    trying every address): the cache holds neither."""
    match = _ALLAUTH_LIMIT.fullmatch(key) if key.startswith("allauth:rl:") else None
    if match is not None:
        from .pseudonymise import keyed_hash

        counted = keyed_hash(match[3], purpose="allauth-ratelimit")
        key = f"{match[1]}{match[2] or ''}{counted}{match[4] or ''}"
    return f"{key_prefix}:{version}:{key}"


# INCRBY only if the key exists (nil otherwise), in one round trip.
_INCR_EXISTING = """
if redis.call('exists', KEYS[1]) == 1 then
  return redis.call('incrby', KEYS[1], ARGV[1])
end
return nil
"""


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, servers: Any, **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}
        self._incr_script: Any = None

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._client(connection_pool=pool)  # type: ignore[attr-defined]
            client = self._clients.setdefault(id(pool), client)
        return client

    def incr(self, key: Any, delta: int) -> Any:
        client = self.get_client(key, write=True)
        if self._incr_script is None:
            self._incr_script = client.register_script(_INCR_EXISTING)
        value = self._incr_script(keys=[key], args=[delta], client=client)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with the client above, without the
    check of every key for memcached's limits (a warning, never an error, that walks each key
    character by character: 40 microseconds of a cached API read's five keys, where Redis takes
    any key)."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def validate_key(self, key: str) -> None:
        pass


# --- entries that writers invalidate ----------------------------------------------------------

MISSING: Any = object()


@dataclass(frozen=True)
class StampedEntry:
    """A value kept in the shared cache until one of its writers renews its stamp.

    Deleting a cached value when the data changes leaves a race: a reader that read the old
    data just before the change commits stores it again just after the writer deleted it, and
    the stale value then lives until it expires. Here the value is stored with the stamp the
    reader saw *before* it read the data, and counts only while that stamp is still current;
    a writer renews the stamp (a new random value) when it changes the data and again once its
    transaction commits. The value and its stamp are read in one round trip (``keys``).
    """

    key: str
    timeout: int
    #: The stamp's key, if not the value's key with ``:stamp``: entries holding the same data
    #: in different forms can share one stamp.
    stamp: str = ""

    @property
    def stamp_key(self) -> str:
        return self.stamp or f"{self.key}:stamp"

    def keys(self) -> list[str]:
        """Return the cache keys to read (with ``cache.get_many``, maybe with other keys)."""
        return [self.key, self.stamp_key]

    def value(self, found: Mapping[str, Any]) -> Any:
        """Return the value from the keys read, or :data:`MISSING` if absent or stale."""
        entry = found.get(self.key)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == found.get(self.stamp_key):
            return entry[1]
        return MISSING

    def store(self, found: Mapping[str, Any], value: Any, timeout: int | None = None) -> None:
        """Keep ``value``, read from the data after ``found`` was read from the cache."""
        cache.set(self.key, (found.get(self.stamp_key), value), timeout or self.timeout)


def stamps_renew(entries: Iterable[StampedEntry]) -> None:
    """Make the cached values of ``entries`` stale, now and once the transaction commits (a
    reader may have read the old data in between)."""
    entries = list(entries)
    if not entries:
        return

    def renew() -> None:
        # Outlive any value stored under the old stamp: a stamp that expired reads as None,
        # which a value stored before the first renewal carries.
        cache.set_many(
            {entry.stamp_key: uuid.uuid4().hex for entry in entries},
            2 * max(entry.timeout for entry in entries) + 60,
        )

    renew()
    transaction.on_commit(renew)
