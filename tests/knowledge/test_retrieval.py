from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from knowledge.models import Article
from knowledge.selectors import (
    RetrievedChunk,
    agreed_first,
    alias_rerank,
    fuse,
    proximity_rerank,
    retrieve,
    sentence_rerank,
    term_proximity,
)
from knowledge.services import sentence_vectors_pack

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("환불은 어디서 신청하나요?", "refund"),
        ("배송은 며칠 걸려요?", "shipping"),
        ("How do I reset my password?", "password"),
        ("How much is the Pro plan?", "plans"),
    ],
)
@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_each_retriever_finds_the_right_article_in_korean_and_english(
    sample_articles, live_kb, question, expected, mode
) -> None:  # type: ignore[no-untyped-def]
    result = retrieve(question=question, kb_id=live_kb.pk, mode=mode)
    assert result.chunks[0].article_id == sample_articles[expected].pk


def test_the_question_language_can_be_given_so_carried_words_do_not_flip_it(sample_articles, live_kb) -> None:  # type: ignore[no-untyped-def]
    # A Korean follow-up carrying an English title's words: mostly Latin letters, still Korean.
    query = "며칠 걸려요? exchanging an item for another size or colour"
    assert retrieve(question=query, kb_id=live_kb.pk).language == "en"
    assert retrieve(question=query, kb_id=live_kb.pk, language="ko").language == "ko"


def test_unpublishing_hides_an_article_at_once_before_any_worker_runs(sample_articles, live_kb) -> None:  # type: ignore[no-untyped-def]
    refund = sample_articles["refund"]
    Article.objects.filter(pk=refund.pk).update(status=Article.Status.DRAFT)
    for mode in ("lexical", "dense", "hybrid"):
        ids = {c.article_id for c in retrieve(question="환불 신청", kb_id=live_kb.pk, mode=mode, limit=20).chunks}
        assert refund.pk not in ids


def test_a_scheduled_article_is_found_and_shown_from_its_date_on(sample_articles, live_kb, client) -> None:  # type: ignore[no-untyped-def]
    refund = sample_articles["refund"]
    Article.objects.filter(pk=refund.pk).update(published_at=timezone.now() + timedelta(days=30))
    refund.refresh_from_db()
    assert refund.scheduled
    for mode in ("lexical", "dense", "hybrid"):
        ids = {c.article_id for c in retrieve(question="환불 신청", kb_id=live_kb.pk, mode=mode, limit=20).chunks}
        assert refund.pk not in ids
    assert client.get(f"/articles/{refund.slug}/").status_code == 404
    Article.objects.filter(pk=refund.pk).update(published_at=timezone.now() - timedelta(minutes=1))  # its day came
    assert retrieve(question="환불 신청", kb_id=live_kb.pk).chunks[0].article_id == refund.pk  # no re-index needed
    assert client.get(f"/articles/{refund.slug}/").status_code == 200


def test_vectors_of_another_model_never_mix_into_a_search(sample_articles, live_kb) -> None:  # type: ignore[no-untyped-def]
    from knowledge.models import Chunk

    Chunk.objects.filter(article=sample_articles["plans"]).update(embedding_model="some-other-model")
    ids = {c.article_id for c in retrieve(question="Pro plan price", kb_id=live_kb.pk, mode="dense", limit=20).chunks}
    assert sample_articles["plans"].pk not in ids


def test_dense_search_uses_the_hnsw_index(sample_articles, live_kb) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute(
            "EXPLAIN SELECT id FROM knowledge_chunk WHERE embedding_dimensions = 384 "
            "ORDER BY embedding::vector(384) <=> (SELECT embedding::vector(384) FROM knowledge_chunk LIMIT 1) LIMIT 5"
        )
        plan = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_seqscan")
    assert "chunk_embedding_hnsw_384" in plan


def test_keyword_search_uses_the_gin_index(sample_articles) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN SELECT id FROM knowledge_chunk WHERE search_vector @@ to_tsquery('simple', '환불')")
        plan = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_seqscan")
    assert "chunk_search_vector_gin" in plan


def test_hostile_query_text_is_just_text(sample_articles, live_kb) -> None:  # type: ignore[no-untyped-def]
    result = retrieve(question="'); DROP TABLE knowledge_chunk; -- & | ! <script>", kb_id=live_kb.pk)
    assert isinstance(result.chunks, list)
    assert Article.objects.count() == 4


def test_foreign_chunk_gets_dense_in_place_of_lexical_unless_the_same_language_match_is_strong() -> None:
    lexical = [(1, 4.0)]  # a same-language chunk sharing a word with the question
    dense = [(2, 0.90), (1, 0.80), (3, 0.70)]  # 2 is in the other language, nearest in meaning
    plain = fuse(lexical, dense, method="score", dense_weight=0.4, rrf_k=60, foreign={2})
    assert plain[0].chunk_id == 1  # without imputation one shared word wins: .6·1 + .4·.5 = .8 > .4
    weak = fuse(
        lexical, dense, method="score", dense_weight=0.4, rrf_k=60, foreign={2}, foreign_lexical=1.0,
        lexical_strength=0.2,
    )  # fmt: skip
    assert weak[0].chunk_id == 2 and weak[0].score == pytest.approx(0.4 + 0.6 * 0.8)
    strong = fuse(
        lexical, dense, method="score", dense_weight=0.4, rrf_k=60, foreign={2}, foreign_lexical=1.0,
        lexical_strength=1.0,
    )  # fmt: skip
    assert [c.chunk_id for c in strong] == [c.chunk_id for c in plain]


def test_a_foreign_chunk_sharing_a_word_never_scores_below_one_sharing_none() -> None:
    """A Korean article's English *also asked as* line ("How to request a refund") gave it a
    weak lexical score that replaced the imputed one: matching a word lowered it. The
    foreign chunk now keeps the larger of the two."""
    lexical = [(1, 4.0), (2, 0.8)]  # 2 (other language) shares one light word through an alias line
    dense = [(2, 0.90), (1, 0.80), (3, 0.70)]
    kwargs = {"method": "score", "dense_weight": 0.4, "rrf_k": 60, "foreign_lexical": 1.0, "lexical_strength": 0.2}
    with_word = {c.chunk_id: c.score for c in fuse(lexical, dense, foreign={2}, **kwargs)}
    without = {c.chunk_id: c.score for c in fuse(lexical[:1], dense, foreign={2}, **kwargs)}
    assert with_word[2] == pytest.approx(without[2]) == pytest.approx(0.4 + 0.6 * 0.8)  # imputed .8 > 0.8/4
    strong = {c.chunk_id: c.score for c in fuse(lexical, dense, foreign={2}, **{**kwargs, "lexical_strength": 1.0})}
    assert strong[2] == pytest.approx(0.4 + 0.6 * 0.2)  # nothing imputed: its own lexical share counts


def test_score_fusion_and_rrf() -> None:
    lexical = [(1, 10.0), (2, 5.0)]
    dense = [(2, 0.9), (3, 0.8), (1, 0.7)]
    by_score = fuse(lexical, dense, method="score", dense_weight=0.5, rrf_k=60)
    assert [c.chunk_id for c in by_score] == [2, 1, 3]  # 2: .5*1+.5*.5=.75; 1: .5*0+.5*1=.5; 3: .5*.5=.25
    assert by_score[0].score == pytest.approx(0.75)
    by_rrf = fuse(lexical, dense, method="rrf", dense_weight=0.5, rrf_k=60)
    assert by_rrf[0].chunk_id in (1, 2)
    assert by_rrf[0].score == pytest.approx(max(1 / 61 + 1 / 63, 1 / 62 + 1 / 61))


def _chunk(chunk_id: int, score: float, sentences: list[list[float]], language: str = "ko") -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=chunk_id, article_id=chunk_id, score=score, language=language, dense_score=0.5,
        sentence_vectors=sentence_vectors_pack(sentences), dimensions=2,
    )  # fmt: skip


def test_sentence_rerank_lifts_the_chunk_whose_one_sentence_says_it(settings) -> None:  # type: ignore[no-untyped-def]
    settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET = 0.04
    query = [1.0, 0.0]
    wordy = _chunk(1, 0.9, [[0.6, 0.8], [0.0, 1.0]])  # shares words, no sentence on point (cos .6)
    precise = _chunk(2, 0.7, [[0.0, 1.0], [0.98, 0.199]])  # one sentence says it (cos .98)
    chunks = [wordy, precise]
    sentence_rerank(chunks, query, "ko", weight=0.5)
    assert [c.chunk_id for c in chunks] == [2, 1]
    assert precise.score == pytest.approx(0.5 * 0.7 + 0.5 * 1.0) and wordy.score == pytest.approx(0.5 * 0.9)
    unchanged = [_chunk(1, 0.9, [[0.6, 0.8]]), _chunk(2, 0.7, [[0.98, 0.199]])]
    sentence_rerank(unchanged, query, "ko", weight=0.0)
    assert [c.chunk_id for c in unchanged] == [1, 2]


def test_sentence_rerank_raises_other_language_sentences_by_the_offset(settings) -> None:  # type: ignore[no-untyped-def]
    settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET = 0.04
    query = [1.0, 0.0]
    # E5 scores the English sentence a little lower for a Korean question although it answers.
    same = _chunk(1, 0.5, [[0.90, 0.436]], language="ko")
    other = _chunk(2, 0.5, [[0.88, 0.475]], language="en")
    chunks = [same, other]
    sentence_rerank(chunks, query, "ko", weight=1.0)
    assert [c.chunk_id for c in chunks] == [2, 1]
    settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET = 0.0
    chunks = [_chunk(1, 0.5, [[0.90, 0.436]], "ko"), _chunk(2, 0.5, [[0.88, 0.475]], "en")]
    sentence_rerank(chunks, query, "ko", weight=1.0)
    assert [c.chunk_id for c in chunks] == [1, 2]


def test_term_proximity_weighs_the_pairs_of_query_terms_found_near_each_other() -> None:
    weights = {"cancel": 0.9, "order": 0.5, "refund": 0.7}
    side_by_side = ["cancel", "chang", "order", "주문", "취소"]
    apart = ["cancel", *["x"] * 10, "order"]
    assert term_proximity(side_by_side, weights, window=5) == pytest.approx(0.5 / (0.5 + 0.7 + 0.5))
    assert term_proximity(apart, weights, window=5) == 0.0
    assert term_proximity(apart, weights, window=11) == pytest.approx(0.5 / 1.7)
    assert term_proximity(side_by_side, {"cancel": 0.9}, window=5) == 0.0  # one term: no pair


def test_proximity_rerank_lifts_the_chunk_where_the_question_s_words_stand_together() -> None:
    weights = {"cancel": 0.9, "order": 0.5}
    membership = RetrievedChunk(chunk_id=1, article_id=1, score=0.88, lexemes="cancel plus " * 5 + "x " * 20 + "order")
    orders = RetrievedChunk(chunk_id=2, article_id=2, score=0.87, lexemes="cancel or chang an order 주문 취소")
    chunks = [membership, orders]
    proximity_rerank(chunks, weights, weight=0.1, window=5)
    assert [c.chunk_id for c in chunks] == [2, 1]
    assert orders.score == pytest.approx(0.97) and membership.score == pytest.approx(0.88)


def test_a_chunk_both_retrievers_rank_first_stays_first_after_the_re_rankings() -> None:
    # The sentence re-ranking put chunk 2 (another article) first; the lexical and the dense
    # retriever had both ranked chunk 1 first. It goes back to the top, tied with the chunk it displaces.
    chunks = [RetrievedChunk(chunk_id=2, article_id=2, score=0.8), RetrievedChunk(chunk_id=3, article_id=3, score=0.7)]
    chunks.insert(1, RetrievedChunk(chunk_id=1, article_id=1, score=0.75))
    agreed_first(chunks, 1)
    assert [c.chunk_id for c in chunks] == [1, 2, 3]
    assert chunks[0].score == chunks[1].score == 0.8
    agreed_first(chunks, 1)  # already first: nothing moves
    assert [c.chunk_id for c in chunks] == [1, 2, 3] and chunks[0].score == 0.8
    agreed_first(chunks, 9)  # no longer among the candidates (a filter dropped it): nothing moves
    assert [c.chunk_id for c in chunks] == [1, 2, 3]
    # Below a chunk of its own article: the re-ranking chose the passage within the agreed article.
    neighbours = [
        RetrievedChunk(chunk_id=5, article_id=1, score=0.9),
        RetrievedChunk(chunk_id=1, article_id=1, score=0.7),
    ]
    agreed_first(neighbours, 1)
    assert [c.chunk_id for c in neighbours] == [5, 1] and neighbours[1].score == 0.7


@pytest.mark.parametrize("on", [True, False])
def test_retrieval_keeps_the_agreed_chunk_first_only_with_the_setting(
    sample_articles, live_kb, settings, monkeypatch, on: bool
) -> None:  # type: ignore[no-untyped-def]
    """Both retrievers put the password article first for a password question; a sentence
    re-ranking that turned the candidates round (standing in for one swayed by a near-tie) is
    overruled with ``RETRIEVAL_AGREED_FIRST`` and decides without it."""
    import knowledge.selectors as selectors

    settings.RETRIEVAL_AGREED_FIRST = on
    settings.RETRIEVAL_PROXIMITY_WEIGHT = 0.0
    question = "How do I reset my password?"
    lexical = retrieve(question=question, kb_id=live_kb.pk, mode="lexical")
    dense = retrieve(question=question, kb_id=live_kb.pk, mode="dense")
    password = sample_articles["password"].pk
    assert lexical.chunks[0].article_id == dense.chunks[0].article_id == password

    def turned_round(chunks, vector, language, weight):  # type: ignore[no-untyped-def]
        chunks.reverse()

    monkeypatch.setattr(selectors, "sentence_rerank", turned_round)
    hybrid = retrieve(question=question, kb_id=live_kb.pk, mode="hybrid")
    assert (hybrid.chunks[0].article_id == password) is on
    if on:
        assert hybrid.chunks[0].score == max(c.score for c in hybrid.chunks)  # tied with the one it displaced


def test_alias_rerank_lifts_the_article_asked_about_in_other_words() -> None:
    query = [1.0, 0.0]
    near = _chunk(1, 0.9, [[0.6, 0.8]])  # shares words with the question
    near.alias_vectors = sentence_vectors_pack([[0.5, 0.866]])  # but its title means something else
    asked = _chunk(2, 0.7, [[0.6, 0.8]])
    asked.alias_vectors = sentence_vectors_pack([[0.0, 1.0], [0.99, 0.141]])  # one alias is the question
    legacy = _chunk(3, 0.8, [[0.6, 0.8]])  # indexed before alias vectors: counts the lowest
    chunks = [near, asked, legacy]
    alias_rerank(chunks, query, weight=0.3)
    assert [c.chunk_id for c in chunks] == [2, 1, 3]
    assert asked.score == pytest.approx(0.7 * 0.7 + 0.3 * 1.0) and near.score == pytest.approx(0.7 * 0.9)
    assert legacy.score == pytest.approx(0.7 * 0.8)


def test_an_english_question_finds_the_korean_article_by_its_also_asked_as_line(make_article, settings) -> None:  # type: ignore[no-untyped-def]
    """Alias vectors are indexed with the chunks (title and each line, embedded as queries)
    and read back by hybrid retrieval, which ranks the Korean article whose alias is the
    English question first. (The re-ranking itself is tested on its own above; the help-centre
    figures are in the README.)"""
    from knowledge.models import Chunk

    settings.RETRIEVAL_ALIAS_WEIGHT = 0.3  # on before indexing: alias vectors are embedded only then
    make_article(
        "Earrings and underwear", "Earrings, underwear and swimwear cannot be exchanged or returned once opened.",
        language="en", slug="hygiene",
    )  # fmt: skip
    korean = make_article(
        "주문 취소", "결제 완료 또는 상품 준비 중 상태에서는 주문 내역에서 바로 취소할 수 있습니다.",
        slug="cancel", aliases="Can I cancel my order?\nCancelling an order",
    )  # fmt: skip
    chunk = Chunk.objects.get(article=korean)
    assert len(bytes(chunk.alias_vectors)) == 3 * chunk.embedding_dimensions * 2  # title + 2 lines, float16
    found = retrieve(question="Can I cancel my order once it is opened?", kb_id=korean.knowledge_base_id)
    assert found.chunks[0].article_id == korean.pk
    assert len(found.chunks[0].alias_matrix) == 3  # read back by retrieval for the re-ranking


def test_retrieval_reads_each_heading_s_translation_from_the_article_s_also_asked_as_lines(make_article) -> None:  # type: ignore[no-untyped-def]
    """The extractive answer counts them for a question in the other language
    (``support.answering.extractive.section_terms``)."""
    article = make_article(
        "반품 및 환불 정책", "상품을 받은 날부터 14일 이내에 반품할 수 있습니다.\n\n## 환불 시기\n\n검수 후 1영업일 이내에 환불합니다.",
        slug="refunds", aliases="Returns and refund policy\nWhen the refund is made",
    )  # fmt: skip
    found = retrieve(question="When is the refund made?", kb_id=article.knowledge_base_id)
    chunk = next(c for c in found.chunks if c.article_id == article.pk)
    assert chunk.heading_translations == {"": "Returns and refund policy", "환불 시기": "When the refund is made"}
    later = RetrievedChunk(
        chunk_id=0, article_id=0, score=0.0, ordinal=1, language="ko", aliases=chunk.aliases, headings=chunk.headings
    )
    assert later.heading_translations == {"환불 시기": "When the refund is made"}  # not the article's opening


def test_alias_vectors_are_not_embedded_while_nothing_reads_them(make_article, settings) -> None:  # type: ignore[no-untyped-def]
    """Read by the re-ranking (``RETRIEVAL_ALIAS_WEIGHT``), the known-gap checks
    (``KNOWN_GAP_MARGIN`` ≥ 0, ``KNOWN_GAP_SAME`` > 0), the known-wording one
    (``KNOWN_WORDING_SIMILARITY`` > 0) and the lead between them (``KNOWN_WORDING_LEAD_WEIGHT`` ≠ 0);
    with all five off they are not embedded, and turning any on re-indexes."""
    from knowledge.models import Chunk
    from knowledge.services import article_content_hash

    settings.RETRIEVAL_ALIAS_WEIGHT, settings.KNOWN_GAP_MARGIN, settings.KNOWN_WORDING_SIMILARITY = 0.0, -1.0, 0.0
    settings.KNOWN_WORDING_LEAD_WEIGHT, settings.KNOWN_GAP_SAME = 0.0, 0.0
    article = make_article(
        "주문 취소", "주문 내역에서 취소할 수 있습니다.", slug="cancel", aliases="Can I cancel my order?"
    )
    assert bytes(Chunk.objects.get(article=article).alias_vectors) == b""
    off = article_content_hash(article)
    settings.RETRIEVAL_ALIAS_WEIGHT = 0.3
    assert article_content_hash(article) != off  # turning it on re-indexes
    settings.RETRIEVAL_ALIAS_WEIGHT, settings.KNOWN_GAP_MARGIN = 0.0, 0.05
    assert article_content_hash(article) != off
    settings.KNOWN_GAP_MARGIN, settings.KNOWN_WORDING_SIMILARITY = -1.0, 0.89
    assert article_content_hash(article) != off
    settings.KNOWN_WORDING_SIMILARITY, settings.KNOWN_WORDING_LEAD_WEIGHT = 0.0, 40.0
    assert article_content_hash(article) != off  # the lead alone reads them too
    settings.KNOWN_WORDING_LEAD_WEIGHT, settings.KNOWN_GAP_SAME = 0.0, 0.98
    assert article_content_hash(article) != off  # and the very words of a known gap


def test_the_sentence_centroid_is_the_mean_of_one_language_s_published_sentence_vectors(
    sample_articles, live_kb
) -> None:  # type: ignore[no-untyped-def]
    """Per language, over published chunks' indexed sentence vectors; an unpublished article
    leaves it (a new cache key, as the chunk count changes); a language with none gives None."""
    import numpy as np

    from knowledge.models import Article, Chunk
    from knowledge.selectors import sentence_centroid
    from knowledge.services import sentence_vectors_unpack

    def expected(language: str) -> np.ndarray:
        rows = [
            sentence_vectors_unpack(bytes(c.sentence_vectors), c.embedding_dimensions)
            for c in Chunk.objects.filter(
                knowledge_base=live_kb, article__language=language, article__status=Article.Status.PUBLISHED
            )
        ]
        return np.concatenate(rows).mean(axis=0)

    korean = sentence_centroid(live_kb.pk, "ko")
    assert korean is not None and korean.shape == (expected("ko").shape[0],)
    assert np.allclose(korean, expected("ko"), atol=1e-5)
    assert not np.allclose(korean, sentence_centroid(live_kb.pk, "en"), atol=1e-3)
    Article.objects.filter(pk=sample_articles["shipping"].pk).update(status=Article.Status.DRAFT)
    assert np.allclose(sentence_centroid(live_kb.pk, "ko"), expected("ko"), atol=1e-5)
    assert not np.allclose(sentence_centroid(live_kb.pk, "ko"), korean, atol=1e-4)
    assert sentence_centroid(live_kb.pk, "ja") is None


def test_the_indexing_task_computes_the_centroid_so_a_request_only_reads_it(
    make_article, live_kb, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """The task runs in-process here (called, not queued); afterwards the request path's
    call is the state query alone, the vectors coming from the cache."""
    from knowledge.selectors import sentence_centroid
    from tasks.knowledge import index_article

    article = make_article(
        "Shipping to Jeju", "Jeju and other islands take 2–4 business days.", language="en", index=False
    )
    assert index_article(article.pk) is True
    with django_assert_num_queries(1):
        centroid = sentence_centroid(live_kb.pk, "en")
    assert centroid is not None and centroid.shape[0] > 0


def test_a_korean_abbreviation_finds_the_article_that_writes_the_word_out(make_article) -> None:  # type: ignore[no-untyped-def]
    """ "비번" (비밀번호) shared no search term with the password article; both retrievers now
    read it as the article's word (knowledge.analysis.KOREAN_VARIANTS)."""
    password = make_article(
        "비밀번호 재설정", "비밀번호가 기억나지 않으면 로그인 화면에서 비밀번호 찾기를 누르세요.", slug="password-ko"
    )
    make_article("배송 기간", "주문하신 상품은 보통 이틀 안에 도착합니다. 늦어지면 알려 드립니다.", slug="delivery-ko")
    for mode in ("lexical", "hybrid"):
        found = retrieve(question="비번 까먹었어요", kb_id=password.knowledge_base_id, mode=mode)  # type: ignore[arg-type]
        assert found.chunks[0].article_id == password.pk
        assert found.query_terms == ["비밀번호", "까먹"]
