"""Reads for answer-assist on a ticket: what retrieval finds for its question now, and
similar past tickets with their replies.

Both run when an agent opens a ticket, so they reflect the knowledge base as it is
(articles may have been added or unpublished since the customer asked).
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from pgvector.django import CosineDistance

from knowledge.analysis import other_language
from knowledge.embeddings import EmbeddingError, get_provider
from knowledge.models import Article
from knowledge.selectors import Retrieval, embed_question, retrieve
from knowledge.services import knowledge_base_get_live
from support.models import Question, Ticket
from support.services import article_kinds, has_words, question_search_text

logger = logging.getLogger(__name__)


class AssistUnavailable(RuntimeError):
    """Retrieval could not run (the embedding provider failed); the message is safe to show staff."""


def question_vector(question: Question) -> list[float]:
    """The question's query embedding under the current model: the stored one, or embedded
    now (older questions, or a model change). Raises ``AssistUnavailable`` if embedding fails."""
    provider = get_provider()
    if question.embedding is not None and question.embedding_model == provider.name:
        return [float(x) for x in question.embedding]
    try:
        return embed_question(provider, question_search_text(question.text) or question.text)
    except EmbeddingError as exc:
        raise AssistUnavailable(f"The embedding model is unavailable: {exc}") from exc


def question_retrieve_now(question: Question) -> Retrieval:
    """Top ``ANSWER_SOURCES`` chunks of the live knowledge base for ``question`` now
    (``knowledge.selectors.retrieve``), searched as the customer path searches it (its text
    without markup: ``support.services.question_search_text``); nothing for a question without
    words ("😭😭😭", nothing but markup), which the customer page answered with no sources either.
    Raises ``AssistUnavailable``."""
    words = question_search_text(question.text)
    if not has_words(words):
        return Retrieval(chunks=[], query_terms=[], term_weights={})
    vector = question_vector(question)
    try:
        return retrieve(
            question=words, kb_id=knowledge_base_get_live().pk, limit=settings.ANSWER_SOURCES, query_vector=vector,
        )  # fmt: skip
    except EmbeddingError as exc:
        raise AssistUnavailable(f"The embedding model is unavailable: {exc}") from exc


def retrieval_sources(retrieval: Retrieval) -> list[dict[str, Any]]:
    """Retrieved chunks as source dicts ``{"number", "chunk_id", "article_id", "title", "url",
    "excerpt", "score", "language", "kind"}`` (``kind``: the article's, e.g. ``support_answer``)."""
    kinds = article_kinds({c.article_id for c in retrieval.chunks})
    return [
        {
            "number": n, "chunk_id": c.chunk_id, "article_id": c.article_id, "title": c.title,
            "url": Article(slug=c.slug).get_absolute_url(), "excerpt": c.content, "score": round(c.score, 4),
            "language": c.language, "kind": kinds.get(c.article_id, Article.Kind.ARTICLE),
        }
        for n, c in enumerate(retrieval.chunks, 1)
    ]  # fmt: skip


@dataclass(frozen=True)
class SimilarTicket:
    """A past ticket whose question is close to this one; ``similarity`` is cosine in [-1, 1]."""

    ticket: Ticket
    similarity: float


def similar_tickets(ticket: Ticket, *, limit: int = 5) -> list[SimilarTicket]:
    """Up to ``limit`` other tickets that were replied to, nearest question first, at least
    ``SIMILAR_TICKET_MIN_SIMILARITY`` near.

    Cosine similarity between question embeddings of the current model, by an exact
    scan (``<=>`` over replied tickets only: hundreds to a few thousand rows, a few ms;
    an HNSW index would pay off only well beyond that); a question in the other language
    is raised by ``RETRIEVAL_CROSS_LANGUAGE_OFFSET``, as in retrieval, before the minimum
    applies. Without the minimum the one replied ticket of a new help desk ("Can I pay with
    bitcoin?") was "similar" to every question ("제주도는요?" at 0.788; nineteenth session's
    audit). Raises ``AssistUnavailable``.
    """
    vector = question_vector(ticket.question)
    rows = (
        Ticket.objects.select_related("question")
        .filter(question__embedding_model=get_provider().name, question__embedding__isnull=False)
        .exclude(reply="")
        .exclude(pk=ticket.pk)
        .exclude(question_id=ticket.question_id)
        .annotate(distance=CosineDistance("question__embedding", vector))
        .order_by("distance", "-created_at")[:limit]
    )
    found = []
    for t in rows:
        similarity = 1 - float(t.distance)  # type: ignore[attr-defined]
        foreign = other_language(ticket.question.language, t.question.language)
        if (
            similarity + (settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET if foreign else 0.0)
            >= settings.SIMILAR_TICKET_MIN_SIMILARITY
        ):
            found.append(SimilarTicket(ticket=t, similarity=similarity))
    return found
