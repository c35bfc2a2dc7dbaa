"""Who is asking, and how often: the client address behind trusted proxies, DRF throttles, a cache that fails open.

One function, :func:`client_ip`, names the client for every limiter — DRF's API
throttles, django-ratelimit on the pages, django-axes on the admin login — so a customer
has one identity everywhere. It trusts exactly ``NUM_PROXIES`` reverse proxies: the
client is the address the outermost trusted proxy saw, i.e. the ``NUM_PROXIES``-th
entry from the right of ``X-Forwarded-For`` (DRF's rule, ``BaseThrottle.get_ident``);
with ``NUM_PROXIES = 0`` (the default) the header is ignored, because anyone can send it.

:class:`FailOpenRedisCache` is the Django cache the limiters count in. When Redis is
unreachable, its reads return the default and its writes do nothing, with a logged
warning, so rate limits fail open: questions are still answered and tickets still
stored while Redis is down (a limit is a protection, not a reason to lose a ticket).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

# Scope of each API view -> the setting holding its rate ("30/m", "10/h"...), read per request.
THROTTLE_RATE_SETTINGS = {
    "questions": "ASK_RATE_LIMIT",
    "tickets": "TICKET_RATE_LIMIT",
    "feedback": "FEEDBACK_RATE_LIMIT",
}


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def client_ip(request: HttpRequest) -> str:
    """The client's IP address, trusting ``settings.NUM_PROXIES`` proxies in ``X-Forwarded-For``.

    A malformed header entry falls back to ``REMOTE_ADDR`` (the nearest peer), never
    to a string the limiters could not key on.
    """
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.NUM_PROXIES
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [a.strip() for a in forwarded.split(",")]
    candidate = addresses[-min(proxies, len(addresses))]
    return candidate if _is_ip(candidate) else remote


class ScopedThrottle(BaseThrottle):
    """A DRF throttle per view scope (``throttle_scope``; 429 with ``Retry-After``), counted by
    django-ratelimit, the pages' limiter, keyed like it by :func:`client_ip`
    (``RATELIMIT_IP_META_KEY``): one atomic ``INCR`` per request in a fixed window.

    DRF's scoped throttle (read the history, then write it back) let requests that arrive
    together through: 40 simultaneous feedback posts against a 10/minute limit got 15 answers.
    Rates come from the settings named in ``THROTTLE_RATE_SETTINGS``, read at request time, in
    django-ratelimit's format ("30/m"; DRF's "30/minute" also reads, by its first letter).
    """

    scope_attr = "throttle_scope"

    def __init__(self) -> None:
        self.scope: str | None = None
        self._time_left: int | None = None

    def get_rate(self) -> str | None:
        name = THROTTLE_RATE_SETTINGS.get(self.scope or "")
        return str(getattr(settings, name)) if name else None

    def allow_request(self, request: Any, view: Any) -> bool:
        """Counts a request the view has a handler for: a wrong method gets its 405 and OPTIONS
        its description without using up the scope's allowance (32 GETs had made the next
        POST a 429)."""
        if request.method == "OPTIONS" or getattr(view, request.method.lower(), None) is None:
            return True
        self.scope = getattr(view, self.scope_attr, None)
        rate = self.get_rate() if self.scope else None
        if not rate:
            return True
        usage = get_usage(request, group=f"api-{self.scope}", key="ip", rate=rate, increment=True)
        if usage is None:  # the cache is down: fail open (RATELIMIT_FAIL_OPEN)
            return True
        self._time_left = max(1, int(usage["time_left"]))
        return not usage["should_limit"]

    def wait(self) -> float | None:
        """Seconds until the window ends: the ``Retry-After`` of the 429."""
        return self._time_left


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache that turns an unreachable Redis into cache misses.

    After a failure it does not try Redis again for ``FAIL_OPEN_RETRY_SECONDS``, so a
    request does not wait for a connection timeout on every cache call while Redis is
    down. ``get`` returns the default, ``add``/``set``/``delete`` do nothing (``add``
    returns False), ``incr`` raises ``ValueError`` as for a missing key.
    """

    FAIL_OPEN_RETRY_SECONDS = 10.0
    _down_until = 0.0
    _lock = threading.Lock()

    def _available(self) -> bool:
        return time.monotonic() >= FailOpenRedisCache._down_until

    def _failed(self, operation: str, exc: Exception) -> None:
        with FailOpenRedisCache._lock:
            FailOpenRedisCache._down_until = time.monotonic() + self.FAIL_OPEN_RETRY_SECONDS
        logger.warning("cache unavailable (%s: %s); rate limits fail open for now", operation, exc)

    def _guard(self, operation: str, fallback: Any, call: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._available():
            return fallback
        try:
            return call(*args, **kwargs)
        except (RedisError, OSError) as exc:  # connection refused, timeouts, resets
            self._failed(operation, exc)
            return fallback

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._guard("get", default, super().get, key, default, version)

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        return bool(self._guard("add", False, super().add, key, value, timeout, version))

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        self._guard("set", None, super().set, key, value, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return bool(self._guard("delete", False, super().delete, key, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        missing = object()
        value = self._guard("incr", missing, super().incr, key, delta, version)
        if value is missing:
            raise ValueError(f"Key '{key}' not found (cache unavailable)")
        return int(value)
