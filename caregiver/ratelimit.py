"""Fixed-window counters in the shared cache (Redis in production) for abuse limits: how many
codes one number may be sent, how many sign-ups one address may submit. Cheap and approximate
on purpose; the point is to make SMS pumping and guessing expensive, not to meter exactly.
Every counter's key is built by `_key`, which keeps only a keyed hash of who is counted.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address, ip_network

from django.core.cache import cache
from django.utils.crypto import salted_hmac


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int


def address_bucket(address: str) -> str:
    """Who an IP address counts as: itself for IPv4, its /64 network for IPv6.

    One IPv6 host is normally given a whole /64 (18 quintillion addresses), so counting each
    address apart would let it guess, sign up and ask for codes without limit.
    """
    try:
        ip = ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _key(limit: Limit, subject: str) -> str:
    subject = address_bucket(subject)  # a subject that is an IP address: its /64 when IPv6
    # The subject (a phone number, an email address, an IP address, a username) never sits in Redis
    # as typed: an HMAC of it under SECRET_KEY, so a copy of Redis cannot be read back or guessed
    # through (a plain hash of every number in an area code is minutes of work).
    digest = salted_hmac("caregiver.ratelimit", subject, algorithm="sha256").hexdigest()[:32]
    return f"rl:{limit.name}:{digest}:{int(time.time()) // limit.seconds}"


def _wait(limit: Limit) -> int:
    return limit.seconds - int(time.time()) % limit.seconds


def limit_hit(limit: Limit, subject: str) -> int | None:
    """Count one use of `limit` by `subject`. Returns None if allowed, else seconds until it is.

    A guess (a password, a code) is counted before it is checked, and a right one taken back with
    limit_refund: checking first and counting after lets guesses sent side by side all be checked
    before any is counted.
    """
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


def limit_refund(limit: Limit, subject: str) -> None:
    """Take back one use that limit_hit counted: the attempt turned out right (a password, a code)."""
    with contextlib.suppress(ValueError):  # the window ended in between: nothing to take back
        cache.decr(_key(limit, subject))
