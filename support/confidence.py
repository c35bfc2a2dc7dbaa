"""Answer confidence in [0, 1] from retrieval evidence (and an LLM's verdict when there is one).

Features, all in [0, 1] (see :func:`confidence_features`):

* ``coverage`` — idf-weighted share of the question's terms found in the best chunk.
  A question naming things the knowledge base never mentions leaves heavy terms
  uncovered, which is the strongest sign it is out of scope.
* ``dense`` — best cosine similarity between the question and a retrieved chunk,
  rescaled from E5's typical range: (cos − 0.7) / 0.25, clipped.
* ``bm25`` — best BM25 score over the best possible one, ``(k1 + 1)·Σ idf``.
* ``margin`` — fused score of the best chunk minus the second best's (its own score when it
  is the only one: a lone candidate is no evidence of a clear winner, and with weight on
  margin a convention of 1 let an unrelated question through in a one-article help
  centre). A near-tie between two chunks is where a wrong chunk gets cited. A neighbouring
  chunk of the same article whose best sentence is the best chunk's (chunk overlap repeats
  it) is passed over for the next one (eighteenth session): on KorQuAD, with the shipped
  weights, 24 more in-scope questions answered right (23 of them in articles over 12,000
  characters, where overlapping neighbours tie), none answered wrong, no help-centre
  confidence changed (README, lever table).
* ``sentence`` — best cosine between the question and one sentence of the best chunk
  (indexed sentence embeddings), rescaled like ``dense``; for an article in another language
  than the question the cosine is raised by ``RETRIEVAL_CROSS_LANGUAGE_OFFSET`` first, as
  dense retrieval does, so the feature means the same in both cases. Unlike coverage and
  BM25 it does not depend on the question sharing words with the article, so it carries
  short and other-language questions.
* ``cross_language`` — 1 when the best chunk's article is in another language than the
  question: the lexical features are then near 0 by construction, and the weights can
  lean on the dense evidence instead.
* ``agreement`` — 1 when the lexical and the dense retriever rank the same chunk first,
  0.5 the same article, else 0.
* ``answer_type`` — 1 when the question asks for a kind of answer (an amount, a time, a
  number, an e-mail address, a link or a phone number: ``support.answering.span.expected_answer_type``)
  and the best chunk holds one, else 0 (no such question, or nothing of that kind there; a
  menu path for a "where" question does not count, as most help-centre chunks hold one).
  The answer-type check of factoid QA (Moldovan et al. 2000, "The structure and performance
  of an open-domain question answering system") as evidence for the gate: a "how much"
  question whose best chunk names an amount is likely answered by it, and the near-topic
  questions a help centre cannot answer are mostly "can I / do you" questions with no answer
  type ("Do you sell gift cards?"). Added in the eighth session, cross-validated with the
  command below: held-out answered right Nabi Market 46.0 → 47.7 %, Gureum Bike 47.7 →
  50.3 %, KorQuAD 86.2 → 86.1 %, unanswerable escalated unchanged (README, answer quality).
* ``sentence_squared`` and ``sentence_margin`` — ``sentence``² and ``sentence`` × ``margin``:
  second-order terms, a quadratic basis expansion of the logistic model (Hastie, Tibshirani &
  Friedman 2009, *The Elements of Statistical Learning*, §4.4 and §5.1). With them the gate
  can count a near-verbatim best sentence more than linearly, and a clear winner more when its
  best sentence also says what was asked. Added in the ninth session, cross-validated with the
  command below on three fold seeds (``--seed 0/1/2``): held-out answered right over the three
  files 79.9 / 78.0 / 82.0 → 79.8 / 78.2 / 82.8 %, wrong citation lower on each seed (3.5 →
  3.1, 4.3 → 4.2, 2.9 → 2.4 %), help centres about even (README, answer quality).

Confidence = logistic(w0 + Σ wᵢ·featureᵢ) over ``FEATURES``, weights from
``settings.CONFIDENCE_WEIGHTS``; the shipped weights are fitted by ``manage.py calibrate
--fit-weights --balance-sources`` (logistic regression; 1 = in scope with the right chunk
cited) jointly on KorQuAD and both help-centre question sets, cross-validated by article
(README, answer quality). The fit leans on ``sentence`` and ``margin``, which keep their
meaning for short and other-language questions, and ``cross_language`` offsets the
lexical features that are 0 by construction there.
An LLM that says the sources don't answer the question multiplies it by
``LLM_UNANSWERABLE_FACTOR``, and a question nearer to a known gap than to its articles' own
wordings by ``KNOWN_GAP_FACTOR``: both only lower it, 0.3 putting any confidence below every
threshold the gate has been fitted to (0.63–0.73). A question nearly worded as a line its top
article is known to answer raises it (:func:`known_wording_confidence`).
"""

import math
from collections.abc import Mapping

import numpy as np
from django.conf import settings

from knowledge.analysis import other_language
from knowledge.selectors import Retrieval, RetrievedChunk, best_sentence_cosine, bm25_ceiling
from support.answering.span import answer_type_in, expected_answer_type, has_answer_type

FEATURES = (
    "coverage", "dense", "bm25", "margin", "sentence", "cross_language", "agreement", "answer_type",
    "sentence_squared", "sentence_margin",
)  # fmt: skip
LLM_UNANSWERABLE_FACTOR = 0.3
KNOWN_GAP_FACTOR = 0.3
# Cosines (E5 query against query) beside FEATURES in a question's features, recorded by
# support.services.known_wordings when the collection has such lines: the nearest title or
# "also asked as" line of any retrieved article, of the top article, and the nearest known gap.
KNOWN_WORDINGS = ("known_wording", "known_wording_top", "known_gap")


def _scaled_cosine(cos: float) -> float:
    """E5's cosine range mapped to [0, 1]: (cos − 0.7) / 0.25, clipped (see ``dense``)."""
    return min(1.0, max(0.0, (cos - 0.7) / 0.25))


def _best_sentence(retrieval: Retrieval) -> float:
    top = retrieval.chunks[0]
    if retrieval.query_vector is None or not top.sentence_vectors:
        return 0.0
    vectors = top.sentence_matrix
    if not len(vectors) or vectors.shape[1] != len(retrieval.query_vector):
        return 0.0
    query = np.asarray(retrieval.query_vector, dtype=np.float32)
    return _scaled_cosine(best_sentence_cosine(top, query, retrieval.language))  # the offset as in re-ranking


def _agreement(retrieval: Retrieval) -> float:
    if not retrieval.lexical_ranking or not retrieval.dense_ranking:
        return 0.0
    if retrieval.lexical_ranking[0] == retrieval.dense_ranking[0]:
        return 1.0
    articles = {c.chunk_id: c.article_id for c in retrieval.chunks}
    lexical, dense = articles.get(retrieval.lexical_ranking[0]), articles.get(retrieval.dense_ranking[0])
    return 0.5 if lexical is not None and lexical == dense else 0.0


# Answer types the gate does not count: most help-centre chunks hold a menu path, so one
# there says little about a "where" question (with it, "나비마켓 채용 공고는 어디서 봐요",
# which no article answers, crossed the threshold; tenth session, README).
_NOT_GATE_EVIDENCE = frozenset(["path"])


def _answer_type(retrieval: Retrieval, question: str) -> float:
    text = retrieval.chunks[0].content
    wants = answer_type_in(expected_answer_type(question), [text]) if question else ""
    return 1.0 if wants and wants not in _NOT_GATE_EVIDENCE and has_answer_type(text, wants) else 0.0


def _best_sentence_text(chunk: RetrievedChunk, query: np.ndarray) -> str:
    """The sentence of ``chunk`` nearest to ``query`` by its indexed embedding ("" without them)."""
    vectors = chunk.sentence_matrix
    if not len(vectors) or vectors.shape[1] != len(query) or len(vectors) != len(chunk.sentences):
        return ""
    return chunk.sentences[int(np.argmax(vectors @ query))]


def _runner_up(retrieval: Retrieval) -> float:
    """The fused score that ``margin`` is taken over: the best chunk after the first that does not
    rest on the same evidence. A neighbouring chunk of the same article whose best sentence is the
    first chunk's best sentence (the overlap of ``CHUNK_OVERLAP_TOKENS`` repeats it) is skipped:
    citing either quotes the same sentence, so their near-tie is no sign of a wrong citation. 0
    when nothing else was retrieved (a margin over nothing)."""
    chunks = retrieval.chunks
    if len(chunks) < 2:
        return 0.0
    if retrieval.query_vector is None:
        return chunks[1].score
    query = np.asarray(retrieval.query_vector, dtype=np.float32)
    top = chunks[0]
    evidence = _best_sentence_text(top, query)
    for chunk in chunks[1:]:
        if evidence and chunk.article_id == top.article_id and _best_sentence_text(chunk, query) == evidence:
            continue
        return chunk.score
    return 0.0


def confidence_features(retrieval: Retrieval, question: str = "") -> dict[str, float]:
    """The features above for ``retrieval``, each in [0, 1] (all 0 when nothing was retrieved).

    ``question`` is the customer's own text, for ``answer_type`` (0 without it); the
    retrieval query of a follow-up also carries the earlier turn's words.
    """
    if not retrieval.chunks:
        return {name: 0.0 for name in FEATURES}
    top = retrieval.chunks[0]
    weights = retrieval.term_weights
    total = sum(weights.values()) or 1.0
    top_terms = set(top.lexemes.split())
    coverage = sum(w for t, w in weights.items() if t in top_terms) / total
    best_cos = max(c.dense_score for c in retrieval.chunks)
    dense = _scaled_cosine(best_cos)
    best_bm25 = max(c.lexical_score for c in retrieval.chunks)
    ceiling = bm25_ceiling(weights) or 1.0
    bm25 = min(1.0, best_bm25 / ceiling) if settings.LEXICAL_SCORING == "bm25" else 0.0
    chunks = retrieval.chunks
    runner_up = _runner_up(retrieval)
    margin = min(1.0, max(0.0, chunks[0].score - runner_up))
    cross = 1.0 if other_language(retrieval.language, top.language) else 0.0
    sentence = _best_sentence(retrieval)
    return {
        "coverage": coverage, "dense": dense, "bm25": bm25, "margin": margin,
        "sentence": sentence, "cross_language": cross, "agreement": _agreement(retrieval),
        "answer_type": _answer_type(retrieval, question),
        "sentence_squared": sentence * sentence, "sentence_margin": sentence * margin,
    }  # fmt: skip


def retrieval_confidence(retrieval: Retrieval, question: str = "") -> float:
    """The gate's confidence in [0, 1] for ``retrieval`` of the customer's ``question``: the
    features (:func:`confidence_features`) combined by the shipped weights
    (:func:`confidence_from_features`), as the customer path computes it."""
    return confidence_from_features(confidence_features(retrieval, question))


def confidence_from_features(features: dict[str, float], weights: list[float] | None = None) -> float:
    """Logistic combination of ``features``; ``weights`` = [w0, then one per name in ``FEATURES``].

    A feature missing from ``features`` (a record from before it existed) counts 0.
    """
    w = weights if weights is not None else settings.CONFIDENCE_WEIGHTS
    z = w[0] + sum(wi * features.get(name, 0.0) for wi, name in zip(w[1:], FEATURES, strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def _shifted(confidence: float, log_odds: float) -> float:
    """``confidence`` (in [0, 1]) with ``log_odds`` added to its logit; 0 and 1 stay put."""
    if confidence <= 0.0 or confidence >= 1.0:
        return confidence
    return 1.0 / (1.0 + math.exp(-(math.log(confidence / (1.0 - confidence)) + log_odds)))


def known_wording_confidence(
    confidence: float,
    features: Mapping[str, float],
    *,
    gap_margin: float | None = None,
    similarity: float | None = None,
    wording_margin: float | None = None,
    lead_weight: float | None = None,
    gap_same: float | None = None,
) -> float:
    """``confidence`` (in [0, 1]) after what support has taught the help centre, read from the
    :data:`KNOWN_WORDINGS` cosines in ``features`` (a key is absent when there was no such line):

    * × ``KNOWN_GAP_FACTOR`` when the question is nearer to a known gap (a question support
      marked "No article answers this") than to any title or *also asked as* line of its
      retrieved articles, by more than ``KNOWN_GAP_MARGIN``: it is escalated at once instead of
      being answered from a near-topic article (twenty-fourth session); and so is a question in
      nearly the very words of a known gap (cosine ``KNOWN_GAP_SAME`` or more) that is nearer to
      it than to any such line, by any margin: "탈퇴하면 내가 쓴 리뷰도 다 삭제됨?" was answered
      at 0.851 beside the known gap "탈퇴하면 제가 쓴 리뷰도 같이 삭제돼요?" (cosine 0.991), whose
      lead over the article's nearest line (0.947) fell short of the margin (thirty-fourth
      session, README);
    * at least ``known_wording_top`` when that cosine, between the question and the nearest
      title or *also asked as* line of the top article, reaches ``KNOWN_WORDING_SIMILARITY`` and
      is ``KNOWN_WORDING_MARGIN`` above the nearest known gap: a customer asking, nearly word for
      word, what support confirmed this article answers gets it, whatever the retrieval
      features say ("i deleted my account by mistake can i get it back" was escalated at 0.40,
      at 0.934 from the learned line "I deleted my account yesterday and kind of regret it now.
      Is there any way to get it back?").
      The nearest neighbour among labelled questions decides, as in FAQ retrieval's
      query–question similarity (Sakata et al. 2019), so a collection needs both kinds of
      label: without a known gap nothing tells a near-topic question from the line (on Gureum
      Bike, which has none, the rule answered 2 more questions right, 3 wrongly and 1
      unanswerable). Both settings were chosen leaving one learning question set out at a
      time (README, *Twenty-fifth session*).

    Before both rules, when the top article has a line and the collection a known gap, the
    confidence's log-odds move by ``KNOWN_WORDING_LEAD_WEIGHT`` × (``known_wording_top`` −
    ``known_gap``): the *lead* of the top article's nearest line over the nearest known gap, in
    cosine. The two rules act only at their cut-offs; between them, a question a little nearer
    to what the article is known to answer than to what no article answers is a little more
    likely answered right, and one a little nearer a gap a little less (a nearest-neighbour
    vote made continuous, as a logistic model would weigh a new feature; twenty-eighth session:
    chosen leaving one learning set out at a time, README).

    Otherwise ``confidence`` unchanged. A negative ``KNOWN_GAP_MARGIN``,
    ``KNOWN_WORDING_SIMILARITY`` ≤ 0 or ``KNOWN_GAP_SAME`` ≤ 0 turns its rule off, and a
    ``KNOWN_WORDING_LEAD_WEIGHT`` of 0 the lead. ``gap_margin``, ``similarity``,
    ``wording_margin``, ``lead_weight`` and ``gap_same`` stand in for the five settings when given
    (re-scoring recorded questions at other values: ``calibrate --known-wordings``,
    :mod:`support.evaluation.known_wordings`).
    """
    wording, top, gap = (features.get(name) for name in KNOWN_WORDINGS)
    lead = settings.KNOWN_WORDING_LEAD_WEIGHT if lead_weight is None else lead_weight
    if lead and top is not None and gap is not None:
        confidence = _shifted(confidence, lead * (top - gap))
    margin = settings.KNOWN_GAP_MARGIN if gap_margin is None else gap_margin
    same = settings.KNOWN_GAP_SAME if gap_same is None else gap_same
    if gap is not None:
        beyond_margin = margin >= 0 and wording is not None and gap > wording + margin
        very_words = 0 < same <= gap and (wording is None or gap > wording)
        if beyond_margin or very_words:
            return confidence * KNOWN_GAP_FACTOR
    similarity = settings.KNOWN_WORDING_SIMILARITY if similarity is None else similarity
    above = settings.KNOWN_WORDING_MARGIN if wording_margin is None else wording_margin
    near = similarity > 0 and top is not None and top >= similarity
    if near and top is not None and gap is not None and top - gap >= above:
        return max(confidence, min(top, 1.0))  # float32 cosines of one wording can reach 1.00001
    return confidence
