"""The one place the ``openai`` client is built (for embeddings and chat alike).

Created on first use and cached per process and per connection setting, so ``settings``
overrides (tests) take effect and a forked worker never reuses its parent's connections.
"""

import functools
import os

import openai
from django.conf import settings


@functools.lru_cache(maxsize=8)
def _client_for(pid: int, base_url: str, api_key: str, timeout: float, max_retries: int) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url or None, api_key=api_key, timeout=timeout, max_retries=max_retries)


def client() -> openai.OpenAI:
    """The process's client for the current ``OPENAI_*`` settings (timeout in seconds)."""
    return _client_for(
        os.getpid(),
        settings.OPENAI_BASE_URL,
        settings.OPENAI_API_KEY or "not-needed",
        settings.OPENAI_TIMEOUT_SECONDS,
        settings.OPENAI_MAX_RETRIES,
    )
