"""Fault test of indexing with real parts: a Celery worker process is killed with SIGKILL while it
indexes 200 articles, then restarted; the sweeper takes over the claim the dead worker held.
Figures (timings) are printed; run with ``-s`` to see them."""

import time

import pytest
from django.db import transaction
from django.utils import timezone

from knowledge.models import Article, Chunk, KnowledgeBase
from knowledge.services import article_content_hash, article_schedule_indexing, articles_enqueue_pending
from tests.conftest import Worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ARTICLES = 200


def body(i: int) -> str:
    return f"안내 {i}번: 주문 C{i:04d}의 환불은 결제 후 {i % 27 + 1}일 이내에 가능합니다. Refund rule number {i}."


def test_worker_killed_while_indexing_200_articles_every_article_ends_indexed_exactly_once(
    fault_worker: Worker, live_kb: KnowledgeBase, settings: object
) -> None:
    from tasks.knowledge import index_article

    settings.INDEX_CLAIM_TIMEOUT_SECONDS = 3  # type: ignore[attr-defined]  # for the sweeps this test runs
    fault_worker.restart(INDEX_CLAIM_TIMEOUT_SECONDS="3")
    started = time.monotonic()
    with transaction.atomic():
        articles = Article.objects.bulk_create(
            Article(
                knowledge_base=live_kb, title=f"환불 안내 {i}", slug=f"refund-{i}", body=body(i),
                status=Article.Status.PUBLISHED, published_at=timezone.now(),
            )
            for i in range(ARTICLES)
        )  # fmt: skip
        for article in articles:
            article_schedule_indexing(article=article)  # enqueued on commit, with the content hash
    ids = [a.pk for a in articles]
    for article_id, content_hash in Article.objects.filter(pk__in=ids).values_list("id", "content_hash"):
        index_article.delay(article_id, content_hash)  # every task delivered twice, as after a lost ack
    rows = Article.objects.filter(pk__in=ids)

    def indexed() -> int:
        return rows.filter(index_state=Article.IndexState.INDEXED).count()

    held: list[int] = []
    kills = 0
    while not held:  # kill it mid-article: poll fast for a live claim, then SIGKILL at once
        assert kills < 5, "never caught the worker mid-article"
        fault_worker.wait_for(lambda: indexed() >= 50, timeout=180, what="50 articles indexed")
        deadline = time.monotonic() + 30
        while not rows.filter(index_state=Article.IndexState.INDEXING).exists():
            assert time.monotonic() < deadline, "no article was being indexed"
        fault_worker.kill()
        kills += 1
        held = list(rows.filter(index_state=Article.IndexState.INDEXING).values_list("id", flat=True))
        if not held:  # it finished between the poll and the signal: try again
            fault_worker.start(INDEX_CLAIM_TIMEOUT_SECONDS="3")
    at_kill, killed_at = indexed(), time.monotonic()
    fault_worker.start(INDEX_CLAIM_TIMEOUT_SECONDS="3")
    fault_worker.wait_for(lambda: indexed() == ARTICLES - len(held), timeout=300, what="the other articles")
    assert set(rows.exclude(index_state=Article.IndexState.INDEXED).values_list("id", flat=True)) == set(held)

    def swept_and_indexed() -> bool:  # the beat sweeper, run here: it re-queues claims older than 3 s
        articles_enqueue_pending(older_than_seconds=0)
        return indexed() == ARTICLES

    fault_worker.wait_for(swept_and_indexed, timeout=120, what="the held article to be taken over")
    finished = time.monotonic()

    chunks = Chunk.objects.filter(article_id__in=ids)
    assert chunks.count() == ARTICLES  # one short chunk each: none lost, none duplicated
    by_article = {c.article_id: c for c in chunks}
    for article in rows:
        chunk = by_article[article.pk]
        assert article.chunk_count == 1 and chunk.ordinal == 0
        assert chunk.content == article.body and chunk.text.startswith(article.title + "\n")
        assert chunk.embedding_dimensions == 384 and len(chunk.embedding) == 384
        assert article.indexed_hash == article.content_hash == article_content_hash(article)
        # Exactly once: one claim per article (each had two tasks); the held one was claimed again.
        assert article.index_attempts == (2 if article.pk in held else 1), article.pk
    print(
        f"\n[kill -9] {ARTICLES} articles x 2 tasks; killed {kills}x with {at_kill} indexed after "
        f"{killed_at - started:.1f}s, holding article(s) {held}; all indexed {finished - killed_at:.1f}s later "
        f"(restart, model load, {settings.INDEX_CLAIM_TIMEOUT_SECONDS}s claim timeout); total {finished - started:.1f}s"  # type: ignore[attr-defined]
    )


def test_a_published_article_is_indexed_before_drafts_queued_ahead_of_it(
    fault_worker: Worker, live_kb: KnowledgeBase
) -> None:
    """Drafts wait at the low priority: customers can't be answered from them yet, and a
    published article queued behind large drafts had waited 8 minutes."""
    fault_worker.stop()  # queue everything first, as behind a busy worker
    with transaction.atomic():
        drafts = [
            Article.objects.create(knowledge_base=live_kb, title=f"초안 {i}", slug=f"draft-{i}", body=body(i))
            for i in range(4)
        ]
        for draft in drafts:
            article_schedule_indexing(article=draft)
    with transaction.atomic():
        published = Article.objects.create(
            knowledge_base=live_kb, title="새 안내", slug="new", body=body(99),
            status=Article.Status.PUBLISHED, published_at=timezone.now(),
        )  # fmt: skip
        article_schedule_indexing(article=published)
    fault_worker.start()
    every = Article.objects.filter(pk__in=[a.pk for a in [*drafts, published]])
    fault_worker.wait_for(
        lambda: every.filter(index_state=Article.IndexState.INDEXED).count() == 5, timeout=120, what="5 indexed"
    )
    order = list(every.order_by("indexed_at").values_list("slug", flat=True))
    assert order[0] == "new", order  # queued last, indexed first


def test_a_long_article_has_a_worker_of_its_own_and_never_holds_a_short_one_back(
    fault_worker: Worker, live_kb: KnowledgeBase, settings: object
) -> None:
    """A 100-character article saved while a 187,000-character one was embedded had waited 165 s
    behind it: long articles go to ``INDEX_LARGE_QUEUE``, which another worker consumes."""
    settings.INDEX_LARGE_ARTICLE_CHARS = 2000  # type: ignore[attr-defined]
    fault_worker.stop()
    with transaction.atomic():
        long, short = (
            Article.objects.create(
                knowledge_base=live_kb,
                title=title,
                slug=slug,
                body=text,
                status=Article.Status.PUBLISHED,
                published_at=timezone.now(),
            )  # fmt: skip
            for title, slug, text in (
                ("긴 안내", "long", " ".join(body(i) for i in range(40))),
                ("짧은 안내", "short", body(1)),
            )
        )
        article_schedule_indexing(article=long)
        article_schedule_indexing(article=short)
    fault_worker.QUEUES = "emails,indexing,celery"  # the short articles' worker alone: the long one waits for its own
    try:
        fault_worker.start()
        fault_worker.wait_for(
            lambda: Article.objects.get(pk=short.pk).index_state == Article.IndexState.INDEXED, timeout=60, what="short"
        )
        assert Article.objects.get(pk=long.pk).index_state == Article.IndexState.PENDING  # queued elsewhere
        fault_worker.stop()
    finally:
        del fault_worker.QUEUES  # back to the class's: every queue
    fault_worker.start()
    fault_worker.wait_for(
        lambda: Article.objects.get(pk=long.pk).index_state == Article.IndexState.INDEXED, timeout=120, what="long"
    )
    assert Chunk.objects.filter(article=long).count() > 1
