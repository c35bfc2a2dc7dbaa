"""Content gaps: the questions the articles fail, grouped so an editor writes the article that removes the most tickets.

A report takes the period's *failed* questions — escalated to a ticket, or rated
unhelpful by the customer — embeds them with the live embedding provider (E5's
``query:`` side, which its authors recommend for symmetric similarity), and clusters them
by average-linkage agglomerative clustering on cosine distance (SciPy). Two groups merge
while their mean pairwise cosine similarity is at least ``CONTENT_GAP_SIMILARITY``
(0.88 by default: on E5-small, paraphrases of one help-centre question scored 0.92–0.97,
questions with different intents 0.74–0.91 pairwise but at most 0.87 on average between
groups, measured on 17 hand-made ko/en questions; cross-language paraphrases score about
0.86–0.89, so languages usually stay apart). Each cluster gets its size, its most
frequent terms (``knowledge.analysis``), examples closest to its centre, and the article
customers would be answered from for its most central question, with that answer's
confidence.

Reports are computed in the worker (:func:`content_gap_report_compute`), requested from
the dashboard (:func:`content_gap_report_request`), claimed with a conditional UPDATE so a
task delivered twice computes once.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from knowledge.analysis import analysed_words, morphemes
from knowledge.embeddings import EmbeddingProvider, get_provider
from knowledge.models import Article
from knowledge.selectors import embed_question, retrieve
from knowledge.services import knowledge_base_get_live
from support.confidence import retrieval_confidence
from support.insights.selectors import Period, period_questions
from support.models import ContentGapReport, Feedback, Ticket

logger = logging.getLogger(__name__)

MAX_CLUSTERS = 50  # kept per report, largest first: beyond that they are single questions
TERMS_PER_CLUSTER = 6


def failed_questions(period: Period) -> list[dict[str, Any]]:
    """The period's escalated or unhelpful questions, newest first, at most ``CONTENT_GAP_MAX_QUESTIONS``.

    Items are ``{"id", "text", "language"}``.
    """
    unhelpful = Exists(Feedback.objects.filter(question=OuterRef("pk"), helpful=False))
    escalated = Exists(Ticket.objects.filter(question=OuterRef("pk")))
    rows = (
        period_questions(period)
        .filter(Q(escalated) | Q(unhelpful))
        .order_by("-created_at")
        .values("id", "text", "language")
    )
    return [dict(row) for row in rows[: settings.CONTENT_GAP_MAX_QUESTIONS]]


def cluster_vectors(vectors: np.ndarray, similarity: float) -> list[list[int]]:
    """Row indices of ``vectors`` (n × d, unit length) grouped by average-linkage clustering.

    Groups merge while their mean pairwise cosine similarity is ≥ ``similarity``. Largest
    group first; ties keep the order of their first member. ``n`` may be 0 or 1.
    """
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(vectors, method="average", metric="cosine")
    labels = fcluster(tree, t=1.0 - similarity, criterion="distance")
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    return sorted(groups.values(), key=lambda members: (-len(members), members[0]))


def _terms(texts: list[str]) -> list[str]:
    """The terms found in most of ``texts`` (each text counts a term once), most frequent first,
    each shown as the word it was most often written as ("verification", not the stem "verif");
    Korean verb and adjective stems left out."""
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for text in texts:
        # Korean verb and adjective stems say little out of their sentence ("사나요" → 살, read
        # as "to live"): the nouns name the topic.
        stems = {t.form for t in morphemes(text) if t.tag.startswith(("VV", "VA"))}
        words = [(word, term) for word, term in analysed_words(text, query=True) if word not in stems]
        counts.update({term for _, term in words})
        for word, term in words:
            spellings.setdefault(term, Counter())[word] += 1
    return [spellings[term].most_common(1)[0][0] for term, _ in counts.most_common(TERMS_PER_CLUSTER)]


def _nearest_article(question: str, vector: list[float]) -> dict[str, Any] | None:
    """The article customers would be answered from for ``question`` (the cluster's most central
    one; ``vector`` its query embedding, already made for the clustering): the first source of
    the customer path's hybrid retrieval, with the confidence the gate gives it
    (``support.confidence``; the threshold is the customer page's). The nearest chunk
    embedding to the cluster's centre had named unrelated articles at cosine 0.81–0.82 for every
    cluster (E5's cosines crowd together), which told an editor nothing."""
    retrieval = retrieve(
        question=question, kb_id=knowledge_base_get_live().pk, limit=settings.ANSWER_SOURCES, query_vector=vector
    )
    if not retrieval.chunks:
        return None
    top = retrieval.chunks[0]
    confidence = retrieval_confidence(retrieval, question)
    return {"id": top.article_id, "title": top.title, "slug": top.slug, "confidence": round(confidence, 3)}


def content_gaps(
    questions: list[dict[str, Any]], provider: EmbeddingProvider, similarity: float
) -> list[dict[str, Any]]:
    """Clusters of ``questions`` (items ``{"id", "text", "language"}``), largest first.

    Each is ``{"size", "terms", "examples", "question_ids", "language", "nearest_article"}``;
    at most ``MAX_CLUSTERS``. Raises ``EmbeddingError`` when the provider fails.
    """
    if not questions:
        return []
    # embed_question: as the customer path embeds a question, so a vector serves retrieval too
    vectors = np.array([embed_question(provider, q["text"]) for q in questions], dtype=np.float32)
    clusters = []
    for members in cluster_vectors(vectors, similarity)[:MAX_CLUSTERS]:
        centre = vectors[members].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        by_closeness = sorted(members, key=lambda i: -float(vectors[i] @ centre))
        texts = [questions[i]["text"] for i in by_closeness]
        languages = Counter(questions[i]["language"] for i in members)
        clusters.append(
            {
                "size": len(members),
                "terms": _terms(texts),
                "examples": list(dict.fromkeys(texts))[: settings.CONTENT_GAP_EXAMPLES],
                "question_ids": [questions[i]["id"] for i in by_closeness],
                "language": languages.most_common(1)[0][0] or "",
                "nearest_article": _nearest_article(texts[0], vectors[by_closeness[0]].tolist()),
            }
        )
    return clusters


def content_gap_report_enqueue(report_id: int) -> None:
    """Send the report task; a broker failure leaves the report pending (staff can request again)."""
    from tasks import enqueue
    from tasks.insights import compute_content_gaps

    enqueue(compute_content_gaps, report_id)


@transaction.atomic
def content_gap_report_request(*, period: Period, by: Any = None) -> ContentGapReport:
    """Create a pending report for ``period`` and compute it in the worker after commit."""
    report = ContentGapReport.objects.create(start=period.start, end=period.end, requested_by=by)
    transaction.on_commit(functools.partial(content_gap_report_enqueue, report.pk))
    return report


def content_gap_report_compute(*, report_id: int, provider: EmbeddingProvider | None = None) -> bool:
    """Compute a pending report (runs in the worker); False if it is gone or another run has it.

    A report left ``running`` longer than ``CELERY_TASK_TIME_LIMIT`` (its worker died) may be
    claimed again. Any failure marks it ``failed`` with the error (shown on the dashboard)
    and is re-raised.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(state=ContentGapReport.State.PENDING) | Q(state=ContentGapReport.State.RUNNING, started_at__lt=stale)
    claimed = ContentGapReport.objects.filter(claimable, pk=report_id).update(
        state=ContentGapReport.State.RUNNING, started_at=now
    )
    if not claimed:
        return False
    report = ContentGapReport.objects.get(pk=report_id)
    provider = provider or get_provider()
    similarity = settings.CONTENT_GAP_SIMILARITY
    try:
        questions = failed_questions(Period(start=report.start, end=report.end))
        clusters = content_gaps(questions, provider, similarity)
    except Exception as exc:
        logger.exception("content gap report %s failed", report_id)
        ContentGapReport.objects.filter(pk=report_id).update(
            state=ContentGapReport.State.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        raise
    ContentGapReport.objects.filter(pk=report_id).update(
        state=ContentGapReport.State.DONE, question_count=len(questions), clusters=clusters,
        embedding_model=provider.name, similarity=similarity, error="", finished_at=timezone.now(),
    )  # fmt: skip
    return True


def latest_report() -> ContentGapReport | None:
    """The newest report (any state): the dashboard shows it, or its progress."""
    return ContentGapReport.objects.select_related("requested_by").first()


def latest_finished_report() -> ContentGapReport | None:
    return ContentGapReport.objects.filter(state=ContentGapReport.State.DONE).first()


def article_prefill_url(cluster: dict[str, Any]) -> str:
    """The admin "add article" URL pre-filled from a cluster: its first question as the title,
    its language, and its questions as *also asked as* lines (how customers ask for the
    article, searched but never shown). The body stays empty for the editor to write: a
    body listing the questions, in the admin's language, could be published by accident."""
    from urllib.parse import urlencode

    from django.urls import reverse

    from knowledge.services import ALIAS_MAX_CHARS, ALIASES_MAX_LINES

    # Cut long questions so the URL stays well under common 8 KB request-line limits.
    examples = [" ".join(str(text).split())[: min(200, ALIAS_MAX_CHARS)] for text in cluster.get("examples") or []]
    params = {"title": examples[0] if examples else "", "aliases": "\n".join(examples[:ALIASES_MAX_LINES])}
    if cluster.get("language") in dict(Article.Language.choices):
        params["language"] = cluster["language"]
    return reverse("admin:knowledge_article_add") + "?" + urlencode(params)
