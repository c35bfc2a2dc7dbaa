"""Calibrating the escalation gate from an evaluation's per-question records.

Two steps, both on records alone (no question is asked again):

1. optionally, fit the logistic confidence weights ``[w0, then one per support.confidence.FEATURES]``
   by L2-penalised logistic regression with in-scope = 1, out-of-scope = 0, and recompute
   every confidence as the answering service would with those weights;
2. pick the threshold: the highest one at which the in-scope answered share is at least
   the target (``metrics.pick_threshold``), and lay out the trade-off curve around it.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from support.confidence import FEATURES
from support.evaluation.metrics import (
    OperatingPoint,
    auroc,
    fit_logistic,
    operating_point,
    pick_threshold,
    threshold_grid,
)
from support.evaluation.report import scored_questions
from support.evaluation.runner import QuestionRecord
from support.models import Question

DEFAULT_L2 = 1.0


@dataclass
class Calibration:
    target: float
    weights: list[float] | None  # fitted weights, None when the weights in force were kept
    auroc: float | None
    threshold: float | None  # None: the target can't be reached
    chosen: OperatingPoint | None
    curve: list[OperatingPoint]


def fit_sample_weights(
    records: Sequence[QuestionRecord], *, balance_sources: bool = False, balance_pairs: bool = False
) -> np.ndarray | None:
    """Per-record weights of the logistic fit, a ``(len(records),)`` array summing to
    ``len(records)``; None (all 1) when neither balancing is asked for.

    ``balance_sources``: every source file weighs the same, ``N / (S · n_s)`` per record of
    source ``s`` (S sources, ``n_s`` records), however many questions it has (KorQuAD's 2,865
    would otherwise drown a help centre's 200). ``balance_pairs`` (implies it): within each
    source, every group (:attr:`QuestionRecord.group`: the language pair of an answerable
    question, the question's language of an unanswerable one) weighs the same too,
    ``N / (S · G_s · n_{s,g})`` (``G_s`` groups in ``s``, ``n_{s,g}`` records in group ``g``).
    The help centres' targets are per language pair (issue 7), while their sets hold fewer
    cross-language questions than same-language ones (Nabi Market: 30 en-ko, 51 ko-ko), so
    without it the fit leans on the pairs it sees most (twentieth session, README).
    Raises ``ValueError`` with ``balance_pairs`` when an out-of-scope record carries a language
    pair: records read from JSON without ``group`` take the default pair ("ko-ko"), which
    would count the unanswerable questions with the answerable ones.
    """
    if not (balance_sources or balance_pairs):
        return None
    if balance_pairs and (stray := next((r for r in records if not r.in_scope and "-" in r.group), None)):
        raise ValueError(
            f"--balance-pairs needs each record's group: out-of-scope question {stray.id} ({stray.source}) "
            f"has the language pair {stray.group!r} (an evaluate --json from before groups were recorded?)"
        )
    n = len(records)
    sources = Counter(r.source for r in records)
    if not balance_pairs:
        return np.array([n / (len(sources) * sources[r.source]) for r in records])
    groups = Counter((r.source, r.group) for r in records)
    per_source = Counter(source for source, _ in groups)
    return np.array([n / (len(sources) * per_source[r.source] * groups[(r.source, r.group)]) for r in records])


def fit_confidence_weights(
    records: Sequence[QuestionRecord],
    l2: float = DEFAULT_L2,
    balance_sources: bool = False,
    *,
    balance_pairs: bool = False,
) -> list[float]:
    """Logistic weights separating answers worth giving (1) from the rest (0).

    A question counts 1 when it is in scope *and* the answer's first cited chunk is a hit;
    out-of-scope questions and in-scope ones whose citation would be wrong count 0. So the
    gate learns to hold back wrong citations too, not only out-of-scope questions (on
    KorQuAD this lowered wrong citations at 92 % answered from 3.5 % to 3.2 % at the same
    AUROC, see README). Questions the service escalates whatever the weights (``no_sources``: nothing
    retrieved, confidence forced to 0) and ones without features are left out. Each question
    is weighed by :func:`fit_sample_weights` (``balance_sources``, ``balance_pairs``).
    Raises ``ValueError`` unless both classes are present, or as :func:`fit_sample_weights` does.
    """  # fmt: skip
    usable = [r for r in records if r.features and r.status != Question.Status.NO_SOURCES]
    labels = np.array([1.0 if r.in_scope and r.top_hit else 0.0 for r in usable])
    if not usable or labels.min() == labels.max():
        raise ValueError("fitting needs both in-scope and out-of-scope questions (use --exclude-fraction)")
    features = np.array([[r.features.get(name, 0.0) for name in FEATURES] for r in usable])
    sample_weight = fit_sample_weights(usable, balance_sources=balance_sources, balance_pairs=balance_pairs)
    return [round(float(w), 4) for w in fit_logistic(features, labels, l2=l2, sample_weight=sample_weight)]


def calibrate(
    records: Sequence[QuestionRecord],
    *,
    target: float,
    fit_weights: bool = False,
    l2: float = DEFAULT_L2,
    balance_sources: bool = False,
    balance_pairs: bool = False,
    target_source: str | None = None,
) -> Calibration:
    """Threshold for ``target`` in-scope answered share, the curve, and fitted weights if asked.

    With ``target_source`` the share is measured on that source's questions only (see
    :func:`threshold_for`); the curve and AUROC stay over all ``records``.
    """
    weights = fit_confidence_weights(records, l2, balance_sources, balance_pairs=balance_pairs) if fit_weights else None
    items = scored_questions(records, weights)
    threshold = threshold_for(records, weights, target, target_source)
    grid = set(threshold_grid(20)) | ({threshold} if threshold is not None else set())
    return Calibration(
        target=target,
        weights=weights,
        auroc=auroc([q.confidence for q in items if q.in_scope], [q.confidence for q in items if not q.in_scope]),
        threshold=threshold,
        chosen=operating_point(items, threshold) if threshold is not None else None,
        curve=[operating_point(items, t) for t in sorted(grid)],
    )


def threshold_for(
    records: Sequence[QuestionRecord], weights: list[float] | None, target: float, target_source: str | None = None
) -> float | None:
    """The highest threshold answering at least ``target`` of the in-scope questions
    (``metrics.pick_threshold``), counted over ``records`` from ``target_source`` only when
    given. Fitting jointly on KorQuAD and the help centres but holding KorQuAD's answered
    share fixed keeps the operating point the long-question figures were agreed on, while
    the weights adapt to short and other-language questions (README, answer quality).
    Raises ``ValueError`` when ``target_source`` names no record's source.
    """
    chosen = records if target_source is None else [r for r in records if r.source == target_source]
    if not chosen:
        sources = ", ".join(sorted({r.source for r in records}))
        raise ValueError(f"--target-source {target_source!r} is none of the inputs ({sources})")
    return pick_threshold(scored_questions(chosen, weights), target)


def weights_line(weights: Sequence[float]) -> str:
    """The settings line to ship, e.g. ``CONFIDENCE_WEIGHTS=-6.0,8.0,3.0,2.0``."""
    return "CONFIDENCE_WEIGHTS=" + ",".join(f"{w:g}" for w in weights)


def format_calibration(cal: Calibration) -> str:
    """The trade-off curve (chosen threshold marked), AUROC and, if fitted, the weights line."""
    lines = [
        f"Trade-off (target: ≥ {100 * cal.target:.1f}% of in-scope questions answered)",
        f"  {'threshold':>10}{'in-scope answered':>20}{'out-of-scope escalated':>25}"
        f"{'wrong citation':>17}{'answered':>10}",
    ]
    for p in cal.curve:
        mark = "  ← chosen" if cal.threshold is not None and p.threshold == cal.threshold else ""
        lines.append(
            f"  {p.threshold:>10.4f}{100 * p.in_scope_answered:>19.1f}%{100 * p.out_of_scope_escalated:>24.1f}%"
            f"{100 * p.wrong_citation:>16.1f}%{p.answered:>10}{mark}"
        )
    auc = "—" if cal.auroc is None else f"{cal.auroc:.3f}"
    lines.append(f"AUROC, in-scope vs out-of-scope confidence (Mann–Whitney): {auc}")
    if cal.weights is not None:
        lines.append(f"Fitted weights [w0, {', '.join(FEATURES)}] to ship: {weights_line(cal.weights)}")
    if cal.chosen is None:
        lines.append("The target can't be reached: too few in-scope questions get an answer at any threshold.")
    else:
        p = cal.chosen
        lines.append(
            f"Chosen threshold {p.threshold:.6f}: in-scope answered {100 * p.in_scope_answered:.1f}%, "
            f"out-of-scope escalated {100 * p.out_of_scope_escalated:.1f}%, "
            f"wrong top citation {100 * p.wrong_citation:.1f}% of {p.answered} answered"
        )
    return "\n".join(lines)


def calibration_note(cal: Calibration, *, source: str, when: datetime) -> str:
    """What ``AnswerPolicy.calibration_note`` records: file, date, target, figures, weights."""
    p = cal.chosen
    assert p is not None
    auc = "n/a" if cal.auroc is None else f"{cal.auroc:.3f}"
    note = (
        f"Calibrated {when:%Y-%m-%d %H:%M %Z} on {source} for ≥ {100 * cal.target:.1f}% in-scope answered: "
        f"threshold {p.threshold:.6f} → in-scope answered {100 * p.in_scope_answered:.1f}%, "
        f"out-of-scope escalated {100 * p.out_of_scope_escalated:.1f}%, wrong top citation "
        f"{100 * p.wrong_citation:.1f}% of {p.answered} answered; AUROC {auc}."
    )
    if cal.weights is not None:
        note += f" Assumes fitted weights {weights_line(cal.weights)}."
    return note


# --- Cross-validation ------------------------------------------------------------------------


@dataclass
class FoldResult:
    """One held-out fold: what was fitted on the other folds, and the figures on this one."""

    fold: int
    train: int  # questions fitted on
    held_out: int  # questions scored
    weights: list[float] | None
    threshold: float | None
    auroc: float | None
    # Held-out figures at the fitted threshold that are defined (:func:`held_out_figures`), for the
    # whole fold and per source; answered_correctly: in-scope questions answered with a hit citation
    # and the gold text
    figures: dict[str, float]
    by_source: dict[str, dict[str, float]]
    # (source, group, QuestionRecord.outcome) of every held-out question, at this fold's fit
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)


def fold_of(record: QuestionRecord, folds: int, seed: int) -> int:
    """The fold of ``record``: whole articles go to one fold (questions about one article are
    not independent), unanswerable questions by their id. Stable across runs (SHA-256)."""
    import hashlib

    key = f"{seed}\x1f{record.source}\x1f{record.article or 'q:' + record.id}".encode()
    return int(hashlib.sha256(key).hexdigest()[:8], 16) % folds


def _answered_correctly(records: Sequence[QuestionRecord], weights: list[float] | None, threshold: float) -> float:
    inside = [r for r in records if r.in_scope]
    good = [r for r in inside if r.answered_right(threshold, weights)]
    return len(good) / len(inside) if inside else 0.0


def held_out_figures(
    records: Sequence[QuestionRecord], weights: list[float] | None, threshold: float | None
) -> dict[str, float]:
    """The figures of ``records`` at ``threshold`` (confidences with ``weights``) that are
    defined, as shares in [0, 1]: ``in_scope_answered`` and ``answered_correctly`` only when
    some question is in scope, ``out_of_scope_escalated`` only when some is not,
    ``wrong_citation`` only when some question is answered. Empty when ``threshold`` is None.

    A fold holding none of a source's answerable questions has no "answered right" share:
    counted as 0 %, it had pulled the help centres' mean over folds down by a fifth (a
    Nabi Market fold of 16 unanswerable questions only, seed 0; eleventh session, README).
    """
    if threshold is None:
        return {}
    point = operating_point(scored_questions(records, weights), threshold)
    correct = _answered_correctly(records, weights, threshold)
    inside = sum(1 for r in records if r.in_scope)
    figures: dict[str, float] = {}
    if inside:
        figures |= {"in_scope_answered": point.in_scope_answered, "answered_correctly": correct}
    if inside < len(records):
        figures["out_of_scope_escalated"] = point.out_of_scope_escalated
    if point.answered:
        figures["wrong_citation"] = point.wrong_citation
    return figures


def cross_validate(
    records: Sequence[QuestionRecord],
    *,
    folds: int,
    target: float,
    fit_weights: bool,
    l2: float = DEFAULT_L2,
    seed: int = 0,
    balance_sources: bool = False,
    balance_pairs: bool = False,
    target_source: str | None = None,
) -> list[FoldResult]:
    """K-fold cross-validation of the gate: fit on K−1 folds, score the held-out one.

    For each fold, the weights (if ``fit_weights``; else those in force) and the
    threshold for ``target`` in-scope answered share (of ``target_source`` only, if given)
    are chosen on the training folds only, then AUROC, the operating point and the
    answered-correctly share are measured on the held-out fold, overall and per
    ``source``. Folds group questions by article (:func:`fold_of`). Raises ``ValueError``
    for fewer than 2 folds or a training split with one class only.
    """
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    results: list[FoldResult] = []
    for k in range(folds):
        train = [r for r in records if fold_of(r, folds, seed) != k]
        test = [r for r in records if fold_of(r, folds, seed) == k]
        weights = (
            fit_confidence_weights(train, l2, balance_sources, balance_pairs=balance_pairs) if fit_weights else None
        )
        threshold = threshold_for(train, weights, target, target_source)
        items = scored_questions(test, weights)
        held_auroc = auroc([q.confidence for q in items if q.in_scope], [q.confidence for q in items if not q.in_scope])
        by_source = {
            source: held_out_figures([r for r in test if r.source == source], weights, threshold)
            for source in sorted({r.source for r in test})
        }
        outcomes = []
        if threshold is not None:
            outcomes = [(r.source, r.group, r.outcome(threshold, weights)) for r in test]
        results.append(
            FoldResult(
                fold=k, train=len(train), held_out=len(test), weights=weights, threshold=threshold,
                auroc=held_auroc, figures=held_out_figures(test, weights, threshold), by_source=by_source,
                outcomes=outcomes,
            )
        )  # fmt: skip
    return results


def _mean_sd(values: Sequence[float]) -> str:
    if not values:
        return "—"
    arr = np.asarray(values, dtype=float)
    return f"{100 * arr.mean():.1f} ± {100 * arr.std(ddof=1 if len(arr) > 1 else 0):.1f}%"


_FIGURES = ("in_scope_answered", "out_of_scope_escalated", "wrong_citation", "answered_correctly")
_FIGURE_NAMES = ("in-scope answered", "out-of-scope escalated", "wrong citation", "answered right")


def _over_folds(rows: Sequence[dict[str, float]], key: str) -> str:
    """Mean ± sd of ``key`` over the folds where it is defined (:func:`held_out_figures`),
    naming how many folds that is when not all."""
    values = [x[key] for x in rows if key in x]
    text = _mean_sd(values)
    return text if len(values) == len(rows) or not values else f"{text} ({len(values)} of {len(rows)} folds)"


def format_cross_validation(results: Sequence[FoldResult]) -> str:
    """The per-fold table, then mean ± standard deviation over folds, overall and per source
    (each figure over the folds where it is defined: "—" in the table otherwise)."""
    lines = [
        "Cross-validation (fitted on the other folds, scored on the held-out one)",
        f"  {'fold':>4}{'train':>7}{'held out':>9}{'threshold':>11}{'AUROC':>7}{'in-scope ans.':>15}"
        f"{'out-of-scope esc.':>19}{'wrong cit.':>12}{'ans. right':>12}",
    ]
    for r in results:
        auc = "—" if r.auroc is None else f"{r.auroc:.3f}"
        thr = "—" if r.threshold is None else f"{r.threshold:.4f}"
        cells = "".join(
            f"{100 * r.figures[key]:>{width - 1}.1f}%" if key in r.figures else f"{'—':>{width}}"
            for key, width in zip(_FIGURES, (15, 19, 12, 12), strict=True)
        )
        lines.append(f"  {r.fold:>4}{r.train:>7}{r.held_out:>9}{thr:>11}{auc:>7}{cells}")
    aucs = [r.auroc for r in results if r.auroc is not None]
    overall = [r.figures for r in results]
    lines += [
        f"  mean ± sd: AUROC {np.mean(aucs):.3f} ± {np.std(aucs, ddof=1 if len(aucs) > 1 else 0):.3f} · "
        + " · ".join(f"{name} {_over_folds(overall, key)}" for key, name in zip(_FIGURES, _FIGURE_NAMES, strict=True))
        if aucs
        else "  mean ± sd: —",
    ]
    sources = sorted({s for r in results for s in r.by_source})
    if len(sources) > 1:
        lines.append("  per source, held out (mean ± sd over the folds holding such questions):")
        for source in sources:
            rows = [r.by_source[source] for r in results if source in r.by_source]
            figures = " · ".join(
                f"{name} {_over_folds(rows, key)}" for key, name in zip(_FIGURES, _FIGURE_NAMES, strict=True)
            )
            lines.append(f"    {source}: {figures}")
    return "\n".join([*lines, *format_pooled_pairs(results)])


def format_pooled_pairs(results: Sequence[FoldResult]) -> list[str]:
    """Per source and language pair, every question scored once by the fold that held it out
    (weights and threshold fitted without its article): right / wrong / escalated shares, and
    the same over all of a source's answerable and unanswerable questions. Pooled rather than
    averaged over folds, since a fold holds few questions of one pair."""
    table: dict[tuple[str, str], Counter[str]] = {}
    for result in results:
        for source, group, outcome in result.outcomes:
            table.setdefault((source, group), Counter())[outcome] += 1
    if not table:
        return []
    for (source, group), counts in list(table.items()):  # and every pair of a source together, by kind:
        kind = "answerable" if "-" in group else "unanswerable"  # answerable groups are pairs ("ko-en")
        table.setdefault((source, kind), Counter()).update(counts)
    lines = [
        "  per language pair, every question held out once (pooled over folds):",
        f"    {'source':<42}{'pair':<13}{'questions':>10}{'right':>8}{'wrong':>8}{'escalated':>11}",
    ]
    for (source, group), counts in sorted(table.items()):
        n = sum(counts.values())
        lines.append(
            f"    {source:<42}{group:<13}{n:>10}{100 * counts['right'] / n:>7.1f}%"
            f"{100 * counts['wrong'] / n:>7.1f}%{100 * counts['escalated'] / n:>10.1f}%"
        )
    return lines
