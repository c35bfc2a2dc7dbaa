"""Answer confidence in [0, 1] from retrieval evidence (and an LLM's verdict when there is one).

Features, all in [0, 1] (see :func:`confidence_features`):

* ``coverage`` — idf-weighted share of the question's terms found in the best chunk.
  A question naming things the knowledge base never mentions leaves heavy terms
  uncovered, which is the strongest sign it is out of scope.
* ``dense`` — best cosine similarity between the question and a retrieved chunk,
  rescaled from E5's typical range: (cos − 0.7) / 0.25, clipped.
* ``bm25`` — best BM25 score over the best possible one, ``(k1 + 1)·Σ idf``.
* ``margin`` — fused score of the best chunk minus the second best's (1 with a single
  chunk). A near-tie between two chunks is where a wrong chunk gets cited.

Confidence = logistic(w0 + w1·coverage + w2·dense + w3·bm25 + w4·margin), weights from
``settings.CONFIDENCE_WEIGHTS``; the shipped weights are fitted by ``manage.py calibrate``
(logistic regression, in-scope vs out-of-scope questions) on KorQuAD — see README.
An LLM that says the sources don't answer the question multiplies it by
``LLM_UNANSWERABLE_FACTOR``.
"""

import math

from django.conf import settings

from knowledge.selectors import Retrieval

FEATURES = ("coverage", "dense", "bm25", "margin")
LLM_UNANSWERABLE_FACTOR = 0.3


def confidence_features(retrieval: Retrieval) -> dict[str, float]:
    if not retrieval.chunks:
        return {name: 0.0 for name in FEATURES}
    top = retrieval.chunks[0]
    weights = retrieval.term_weights
    total = sum(weights.values()) or 1.0
    top_terms = set(top.lexemes.split())
    coverage = sum(w for t, w in weights.items() if t in top_terms) / total
    best_cos = max(c.dense_score for c in retrieval.chunks)
    dense = min(1.0, max(0.0, (best_cos - 0.7) / 0.25))
    best_bm25 = max(c.lexical_score for c in retrieval.chunks)
    bm25 = min(1.0, best_bm25 / ((settings.BM25_K1 + 1) * total)) if settings.LEXICAL_SCORING == "bm25" else 0.0
    chunks = retrieval.chunks
    margin = min(1.0, max(0.0, chunks[0].score - chunks[1].score)) if len(chunks) > 1 else 1.0
    return {"coverage": coverage, "dense": dense, "bm25": bm25, "margin": margin}


def confidence_from_features(features: dict[str, float], weights: list[float] | None = None) -> float:
    """Logistic combination of ``features``; ``weights`` = [w0, w_coverage, w_dense, w_bm25, w_margin]."""
    w = weights if weights is not None else settings.CONFIDENCE_WEIGHTS
    z = w[0] + sum(wi * features[name] for wi, name in zip(w[1:], FEATURES, strict=True))
    return 1.0 / (1.0 + math.exp(-z))
