"""Fixed-window counters in the shared cache (Redis in production) for abuse limits: how many
codes one number may be sent, how many sign-ups one address may submit. Cheap and approximate
on purpose; the point is to make SMS pumping and guessing expensive, not to meter exactly.
Every counter's key is built by `_key`, which keeps only a keyed hash of who is counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache
from django.utils.crypto import salted_hmac


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int


def _key(limit: Limit, subject: str) -> str:
    # The subject (a phone number, an email address, an IP address, a username) never sits in Redis
    # as typed: an HMAC of it under SECRET_KEY, so a copy of Redis cannot be read back or guessed
    # through (a plain hash of every number in an area code is minutes of work).
    digest = salted_hmac("caregiver.ratelimit", subject, algorithm="sha256").hexdigest()[:32]
    return f"rl:{limit.name}:{digest}:{int(time.time()) // limit.seconds}"


def _wait(limit: Limit) -> int:
    return limit.seconds - int(time.time()) % limit.seconds


def limit_wait(limit: Limit, subject: str) -> int | None:
    """Counts nothing: None if `subject` has uses of `limit` left in this window, else seconds until it has.

    For limits on failures (wrong passwords): ask before trying, count with limit_hit only on failure.
    """
    used = cache.get(_key(limit, subject)) or 0
    return _wait(limit) if used >= limit.count else None


def limit_hit(limit: Limit, subject: str) -> int | None:
    """Count one use of `limit` by `subject`. Returns None if allowed, else seconds until it is."""
    key = _key(limit, subject)
    # add() then incr() keeps the counter atomic in Redis; a missing key starts the window.
    if cache.add(key, 1, timeout=limit.seconds + 5):
        used = 1
    else:
        try:
            used = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=limit.seconds + 5)
            used = 1
    if used > limit.count:
        return _wait(limit)
    return None
