"""OpenAI embeddings (``/v1/embeddings``), or any OpenAI-compatible server at ``OPENAI_BASE_URL``.

Requests stay inside the API's documented limits: at most ``MAX_INPUTS_PER_REQUEST``
inputs and ``MAX_TOKENS_PER_REQUEST`` tokens per request, each input cut to
``MAX_INPUT_TOKENS`` tokens (counted with :mod:`knowledge.tokens`, the model's tiktoken
encoding or bundled cl100k_base). Vectors are L2-normalised here as well, because
OpenAI-compatible servers don't all normalise. The client is created on first use and
cached per process and per connection setting, so ``settings`` overrides take effect.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import openai
from django.conf import settings
from openai.types import CreateEmbeddingResponse

from knowledge.embeddings.base import EmbeddingError
from knowledge.openai_client import client, deadline, timeout_message
from knowledge.tokens import count_tokens, truncate_tokens

# https://platform.openai.com/docs/api-reference/embeddings/create
MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
MAX_INPUT_TOKENS = 8191
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
PROBE_TEXT = "dimension probe"

_learned_dimensions: dict[str, int] = {}  # model -> vector length seen in a response


def batches(token_counts: list[int], *, max_inputs: int, max_tokens: int) -> Iterator[range]:
    """Consecutive index ranges over inputs whose token counts fit one request each.

    Greedy: a batch closes when adding the next input would pass ``max_inputs`` inputs
    or ``max_tokens`` tokens. An input on its own always forms a batch.
    """
    start, tokens = 0, 0
    for i, n in enumerate(token_counts):
        if i > start and (i - start >= max_inputs or tokens + n > max_tokens):
            yield range(start, i)
            start, tokens = i, 0
        tokens += n
    if start < len(token_counts):
        yield range(start, len(token_counts))


def normalise(vector: list[float]) -> list[float]:
    """``vector`` scaled to unit L2 length; raises ``EmbeddingError`` for a zero or non-finite vector."""
    arr = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(arr))
    if not np.isfinite(norm) or norm == 0.0:
        raise EmbeddingError("the embedding API returned a zero or non-finite vector")
    return (arr / norm).tolist()


class OpenAIEmbeddingProvider:
    """``EmbeddingProvider`` for ``settings.OPENAI_EMBEDDING_MODEL``.

    ``name`` is ``"openai:<model>"`` and needs no API call. ``dimensions`` is known for
    OpenAI's own models; for another model (an OpenAI-compatible server) it is learned
    from the first response in this process, and reading it before any embedding was
    made costs one probe request. Passages and queries are embedded the same way:
    OpenAI's models are symmetric. Every method raises ``EmbeddingError`` when the API
    fails after the client's own retries (``OPENAI_MAX_RETRIES``) or answers nonsense.
    """

    def __init__(self) -> None:
        self.model: str = settings.OPENAI_EMBEDDING_MODEL
        self.name = f"openai:{self.model}"

    @property
    def dimensions(self) -> int:
        if self.model in _learned_dimensions:
            return _learned_dimensions[self.model]
        if self.model in KNOWN_DIMENSIONS:
            return KNOWN_DIMENSIONS[self.model]
        return len(self.embed_query(PROBE_TEXT))

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text, in order. Texts over ``MAX_INPUT_TOKENS`` are cut."""
        if not texts:
            return []
        # The API rejects empty strings; a blank passage still needs a vector.
        inputs = [truncate_tokens(t, MAX_INPUT_TOKENS, self.model) if t.strip() else " " for t in texts]
        counts = [count_tokens(t, self.model) for t in inputs]
        vectors: list[list[float]] = []
        for rows in batches(counts, max_inputs=MAX_INPUTS_PER_REQUEST, max_tokens=MAX_TOKENS_PER_REQUEST):
            vectors.extend(self._request(inputs[rows.start : rows.stop]))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """One unit vector; the call ends within ``OPENAI_DEADLINE_SECONDS`` (it runs while a
        customer waits), where a batch of passages for the index has only the per-wait timeout."""
        with deadline(settings.OPENAI_DEADLINE_SECONDS):
            return self.embed_passages([text])[0]

    def _request(self, inputs: list[str]) -> list[list[float]]:
        try:
            response = client().embeddings.create(model=self.model, input=inputs, encoding_format="float")
        except openai.APITimeoutError as exc:
            raise EmbeddingError(timeout_message("embedding API timed out")) from exc
        except openai.APIConnectionError as exc:
            raise EmbeddingError(f"embedding API unreachable: {exc}") from exc
        except openai.APIStatusError as exc:
            raise EmbeddingError(f"embedding API returned HTTP {exc.status_code}: {exc.message}") from exc
        except openai.APIError as exc:
            raise EmbeddingError(f"embedding API error: {exc}") from exc
        return self._vectors(response, len(inputs))

    def _vectors(self, response: CreateEmbeddingResponse, expected: int) -> list[list[float]]:
        try:
            data = sorted(response.data, key=lambda item: item.index)
            raw = [list(map(float, item.embedding)) for item in data]
        except (AttributeError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"embedding API response is malformed: {exc}") from exc
        if len(raw) != expected:
            raise EmbeddingError(f"embedding API returned {len(raw)} vectors for {expected} inputs")
        lengths = {len(v) for v in raw}
        if len(lengths) != 1 or 0 in lengths:
            raise EmbeddingError(f"embedding API returned vectors of lengths {sorted(lengths)}")
        _learned_dimensions[self.model] = lengths.pop()
        return [normalise(v) for v in raw]
