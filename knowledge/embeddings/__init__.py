"""Embedding providers, chosen by ``settings.EMBEDDING_PROVIDER`` (``local`` or ``openai``)."""

from django.conf import settings

from knowledge.embeddings.base import EmbeddingError, EmbeddingProvider

__all__ = ["EmbeddingError", "EmbeddingProvider", "get_provider"]


def get_provider(name: str | None = None) -> EmbeddingProvider:
    name = name or settings.EMBEDDING_PROVIDER
    if name == "local":
        from knowledge.embeddings.local import LocalE5Provider

        return LocalE5Provider()
    if name == "openai":
        from knowledge.embeddings.openai import OpenAIEmbeddingProvider

        return OpenAIEmbeddingProvider()
    raise ValueError(f"unknown EMBEDDING_PROVIDER {name!r}")
