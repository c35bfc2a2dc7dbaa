"""Reads: hybrid retrieval over published chunks of one knowledge base.

Three retrievers share one entry point, :func:`retrieve`:

* ``lexical`` — Kiwi morphemes in a ``simple`` tsvector (GIN). Scored with Okapi BM25
  (Robertson & Zaragoza 2009, k1/b from settings) computed in SQL from tsvector
  positions, or PostgreSQL's ``ts_rank_cd`` (``LEXICAL_SCORING``).
* ``dense`` — cosine similarity of embeddings through the HNSW index for the vector's
  dimension, with pgvector 0.8 iterative scans so filters don't starve the result.
* ``hybrid`` — both candidate lists fused by normalised-score fusion (default) or
  reciprocal rank fusion (Cormack, Clarke & Büttcher 2009), ``RETRIEVAL_FUSION``; with
  score fusion the top fused chunks are then re-ranked by their best sentence's cosine
  (:func:`sentence_rerank`, ``RETRIEVAL_SENTENCE_WEIGHT``).

Every query filters on the published status and date at query time (``Article.live_q``), so
unpublishing an article hides it at once, before any worker runs, and a scheduled one
appears on its date, and filters the embedding model and dimension,
so vectors of different models never meet in one search.
"""

import functools
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Max
from pgvector.django import CosineDistance

from knowledge.analysis import analyse, detect_language, other_language, standard_text
from knowledge.chunking import translated_headings
from knowledge.embeddings import EmbeddingProvider, get_provider
from knowledge.models import Article, ArticleSlugRedirect, Chunk, KnownGap
from knowledge.services import sentence_vectors_unpack

Mode = Literal["lexical", "dense", "hybrid"]


@dataclass
class RetrievedChunk:
    chunk_id: int
    article_id: int
    score: float  # fused score in [0, 1] for score fusion; RRF sum otherwise
    lexical_score: float = 0.0  # BM25 (or ts_rank_cd); 0 when not a lexical candidate
    dense_score: float = 0.0  # cosine similarity in [-1, 1]; 0 when not a dense candidate
    lexical_rank: int | None = None  # 1-based
    dense_rank: int | None = None
    title: str = ""
    slug: str = ""
    content: str = ""
    lexemes: str = ""
    language: str = ""  # the article's
    kind: str = ""  # the article's (Article.Kind)
    sentences: list[str] = field(default_factory=list)
    sentence_vectors: bytes = b""  # see knowledge.services.sentence_vectors_pack
    alias_vectors: bytes = b""  # the article's title and "also asked as" lines, same packing
    dimensions: int = 0
    ordinal: int = 0  # the chunk's place in its article (0: the first)
    aliases: str = ""  # the article's "also asked as" lines
    alias_answers: dict[str, str] = field(default_factory=dict)  # line -> its answer sentence (Article.alias_answers)
    headings: str = ""  # the article's Markdown heading lines, in order ("" without aliases: unused)

    @functools.cached_property
    def sentence_matrix(self) -> np.ndarray:
        """``sentence_vectors`` as an ``(len(sentences), dimensions)`` float32 array (unpacked once)."""
        return sentence_vectors_unpack(self.sentence_vectors, self.dimensions)

    @functools.cached_property
    def alias_matrix(self) -> np.ndarray:
        """``alias_vectors`` as an ``(n lines, dimensions)`` float32 array (n = 0 before they were indexed)."""
        return sentence_vectors_unpack(self.alias_vectors, self.dimensions)

    def alias_cosine(self, query: np.ndarray) -> float | None:
        """The highest cosine between ``query`` (a question's query embedding, float32) and the
        article's title and *also asked as* lines; None without such vectors of its dimension."""
        matrix = self.alias_matrix
        return float((matrix @ query).max()) if len(matrix) and matrix.shape[1] == len(query) else None

    def nearest_line(self, query: np.ndarray) -> tuple[str, float] | None:
        """``(line, cosine)`` of the article's title or *also asked as* line nearest ``query`` (as
        :meth:`alias_cosine`; the title is ``""``), or None without vectors for its lines."""
        matrix = self.alias_matrix
        lines = ["", *(line.strip() for line in self.aliases.splitlines() if line.strip())]
        if not len(matrix) or matrix.shape[1] != len(query) or len(matrix) != len(lines):
            return None
        cosines = matrix @ query
        at = int(cosines.argmax())
        return lines[at], float(cosines[at])

    @property
    def heading_translations(self) -> dict[str, str]:
        """This chunk's heading sentences mapped to their *also asked as* line in the other language
        (:func:`knowledge.chunking.translated_headings`), with ``""`` for the title's line when
        the chunk is the article's first (its opening section); empty when they do not pair up."""
        pairs = dict(translated_headings(self.headings, self.aliases, self.language))
        if self.ordinal and "" in pairs:
            del pairs[""]
        return pairs


@dataclass
class Retrieval:
    """What :func:`retrieve` found and the evidence behind it.

    ``term_weights`` maps each distinct query term to its BM25 idf in this knowledge
    base (terms absent from it get the idf of a term seen once, the maximum possible).
    ``timings_ms`` has ``embed`` (query embedding) and ``sql`` (both searches).
    """

    chunks: list[RetrievedChunk]
    query_terms: list[str]
    term_weights: dict[str, float]
    timings_ms: dict[str, float] = field(default_factory=dict)
    lexical_ranking: list[int] = field(default_factory=list)  # candidate chunk ids before fusion
    dense_ranking: list[int] = field(default_factory=list)
    query_vector: list[float] | None = None
    language: str = ""  # the question's, by knowledge.analysis.detect_language
    kb_id: int = 0  # the knowledge base searched


# The SQL form of ``Article.live_q``: published, and dated now or earlier (scheduled articles
# wait). clock_timestamp(), not now(): now() is the transaction's start, before an article
# saved in the same transaction was dated.
LIVE_SQL = "a.status = '{}' AND (a.published_at IS NULL OR a.published_at <= clock_timestamp())"


def _sql(query: str) -> str:
    """``query`` with ``{chunk}``, ``{article}`` and ``{live}`` taken from the models (table
    names; the condition of an article customers see, on alias ``a``), so the SQL can't drift
    from the schema."""
    return query.format(
        chunk=Chunk._meta.db_table, article=Article._meta.db_table, live=LIVE_SQL.format(Article.Status.PUBLISHED.value)
    )


SENTENCE_CENTROID_SECONDS = 24 * 3600  # the key changes with the chunks; the indexing task computes it first


def sentence_centroid(kb_id: int, language: str) -> np.ndarray | None:
    """The mean indexed sentence embedding of knowledge base ``kb_id``'s published articles in
    ``language``: a ``(dimensions,)`` float32 array, or None when none is indexed with the
    current embedding model.

    A multilingual encoder puts a language-specific component on every vector, so a
    question's cosine to the sentences of an article in the other language is nearly flat
    and ranks them poorly. Subtracting the question language's centroid from the query
    (mean-centring per language, Libovický et al. 2020, "On the Language Neutrality of
    Pre-trained Multilingual Representations") lets meaning rank them: on the two
    help-centre sets' 66 cross-language questions whose fact is in the top article, the
    fact's sentence ranked first for 26 → 35 and in the top three for 44 → 53 (λ = 1, not
    tuned; the centroid of chunk embeddings instead did not help: 25 / 43). Cached for
    ``SENTENCE_CENTROID_SECONDS`` per knowledge base, language and state of its chunks
    (their number, last id and last indexing time); the indexing task computes it after
    each article (``tasks.knowledge.index_article``), so a request only reads
    the state (one aggregate query) and the cache.
    """
    provider = get_provider()
    chunks = Chunk.objects.filter(
        Article.live_q("article__"), knowledge_base_id=kb_id, article__language=language,
        embedding_model=provider.name,
    ).exclude(sentence_vectors=b"")  # fmt: skip
    state = chunks.aggregate(n=Count("id"), last=Max("id"), indexed=Max("article__indexed_at"))
    if not state["n"]:
        return None
    indexed = state["indexed"].timestamp() if state["indexed"] else 0
    key = f"sentence-centroid:{kb_id}:{language}:{state['n']}:{state['last']}:{indexed}:{provider.name}"
    cached = cache.get(key)
    if cached is not None:
        return np.asarray(cached, dtype=np.float32)
    total: np.ndarray | None = None
    count = 0
    for blob, dimensions in chunks.values_list("sentence_vectors", "embedding_dimensions").iterator():
        vectors = sentence_vectors_unpack(bytes(blob), dimensions or 0)
        if not len(vectors) or (total is not None and vectors.shape[1] != len(total)):
            continue
        total = vectors.sum(axis=0) if total is None else total + vectors.sum(axis=0)
        count += len(vectors)
    if total is None:
        return None
    centroid = (total / count).astype(np.float32)
    cache.set(key, centroid.tolist(), SENTENCE_CENTROID_SECONDS)
    return centroid


def bm25_ceiling(term_weights: dict[str, float]) -> float:
    """The BM25 score a chunk containing every query term would reach, ``(k1 + 1)·Σ idf``
    (each term's saturation ``tf·(k1+1)/(tf + k1·…)`` tends to ``k1 + 1``); 0 without terms."""
    return (settings.BM25_K1 + 1) * sum(term_weights.values())


def _vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def _term_weights(kb_id: int, terms: list[str]) -> tuple[dict[str, float], float]:
    """BM25 idf per term, and the average chunk length (in terms) of the knowledge base."""
    with connection.cursor() as cur:
        # Statistics over published chunks only: what customers can be answered from.
        cur.execute(
            _sql(
                """
            SELECT count(*), coalesce(avg(c.lexeme_count), 1)
            FROM {chunk} c JOIN {article} a ON a.id = c.article_id
            WHERE c.knowledge_base_id = %s AND {live}
            """
            ),
            [kb_id],
        )
        n, avgdl = cur.fetchone()
        cur.execute(
            _sql(
                """
            SELECT t.term, (SELECT count(*) FROM {chunk} c JOIN {article} a ON a.id = c.article_id
                            WHERE c.knowledge_base_id = %s AND {live}
                              AND c.search_vector @@ to_tsquery('simple', quote_literal(t.term)))
            FROM unnest(%s::text[]) AS t(term)
            """
            ),
            [kb_id, terms],
        )
        df = dict(cur.fetchall())
    # Okapi BM25 idf with the +1 inside the log (Lucene's variant), always positive.
    weights = {t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in terms}
    missing = math.log(1 + (n - 1 + 0.5) / 1.5) if n else 1.0
    return {t: (w if df.get(t, 0) else missing) for t, w in weights.items()}, float(avgdl or 1)


def _lexical(
    kb_id: int, terms: list[str], weights: dict[str, float], avgdl: float, limit: int
) -> list[tuple[int, float]]:
    if not terms:
        return []
    tsquery = " | ".join(terms)
    with connection.cursor() as cur:
        if settings.LEXICAL_SCORING == "ts_rank_cd":
            cur.execute(
                _sql(
                    """
                SELECT c.id, ts_rank_cd(c.search_vector, q, 32) AS score
                FROM {chunk} c JOIN {article} a ON a.id = c.article_id,
                     to_tsquery('simple', %s) q
                WHERE c.knowledge_base_id = %s AND {live} AND c.search_vector @@ q
                ORDER BY score DESC, c.id LIMIT %s
                """
                ),
                [tsquery, kb_id, limit],
            )
        else:
            cur.execute(
                _sql(
                """
                WITH q AS (SELECT * FROM unnest(%s::text[], %s::float8[]) AS q(term, idf)),
                cand AS (
                    SELECT c.id, c.search_vector, c.lexeme_count
                    FROM {chunk} c JOIN {article} a ON a.id = c.article_id
                    WHERE c.knowledge_base_id = %s AND {live}
                      AND c.search_vector @@ to_tsquery('simple', %s)
                )
                SELECT cand.id,
                       sum(q.idf * u.tf * (%s + 1) / (u.tf + %s * (1 - %s + %s * cand.lexeme_count / %s))) AS score
                FROM cand
                CROSS JOIN LATERAL (
                    SELECT lexeme, coalesce(array_length(positions, 1), 1) AS tf FROM unnest(cand.search_vector)
                ) u
                JOIN q ON q.term = u.lexeme
                GROUP BY cand.id ORDER BY score DESC, cand.id LIMIT %s
                """
                ),
                [
                    list(weights), list(weights.values()), kb_id, tsquery,
                    settings.BM25_K1, settings.BM25_K1, settings.BM25_B, settings.BM25_B, avgdl, limit,
                ],
            )  # fmt: skip
        return [(int(i), float(s)) for i, s in cur.fetchall()]


def _dense(
    kb_id: int, vector: list[float], provider: EmbeddingProvider, limit: int, language: str = ""
) -> tuple[list[tuple[int, float]], set[int]]:
    """Top ``limit`` chunks by cosine similarity, best first, as ``(chunk_id, cosine)``.

    With ``language``, the nearest chunks of articles in that language and the nearest of
    articles in other languages are searched separately (``limit`` each), and cosines of
    the other-language chunks are raised by ``RETRIEVAL_CROSS_LANGUAGE_OFFSET``; their ids
    are returned as the second item (empty without ``language``). Multilingual E5 scores a
    same-language passage about 0.03–0.05 higher than an equally relevant passage in another
    language (measured on the help-centre question
    sets, README), so without the offset an English article never wins a Korean question.
    """
    offset = settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET
    if not language:
        return _dense_search(kb_id, vector, provider, limit), set()
    same = _dense_search(kb_id, vector, provider, limit, language=language, same_language=True)
    other = _dense_search(kb_id, vector, provider, limit, language=language, same_language=False)
    rows = same + [(cid, cos + offset) for cid, cos in other]
    rows.sort(key=lambda r: -r[1])
    rows = rows[:limit]
    kept = {cid for cid, _ in rows}
    return rows, {cid for cid, _ in other if cid in kept}


def _dense_search(
    kb_id: int,
    vector: list[float],
    provider: EmbeddingProvider,
    limit: int,
    language: str = "",
    same_language: bool = True,
) -> list[tuple[int, float]]:
    dims = int(len(vector))  # an int from our own code, safe to format into the SQL
    language_filter = f"AND a.language {'=' if same_language else '<>'} %s" if language else ""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(max(settings.HNSW_EF_SEARCH, limit))])
        cur.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        cur.execute(
            _sql(
            f"""
            SELECT c.id, 1 - (c.embedding::vector({dims}) <=> %s::vector({dims})) AS similarity
            FROM {{chunk}} c JOIN {{article}} a ON a.id = c.article_id
            WHERE c.knowledge_base_id = %s AND {{live}}
              AND c.embedding_dimensions = {dims} AND c.embedding_model = %s {language_filter}
            ORDER BY c.embedding::vector({dims}) <=> %s::vector({dims})
            LIMIT %s
            """
            ),  # noqa: S608 - dims is an int, the filter a constant
            [
                _vector_literal(vector), kb_id, provider.name, *([language] if language else []),
                _vector_literal(vector), limit,
            ],
        )  # fmt: skip
        rows = [(int(i), float(s)) for i, s in cur.fetchall()]
    rows.sort(key=lambda r: -r[1])  # relaxed_order may return near-ties out of order
    return rows


def fuse(
    lexical: list[tuple[int, float]],
    dense: list[tuple[int, float]],
    *,
    method: str,
    dense_weight: float,
    rrf_k: int,
    lexical_ceiling: float = 0.0,
    foreign: set[int] | frozenset[int] = frozenset(),
    foreign_lexical: float = 0.0,
    lexical_strength: float = 0.0,
) -> list[RetrievedChunk]:
    """Fuse two ranked lists of ``(chunk_id, score)`` into one, best first.

    ``score``: lexical scores divided by the best lexical score (or by ``lexical_ceiling``
    when that is higher: the BM25 a chunk holding every query term would get, so a weak
    best match stays weak), dense similarities min-max scaled over the dense candidates;
    fused = ``w·dense + (1-w)·lexical`` with ``w = dense_weight``, a missing side counting 0. ``rrf``: Σ 1/(k + rank).

    ``foreign`` chunks (of articles in another language than the question) cannot share
    words with it, so their missing lexical side is imputed as ``foreign_lexical`` ×
    (1 − ``lexical_strength``) × their scaled dense score instead of 0, where
    ``lexical_strength`` in [0, 1] is how well the best same-language match covers the
    question (best BM25 ÷ :func:`bm25_ceiling`). Without it, any same-language chunk
    sharing one word outranks the foreign article that answers; with a strong
    same-language match the foreign chunks get nothing (README, cross-language retrieval).
    A foreign chunk that does share a word (an *also asked as* line in the question's
    language) keeps the larger of its own lexical share and the imputed one: matching
    "refund" must not score below matching nothing (seventh session; hybrid recall@1 Nabi
    Market 86.9 → 88.7 %, Gureum Bike 71.1 → 72.2 %, no pair lower).
    """
    found: dict[int, RetrievedChunk] = {}
    for rank, (cid, s) in enumerate(lexical, 1):
        found[cid] = RetrievedChunk(chunk_id=cid, article_id=0, score=0.0, lexical_score=s, lexical_rank=rank)
    for rank, (cid, s) in enumerate(dense, 1):
        item = found.setdefault(cid, RetrievedChunk(chunk_id=cid, article_id=0, score=0.0))
        item.dense_score, item.dense_rank = s, rank
    if method == "rrf":
        for item in found.values():
            item.score = sum(1.0 / (rrf_k + r) for r in (item.lexical_rank, item.dense_rank) if r is not None)
    else:
        top_lex = max((s for _, s in lexical), default=0.0) or 1.0
        if lexical_ceiling:  # absolute: share of the best BM25 any chunk could reach for this query
            top_lex = max(top_lex, lexical_ceiling)
        dmax = max((s for _, s in dense), default=0.0)
        dmin = min((s for _, s in dense), default=0.0)
        span = (dmax - dmin) or 1.0
        for item in found.values():
            den = (item.dense_score - dmin) / span if item.dense_rank else 0.0
            lex = item.lexical_score / top_lex if item.lexical_rank else 0.0
            if item.chunk_id in foreign:
                lex = max(lex, foreign_lexical * (1 - lexical_strength) * den)
            item.score = dense_weight * den + (1 - dense_weight) * lex
    return sorted(found.values(), key=lambda c: (-c.score, c.chunk_id))


def best_sentence_cosine(chunk: RetrievedChunk, query: np.ndarray, language: str) -> float:
    """Highest cosine between ``query`` (unit vector) and one of ``chunk``'s indexed sentences,
    raised by ``RETRIEVAL_CROSS_LANGUAGE_OFFSET`` when the chunk's article is in another
    language than the question (as in :func:`_dense`); the chunk's own dense cosine when it
    has no sentence vectors of this dimension (0 if it was not a dense candidate either).
    """
    vectors = chunk.sentence_matrix
    if not len(vectors) or vectors.shape[1] != len(query):
        return chunk.dense_score
    best = float((vectors @ query).max())
    return best + (settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET if other_language(language, chunk.language) else 0.0)


def sentence_rerank(chunks: list[RetrievedChunk], vector: list[float], language: str, weight: float) -> None:
    """Re-rank fused ``chunks`` in place by ``(1 − weight)·fused + weight·sentence``.

    ``sentence`` is :func:`best_sentence_cosine`, min-max scaled over ``chunks``: a chunk
    whose single best sentence says what the question asks beats one that shares more words
    overall or is nearer as a whole. On the two help-centre question sets this raised hybrid
    recall@1 on every language pair but one (README, lever table); short questions match one
    sentence, not an 800-token chunk. Chunks need their rows attached (:func:`_attach_rows`).
    """
    if len(chunks) < 2:
        return
    query = np.asarray(vector, dtype=np.float32)
    cosines = [best_sentence_cosine(c, query, language) for c in chunks]
    low, span = min(cosines), (max(cosines) - min(cosines)) or 1.0
    for c, cos in zip(chunks, cosines, strict=True):
        c.score = (1 - weight) * c.score + weight * (cos - low) / span
    chunks.sort(key=lambda c: (-c.score, c.chunk_id))


def alias_rerank(chunks: list[RetrievedChunk], vector: list[float], weight: float) -> None:
    """Re-rank ``chunks`` in place by ``(1 − weight)·score + weight·alias``.

    ``alias`` is the highest cosine between the question and the chunk's article's title or
    one of its *also asked as* lines (embedded as queries: question against question), min-max
    scaled over ``chunks``; chunks without alias vectors of this dimension (articles without
    *also asked as* lines) count the lowest, and with none among ``chunks`` nothing moves.
    A short customer question is closest to another way of asking the same thing, in either
    language: on the two help-centre sets this raised hybrid recall@1 most on the
    cross-language pairs (README, lever table). Every chunk of an article moves together,
    so the order within an article is the fused one.
    """
    if len(chunks) < 2:
        return
    query = np.asarray(vector, dtype=np.float32)
    cosines = [c.alias_cosine(query) for c in chunks]
    known = [x for x in cosines if x is not None]
    if not known:
        return
    low, span = min(known), (max(known) - min(known)) or 1.0
    for c, cos in zip(chunks, cosines, strict=True):
        c.score = (1 - weight) * c.score + weight * ((cos - low) / span if cos is not None else 0.0)
    chunks.sort(key=lambda c: (-c.score, c.chunk_id))


def agreed_first(chunks: list[RetrievedChunk], chunk_id: int) -> None:
    """Put chunk ``chunk_id`` first in ``chunks`` (in place) when a re-ranking moved another
    article's chunk above it, with the first chunk's score: the lexical and the dense retriever
    both ranked it first.

    Each re-ranking reads one more signal (a sentence's cosine, term proximity) min-max scaled
    over the candidates, so a small difference there can outweigh two retrievers that agree.
    The tie it leaves makes ``margin`` 0 (:func:`support.confidence.confidence_features`): the
    gate weighs the disagreement. No-op when the chunk is first, no longer among ``chunks``, or
    below another chunk of its own article: choosing the passage within the article both
    retrievers chose is what the sentence re-ranking is for.
    """
    at = next((k for k, c in enumerate(chunks) if c.chunk_id == chunk_id), None)
    if not at or chunks[0].article_id == chunks[at].article_id:
        return
    chunk = chunks.pop(at)
    chunk.score = max(chunk.score, chunks[0].score)
    chunks.insert(0, chunk)


def term_proximity(lexemes: Sequence[str], weights: dict[str, float], window: int) -> float:
    """Share in [0, 1] of the question's term pairs that occur within ``window`` terms of each
    other in ``lexemes`` (a chunk's analysed terms in order, title and *also asked as*
    lines first), each pair weighing the smaller idf of its two terms; 0 with fewer than
    two query terms. "cancel … order" side by side in *Cancelling or changing an order*
    counts, a "cancel" and an "order" three sentences apart do not: the proximity evidence
    of BM25TP (Rasolofo & Savoy 2003) and Tao & Zhai (2007), as a share.
    """
    terms = [t for t in weights if weights[t] > 0]
    if len(terms) < 2:
        return 0.0
    positions: dict[str, list[int]] = {t: [] for t in terms}
    for i, lexeme in enumerate(lexemes):
        if lexeme in positions:
            positions[lexeme].append(i)
    found = total = 0.0
    for a_index, a in enumerate(terms):
        for b in terms[a_index + 1 :]:
            pair = min(weights[a], weights[b])
            total += pair
            near = any(abs(i - j) <= window for i in positions[a] for j in positions[b])
            found += pair if near else 0.0
    return found / total if total else 0.0


def proximity_rerank(chunks: list[RetrievedChunk], weights: dict[str, float], weight: float, window: int) -> None:
    """Re-rank ``chunks`` in place by ``score + weight·proximity`` (:func:`term_proximity`)."""
    if len(chunks) < 2 or len(weights) < 2:
        return
    for c in chunks:
        c.score += weight * term_proximity(c.lexemes.split(), weights, window)
    chunks.sort(key=lambda c: (-c.score, c.chunk_id))


def _attach_rows(chunks: list[RetrievedChunk]) -> None:
    if not chunks:
        return
    # For an article with "also asked as" lines, only its lines starting with "#" leave the database
    # (its heading candidates, not the whole body); translated_headings applies the chunker's own
    # heading rule to them (knowledge.chunking._sentence_lines), so the two cannot disagree.
    with connection.cursor() as cur:
        cur.execute(
            _sql(
                """
            SELECT c.id, c.article_id, a.title, a.slug, c.content, c.lexemes, a.language, c.sentences,
                   c.sentence_vectors, coalesce(c.embedding_dimensions, 0), c.alias_vectors, a.kind,
                   c.ordinal, a.aliases, a.alias_answers,
                   CASE WHEN a.aliases <> '' THEN array_to_string(
                       ARRAY(SELECT m[1] FROM regexp_matches(a.body, '^([[:blank:]]*#.*)$', 'gn') AS m), chr(10)
                   ) ELSE '' END
            FROM {chunk} c JOIN {article} a ON a.id = c.article_id WHERE c.id = ANY(%s)
            """
            ),
            [[c.chunk_id for c in chunks]],
        )
        rows = {r[0]: r for r in cur.fetchall()}
    chunks[:] = [c for c in chunks if c.chunk_id in rows]  # a re-index may have replaced some meanwhile
    for c in chunks:
        row = rows[c.chunk_id]
        _, c.article_id, c.title, c.slug, c.content, c.lexemes, c.language, sentences, vectors, c.dimensions = row[:10]
        c.sentences = sentences if isinstance(sentences, list) else json.loads(sentences or "[]")
        c.sentence_vectors = bytes(vectors or b"")
        c.alias_vectors = bytes(row[10] or b"")
        c.kind, c.ordinal, c.aliases, answers, c.headings = row[11:16]
        c.alias_answers = answers if isinstance(answers, dict) else json.loads(answers or "{}")


def support_answer_fits(chunk: RetrievedChunk, vector: list[float] | None, language: str) -> bool:
    """False for a support answer (a curated question and answer) that the question is not like:
    it shares no search term with it and its query embedding is under
    ``SUPPORT_ANSWER_MIN_SIMILARITY`` from the curated question and each variant (question
    against question, ``alias_vectors``; raised by ``RETRIEVAL_CROSS_LANGUAGE_OFFSET`` when the
    question's ``language`` is not the answer's, as dense retrieval does). Short and
    question-like, a support answer's passage embedding is near any question: one about
    deleting an account came first for "어디서 사나요?" and "Can I pay with bitcoin?"
    (eighteenth session). True for every other chunk."""
    if chunk.kind != Article.Kind.SUPPORT_ANSWER or chunk.lexical_score > 0:
        return True
    best = None if vector is None else chunk.alias_cosine(np.asarray(vector, dtype=np.float32))
    if best is None:
        return False
    if other_language(language, chunk.language):
        best += settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET
    return best >= settings.SUPPORT_ANSWER_MIN_SIMILARITY


def known_gap_nearest(kb_id: int, vector: Sequence[float], embedding_model: str) -> tuple[float, str] | None:
    """``(cosine, text)`` of the known gap of collection ``kb_id`` nearest to ``vector`` (a question
    embedded as a query by ``embedding_model``), among gaps embedded by that model; None when it
    has none. One query; a help centre holds hundreds of gaps, not millions, so no index."""
    row = (
        KnownGap.objects.filter(knowledge_base_id=kb_id, embedding_model=embedding_model)
        .annotate(distance=CosineDistance("embedding", list(vector)))
        .order_by("distance")
        .values_list("distance", "text")
        .first()
    )
    return (1.0 - float(row[0]), row[1]) if row else None


def known_wording_similarity(chunks: Sequence[RetrievedChunk], vector: Sequence[float]) -> float | None:
    """The highest cosine between ``vector`` (a question embedded as a query) and the titles and
    *also asked as* lines of the articles of ``chunks`` (their ``alias_matrix``: questions
    compared with questions); None when none of them has such vectors."""
    query = np.asarray(vector, dtype=np.float32)
    cosines = [x for x in (chunk.alias_cosine(query) for chunk in chunks) if x is not None]
    return max(cosines, default=None)


def embed_question(provider: EmbeddingProvider, question: str) -> list[float]:
    """The query embedding of a customer's ``question``, as retrieval searches with it: the
    text with Korean abbreviations written out (:func:`knowledge.analysis.standard_text`).
    Every caller that embeds a question to search or compare (the evaluation, answer-assist)
    goes through here. Raises ``EmbeddingError`` as the provider does."""
    return provider.embed_query(standard_text(question))


def retrieve(
    *,
    question: str,
    kb_id: int,
    mode: Mode = "hybrid",
    limit: int = 5,
    provider: EmbeddingProvider | None = None,
    query_vector: list[float] | None = None,
    language: str | None = None,
) -> Retrieval:
    """Top ``limit`` published chunks of knowledge base ``kb_id`` for ``question``.

    ``query_vector`` skips embedding the question (the evaluation reuses one vector for
    several retrievers). ``language`` is the question's (``"ko"``/``"en"``; detected from
    ``question`` when None): a follow-up's query carries words of the earlier turns and
    their cited title, which may be in the other language and must not flip which
    articles count as foreign. Candidate depth per retriever is ``RETRIEVAL_CANDIDATES``.
    The question is embedded by :func:`embed_question` ("비번" read as 비밀번호, as its
    search terms are). Raises ``EmbeddingError`` when the query can't be
    embedded (dense/hybrid only).
    """
    timings: dict[str, float] = {}
    terms = analyse(question, query=True)
    distinct = list(dict.fromkeys(terms))
    depth = max(settings.RETRIEVAL_CANDIDATES, limit)
    vector = query_vector
    if mode != "lexical" and vector is None:
        provider = provider or get_provider()
        started = time.perf_counter()
        vector = embed_question(provider, question)
        timings["embed"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    weights, avgdl = _term_weights(kb_id, distinct) if distinct else ({}, 1.0)
    lexical = _lexical(kb_id, distinct, weights, avgdl, depth) if mode != "dense" else []
    language = language or detect_language(question)
    dense, foreign = (
        _dense(kb_id, vector, provider or get_provider(), depth, language)
        if mode != "lexical" and vector
        else ([], set())
    )
    timings["sql"] = (time.perf_counter() - started) * 1000
    weight = settings.RETRIEVAL_SENTENCE_WEIGHT
    rerank = mode == "hybrid" and bool(weight and vector) and settings.RETRIEVAL_FUSION == "score"
    if mode == "hybrid":
        ceiling, strength = 0.0, 0.0
        if settings.LEXICAL_SCORING == "bm25":
            best = bm25_ceiling(weights)
            strength = min(1.0, lexical[0][1] / best) if lexical and best else 0.0
            ceiling = settings.RETRIEVAL_LEXICAL_CEILING * best
        chunks = fuse(
            lexical, dense, method=settings.RETRIEVAL_FUSION,
            dense_weight=settings.RETRIEVAL_DENSE_WEIGHT, rrf_k=settings.RETRIEVAL_RRF_K, lexical_ceiling=ceiling,
            foreign=foreign, foreign_lexical=settings.RETRIEVAL_FOREIGN_LEXICAL, lexical_strength=strength,
        )[: max(limit, settings.RETRIEVAL_SENTENCE_CANDIDATES) if rerank else limit]  # fmt: skip
    else:  # a single retriever: its own order; a dense search keeps raw cosine as its score
        chunks = fuse(lexical, dense, method="score", dense_weight=1.0 if mode == "dense" else 0.0, rrf_k=0)[:limit]
        for c in chunks if mode == "dense" else ():
            c.score = c.dense_score
    _attach_rows(chunks)  # content and sentence vectors, which the re-ranking reads
    chunks[:] = [c for c in chunks if support_answer_fits(c, vector, language)]
    if rerank and vector:
        sentence_rerank(chunks, vector, language, weight)
        if settings.RETRIEVAL_PROXIMITY_WEIGHT:
            proximity_rerank(chunks, weights, settings.RETRIEVAL_PROXIMITY_WEIGHT, settings.RETRIEVAL_PROXIMITY_WINDOW)
        if settings.RETRIEVAL_ALIAS_WEIGHT:
            alias_rerank(chunks, vector, settings.RETRIEVAL_ALIAS_WEIGHT)
        if settings.RETRIEVAL_AGREED_FIRST and lexical and dense and lexical[0][0] == dense[0][0]:
            agreed_first(chunks, lexical[0][0])
        chunks = chunks[:limit]
    return Retrieval(
        chunks=chunks, query_terms=terms, term_weights=weights, timings_ms=timings,
        lexical_ranking=[cid for cid, _ in lexical], dense_ranking=[cid for cid, _ in dense],
        query_vector=vector, language=language, kb_id=kb_id,
    )  # fmt: skip


def article_live_by_slug(*, kb_id: int, slug: str) -> tuple[Article | None, bool]:
    """``(article, moved)``: the live article at ``/articles/<slug>/`` of knowledge base
    ``kb_id`` (``moved`` False), else the live article that had ``slug`` before its slug was
    changed (``moved`` True; :class:`knowledge.models.ArticleSlugRedirect`), else
    ``(None, False)``. An article that holds the slug now wins over a redirect."""
    live = Article.objects.filter(Article.live_q())
    article = live.filter(knowledge_base_id=kb_id, slug=slug).first()
    if article is not None:
        return article, False
    redirect = ArticleSlugRedirect.objects.filter(knowledge_base_id=kb_id, old_slug=slug).first()
    if redirect is None:
        return None, False
    return live.filter(pk=redirect.article_id).first(), True
