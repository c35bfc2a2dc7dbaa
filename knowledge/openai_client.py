"""The one place the ``openai`` client is built (for embeddings and chat alike).

Created on first use and cached per process and per connection setting, so ``settings``
overrides (tests) take effect and a forked worker never reuses its parent's connections.

``OPENAI_TIMEOUT_SECONDS`` bounds each wait for the server (connect, one read), so a
server that trickles a byte every few seconds never trips it. :func:`deadline` bounds a
whole call: its retries and, for a stream, the reading of the whole reply. Two ``httpx2``
event hooks on the client enforce it, so the ``openai`` client's own retries, error
handling, connection limits and proxies stay as they are.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
from django.conf import settings

_ends_at: contextvars.ContextVar[float | None] = contextvars.ContextVar("openai_call_ends_at", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Requests sent through :func:`client` inside the block, retries included, fail with a
    timeout once ``seconds`` (monotonic) have passed since the block began; a body streamed
    from them is cut off then too, even when it is read after the block. An inner block
    cannot extend an outer one. A wait already begun ends within one
    ``OPENAI_TIMEOUT_SECONDS``, as before; the ``openai`` client's back-off between retries
    (under 2 s with its defaults) may come on top."""
    ends = time.monotonic() + seconds
    outer = _ends_at.get()
    token = _ends_at.set(ends if outer is None else min(ends, outer))
    try:
        yield
    finally:
        _ends_at.reset(token)


class _DeadlineStream(httpx2.SyncByteStream):
    """A response body that raises ``httpx2.ReadTimeout`` when a part arrives after ``ends``."""

    def __init__(self, inner: httpx2.SyncByteStream, ends: float, request: httpx2.Request) -> None:
        self._inner, self._ends, self._request = inner, ends, request

    def __iter__(self) -> Iterator[bytes]:
        for part in self._inner:
            if time.monotonic() > self._ends:
                raise httpx2.ReadTimeout("the call's deadline passed while reading the reply", request=self._request)
            yield part

    def close(self) -> None:
        self._inner.close()


def _before_request(request: httpx2.Request) -> None:
    """``httpx2`` request hook for :func:`deadline`: an attempt after the deadline fails at
    once (``httpx2.ConnectTimeout``, which the ``openai`` client reports as a timeout), and
    each wait of an attempt is capped by the time left."""
    ends = _ends_at.get()
    if ends is None:
        return
    left = ends - time.monotonic()
    if left <= 0:
        raise httpx2.ConnectTimeout("the call's deadline passed before this attempt", request=request)
    request.extensions["deadline"] = ends
    waits = request.extensions.get("timeout") or dict.fromkeys(("connect", "read", "write", "pool"))
    request.extensions["timeout"] = {phase: left if wait is None else min(wait, left) for phase, wait in waits.items()}


def _after_response(response: httpx2.Response) -> None:
    """``httpx2`` response hook for :func:`deadline`: the body is cut off when a part of it
    arrives after the deadline its request was sent under."""
    ends = response.request.extensions.get("deadline")
    if ends is not None and isinstance(response.stream, httpx2.SyncByteStream):
        response.stream = _DeadlineStream(response.stream, ends, response.request)


HOOKS: dict[str, list[Callable[..., Any]]] = {"request": [_before_request], "response": [_after_response]}


@functools.lru_cache(maxsize=8)
def _client_for(pid: int, base_url: str, api_key: str, timeout: float, max_retries: int) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url or None,
        api_key=api_key,
        timeout=timeout,
        max_retries=max_retries,
        http_client=openai.DefaultHttpxClient(event_hooks=HOOKS),
    )


def timeout_message(what: str) -> str:
    """``what`` and the two limits a timeout comes from, for an error message."""
    return (
        f"{what}: {settings.OPENAI_TIMEOUT_SECONDS:g}s without a byte from the server, or the whole call"
        f" over {settings.OPENAI_DEADLINE_SECONDS:g}s"
    )


def client() -> openai.OpenAI:
    """The process's client for the current ``OPENAI_*`` settings (timeout in seconds)."""
    return _client_for(
        os.getpid(),
        settings.OPENAI_BASE_URL,
        settings.OPENAI_API_KEY or "not-needed",
        settings.OPENAI_TIMEOUT_SECONDS,
        settings.OPENAI_MAX_RETRIES,
    )
