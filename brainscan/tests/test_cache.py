"""The shared cache holds only rate-limit counters: a Redis outage must not become a 500."""

from __future__ import annotations

import pytest

from brainscan.cache import ResilientRedisCache


@pytest.fixture
def unreachable() -> ResilientRedisCache:
    # Port 1 on loopback: nothing listens, so every call fails at once with ConnectionError.
    options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    return ResilientRedisCache("redis://127.0.0.1:1/0", {"OPTIONS": options})


def test_unreachable_redis_reads_as_an_empty_cache(unreachable):
    assert unreachable.get("rate:login", []) == []
    assert unreachable.get_many(["a", "b"]) == {}
    assert unreachable.has_key("rate:login") is False


def test_unreachable_redis_takes_writes_without_raising(unreachable):
    unreachable.set("rate:login", [1.0], 60)
    assert unreachable.add("rate:login:lock", True, 10) is True  # allauth's lock is granted
    assert unreachable.delete("rate:login:lock") is False
    with pytest.raises(ValueError, match="not found"):
        unreachable.incr("counter")
