"""Evaluation metrics against hand-computed values (no database)."""

import numpy as np
import pytest

from support.evaluation.metrics import (
    ScoredQuestion,
    auroc,
    contains_answer,
    contains_fact,
    exact_match,
    f1_score,
    first_hit_rank,
    fit_logistic,
    holds_gold,
    mean_reciprocal_rank,
    normalize_answer,
    operating_point,
    percentiles,
    pick_threshold,
    recall_at_k,
    span_on_answer,
    threshold_grid,
)
from support.evaluation.runner import QuestionRecord, excluded_titles


@pytest.mark.parametrize(
    ("span", "golds", "on"),
    [
        ("₩5,000", ["₩5,000 birthday coupon"], True),  # inside a fact
        ("평일 9:00~21:00까지", ["9:00~21:00"], True),  # holds one
        ("Nabi", ["cannot be recovered"], False),  # shares letters only: character F1 would credit it
        ("", ["14일 이내"], False),  # no span marked
    ],
)
def test_a_span_is_on_the_answer_when_it_holds_or_lies_inside_one(span: str, golds: list[str], on: bool) -> None:
    assert span_on_answer(span, golds) is on


# --- retrieval ---------------------------------------------------------------------------------

RANKS = [1, 3, None, 6]  # first-hit ranks of four questions


def test_first_hit_rank_is_one_based() -> None:
    assert first_hit_rank([False, False, True, True]) == 3
    assert first_hit_rank([True]) == 1
    assert first_hit_rank([False, False]) is None
    assert first_hit_rank([]) is None


@pytest.mark.parametrize(("k", "expected"), [(1, 0.25), (3, 0.5), (5, 0.5), (6, 0.75), (20, 0.75)])
def test_recall_at_k(k: int, expected: float) -> None:
    assert recall_at_k(RANKS, k) == expected


def test_mrr_counts_zero_without_a_hit_and_beyond_the_cutoff() -> None:
    assert mean_reciprocal_rank(RANKS, 20) == pytest.approx((1 + 1 / 3 + 0 + 1 / 6) / 4)  # 0.375
    assert mean_reciprocal_rank(RANKS, 5) == pytest.approx((1 + 1 / 3) / 4)
    assert mean_reciprocal_rank([], 20) == 0.0 and recall_at_k([], 5) == 0.0


# --- KorQuAD answer scoring --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The (Big) Apple!", "the big apple"),
        ("  Hello,   WORLD.  ", "hello world"),
        ("《서울》, 대한민국의 수도.", "서울 대한민국의 수도"),
        ("‘한빛’택배·배송", "한빛 택배배송"),
        ("4,000원", "4000원"),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_exact_match_after_normalisation() -> None:
    assert exact_match("1989년 2월 15일.", ["1989년 2월 15일"]) == 1.0
    assert exact_match("the 8 PM", ["8 pm", "the 8 pm"]) == 1.0
    assert exact_match("1989년 2월", ["1989년 2월 15일"]) == 0.0


def test_character_f1_korean() -> None:
    # "1989년2월" (7 chars) vs "1989년2월15일" (10): 7 shared → P=1, R=0.7, F1=1.4/1.7.
    assert f1_score("1989년 2월", ["1989년 2월 15일"]) == pytest.approx(1.4 / 1.7)
    # "서울" vs "서울특별시": 2 shared → P=1, R=0.4, F1=0.8/1.4=4/7; the max over golds wins.
    assert f1_score("서울", ["부산", "서울특별시"]) == pytest.approx(4 / 7)


def test_character_f1_english_counts_characters_as_a_multiset() -> None:
    # "thecat" vs "acatsat": shared t×2, c, a = 4 → P=4/6, R=4/7, F1=32/52.
    assert f1_score("The cat", ["a cat sat"]) == pytest.approx(32 / 52)
    assert f1_score("dog", ["cat"]) == 0.0
    assert f1_score("", ["cat"]) == 0.0
    assert f1_score("Cat!", ["cat"]) == 1.0


def test_contains_answer_verbatim_or_normalised() -> None:
    assert contains_answer("출고는 2일 이내입니다.", ["2일 이내"])
    assert contains_answer("Stores close at 8 P.M. on weekdays", ["8 pm"])
    assert not contains_answer("Stores close at 9 pm", ["8 pm"])
    assert not contains_answer("anything", ["!!"])  # a gold that normalises to nothing never matches


def test_help_centre_facts_match_as_documented_punctuation_kept() -> None:
    """samples/questions/README.md, *Matching facts*: a substring after ``**`` is removed and white
    space collapsed, case folded. KorQuAD's normalisation (punctuation deleted) had found the
    monthly price in the yearly one."""
    yearly = "Plan: Plus yearly; Price: **₩49,000**   per year"
    assert contains_answer(yearly, ["₩4,900"])  # the KorQuAD rule: "4900" inside "49000"
    assert not contains_fact(yearly, ["₩4,900"]) and not contains_fact("Orders of ₩30,000 or more", ["₩3,000"])
    assert contains_fact(yearly, ["PRICE: ₩49,000 per year"]) and contains_fact(
        "받은 날부터 **14일 이내**에", ["14일 이내"]
    )
    assert not contains_fact("anything", ["  "])
    assert span_on_answer("₩49,000", ["₩4,900"]) and not span_on_answer("₩49,000", ["₩4,900"], facts=True)
    assert span_on_answer("₩4,900", ["₩4,900 per month"], facts=True)
    # one choice for answers, retrieval hits and spans: facts by the documented rule, golds by KorQuAD's
    assert holds_gold(yearly, ["₩4,900"]) and not holds_gold(yearly, ["₩4,900"], facts=True)
    assert holds_gold(yearly, ["₩4,900"], normalized=normalize_answer(yearly))


# --- escalation ----------------------------------------------------------------------------------


def test_auroc_perfect_inverted_and_ties() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1, 0.2], [0.9, 0.8]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5
    assert auroc([], [0.5]) is None and auroc([0.5], []) is None


def test_auroc_hand_computed_with_a_tie() -> None:
    # Pairs won by positives: 0.8 → 3; 0.6 → 3; 0.4 → 1 win (0.1) + ½ tie (0.4) = 1.5. 7.5 / 9.
    assert auroc([0.8, 0.4, 0.6], [0.5, 0.4, 0.1]) == pytest.approx(7.5 / 9)


def _q(in_scope: bool, confidence: float, has_answer: bool = True, top_hit: bool = True) -> ScoredQuestion:
    return ScoredQuestion(in_scope=in_scope, confidence=confidence, has_answer=has_answer, top_hit=top_hit)


ITEMS = [
    _q(True, 0.9),
    _q(True, 0.8),
    _q(True, 0.7, top_hit=False),
    _q(True, 0.6),
    _q(True, 0.3),
    _q(False, 0.75, top_hit=False),
    _q(False, 0.2, top_hit=False),
]


def test_operating_point() -> None:
    point = operating_point(ITEMS, 0.7)
    assert point.in_scope_answered == pytest.approx(3 / 5)
    assert point.out_of_scope_escalated == pytest.approx(1 / 2)
    # Answered: 0.9, 0.8, 0.7 (wrong citation) in scope and 0.75 out of scope (always wrong).
    assert point.answered == 4 and point.wrong_citation == pytest.approx(2 / 4)


def test_operating_point_needs_an_answer_not_just_confidence() -> None:
    point = operating_point([_q(True, 0.9, has_answer=False), _q(True, 0.8)], 0.5)
    assert point.in_scope_answered == 0.5 and point.answered == 1


@pytest.mark.parametrize(("target", "expected"), [(0.2, 0.9), (0.6, 0.7), (0.8, 0.6), (1.0, 0.3)])
def test_pick_threshold_is_the_highest_meeting_the_target(target: float, expected: float) -> None:
    threshold = pick_threshold(ITEMS, target)
    assert threshold == expected
    assert operating_point(ITEMS, threshold).in_scope_answered >= target
    assert operating_point(ITEMS, threshold + 1e-6).in_scope_answered < target


def test_pick_threshold_rounds_down_and_reports_an_unreachable_target() -> None:
    assert pick_threshold([_q(True, 0.7123456789)], 1.0) == 0.712345
    assert pick_threshold([_q(True, 0.9), _q(True, 0.8, has_answer=False)], 1.0) is None
    assert pick_threshold([_q(False, 0.9)], 0.5) is None


def test_threshold_grid() -> None:
    grid = threshold_grid(20)
    assert len(grid) == 20 and grid[0] == 0.0 and grid[-1] == 0.95


# --- calibration -----------------------------------------------------------------------------------


def test_logistic_fit_separates_a_separable_set_and_is_optimal() -> None:
    x = np.array([[-2.0, 0.1], [-1.5, 0.3], [-1.0, 0.2], [1.0, 0.2], [1.5, 0.1], [2.0, 0.3]])
    y = np.array([0, 0, 0, 1, 1, 1])
    w = fit_logistic(x, y, l2=0.1)
    p = 1 / (1 + np.exp(-(w[0] + x @ w[1:])))
    assert ((p > 0.5) == (y == 1)).all()
    assert w[1] > 1.0
    # Stationary point of the penalised log-likelihood: the gradient vanishes.
    gradient = np.hstack([np.ones((6, 1)), x]).T @ (p - y) + 0.1 * np.array([0.0, w[1], w[2]])
    assert np.abs(gradient).max() < 1e-6


def test_logistic_fit_of_balanced_noise_is_flat() -> None:
    x = np.array([[0.0], [0.0], [1.0], [1.0]])
    w = fit_logistic(x, np.array([0, 1, 0, 1]), l2=0.0)
    assert w == pytest.approx([0.0, 0.0], abs=1e-9)


def test_record_confidence_recomputed_with_other_weights() -> None:
    record = QuestionRecord(
        id="q", in_scope=True, status="answered", confidence=0.3, answerer_factor=0.3, has_answer=True,
        answer_kind="llm", features={"coverage": 1.0, "dense": 0.0, "bm25": 0.0, "margin": 0.0},
    )  # fmt: skip
    from support.confidence import FEATURES

    n = len(FEATURES)  # one weight per feature after the intercept
    assert record.confidence_for(None) == 0.3
    assert record.confidence_for([0.0] * (n + 1)) == pytest.approx(0.5 * 0.3)
    assert record.confidence_for([-1.0, 1.0] + [0.0] * (n - 1)) == pytest.approx(0.5 * 0.3)
    escalated = QuestionRecord(
        id="r", in_scope=False, status="no_sources", confidence=0.0, answerer_factor=1.0, has_answer=False,
        answer_kind="", features={"coverage": 0.0, "dense": 0.0, "bm25": 0.0, "margin": 0.0},
    )  # fmt: skip
    assert escalated.confidence_for([5.0] + [0.0] * n) == 0.0


def test_percentiles_interpolate_linearly() -> None:
    assert percentiles([1.0, 2.0, 3.0, 4.0]) == {"p50": 2.5, "p95": pytest.approx(3.85)}
    assert percentiles([]) == {"p50": None, "p95": None}


def test_excluded_titles_are_seeded_and_rounded() -> None:
    titles = [f"t{i}" for i in range(6)]
    chosen = excluded_titles(titles, 0.34, seed=7)
    assert len(chosen) == round(0.34 * 6) == 2
    assert chosen == excluded_titles(titles, 0.34, seed=7)
    assert excluded_titles(titles, 0.0, seed=7) == set()
    assert len(excluded_titles(titles, 0.5, seed=1)) == 3


def test_weighted_logistic_equals_repeating_the_rows() -> None:
    x = np.array([[-2.0, 0.1], [-1.0, 0.4], [0.5, 0.2], [1.0, 0.9], [2.0, 0.3], [0.2, 0.8]])
    y = np.array([0, 0, 1, 1, 1, 0])
    weights = np.array([1.0, 3.0, 1.0, 2.0, 1.0, 1.0])
    repeated = np.repeat(np.arange(len(y)), weights.astype(int))
    weighted = fit_logistic(x, y, l2=0.5, sample_weight=weights)
    assert weighted == pytest.approx(fit_logistic(x[repeated], y[repeated], l2=0.5), abs=1e-6)
    assert not np.allclose(weighted, fit_logistic(x, y, l2=0.5))
