"""The shared cache: Django's Redis backend, which outlasts a Redis outage instead of failing.

Everything kept here may be lost without harm: rate-limit counters and throttles, and memos. So
while Redis cannot be reached, each operation goes to this process's own memory instead (Django's
LocMemCache): the request goes on, never a 500, and the limits still hold, per process (with N web
processes, a limit allows up to N times its count during the outage, and counts start afresh).
Only connection failures switch over: anything else (a wrong command, bad data) still raises.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import wraps

from django.core.cache.backends.locmem import LocMemCache
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


def _tolerant(name: str):
    """The backend's method `name`; if Redis cannot be reached, warn and use this process's memory."""

    redis_method = getattr(RedisCache, name)

    @wraps(redis_method)
    def run(self, *args, **kwargs):
        try:
            return redis_method(self, *args, **kwargs)
        except OUTAGE as exc:
            redis_outage_warn(f"the cache ({name}, kept in this process's memory)", exc)
            return getattr(self.fallback, name)(*args, **kwargs)

    return run


class DegradingRedisCache(RedisCache):
    """RedisCache that keeps going in each process's memory while Redis is down (module docstring)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        # Django makes a backend object per thread; LocMemCache shares its memory by name, so every
        # thread of the process counts in the same place (named by the server, as the cache is).
        self.fallback = LocMemCache(f"redis-outage:{server}", {"KEY_PREFIX": params.get("KEY_PREFIX", "")})

    get = _tolerant("get")
    get_many = _tolerant("get_many")
    has_key = _tolerant("has_key")
    add = _tolerant("add")
    set = _tolerant("set")
    set_many = _tolerant("set_many")
    touch = _tolerant("touch")
    delete = _tolerant("delete")
    delete_many = _tolerant("delete_many")
    incr = _tolerant("incr")
    clear = _tolerant("clear")
