import pytest
from django.utils import timezone

from knowledge.models import Article, Chunk
from knowledge.services import (
    article_content_hash,
    article_index,
    article_schedule_indexing,
    articles_enqueue_pending,
)

pytestmark = pytest.mark.django_db

BODY = "\n\n".join(
    f"문단 {i}: 환불 규정과 배송 안내에 관한 설명이 이어집니다. 결제 후 {i}일이 지나면 처리 방식이 달라집니다."
    for i in range(40)
)


def test_indexing_stores_chunks_with_title_lexemes_and_embeddings(make_article, settings) -> None:  # type: ignore[no-untyped-def]
    article = make_article("환불 규정 총정리", BODY)
    chunks = list(Chunk.objects.filter(article=article))
    assert article.index_state == Article.IndexState.INDEXED
    assert article.chunk_count == len(chunks) > 1
    assert article.embedding_model.startswith("intfloat/multilingual-e5-small")
    for chunk in chunks:
        assert chunk.text.startswith("환불 규정 총정리\n")  # every chunk carries the title and date
        assert "환불" in chunk.lexemes.split() and "규정" in chunk.lexemes.split()
        assert chunk.embedding_dimensions == 384 and len(chunk.embedding) == 384
        assert chunk.token_count <= settings.CHUNK_TOKENS


def test_raw_html_is_neither_quoted_nor_searched_and_html_alone_gives_no_chunk(make_article) -> None:  # type: ignore[no-untyped-def]
    """The article page drops raw HTML (nh3); the index must too, or customers are quoted
    "<script>…" and a question full of tags matches the article on them."""
    body = (
        "<script>alert('x')</script>선물 포장은 <b>무료</b>입니다. <img src=x onerror=alert(1)>"
        '<div onclick="steal()">포장지는 빨강과 초록</div> 중에서 고를 수 있습니다.<!-- 메모 -->'
    )
    article = make_article("선물 포장 안내", body)
    chunk = Chunk.objects.get(article=article)
    assert chunk.content == "선물 포장은 무료입니다. 포장지는 빨강과 초록 중에서 고를 수 있습니다."
    assert not {"script", "alert", "img", "onerror", "div", "onclick", "steal", "메모"} & set(chunk.lexemes.split())
    assert all("<" not in sentence for sentence in chunk.sentences)
    only_html = make_article("스크립트만 있는 문서", "<script>var x = 1;</script>\n<style>p {}</style>")
    assert only_html.index_state == Article.IndexState.INDEXED and not Chunk.objects.filter(article=only_html)


def test_a_body_without_html_keeps_its_content_hash_when_html_is_stripped(make_article) -> None:  # type: ignore[no-untyped-def]
    article = make_article("환불 규정", BODY)
    plain_hash = article_content_hash(article)
    article.body = BODY + "<!-- 검토 메모 -->"
    assert article_content_hash(article) == plain_hash  # nothing the index holds changed
    article.body = BODY + "\n\n추가 문단"
    assert article_content_hash(article) != plain_hash


def test_reindexing_unchanged_content_does_nothing(make_article) -> None:  # type: ignore[no-untyped-def]
    article = make_article("환불 규정", BODY)
    ids = set(Chunk.objects.filter(article=article).values_list("id", flat=True))
    assert article_index(article_id=article.pk) is False
    assert set(Chunk.objects.filter(article=article).values_list("id", flat=True)) == ids


def test_saving_schedules_indexing_on_commit_only_when_content_changed(
    make_article, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    article = make_article("환불 규정", BODY)
    with django_capture_on_commit_callbacks() as callbacks:
        assert article_schedule_indexing(article=article) is False
    assert callbacks == []
    article.body = BODY + "\n\n새 문단이 추가되었습니다."
    article.save()
    with django_capture_on_commit_callbacks() as callbacks:
        assert article_schedule_indexing(article=article) is True
    assert len(callbacks) == 1
    article.refresh_from_db()
    assert article.index_state == Article.IndexState.PENDING
    assert article.content_hash == article_content_hash(article) != article.indexed_hash


def test_a_failing_embedding_marks_the_article_failed_with_the_error(make_article) -> None:  # type: ignore[no-untyped-def]
    from knowledge.embeddings import EmbeddingError

    class BrokenProvider:
        name = "broken"
        dimensions = 3

        def embed_passages(self, texts: list[str]) -> list[list[float]]:
            raise EmbeddingError("model unavailable")

        def embed_query(self, text: str) -> list[float]:
            raise EmbeddingError("model unavailable")

    article = make_article("환불 규정", BODY, index=False)
    with pytest.raises(EmbeddingError):
        article_index(article_id=article.pk, provider=BrokenProvider())
    article.refresh_from_db()
    assert article.index_state == Article.IndexState.FAILED
    assert "model unavailable" in article.index_error


def test_article_saved_while_the_broker_is_down_is_kept_pending_and_swept_later(
    make_article, broker_down, django_capture_on_commit_callbacks, caplog
) -> None:  # type: ignore[no-untyped-def]
    article = make_article("환불 규정", BODY, index=False)
    with django_capture_on_commit_callbacks(execute=True):
        article_schedule_indexing(article=article)  # the on-commit enqueue fails: logged, not raised
    article.refresh_from_db()
    assert article.index_state == Article.IndexState.PENDING
    assert "broker unavailable" in caplog.text
    Article.objects.filter(pk=article.pk).update(index_requested_at=timezone.now() - timezone.timedelta(minutes=5))
    assert articles_enqueue_pending() == 1  # the sweeper finds it (its own enqueue fails too, safely)


def test_title_and_aliases_weigh_lexical_title_weight_times_and_the_weight_is_in_the_hash(settings) -> None:  # type: ignore[no-untyped-def]
    from knowledge.services import article_build_chunks

    article = Article(title="Shipping times", aliases="배송 기간", body="Orders leave the warehouse the same day.")
    settings.LEXICAL_TITLE_WEIGHT = 3
    terms = article_build_chunks(article)[0].lexemes
    assert terms.count("ship") == 3 and terms.count("배송") == 3 and terms.count("warehous") == 1
    weighted = article_content_hash(article)
    settings.LEXICAL_TITLE_WEIGHT = 1
    assert article_build_chunks(article)[0].lexemes.count("ship") == 1
    assert article_content_hash(article) != weighted  # a new weight re-indexes
