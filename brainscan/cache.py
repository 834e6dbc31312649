"""The shared cache, which in production holds only rate-limit counters, kept out of the way of
a Redis outage.

Django's RedisCache raises when Redis is down or hung, and every view that counts a rate
limit then answers 500: signing in (allauth) and the whole REST API (DRF throttling), while
uploads and results, which live in the database, keep working. This backend acts as an
empty cache instead: counters start again and limits are not enforced until Redis is back.
That is a deliberate trade-off for a cache that holds nothing but counters: an outage costs
brute-force protection for its duration (bcrypt still makes every guess slow), not the
service. Each failure is logged, at most once a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 60.0
_last_logged = 0.0


def _fail_open(fallback: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(method)
        def wrapper(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except RedisError as exc:
                _log(method.__name__, exc)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _log(operation: str, exc: RedisError) -> None:
    global _last_logged
    now = time.monotonic()
    if now - _last_logged >= LOG_EVERY_SECONDS:
        _last_logged = now
        logger.warning(
            "cache unavailable (%s on %s): rate limits are not counted until Redis is back",
            type(exc).__name__,
            operation,
        )


def _default(key: str, default: Any = None, version: int | None = None) -> Any:
    return default


def _missing(key: str, *args: Any, **kwargs: Any) -> Any:
    raise ValueError(f"Key '{key}' not found")  # what incr/decr say of a key that is not there


class ResilientRedisCache(RedisCache):
    """RedisCache that answers as Django's DummyCache while Redis cannot be reached.

    `add` says "stored", as DummyCache does: allauth takes a lock with it, and a lock that can
    never be taken would refuse every sign-in (429) for the whole outage.
    """

    get = _fail_open(_default)(RedisCache.get)
    set = _fail_open(lambda *a, **k: None)(RedisCache.set)
    add = _fail_open(lambda *a, **k: True)(RedisCache.add)  # as DummyCache: "stored"
    touch = _fail_open(lambda *a, **k: False)(RedisCache.touch)
    delete = _fail_open(lambda *a, **k: False)(RedisCache.delete)
    has_key = _fail_open(lambda *a, **k: False)(RedisCache.has_key)
    incr = _fail_open(_missing)(RedisCache.incr)
    get_many = _fail_open(lambda *a, **k: {})(RedisCache.get_many)
    set_many = _fail_open(lambda keys, *a, **k: list(keys))(RedisCache.set_many)
    delete_many = _fail_open(lambda *a, **k: None)(RedisCache.delete_many)
    clear = _fail_open(lambda *a, **k: False)(RedisCache.clear)
