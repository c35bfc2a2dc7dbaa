from typing import Protocol


class EmbeddingError(RuntimeError):
    """The embedding provider failed (model missing, API error after retries)."""


class EmbeddingProvider(Protocol):
    """Turns text into unit-length vectors.

    ``name`` identifies the model (stored with every vector); ``dimensions`` is the
    vector length. Passages and queries are embedded separately because asymmetric
    models (E5) prefix them differently.
    """

    name: str

    @property
    def dimensions(self) -> int: ...

    def embed_passages(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...
