"""The portal's Redis cache backend (one client per process, counters in one round trip) and
the cached entries that writers make stale without a race."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import transaction

from privacy_portal.cache import MISSING, StampedEntry, stamps_renew


def test_the_redis_client_is_built_once_and_shared(redis_cache):
    backend = cache._cache
    assert backend.get_client("a") is backend.get_client("b", write=True)
    cache.set("shared", {"n": 1})
    assert cache.get("shared") == {"n": 1} and cache.get_many(["shared", "nope"]) == {
        "shared": {"n": 1}
    }


def test_incr_counts_existing_keys_and_refuses_missing_ones(redis_cache):
    with pytest.raises(ValueError):
        cache.incr("counter")
    assert cache.get("counter") is None  # refusing did not create it
    assert cache.add("counter", 0, 60)
    assert [cache.incr("counter") for _ in range(3)] == [1, 2, 3]
    assert cache.incr("counter", 10) == 13
    cache._cache._incr_script.sha = "0" * 40  # as after a Redis restart: loaded again
    assert cache.incr("counter") == 14


@pytest.mark.django_db(transaction=True)
def test_a_stamped_value_is_stale_once_a_writer_renews_its_stamp():
    entry = StampedEntry("test:stamped", 60)
    found = cache.get_many(entry.keys())
    assert entry.value(found) is MISSING
    entry.store(found, "old")
    assert entry.value(cache.get_many(entry.keys())) == "old"

    read_before_change = cache.get_many(entry.keys())
    with transaction.atomic():
        stamps_renew([entry])
        entry.store(read_before_change, "old")  # a reader that read before the change
        assert entry.value(cache.get_many(entry.keys())) is MISSING
        during = cache.get_many(entry.keys())
        entry.store(during, "old, read before the commit")
    assert entry.value(cache.get_many(entry.keys())) is MISSING  # renewed again on commit

    after = cache.get_many(entry.keys())
    entry.store(after, "new")
    assert entry.value(cache.get_many(entry.keys())) == "new"


@pytest.mark.django_db(transaction=True)
def test_entries_sharing_a_stamp_go_stale_together():
    """The consent API's answer is kept as JSON under the stamp it had as a dictionary, so that
    processes of either kind, during a deployment, make each other's answers stale."""
    as_dict = StampedEntry("test:answer", 60)
    as_json = StampedEntry("test:answer-json", 60, stamp=as_dict.stamp_key)
    for entry, value in ((as_dict, {"a": 1}), (as_json, b'{"a":1}')):
        entry.store(cache.get_many(entry.keys()), value)
    assert as_json.value(cache.get_many(as_json.keys())) == b'{"a":1}'
    stamps_renew([as_dict])  # a writer that knows only the dictionary
    assert as_json.value(cache.get_many(as_json.keys())) is MISSING
    assert as_dict.value(cache.get_many(as_dict.keys())) is MISSING
