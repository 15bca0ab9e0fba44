"""The shared cache: Django's Redis backend, which lets an outage lapse the limits instead of failing.

Everything kept here may be lost without harm: rate-limit counters and throttles (a Redis outage
lets requests through uncounted for its length) and memos of rendered pages. So while Redis cannot
be reached, a read finds nothing, a write is skipped, and a counter starts again from the step
asked for; the request goes on, never a 500. Only connection failures are tolerated: anything else
(a wrong command, bad data) still raises.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import wraps

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
OUTAGE = (RedisConnectionError, RedisTimeoutError)
# One warning per this many seconds, not one per request, while Redis is down.
WARN_EVERY_SECONDS = 30.0
_last_warning = 0.0
_warning_lock = threading.Lock()


def redis_outage_warn(what: str, exc: Exception) -> None:
    """Log that Redis could not be reached for `what`, at most every WARN_EVERY_SECONDS per process."""
    global _last_warning
    with _warning_lock:
        now = time.monotonic()
        if now - _last_warning < WARN_EVERY_SECONDS:
            return
        _last_warning = now
    logger.warning("Redis is unreachable (%s: %s); %s goes on without it", type(exc).__name__, exc, what)


def _tolerant(fallback):
    """Run the backend's method; if Redis cannot be reached, warn and return `fallback(*args, **kwargs)`."""

    def decorate(method):
        @wraps(method)
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except OUTAGE as exc:
                redis_outage_warn(f"the cache ({method.__name__})", exc)
                return fallback(*args, **kwargs)

        return run

    return decorate


def _default(key, default=None, *args, **kwargs):
    return default


def _nothing(*args, **kwargs):
    return None


def _added(*args, **kwargs):
    return True  # as if the key were new: a counter's window starts again


def _not_kept(*args, **kwargs):
    return False


def _empty(*args, **kwargs):
    return {}


def _none_failed(*args, **kwargs):
    return []


def _step(key, delta=1, version=None):
    return delta  # as if counting from zero: nobody is over a limit during an outage


class DegradingRedisCache(RedisCache):
    """RedisCache whose operations outlast a Redis outage (see the module docstring)."""

    get = _tolerant(_default)(RedisCache.get)
    get_many = _tolerant(_empty)(RedisCache.get_many)
    has_key = _tolerant(_not_kept)(RedisCache.has_key)
    add = _tolerant(_added)(RedisCache.add)
    set = _tolerant(_nothing)(RedisCache.set)
    set_many = _tolerant(_none_failed)(RedisCache.set_many)
    touch = _tolerant(_not_kept)(RedisCache.touch)
    delete = _tolerant(_not_kept)(RedisCache.delete)
    delete_many = _tolerant(_nothing)(RedisCache.delete_many)
    incr = _tolerant(_step)(RedisCache.incr)
    clear = _tolerant(_not_kept)(RedisCache.clear)
