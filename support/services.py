"""Writes: answering questions, escalating them to tickets, replying.

A question row is stored before retrieval or the answer model can fail; a ticket row is
stored (with its owed emails as outbox rows) before any email is attempted. Emails go
out from Celery tasks enqueued on commit (``support.outbox``: one attempt per task,
retries with backoff owned by the row, at-least-once with a stable Message-ID).
"""

import functools
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from knowledge.analysis import detect_language
from knowledge.embeddings import EmbeddingError
from knowledge.models import KnowledgeBase
from knowledge.selectors import Retrieval, retrieve
from knowledge.services import knowledge_base_get_live
from support.answering import AnswerModelError, ChatProvider, SourceExcerpt, get_chat_provider
from support.confidence import LLM_UNANSWERABLE_FACTOR, confidence_features, confidence_from_features
from support.models import EmailDelivery, Question, Ticket

# The outbox's writes live in ``support.outbox``; these names stay importable from here.
from support.outbox import EmailSendFailed, email_delivery_enqueue, email_delivery_send  # noqa: F401
from support.selectors import answer_threshold

logger = logging.getLogger(__name__)


class QuestionInvalid(ValueError):
    """The question can't be asked; the message says why and is safe to show."""


def question_clean(text: str) -> str:
    """Strip ``text``; raise ``QuestionInvalid`` if empty or over ``QUESTION_MAX_CHARS``."""
    text = (text or "").strip()
    if not text:
        raise QuestionInvalid("Please type a question.")
    if len(text) > settings.QUESTION_MAX_CHARS:
        raise QuestionInvalid(
            f"Questions are limited to {settings.QUESTION_MAX_CHARS:,} characters; yours has {len(text):,}."
        )
    return text


@dataclass
class AnswerOutcome:
    question: Question
    retrieval: Retrieval | None


def _source_url(slug: str) -> str:
    from django.urls import reverse

    return reverse("support:article", kwargs={"slug": slug})


def question_answer(
    *,
    text: str,
    channel: str = "web",
    knowledge_base: KnowledgeBase | None = None,
    provider: ChatProvider | None = None,
    threshold: float | None = None,
    store: bool = True,
    query_vector: list[float] | None = None,
) -> AnswerOutcome:
    """Answer one customer question from the knowledge base; never raises for model failures.

    Steps: store the question → hybrid retrieval (top ``ANSWER_SOURCES`` chunks) →
    confidence → answer (extractive or LLM). Status becomes ``answered``,
    ``not_confident`` (confidence < threshold), ``no_sources`` or ``model_error``; the
    last three set ``escalation_recommended``. ``store=False`` (evaluation) keeps the
    row unsaved; ``query_vector`` reuses an embedding of the question. Raises
    ``QuestionInvalid`` for empty or over-long text.
    """
    text = question_clean(text)
    kb = knowledge_base or knowledge_base_get_live()
    provider = provider or get_chat_provider()
    threshold = answer_threshold() if threshold is None else threshold
    question = Question(text=text, channel=channel, language=detect_language(text), threshold=threshold)
    if store:
        question.save()
    timings: dict[str, float] = {}
    retrieval: Retrieval | None = None
    try:
        retrieval = retrieve(question=text, kb_id=kb.pk, limit=settings.ANSWER_SOURCES, query_vector=query_vector)
        timings.update(retrieval.timings_ms)
    except EmbeddingError as exc:
        logger.warning("query embedding failed: %s", exc)
        question.status, question.error = Question.Status.MODEL_ERROR, f"embedding: {exc}"
    if retrieval is not None:
        _answer_from(question, retrieval, provider, threshold, timings)
    question.timings_ms = {k: round(v, 2) for k, v in timings.items()}
    question.escalation_recommended = question.status != Question.Status.ANSWERED
    if store:
        question.save()
    return AnswerOutcome(question=question, retrieval=retrieval)


def _answer_from(
    question: Question, retrieval: Retrieval, provider: ChatProvider, threshold: float, timings: dict[str, float]
) -> None:
    started = time.perf_counter()
    chunks = retrieval.chunks
    features = confidence_features(retrieval)
    confidence = confidence_from_features(features)
    question.features = features
    question.sources = [
        {
            "chunk_id": c.chunk_id, "article_id": c.article_id, "title": c.title, "url": _source_url(c.slug),
            "excerpt": c.content, "score": round(c.score, 4),
        }
        for c in chunks
    ]  # fmt: skip
    if not chunks or features["coverage"] == 0.0 and features["dense"] == 0.0:
        question.status, question.confidence = Question.Status.NO_SOURCES, 0.0
        question.sources = []
        return
    excerpts = [SourceExcerpt(number=i, title=c.title, text=c.content) for i, c in enumerate(chunks, 1)]
    try:
        generated = provider.answer(
            question=question.text, sources=excerpts, term_weights=retrieval.term_weights, language=question.language
        )
    except AnswerModelError as exc:
        logger.warning("answer model failed (%s): %s", exc.code, exc)
        question.status, question.error, question.confidence = (
            Question.Status.MODEL_ERROR,
            f"{exc.code}: {exc}",
            confidence,
        )
        return
    finally:
        timings["answer"] = (time.perf_counter() - started) * 1000
    if not generated.answerable:
        confidence *= LLM_UNANSWERABLE_FACTOR
    question.confidence = confidence
    question.answer, question.answer_kind, question.usage = generated.text, generated.kind, generated.usage
    cited = [n for n in generated.cited if 1 <= n <= len(chunks)]
    if cited:  # cited sources first, in citation order; the rest after
        order = list(dict.fromkeys(cited)) + [n for n in range(1, len(chunks) + 1) if n not in cited]
        question.sources = [question.sources[n - 1] | {"cited": n in cited} for n in order]
    if not generated.text.strip():
        question.status = Question.Status.NO_SOURCES
    elif confidence < threshold:
        question.status = Question.Status.NOT_CONFIDENT
    else:
        question.status = Question.Status.ANSWERED


REASON_BY_STATUS: dict[str, str] = {
    Question.Status.NOT_CONFIDENT: Ticket.Reason.LOW_CONFIDENCE,
    Question.Status.NO_SOURCES: Ticket.Reason.NO_SOURCES,
    Question.Status.MODEL_ERROR: Ticket.Reason.MODEL_ERROR,
}


class TicketInvalid(ValueError):
    """The ticket can't be created; the message is safe to show."""


@transaction.atomic
def ticket_create(*, question: Question, email: str, details: str = "") -> Ticket:
    """Escalate ``question`` to a ticket and owe two emails (acknowledgement, notification).

    The reason follows the question's status; escalating an answered question counts
    as a customer request. Both emails are enqueued after commit. Raises
    ``TicketInvalid`` if ``details`` exceed ``TICKET_DETAILS_MAX_CHARS``; the email
    address must be validated by the caller's form/serializer.
    """
    details = (details or "").strip()
    if len(details) > settings.TICKET_DETAILS_MAX_CHARS:
        raise TicketInvalid(f"Details are limited to {settings.TICKET_DETAILS_MAX_CHARS:,} characters.")
    reason = REASON_BY_STATUS.get(question.status, Ticket.Reason.CUSTOMER_REQUEST)
    ticket = Ticket.objects.create(question=question, email=email, details=details, reason=reason)
    deliveries = [
        EmailDelivery.objects.create(ticket=ticket, kind=EmailDelivery.Kind.ACKNOWLEDGEMENT, recipient=email),
        EmailDelivery.objects.create(
            ticket=ticket, kind=EmailDelivery.Kind.NOTIFICATION, recipient=settings.SUPPORT_EMAIL
        ),
    ]
    for delivery in deliveries:
        transaction.on_commit(functools.partial(email_delivery_enqueue, delivery.pk))
    return ticket


@transaction.atomic
def ticket_reply(*, ticket: Ticket, body: str, by: object | None = None) -> EmailDelivery:
    """Record a staff reply, mark the ticket answered and email the reply to the customer."""
    body = body.strip()
    if not body:
        raise TicketInvalid("The reply is empty.")
    Ticket.objects.filter(pk=ticket.pk).update(
        reply=body, status=Ticket.Status.ANSWERED, replied_at=timezone.now(), replied_by=by, updated_at=timezone.now()
    )
    ticket.refresh_from_db()
    delivery = EmailDelivery.objects.create(
        ticket=ticket, kind=EmailDelivery.Kind.REPLY, recipient=ticket.email, body=body
    )
    transaction.on_commit(lambda: email_delivery_enqueue(delivery.pk))
    return delivery
