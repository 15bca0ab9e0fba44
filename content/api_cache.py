"""What the tip API keeps between requests, so that a repeat request costs no query.

Clinic websites ask for the same few pages over and over, and the words change a few times a
year. Rendering a page of 50 tips costs about 15 ms, checking an API key's hash about 1 ms, and
DRF's throttle a read and a write of the cache; answering from memory costs microseconds. Nothing
kept can be stale for long:

- pages are kept per content version, which any change to a tip or a category replaces: at once in
  the process that saved it, within VERSION_CHECK_SECONDS in the others (content_version);
- a verified key is trusted for KEY_SECONDS at most, so revoking a key or changing its expiry in
  one process reaches the others within that time (at once in the process that saved it);
- requests are counted per key in Redis, a few at a time (RequestCounts).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework_api_key.models import APIKey

from config.cache import OUTAGE, redis_outage_warn

KEY_SECONDS = 5.0
PAGE_CACHE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Page:
    """A rendered 200 answer, its validators, and the headers every answer for it carries."""

    body: bytes
    content_type: str
    etag: str
    last_modified: int | None  # seconds since the epoch, as HTTP dates count them
    headers: tuple[tuple[str, str], ...]


class PageCache:
    """Rendered pages of the current content version, least recently used dropped first.

    A page rendered under another version is never returned: when the version changes, every
    page kept is dropped.
    """

    def __init__(self, *, max_bytes: int = PAGE_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._version: str | None = None
        self._pages: OrderedDict[Hashable, Page] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # gthread workers share one process

    def get(self, version: str, key: Hashable) -> Page | None:
        with self._lock:
            if version != self._version:
                return None
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, version: str, key: Hashable, page: Page) -> None:
        if len(page.body) > self.max_bytes:
            return
        with self._lock:
            if version != self._version:
                self._version, self._pages, self._size = version, OrderedDict(), 0
            old = self._pages.pop(key, None)
            self._size -= len(old.body) if old else 0
            self._pages[key] = page
            self._size += len(page.body)
            while self._size > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._size -= len(dropped.body)


class VerifiedKeys:
    """API keys whose hash checked out in the last `seconds`, by a fingerprint of the key itself.

    Only a key that verified is kept, so a wrong secret sent with a real key's prefix is checked
    (and refused) every time. Revocation and expiry are read from the kept row: expiry is exact,
    a revocation saved in another process is seen within `seconds`.
    """

    def __init__(self, *, seconds: float = KEY_SECONDS, max_keys: int = 1000):
        self.seconds = seconds
        self.max_keys = max_keys
        self._keys: dict[bytes, tuple[float, APIKey]] = {}

    @staticmethod
    def _fingerprint(key: str) -> bytes:
        return hashlib.sha256(key.encode()).digest()

    def get(self, key: str) -> APIKey | None:
        entry = self._keys.get(self._fingerprint(key))
        if entry is None or time.monotonic() - entry[0] > self.seconds:
            return None
        return entry[1]

    def put(self, key: str, api_key: APIKey) -> None:
        if len(self._keys) >= self.max_keys:
            self._keys.clear()  # a burst of distinct keys: start again rather than track ages
        self._keys[self._fingerprint(key)] = (time.monotonic(), api_key)

    def clear(self) -> None:
        self._keys.clear()


# --- In the shared cache (Redis): the content version and the per-key request counts ----------

VERSION_KEY = "content:version"
# Changes made around save() (a queryset update in a shell, a restored backup) announce nothing;
# a version lives this long at most, so they show within it.
VERSION_SECONDS = 300
# How long a process trusts the version it last read. A change saved in this process drops it at
# once; one saved elsewhere (load_content, another worker's admin page) shows within this time.
VERSION_CHECK_SECONDS = 1.0
# Most tokens a process takes from a key's window at a time (see RequestCounts).
LEASE_MAX = 10

_local_version: tuple[Callable[[str], str], float, str] | None = None  # (for which cache, read at, version)


def content_version() -> str | None:
    """A token replaced whenever a tip or a category changes: what the page cache is keyed on.

    Read from the shared cache at most once per VERSION_CHECK_SECONDS; in between, from memory.
    None without Redis: a per-process version could not hear of other processes' changes, so
    nothing is cached then.
    """
    global _local_version
    shared = _shared()
    if shared is None:
        return None
    client, make_key = shared
    now, local = time.monotonic(), _local_version
    if local is not None and local[0] is make_key and now - local[1] < VERSION_CHECK_SECONDS:
        return local[2]
    key = make_key(VERSION_KEY)
    try:
        version = client.get(key)
        if version is None:
            client.set(key, secrets.token_hex(8), ex=VERSION_SECONDS, nx=True)
            version = client.get(key)
    except OUTAGE as exc:
        # Without Redis no process can hear of another's change: render every page afresh.
        redis_outage_warn("the tip API (pages rendered, not kept)", exc)
        _local_version = None
        return None
    _local_version = (make_key, now, version.decode())
    return _local_version[2]


def content_version_drop() -> None:
    """Every process makes a new version (this one at once, others within VERSION_CHECK_SECONDS)."""
    global _local_version
    _local_version = None
    shared = _shared()
    if shared is not None:
        client, make_key = shared
        try:
            client.delete(make_key(VERSION_KEY))
        except OUTAGE as exc:
            # Other processes keep their pages until VERSION_SECONDS; they stop keeping any while Redis is down.
            redis_outage_warn("a tip change (other processes see it within 5 minutes)", exc)


# Take up to ARGV[1] tokens from a window of ARGV[2], which expires ARGV[3] seconds after its first
# use; returns how many were granted (0 once the window is spent).
_TAKE = """
local want, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = redis.call('INCRBY', KEYS[1], want)
if used == want then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return math.max(0, math.min(want, limit - (used - want)))
"""


class RequestCounts:
    """Requests per key per fixed window, shared by every process through Redis.

    A process takes tokens from the shared count a few at a time (at most LEASE_MAX, and at most
    1% of the limit) and spends them from memory, so a request costs a round trip to Redis only
    when its process runs out. The shared count never hands out more than the limit; tokens a
    process took but did not spend before the window ended are lost, so a key spread over several
    processes may be refused up to (lease - 1) requests per process before reaching its limit.
    """

    def __init__(self) -> None:
        self._left: dict[str, tuple[str, int]] = {}  # key -> (window's counter, tokens left)
        self._lock = threading.Lock()

    def take(self, key: str, *, limit: int, seconds: int) -> bool:
        """One request for `key` (an API key's id) in the current window: True if within the limit."""
        counter = f"throttle:api_key:{key}:{int(time.time() // seconds)}"
        with self._lock:
            window, left = self._left.get(key, ("", 0))
            if window == counter and left > 0:
                self._left[key] = (counter, left - 1)
                return True
        granted = self._take_shared(counter, want=min(LEASE_MAX, max(1, limit // 100)), limit=limit, seconds=seconds)
        with self._lock:
            if len(self._left) > 10_000:
                self._left.clear()  # keys seen once long ago: forget them rather than track ages
            self._left[key] = (counter, max(0, granted - 1))
        return granted > 0

    @staticmethod
    def _take_shared(counter: str, *, want: int, limit: int, seconds: int) -> int:
        shared = _shared()
        if shared is not None:
            client, make_key = shared
            try:
                return int(client.eval(_TAKE, 1, make_key(counter), want, limit, seconds + 1))
            except OUTAGE as exc:
                # Counted in this process's memory instead (the cache backend's own fallback, below).
                redis_outage_warn("the API key throttle (counted per process)", exc)
        # Per-process memory (development, or Redis down): add then incr, as caregiver/ratelimit.py counts.
        if cache.add(counter, want, timeout=seconds + 1):
            used = want
        else:
            try:
                used = cache.incr(counter, want)
            except ValueError:  # expired between add and incr
                cache.set(counter, want, timeout=seconds + 1)
                used = want
        return max(0, min(want, limit - (used - want)))


_shared_memo: tuple[dict, tuple[redis.Redis, Callable[[str], str]] | None] | None = None


def _shared() -> tuple[redis.Redis, Callable[[str], str]] | None:
    """The default cache's Redis and its key maker (its prefix keeps tests apart); None if not Redis.

    Worked out once per CACHES setting (tests give each test its own prefix), not per request.
    """
    global _shared_memo
    memo = _shared_memo
    if memo is not None and memo[0] is settings.CACHES:
        return memo[1]
    backend = caches["default"]
    found = None
    if isinstance(backend, RedisCache):
        # The same Redis as the cache, by its public setting (a list of servers: the first is written to).
        location = settings.CACHES["default"]["LOCATION"]
        url = location if isinstance(location, str) else location[0]
        found = (_client(url.split(",")[0]), backend.make_and_validate_key)
    _shared_memo = (settings.CACHES, found)
    return found


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # One client per process: Django's RedisCache builds a new redis.Redis, callback tables and
    # all, for every call, which costs more than the round trip itself.
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1, health_check_interval=30)


pages = PageCache()
verified_keys = VerifiedKeys()
request_counts = RequestCounts()
