"""Writes: saving articles, scheduling and running their indexing.

Indexing is ``chunk -> analyse (Kiwi) -> embed -> replace the article's chunks``, run by
a Celery worker (``tasks.knowledge.index_article``) after the saving transaction commits.
The content hash makes it idempotent: a task for an article whose indexed hash and
embedding model already match does nothing, so running it twice leaves the same state.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from knowledge.analysis import analyse
from knowledge.chunking import chunk_text, plain_sentences
from knowledge.embeddings import EmbeddingProvider, get_provider
from knowledge.models import LIVE_KNOWLEDGE_BASE, Article, Chunk, KnowledgeBase
from knowledge.tokens import chunk_encoding, count_tokens, truncate_tokens

ProgressCallback = Callable[[int, int], None]  # (done, total) embedded chunks


class ArticleTooLarge(ValueError):
    pass


def article_content_hash(article: Article) -> str:
    """SHA-256 over what gets indexed (title, date, body) plus the chunking settings and tokenizer."""
    date = article.published_at.date().isoformat() if article.published_at else ""
    material = "\x1f".join(
        [
            article.title, date, article.body,
            str(settings.CHUNK_TOKENS), str(settings.CHUNK_OVERLAP_TOKENS), settings.CHUNK_TOKENIZER,
            "sentences" if settings.SENTENCE_EMBEDDINGS else "",
        ]
    )  # fmt: skip
    return hashlib.sha256(material.encode()).hexdigest()


def article_validate_body(body: str) -> None:
    """Raise ``ArticleTooLarge`` when ``body`` exceeds ``ARTICLE_BODY_MAX_CHARS``."""
    if len(body) > settings.ARTICLE_BODY_MAX_CHARS:
        raise ArticleTooLarge(
            f"The body has {len(body):,} characters; the limit is {settings.ARTICLE_BODY_MAX_CHARS:,}. "
            "Split it into several articles."
        )


def article_needs_indexing(article: Article, provider_name: str) -> bool:
    return not (
        article.index_state == Article.IndexState.INDEXED
        and article.indexed_hash == article_content_hash(article)
        and article.embedding_model == provider_name
    )


def article_schedule_indexing(*, article: Article, force: bool = False) -> bool:
    """Mark ``article`` pending and enqueue its indexing once the transaction commits.

    Does nothing (returns False) when the content hash and embedding model are what was
    last indexed, unless ``force``. If the broker is down, the article stays pending and
    ``tasks.maintenance.sweep_pending_work`` enqueues it once Redis is back.
    """
    article.content_hash = article_content_hash(article)
    if not force and not article_needs_indexing(article, get_provider().name):
        Article.objects.filter(pk=article.pk).update(content_hash=article.content_hash)
        return False
    now = timezone.now()
    Article.objects.filter(pk=article.pk).update(
        content_hash=article.content_hash,
        index_state=Article.IndexState.PENDING,
        index_requested_at=now,
        index_error="",
    )
    article.index_state, article.index_requested_at = Article.IndexState.PENDING, now
    article_id = article.pk
    transaction.on_commit(lambda: enqueue_indexing(article_id))
    return True


def enqueue_indexing(article_id: int) -> None:
    """Send the indexing task; a broker failure leaves the article pending (see ``tasks.enqueue``)."""
    from tasks import enqueue
    from tasks.knowledge import index_article

    enqueue(index_article, article_id)


@dataclass(frozen=True)
class ChunkBuild:
    content: str
    text: str
    token_count: int
    lexemes: list[str]
    sentences: list[str]


def sentence_vectors_pack(vectors: list[list[float]]) -> bytes:
    """Sentence embeddings as ``Chunk.sentence_vectors`` stores them: float16, row-major."""
    return np.asarray(vectors, dtype=np.float16).tobytes() if vectors else b""


def sentence_vectors_unpack(blob: bytes, dimensions: int) -> np.ndarray:
    """``(n, dimensions)`` float32 array from :func:`sentence_vectors_pack` bytes (n = 0 for none)."""
    if not blob or not dimensions:
        return np.zeros((0, max(dimensions, 0)), dtype=np.float32)
    return np.frombuffer(bytes(blob), dtype=np.float16).reshape(-1, dimensions).astype(np.float32)


def _embed_sentences(builds: list["ChunkBuild"], title: str, provider: EmbeddingProvider) -> list[list[list[float]]]:
    """Per chunk, the embeddings of its sentences (prefixed with the article title, as context)."""
    if not settings.SENTENCE_EMBEDDINGS:
        return [[] for _ in builds]
    flat = [f"{title}: {s}" for b in builds for s in b.sentences]
    vectors: list[list[float]] = []
    batch = max(1, settings.EMBEDDING_BATCH_SIZE) * 4  # sentences are short
    for start in range(0, len(flat), batch):
        vectors.extend(provider.embed_passages(flat[start : start + batch]))
    out, at = [], 0
    for b in builds:
        out.append(vectors[at : at + len(b.sentences)])
        at += len(b.sentences)
    return out


def article_build_chunks(article: Article) -> list[ChunkBuild]:
    """The chunks of ``article``: each carries the title (and date) ahead of its content.

    Chunk bodies are at most ``CHUNK_TOKENS`` tokens of ``CHUNK_TOKENIZER`` with
    ``CHUNK_OVERLAP_TOKENS`` of overlap; see :mod:`knowledge.chunking`.
    """
    encoding = chunk_encoding()
    drafts = chunk_text(
        article.body,
        max_tokens=settings.CHUNK_TOKENS,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        count=lambda t: count_tokens(t, encoding=encoding),
        cut=lambda t, n: truncate_tokens(t, n, encoding=encoding),
    )
    header = article.title
    if article.published_at:
        header += f"\n{article.published_at.date().isoformat()}"
    title_terms = analyse(article.title)
    return [
        ChunkBuild(
            content=d.content,
            text=f"{header}\n\n{d.content}",
            token_count=d.token_count,
            lexemes=title_terms + analyse(d.content),
            sentences=plain_sentences(d.content),
        )
        for d in drafts
    ]


def article_index(
    *, article_id: int, provider: EmbeddingProvider | None = None, progress: ProgressCallback | None = None
) -> bool:
    """Chunk, analyse and embed one article, replacing its chunks. Returns True if it did work.

    Skips (False) when the article is gone or already indexed with the same content hash
    and embedding model. On failure the article is marked ``failed`` with the error and
    the exception re-raised (the task retries). Embeds ``EMBEDDING_BATCH_SIZE`` texts
    per call.
    """
    provider = provider or get_provider()
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return False
    if not article_needs_indexing(article, provider.name):
        return False
    Article.objects.filter(pk=article_id).update(index_state=Article.IndexState.INDEXING, index_error="")
    started_hash = article_content_hash(article)
    try:
        builds = article_build_chunks(article)
        vectors: list[list[float]] = []
        batch = max(1, settings.EMBEDDING_BATCH_SIZE)
        for start in range(0, len(builds), batch):
            vectors.extend(provider.embed_passages([b.text for b in builds[start : start + batch]]))
            if progress:
                progress(len(vectors), len(builds))
        sentence_vectors = _embed_sentences(builds, article.title, provider)
        with transaction.atomic():
            locked = Article.objects.select_for_update().filter(pk=article_id).first()
            if locked is None:
                return False
            Chunk.objects.filter(article_id=article_id).delete()
            Chunk.objects.bulk_create(
                Chunk(
                    article_id=article_id,
                    knowledge_base_id=article.knowledge_base_id,
                    ordinal=i,
                    content=b.content,
                    text=b.text,
                    token_count=b.token_count,
                    lexemes=" ".join(b.lexemes),
                    lexeme_count=len(b.lexemes),
                    embedding=v,
                    embedding_model=provider.name,
                    embedding_dimensions=len(v),
                    sentences=b.sentences,
                    sentence_vectors=sentence_vectors_pack(sv),
                )
                for i, (b, v, sv) in enumerate(zip(builds, vectors, sentence_vectors, strict=True))
            )
            changed_meanwhile = article_content_hash(locked) != started_hash
            Article.objects.filter(pk=article_id).update(
                indexed_hash=started_hash,
                content_hash=article_content_hash(locked),
                index_state=Article.IndexState.PENDING if changed_meanwhile else Article.IndexState.INDEXED,
                indexed_at=timezone.now(),
                embedding_model=provider.name,
                chunk_count=len(builds),
            )
        return True
    except Exception as exc:
        Article.objects.filter(pk=article_id).update(
            index_state=Article.IndexState.FAILED, index_error=repr(exc)[:2000]
        )
        raise


def knowledge_base_get_live() -> KnowledgeBase:
    """The collection customers are answered from (created by migration 0002)."""
    kb, _ = KnowledgeBase.objects.get_or_create(slug=LIVE_KNOWLEDGE_BASE, defaults={"name": "Help centre"})
    return kb


def articles_enqueue_pending(*, older_than_seconds: int = 30, stale_indexing_seconds: int = 900) -> int:
    """Enqueue indexing for every article that should be indexed but has no live task.

    Covers: pending rows whose enqueue failed (broker down), rows stuck in ``indexing``
    (worker killed mid-task), and rows indexed with another embedding model (the model
    setting changed: everything is re-embedded). Returns how many were enqueued.
    """
    now = timezone.now()
    provider_name = get_provider().name
    pending = Article.objects.filter(
        index_state=Article.IndexState.PENDING, index_requested_at__lt=now - timedelta(seconds=older_than_seconds)
    ) | Article.objects.filter(index_state=Article.IndexState.PENDING, index_requested_at__isnull=True)
    stuck = Article.objects.filter(
        index_state=Article.IndexState.INDEXING,
        index_requested_at__lt=now - timedelta(seconds=stale_indexing_seconds),
    )
    other_model = Article.objects.filter(index_state=Article.IndexState.INDEXED).exclude(embedding_model=provider_name)
    ids = set(pending.values_list("id", flat=True)) | set(stuck.values_list("id", flat=True))
    ids |= set(other_model.values_list("id", flat=True))
    if ids:
        Article.objects.filter(id__in=ids).update(index_requested_at=now)
    for article_id in sorted(ids):
        enqueue_indexing(article_id)
    return len(ids)
