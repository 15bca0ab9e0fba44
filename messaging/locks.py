"""Locks for beat jobs and a token bucket per SMS sender, in Redis when there is one.

Without Redis (`make run` on a bare laptop, with its filesystem broker) a file lock and an
in-process bucket stand in: there is one beat and one worker machine there anyway.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import redis
from django.conf import settings

from config.cache import OUTAGE, redis_outage_warn

logger = logging.getLogger(__name__)


def redis_in_use() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)


@contextmanager
def beat_lock(name: str, *, ttl: int = 300) -> Iterator[bool]:
    """Non-blocking: yields False at once if another process holds `name`."""
    if redis_in_use():
        lock = redis_client().lock(f"alongside:lock:{name}", timeout=ttl, blocking=False)
        got = lock.acquire()
        try:
            yield got
        finally:
            if got:
                try:
                    lock.release()
                except redis.exceptions.LockError:
                    logger.warning("lock %s expired before release", name)
        return
    folder = Path(settings.VAR_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Refill by elapsed time, take one token if there is one; else say how long until there will be.
# Runs inside Redis so every worker shares one bucket per sender, with Redis's own clock.
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""

# The same bucket, for a whole batch: take up to `want` tokens from each sender in one round trip.
# ARGV holds want, rate and burst for each key in turn; returns how many each key granted.
_BATCH_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local granted = {}
for i, key in ipairs(KEYS) do
  local want = tonumber(ARGV[3 * i - 2])
  local rate = tonumber(ARGV[3 * i - 1])
  local burst = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local ts = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  local take = math.min(want, math.floor(tokens))
  tokens = tokens - take
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('EXPIRE', key, math.ceil(burst / rate) + 60)
  granted[i] = take
end
return granted
"""

_local_buckets: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()


def sender_take_token(sender: str, *, rate: float) -> float:
    """Take a send token for `sender`; returns 0 when taken, else seconds to wait before asking again."""
    burst = max(1.0, rate)
    if redis_in_use():
        try:
            script = redis_client().register_script(_BUCKET_SCRIPT)
            return float(script(keys=[f"alongside:bucket:{sender}"], args=[rate, burst]))
        except OUTAGE as exc:
            # Each worker process keeps the rate on its own until Redis is back.
            redis_outage_warn("the SMS send rate (kept per process)", exc)
    with _local_lock:
        now = time.monotonic()
        tokens, ts = _local_buckets.get(sender, (burst, now))
        tokens = min(burst, tokens + (now - ts) * rate)
        if tokens >= 1:
            _local_buckets[sender] = (tokens - 1, now)
            return 0.0
        _local_buckets[sender] = (tokens, now)
        return (1 - tokens) / rate


def senders_take_tokens(wants: dict[str, tuple[int, float]]) -> dict[str, int]:
    """Take up to `count` tokens for each sender in {sender: (count, rate)}, in one Redis round trip.

    Returns how many each sender granted; a batch asks once instead of once per message, and
    whatever was not granted goes through `sender_take_token` one message at a time.
    """
    if not wants:
        return {}
    senders = list(wants)
    if redis_in_use():
        args: list[float] = []
        for sender in senders:
            count, rate = wants[sender]
            args += [count, rate, max(1.0, rate)]
        try:
            script = redis_client().register_script(_BATCH_SCRIPT)
            granted = script(keys=[f"alongside:bucket:{sender}" for sender in senders], args=args)
            return {sender: int(n) for sender, n in zip(senders, granted, strict=True)}
        except OUTAGE as exc:
            redis_outage_warn("the SMS send rate (kept per process)", exc)
    granted_local: dict[str, int] = {}
    with _local_lock:
        now = time.monotonic()
        for sender in senders:
            count, rate = wants[sender]
            burst = max(1.0, rate)
            tokens, ts = _local_buckets.get(sender, (burst, now))
            tokens = min(burst, tokens + (now - ts) * rate)
            take = min(count, int(tokens))
            _local_buckets[sender] = (tokens - take, now)
            granted_local[sender] = take
    return granted_local
