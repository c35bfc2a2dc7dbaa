"""Calibrating the escalation gate from an evaluation's per-question records.

Two steps, both on records alone (no question is asked again):

1. optionally, fit the logistic confidence weights ``[w0, w_coverage, w_dense, w_bm25, w_margin]``
   by L2-penalised logistic regression with in-scope = 1, out-of-scope = 0, and recompute
   every confidence as the answering service would with those weights;
2. pick the threshold: the highest one at which the in-scope answered share is at least
   the target (``metrics.pick_threshold``), and lay out the trade-off curve around it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
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


def fit_confidence_weights(records: Sequence[QuestionRecord], l2: float = DEFAULT_L2) -> list[float]:
    """Logistic weights separating answers worth giving (1) from the rest (0).

    A question counts 1 when it is in scope *and* the answer's first cited chunk is a hit;
    out-of-scope questions and in-scope ones whose citation would be wrong count 0. So the
    gate learns to hold back wrong citations too, not only out-of-scope questions (on
    KorQuAD this lowered wrong citations at 92 % answered from 3.5 % to 3.2 % at the same
    AUROC, see README). Questions the service escalates whatever the weights (``no_sources``: nothing
    retrieved, confidence forced to 0) and ones without features are left out.
    Raises ``ValueError`` unless both classes are present.
    """
    usable = [r for r in records if r.features and r.status != Question.Status.NO_SOURCES]
    labels = np.array([1.0 if r.in_scope and r.top_hit else 0.0 for r in usable])
    if not usable or labels.min() == labels.max():
        raise ValueError("fitting needs both in-scope and out-of-scope questions (use --exclude-fraction)")
    features = np.array([[r.features[name] for name in FEATURES] for r in usable])
    return [round(float(w), 4) for w in fit_logistic(features, labels, l2=l2)]


def calibrate(
    records: Sequence[QuestionRecord], *, target: float, fit_weights: bool = False, l2: float = DEFAULT_L2
) -> Calibration:
    """Threshold for ``target`` in-scope answered share, the curve, and fitted weights if asked."""
    weights = fit_confidence_weights(records, l2) if fit_weights else None
    items = scored_questions(records, weights)
    threshold = pick_threshold(items, target)
    grid = set(threshold_grid(20)) | ({threshold} if threshold is not None else set())
    return Calibration(
        target=target,
        weights=weights,
        auroc=auroc([q.confidence for q in items if q.in_scope], [q.confidence for q in items if not q.in_scope]),
        threshold=threshold,
        chosen=operating_point(items, threshold) if threshold is not None else None,
        curve=[operating_point(items, t) for t in sorted(grid)],
    )


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
        lines.append(f"Fitted weights [w0, w_coverage, w_dense, w_bm25, w_margin] to ship: {weights_line(cal.weights)}")
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
