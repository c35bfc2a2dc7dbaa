"""Answer generation, chosen by ``settings.CHAT_PROVIDER`` (``openai`` or ``extractive``)."""

from django.conf import settings

from support.answering.base import (
    AnswerModelError,
    AnswerRequest,
    AnswerStream,
    ChatProvider,
    GeneratedAnswer,
    SourceExcerpt,
    source_excerpts,
    span_start_valid,
)

__all__ = [
    "AnswerModelError",
    "AnswerRequest",
    "AnswerStream",
    "ChatProvider",
    "GeneratedAnswer",
    "SourceExcerpt",
    "get_chat_provider",
    "source_excerpts",
    "span_start_valid",
]


def get_chat_provider(name: str | None = None) -> ChatProvider:
    name = name or settings.CHAT_PROVIDER
    if name == "extractive":
        from support.answering.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer()
    if name == "openai":
        from support.answering.openai import OpenAIChatProvider

        return OpenAIChatProvider()
    raise ValueError(f"unknown CHAT_PROVIDER {name!r}")
