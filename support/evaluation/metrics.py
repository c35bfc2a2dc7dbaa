"""Pure metric functions for the evaluation: retrieval, answer scoring, escalation, calibration.

Nothing here touches the database; every function takes plain numbers or strings, so the
figures can be recomputed from the per-question records an evaluation JSON holds.

Sources of the formulas:

* recall@k and MRR — Voorhees, "The TREC-8 Question Answering Track Report" (1999): the
  reciprocal rank of the first correct item, 0 when none is in the cut-off.
* answer normalisation, EM and character-level F1 — KorQuAD 1.0's official evaluation
  conventions (see ``../shared/data/README.md``), re-implemented here.
* AUROC — the Mann–Whitney U statistic over ``n_pos · n_neg`` (Mann & Whitney 1947;
  Hanley & McNeil 1982, "The meaning and use of the area under a ROC curve"): the
  probability that a random positive scores above a random negative, ties counting 1/2.
* logistic regression — Newton–Raphson / IRLS with an L2 penalty on the non-intercept
  weights (Hastie, Tibshirani & Friedman, *Elements of Statistical Learning*, §4.4.1).
* percentiles — linear interpolation between order statistics (Hyndman & Fan 1996,
  type 7; numpy's default).
"""

import math
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_ASCII_PUNCTUATION = frozenset(string.punctuation)
_SPACED = frozenset("'\"()<>《》〈〉‘’")  # replaced by spaces, as KorQuAD does


# --- Retrieval ---------------------------------------------------------------------------


def first_hit_rank(hits: Iterable[bool]) -> int | None:
    """1-based rank of the first True in ``hits`` (best first), or None if there is none."""
    for rank, hit in enumerate(hits, 1):
        if hit:
            return rank
    return None


def recall_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first hit is within the top ``k``; ``ranks`` are 1-based or None.

    With one relevant answer location per question this is "success@k" (hit rate), the
    usual reading of recall@k in QA retrieval. Returns 0.0 for no questions.
    """
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None], cutoff: int = 20) -> float:
    """Mean of 1/rank of the first hit, counting 0 beyond ``cutoff`` or without a hit."""
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r is not None and r <= cutoff) / len(ranks)


# --- Answer scoring (KorQuAD conventions) --------------------------------------------------


def _is_punctuation(ch: str) -> bool:
    # ASCII punctuation as in SQuAD's script, plus every Unicode punctuation character
    # (KorQuAD text uses 《》〈〉‘’「」·… as well).
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str) -> str:
    """Lower-case, remove punctuation, collapse white space (KorQuAD 1.0 normalisation).

    Quotes and brackets become spaces (KorQuAD replaces them so the words they wrap stay
    apart); other punctuation is deleted.
    """
    kept = (" " if ch in _SPACED else "" if _is_punctuation(ch) else ch for ch in text.lower())
    return " ".join("".join(kept).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return 1.0 if any(pred == normalize_answer(g) for g in golds) else 0.0


def _char_f1(prediction: str, gold: str) -> float:
    pred = list(normalize_answer(prediction).replace(" ", ""))
    true = list(normalize_answer(gold).replace(" ", ""))
    same = sum((Counter(pred) & Counter(true)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(true)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    """Character-level F1 of the normalised, space-stripped strings; the max over ``golds``.

    Characters are compared as multisets (bag of characters), as KorQuAD 1.0 does.
    """
    return max((_char_f1(prediction, g) for g in golds), default=0.0)


def contains_answer(text: str, golds: Sequence[str], normalized_text: str | None = None) -> bool:
    """Whether ``text`` contains a gold answer, verbatim or after normalisation.

    ``normalized_text`` may be passed when the caller has already normalised ``text``
    (the evaluation normalises every chunk once).
    """
    if any(g.strip() and g.strip() in text for g in golds):
        return True
    norm = normalize_answer(text) if normalized_text is None else normalized_text
    return any((n := normalize_answer(g)) and n in norm for g in golds)


def fact_text(text: str) -> str:
    """``text`` as the help-centre question sets' facts are matched (samples/questions/README.md,
    *Matching facts*): ``**`` removed, runs of white space made one space, trimmed, case-folded.
    Punctuation stays: "₩4,900" and "₩49,000" are different prices."""
    return " ".join(text.replace("**", "").split()).casefold()


def contains_fact(text: str, facts: Sequence[str]) -> bool:
    """Whether ``text`` (an answer or a chunk) contains one of a help-centre question's ``facts``
    by the question sets' documented rule: a substring after :func:`fact_text` of both.

    Not :func:`contains_answer`: KorQuAD's normalisation deletes punctuation, which found the
    monthly price "₩4,900" in the yearly "₩49,000" and "₩3,000" in "₩30,000" (twenty-seventh
    session: asked with the fact "₩4,900", "나비플러스 얼마예요?" was counted right while quoting
    only the yearly price)."""
    text = fact_text(text)
    return any((fact := fact_text(f)) and fact in text for f in facts)


def holds_gold(text: str, golds: Sequence[str], *, facts: bool = False, normalized: str | None = None) -> bool:
    """Whether ``text`` holds one of ``golds``: a help-centre question's ``facts`` by
    :func:`contains_fact`, KorQuAD's gold answers by :func:`contains_answer` (``normalized``: the
    text already normalised, for chunks checked again and again)."""
    return contains_fact(text, golds) if facts else contains_answer(text, golds, normalized)


def span_on_answer(span: str, golds: Sequence[str], *, facts: bool = False) -> bool:
    """Whether a marked ``span`` points at a gold answer: it holds one, or lies inside one
    (after :func:`normalize_answer`, or for help-centre ``facts`` :func:`fact_text`). False for
    no span. The help-centre sets' facts are not gold spans (a fact may be "₩5,000 birthday
    coupon" and the span "₩5,000"), so character F1 there credits any span sharing letters with
    the fact; this counts a highlight a customer would find on the answer."""
    normal = fact_text if facts else normalize_answer
    norm = normal(span)
    if not norm:
        return False
    return holds_gold(span, golds, facts=facts, normalized=norm) or any(norm in normal(g) for g in golds)


# --- Escalation -----------------------------------------------------------------------------


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Area under the ROC curve = U / (n_pos · n_neg) (Mann–Whitney; ties count 1/2).

    Computed from mid-ranks of the pooled scores, O(n log n). None when either side is
    empty (the area is undefined).
    """
    n_pos, n_neg = len(positives), len(negatives)
    if not n_pos or not n_neg:
        return None
    scores = np.concatenate([np.asarray(positives, dtype=float), np.asarray(negatives, dtype=float)])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    # Tied scores share the mean of their ranks.
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    rank_sums = np.bincount(inverse, weights=ranks)
    mid_ranks = rank_sums / counts
    u = mid_ranks[inverse][:n_pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


@dataclass(frozen=True)
class ScoredQuestion:
    """What calibration needs of one evaluated question.

    ``has_answer``: the answerer produced an answer (it is shown when confidence passes
    the threshold); ``top_hit``: the first cited source is from the question's own
    article and contains a gold answer (always False out of scope).
    """

    in_scope: bool
    confidence: float
    has_answer: bool
    top_hit: bool


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    in_scope_answered: float  # share of in-scope questions answered
    out_of_scope_escalated: float  # share of out-of-scope questions not answered
    wrong_citation: float  # share of answered questions whose top cited chunk is wrong
    answered: int  # questions answered (both kinds)


def _share(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def operating_point(items: Sequence[ScoredQuestion], threshold: float) -> OperatingPoint:
    """Figures at ``threshold``: answered = confidence ≥ threshold and an answer exists."""
    answered = [q for q in items if q.has_answer and q.confidence >= threshold]
    n_in = sum(1 for q in items if q.in_scope)
    n_out = len(items) - n_in
    answered_in = sum(1 for q in answered if q.in_scope)
    answered_out = len(answered) - answered_in
    wrong = sum(1 for q in answered if not (q.in_scope and q.top_hit))
    return OperatingPoint(
        threshold=threshold,
        in_scope_answered=_share(answered_in, n_in),
        out_of_scope_escalated=_share(n_out - answered_out, n_out),
        wrong_citation=_share(wrong, len(answered)),
        answered=len(answered),
    )


def pick_threshold(items: Sequence[ScoredQuestion], target_answered: float) -> float | None:
    """The highest threshold at which the share of in-scope questions answered is ≥ target.

    That is the k-th largest confidence among in-scope questions with an answer, where
    ``k = ceil(target · n_in_scope)``; lower thresholds only answer more. Returned
    rounded down to 6 decimals (so the k-th question stays answered). None when the
    target is out of reach even at threshold 0 (too few in-scope questions have an answer).
    """
    n_in = sum(1 for q in items if q.in_scope)
    if not n_in:
        return None
    needed = max(1, math.ceil(target_answered * n_in - 1e-9))
    confidences = sorted((q.confidence for q in items if q.in_scope and q.has_answer), reverse=True)
    if needed > len(confidences):
        return None
    return math.floor(confidences[needed - 1] * 1e6) / 1e6


def threshold_grid(steps: int = 20) -> list[float]:
    """``steps`` evenly spaced thresholds 0, 1/steps, …, (steps-1)/steps."""
    return [round(i / steps, 6) for i in range(steps)]


# --- Calibration ------------------------------------------------------------------------------


def fit_logistic(
    features: np.ndarray,
    labels: np.ndarray,
    l2: float = 1.0,
    max_iter: int = 100,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Logistic-regression weights ``[w0, w1, …]`` for ``features`` (n × d) and 0/1 ``labels``.

    Maximises Σ sᵢ·log-likelihoodᵢ − (l2/2)·‖w[1:]‖² by Newton–Raphson (IRLS), with sample
    weights ``sᵢ`` (default 1); the intercept is not penalised. The penalty keeps weights
    finite on separable data. Converges when the largest step is below 1e-9.
    """
    x = np.hstack([np.ones((features.shape[0], 1)), np.asarray(features, dtype=float)])
    y = np.asarray(labels, dtype=float)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (s * (p - y)) + penalty * w
        hessian = (x * (s * p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return w


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 95)) -> dict[str, float | None]:
    """``{"p50": …, "p95": …}`` (type-7 interpolation), None values for an empty list."""
    if not values:
        return {f"p{q:g}": None for q in qs}
    found = np.percentile(np.asarray(values, dtype=float), list(qs))
    return {f"p{q:g}": round(float(v), 2) for q, v in zip(qs, found, strict=True)}
