"""Indexing claims: one claimant per version, older versions never overwrite newer ones, dead claims
are taken over after the timeout and given up after INDEX_MAX_ATTEMPTS (real PostgreSQL)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from knowledge.embeddings import get_provider
from knowledge.models import Article, Chunk
from knowledge.services import (
    article_claim_indexing,
    article_content_hash,
    article_index,
    article_schedule_indexing,
    articles_enqueue_pending,
)

pytestmark = pytest.mark.django_db

BODY = "환불은 결제 후 14일 이내에 가능합니다. 마이페이지에서 신청하세요."


def _pending(make_article, body: str = BODY) -> Article:  # type: ignore[no-untyped-def]
    article = make_article("환불 안내", body, index=False)
    article_schedule_indexing(article=article)  # the on-commit enqueue never runs in this test
    article.refresh_from_db()
    return article


def _kill_claim(article: Article) -> None:
    """What a worker killed mid-indexing leaves: a claim older than the timeout."""
    Article.objects.filter(pk=article.pk).update(index_started_at=timezone.now() - timedelta(hours=1))


def test_of_two_claims_of_one_version_only_one_wins(make_article) -> None:  # type: ignore[no-untyped-def]
    article = _pending(make_article)
    first = article_claim_indexing(article_id=article.pk, content_hash=article.content_hash)
    assert first is not None
    assert article_claim_indexing(article_id=article.pk, content_hash=article.content_hash) is None
    article.refresh_from_db()
    assert (article.index_state, article.index_attempts, article.index_started_at) == ("indexing", 1, first)
    # The second delivery of the task, run in full, does nothing while the claim is live.
    assert article_index(article_id=article.pk, content_hash=article.content_hash) is False
    assert Chunk.objects.filter(article=article).count() == 0


def test_a_dead_claim_is_taken_over_after_the_timeout(make_article, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INDEX_CLAIM_TIMEOUT_SECONDS = 600
    article = _pending(make_article)
    assert article_claim_indexing(article_id=article.pk, content_hash=article.content_hash)
    Article.objects.filter(pk=article.pk).update(index_started_at=timezone.now() - timedelta(seconds=599))
    assert article_claim_indexing(article_id=article.pk, content_hash=article.content_hash) is None
    _kill_claim(article)
    assert article_index(article_id=article.pk, content_hash=article.content_hash) is True
    article.refresh_from_db()
    assert (article.index_state, article.index_attempts, article.chunk_count) == ("indexed", 2, 1)


def test_a_task_for_an_older_version_is_discarded(make_article) -> None:  # type: ignore[no-untyped-def]
    article = make_article("환불 안내", BODY)
    old_hash, old_chunks = article.content_hash, list(article.chunks.all())
    assert old_hash == article_content_hash(article)
    article.body = BODY + " 새 규정: 30일 이내."
    article.save()
    article_schedule_indexing(article=article)
    assert article_index(article_id=article.pk, content_hash=old_hash) is False
    assert list(article.chunks.all()) == old_chunks
    article.refresh_from_db()
    assert article.index_state == "pending" and article.index_attempts == 0
    assert article_index(article_id=article.pk, content_hash=article.content_hash) is True
    assert "30일" in Chunk.objects.get(article=article).content


def test_an_edit_while_indexing_discards_the_older_result_and_leaves_the_article_pending(make_article) -> None:  # type: ignore[no-untyped-def]
    article = _pending(make_article)
    real = get_provider()

    class EditingMidway:
        """Embeds for real, but staff save a new version while the worker embeds the old one."""

        name, dimensions = real.name, real.dimensions

        def embed_passages(self, texts: list[str]) -> list[list[float]]:
            edited = Article.objects.get(pk=article.pk)
            edited.body = BODY + " 새 규정: 30일 이내."
            edited.save()
            article_schedule_indexing(article=edited)
            return real.embed_passages(texts)

        def embed_query(self, text: str) -> list[float]:
            return real.embed_query(text)

    assert article_index(article_id=article.pk, content_hash=article.content_hash, provider=EditingMidway()) is False
    assert Chunk.objects.filter(article=article).count() == 0  # the old version's chunks were not written
    article.refresh_from_db()
    assert article.index_state == "pending" and article.content_hash == article_content_hash(article)
    assert article_index(article_id=article.pk, content_hash=article.content_hash) is True
    assert "30일" in Chunk.objects.get(article=article).content


def test_an_article_whose_worker_keeps_dying_is_failed_after_max_attempts(make_article, settings, broker_down) -> None:  # type: ignore[no-untyped-def]
    settings.INDEX_MAX_ATTEMPTS = 2
    article = _pending(make_article)
    for _ in range(2):  # each claim's worker is killed (OOM) before finishing
        assert article_claim_indexing(article_id=article.pk, content_hash=article.content_hash)
        _kill_claim(article)
    # The redelivered task claims nothing and gives up, with the reason.
    assert article_index(article_id=article.pk, content_hash=article.content_hash) is False
    article.refresh_from_db()
    assert article.index_state == "failed" and "Gave up after 2 indexing attempts" in article.index_error
    assert "out of memory" in article.index_error
    assert articles_enqueue_pending(older_than_seconds=0) == 0  # the sweeper no longer re-queues it
    # Saving a new version starts a new budget.
    article.body = BODY + " (짧게 나눔)"
    article.save()
    assert article_schedule_indexing(article=article) is True
    assert article_index(article_id=article.pk, content_hash=article_content_hash(article)) is True


def test_the_sweeper_gives_up_dead_claims_past_the_budget_and_requeues_the_others(
    make_article, settings, broker_down
) -> None:  # type: ignore[no-untyped-def]
    settings.INDEX_MAX_ATTEMPTS = 2
    dead_once, dead_twice = _pending(make_article), make_article("배송", "배송은 2일 걸립니다.", index=False)
    article_schedule_indexing(article=dead_twice)
    for article, claims in ((dead_once, 1), (dead_twice, 2)):
        for _ in range(claims):
            article.refresh_from_db()
            assert article_claim_indexing(article_id=article.pk, content_hash=article.content_hash)
            _kill_claim(article)
    assert articles_enqueue_pending(older_than_seconds=0) == 1  # dead_once; its enqueue fails safely
    assert Article.objects.get(pk=dead_twice.pk).index_state == "failed"
    assert Article.objects.get(pk=dead_once.pk).index_state == "indexing"  # the next claim takes it over


def test_an_embedding_error_fails_the_article_and_a_retry_may_claim_it_again(make_article) -> None:  # type: ignore[no-untyped-def]
    from knowledge.embeddings import EmbeddingError

    class Down:
        name, dimensions = get_provider().name, 384

        def embed_passages(self, texts: list[str]) -> list[list[float]]:
            raise EmbeddingError("provider unavailable")

        def embed_query(self, text: str) -> list[float]:
            raise EmbeddingError("provider unavailable")

    article = _pending(make_article)
    with pytest.raises(EmbeddingError):
        article_index(article_id=article.pk, content_hash=article.content_hash, provider=Down())
    article.refresh_from_db()
    assert article.index_state == "failed" and "provider unavailable" in article.index_error
    assert article_index(article_id=article.pk, content_hash=article.content_hash) is True  # Celery's retry
    article.refresh_from_db()
    assert (article.index_state, article.index_attempts) == ("indexed", 2)


def test_an_article_indexed_under_other_settings_is_indexed_again_when_asked(make_article, settings) -> None:  # type: ignore[no-untyped-def]
    article = make_article("환불 안내", "결제 후 14일 이내에는 전액 환불됩니다.\n\n환불은 마이페이지에서 신청합니다.")
    assert article.index_state == "indexed"
    before = article.indexed_hash
    settings.CHUNK_TOKENS, settings.CHUNK_OVERLAP_TOKENS = 400, 50  # the indexed version is now stale
    assert article_index(article_id=article.pk) is True
    article.refresh_from_db()
    assert article.index_state == "indexed" and article.indexed_hash != before
    assert Chunk.objects.filter(article=article).count() == article.chunk_count


def test_an_article_failed_by_an_embedding_outage_is_tried_again_after_a_while(  # type: ignore[no-untyped-def]
    make_article, settings, broker_down
) -> None:
    """An embedding API that was down had left articles ``failed`` for good once it was back
    (sixteenth session, failure pass); any other failure still waits for a person."""
    from knowledge.embeddings import EmbeddingError

    settings.INDEX_OUTAGE_RETRY_SECONDS = 600
    outage, other, recent = (make_article(f"안내 {n}", BODY, index=False) for n in range(3))
    for article in (outage, other, recent):
        article_schedule_indexing(article=article)
        article.refresh_from_db()
    long_ago, just_now = timezone.now() - timedelta(minutes=11), timezone.now() - timedelta(minutes=1)
    for article, error, when in (
        (outage, repr(EmbeddingError("embedding API returned HTTP 500: down")), long_ago),
        (other, repr(ValueError("a chunk the parser could not read")), long_ago),
        (recent, repr(EmbeddingError("embedding API unreachable")), just_now),
    ):
        Article.objects.filter(pk=article.pk).update(
            index_state="failed", index_error=error, index_attempts=settings.INDEX_MAX_ATTEMPTS, index_started_at=when
        )
    assert articles_enqueue_pending(older_than_seconds=0) == 1
    states = {a.pk: a for a in Article.objects.filter(pk__in=[outage.pk, other.pk, recent.pk])}
    assert states[outage.pk].index_state == "pending" and states[outage.pk].index_attempts == 0
    assert states[other.pk].index_state == "failed" and states[recent.pk].index_state == "failed"
    # with the provider back, the retried article is indexed
    assert article_index(article_id=outage.pk, content_hash=states[outage.pk].content_hash) is True


def test_a_run_stops_after_the_batch_in_which_its_article_was_saved_again(make_article, settings) -> None:  # type: ignore[no-untyped-def]
    """A long article saved twice had customers answered from the old text for both runs: the
    second version's task waited behind the first run, which embedded to the end for nothing."""
    settings.EMBEDDING_BATCH_SIZE = 1
    article = _pending(make_article, "\n\n".join(f"문단 {n}: 환불은 {n}일 이내에 가능합니다. " * 40 for n in range(6)))
    real, calls = get_provider(), []

    class SavedMidway:
        name, dimensions = real.name, real.dimensions

        def embed_passages(self, texts: list[str]) -> list[list[float]]:
            calls.append(len(texts))
            if len(calls) == 1:  # a staff member saves a new version while the first batch embeds
                article.body += "\n\n수수료는 7%입니다."
                article.save()
                article_schedule_indexing(article=article)
            return real.embed_passages(texts)

        def embed_query(self, text: str) -> list[float]:
            return real.embed_query(text)

    first_version = article.content_hash
    assert article_index(article_id=article.pk, content_hash=first_version, provider=SavedMidway()) is False
    assert len(calls) == 1  # stopped after the batch it was in, not after every chunk
    article.refresh_from_db()
    assert article.index_state == "pending" and article.content_hash != first_version
    assert not Chunk.objects.filter(article=article).exists()
    assert article_index(article_id=article.pk, content_hash=article.content_hash) is True  # the newer version's task
    assert "수수료는 7%입니다." in "".join(Chunk.objects.filter(article=article).values_list("content", flat=True))
