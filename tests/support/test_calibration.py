"""Choosing the gate's threshold on one source while fitting on several (``calibrate --target-source``),
the margin feature the refitted gate leans on, its second-order terms, and migrations 0015–0021 and 0025 that move an
untouched old default; balancing files and language pairs in the weight fit."""

import pytest

from support.evaluation.calibration import threshold_for
from support.evaluation.runner import QuestionRecord


def _record(source: str, confidence: float, in_scope: bool = True) -> QuestionRecord:
    return QuestionRecord(
        id=f"{source}-{confidence}", in_scope=in_scope, status="answered", confidence=confidence,
        features={}, answerer_factor=1.0, has_answer=True, answer_kind="extractive", source=source,
    )  # fmt: skip


RECORDS = [
    *(_record("long.json", c) for c in (0.95, 0.9, 0.85, 0.8)),
    *(_record("short.json", c) for c in (0.6, 0.5, 0.4, 0.3)),
    _record("short.json", 0.2, in_scope=False),
]


def test_the_target_share_is_counted_on_the_named_source_only() -> None:
    # Half of all eight in-scope questions: the 4th highest confidence overall.
    assert threshold_for(RECORDS, None, 0.5) == pytest.approx(0.8)
    # Half of the long questions only: their 2nd highest, whatever the short ones score.
    assert threshold_for(RECORDS, None, 0.5, "long.json") == pytest.approx(0.9)
    assert threshold_for(RECORDS, None, 0.5, "short.json") == pytest.approx(0.5)


def test_every_question_is_scored_once_held_out_and_reported_by_language_pair() -> None:
    from dataclasses import replace

    from support.evaluation.calibration import cross_validate, fold_of, format_cross_validation

    records = [
        replace(
            _record("hc.jsonl", c, in_scope=in_scope), id=f"q{i}", article=f"a{i % 6}" if in_scope else "",
            group=group, top_hit=right, contains_gold=right,
        )
        for i, (c, in_scope, group, right) in enumerate(
            [(0.9, True, "ko-ko", True), (0.8, True, "ko-ko", False), (0.3, True, "ko-en", True),
             (0.85, True, "ko-en", True), (0.7, True, "en-en", True), (0.6, True, "en-en", True),
             (0.2, False, "ko", False), (0.75, False, "en", False), (0.1, False, "en", False)]
        )
    ]  # fmt: skip
    results = cross_validate(records, folds=2, target=0.5, fit_weights=False)
    outcomes = [o for r in results for o in r.outcomes]
    assert len(outcomes) == len(records)  # each question held out exactly once
    for result in results:  # ... at the threshold fitted on the other fold
        held = [r for r in records if fold_of(r, 2, 0) == result.fold]
        assert result.threshold is not None and held
        assert result.outcomes == [(r.source, r.group, r.outcome(result.threshold)) for r in held]
    by_pair: dict[str, list[str]] = {}
    for _source, group, outcome in outcomes:
        by_pair.setdefault(group, []).append(outcome)
    assert set(by_pair) == {"ko-ko", "ko-en", "en-en", "ko", "en"}
    assert all(o != "right" for o in by_pair["en"] + by_pair["ko"])  # unanswerable: wrong or escalated only
    report = format_cross_validation(results)
    assert "per language pair, every question held out once" in report
    assert report.count("hc.jsonl ") == 7  # one row per pair, then answerable and unanswerable together
    answerable = next(line for line in report.splitlines() if "hc.jsonl" in line and "answerable" in line.split())
    right = sum(o == "right" for _s, group, o in outcomes if "-" in group)
    _source, _kind, questions, right_share, *_rest = answerable.split()
    assert f"{100 * right / 6:.1f}%" == right_share  # six answerable questions, pooled
    assert questions == "6"


def test_a_fold_without_answerable_questions_of_a_source_has_no_answered_right_share() -> None:
    """Counted as 0 %, such a fold had pulled a help centre's mean over folds down (eleventh session)."""
    from support.evaluation.calibration import _over_folds, held_out_figures

    unanswerable = [_record("hc.jsonl", c, in_scope=False) for c in (0.9, 0.2)]
    figures = held_out_figures(unanswerable, None, 0.5)
    assert figures == {"out_of_scope_escalated": 0.5, "wrong_citation": 1.0}
    answerable = held_out_figures([_record("hc.jsonl", 0.9), _record("hc.jsonl", 0.2)], None, 0.5)
    assert answerable["in_scope_answered"] == 0.5 and "out_of_scope_escalated" not in answerable
    assert held_out_figures(unanswerable, None, None) == {}
    assert _over_folds([{"answered_correctly": 0.6}, {"answered_correctly": 0.4}, figures], "answered_correctly") == (
        "50.0 ± 14.1% (2 of 3 folds)"
    )


def test_an_unknown_source_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'other.json' is none of the inputs \(long.json, short.json\)"):
        threshold_for(RECORDS, None, 0.5, "other.json")


def test_a_lone_candidate_gets_no_margin_for_free() -> None:
    from knowledge.selectors import Retrieval, RetrievedChunk
    from support.confidence import confidence_features

    lone = RetrievedChunk(chunk_id=1, article_id=1, score=0.0, dense_score=0.76, language="ko")
    features = confidence_features(Retrieval(chunks=[lone], query_terms=[], term_weights={}, language="en"))
    assert features["margin"] == 0.0 and features["cross_language"] == 1.0
    pair = [RetrievedChunk(chunk_id=1, article_id=1, score=0.9), RetrievedChunk(chunk_id=2, article_id=2, score=0.6)]
    assert confidence_features(Retrieval(chunks=pair, query_terms=[], term_weights={}))["margin"] == pytest.approx(0.3)


def test_the_margin_passes_over_an_overlapping_neighbour_that_repeats_the_best_sentence() -> None:
    from knowledge.selectors import Retrieval, RetrievedChunk
    from knowledge.services import sentence_vectors_pack
    from support.confidence import confidence_features

    query = [1.0, 0.0, 0.0]

    def chunk(chunk_id: int, article_id: int, score: float, sentences: list[str]) -> RetrievedChunk:
        vectors = [[0.95, 0.31225, 0.0] if s == "The fee is 3,000 won." else [0.0, 1.0, 0.0] for s in sentences]
        return RetrievedChunk(
            chunk_id=chunk_id, article_id=article_id, score=score, sentences=sentences,
            sentence_vectors=sentence_vectors_pack(vectors), dimensions=3,
        )  # fmt: skip

    top = chunk(1, 1, 0.9, ["Shipping fees.", "The fee is 3,000 won."])
    overlap = chunk(2, 1, 0.88, ["The fee is 3,000 won.", "Jeju adds 3,000 won."])  # the same sentence, repeated
    other = chunk(3, 1, 0.6, ["Returns take 14 days."])  # the same article, other evidence
    margin = confidence_features(
        Retrieval(chunks=[top, overlap, other], query_terms=[], term_weights={}, query_vector=query)
    )["margin"]
    assert margin == pytest.approx(0.3)
    elsewhere = chunk(2, 2, 0.88, ["The fee is 3,000 won."])  # another article saying it too: a real near-tie
    margin = confidence_features(
        Retrieval(chunks=[top, elsewhere, other], query_terms=[], term_weights={}, query_vector=query)
    )["margin"]
    assert margin == pytest.approx(0.02)
    alone = confidence_features(Retrieval(chunks=[top, overlap], query_terms=[], term_weights={}, query_vector=query))
    assert alone["margin"] == pytest.approx(0.9)  # nothing else retrieved: a margin over nothing, as for a lone chunk


def test_the_second_order_features_are_the_best_sentence_squared_and_times_the_margin() -> None:
    from knowledge.selectors import Retrieval, RetrievedChunk
    from knowledge.services import sentence_vectors_pack
    from support.confidence import confidence_features

    query = [1.0, 0.0, 0.0]
    sentences = sentence_vectors_pack([[0.9, 0.43589, 0.0], [0.0, 1.0, 0.0]])  # cosines 0.9 and 0
    top = RetrievedChunk(chunk_id=1, article_id=1, score=0.8, sentence_vectors=sentences, dimensions=3)
    second = RetrievedChunk(chunk_id=2, article_id=2, score=0.5)
    features = confidence_features(Retrieval(chunks=[top, second], query_terms=[], term_weights={}, query_vector=query))
    assert features["sentence"] == pytest.approx((0.9 - 0.7) / 0.25, abs=1e-3)  # E5's range rescaled
    assert features["sentence_squared"] == pytest.approx(features["sentence"] ** 2)
    assert features["sentence_margin"] == pytest.approx(features["sentence"] * 0.3)
    nothing = confidence_features(Retrieval(chunks=[], query_terms=[], term_weights={}))
    assert nothing["sentence_squared"] == nothing["sentence_margin"] == 0.0


@pytest.mark.parametrize(
    ("question", "content", "expected"),
    [
        ("How much is dawn delivery?", "Dawn delivery costs ₩4,000 per order.", 1.0),  # an amount, asked for
        ("배송비 얼마예요?", "배송은 1~2일 걸립니다.", 1.0),  # no amount: any number, as the excerpt falls back
        ("When do points arrive?", "Points arrive the next day.", 1.0),  # a time in words
        ("How long does shipping take?", "We ship from Icheon.", 0.0),  # a number asked for, none there
        ("고객센터 전화번호 알려주세요", "카카오톡으로 문의해 주세요.", 0.0),  # a phone number asked for, none there
        ("고객센터 전화번호 알려주세요", "전화: 1588-0000", 1.0),
        ("Do you sell gift cards?", "Gift cards cost ₩10,000.", 0.0),  # a yes/no question asks for no kind
    ],
)
def test_answer_type_is_1_when_the_best_chunk_holds_what_the_question_asks_for(
    question: str, content: str, expected: float
) -> None:
    from knowledge.selectors import Retrieval, RetrievedChunk
    from support.confidence import confidence_features

    top = RetrievedChunk(chunk_id=1, article_id=1, score=0.9, content=content)
    retrieval = Retrieval(chunks=[top], query_terms=[], term_weights={})
    assert confidence_features(retrieval, question)["answer_type"] == expected
    assert confidence_features(retrieval)["answer_type"] == 0.0  # without the question's text: no evidence


@pytest.mark.django_db
@pytest.mark.parametrize(
    "migration",
    [
        "0015_recalibrated_threshold",
        "0016_recalibrated_threshold",
        "0017_recalibrated_threshold",
        "0018_recalibrated_threshold",
        "0019_recalibrated_threshold",
        "0020_recalibrated_threshold",
        "0021_recalibrated_threshold",
        "0025_recalibrated_threshold",
    ],
)
@pytest.mark.parametrize(
    ("note", "by_hand", "moves"),
    [
        ("", False, True),  # the previous default nobody touched: moved with the refitted weights
        ("Calibrated 2026-11-20 on faq.jsonl …", False, False),  # calibrated: kept
        ("", True, False),  # set by hand in admin: kept
    ],
)
def test_threshold_migrations_move_only_an_untouched_default(settings, migration, note, by_hand, moves) -> None:  # type: ignore[no-untyped-def]
    import importlib

    from django.apps import apps

    from support.models import AnswerPolicy

    module = importlib.import_module(f"support.migrations.{migration}")
    threshold = 0.8 if by_hand else module.PREVIOUS_DEFAULT
    AnswerPolicy.objects.update_or_create(pk=1, defaults={"confidence_threshold": threshold, "calibration_note": note})
    module.Migration.operations[0].code(apps, None)
    expected = settings.ANSWER_CONFIDENCE_THRESHOLD if moves else threshold
    assert AnswerPolicy.objects.get(pk=1).confidence_threshold == pytest.approx(expected)
    if moves:
        assert expected != pytest.approx(threshold)  # it did move


def test_balanced_pairs_weigh_every_file_and_every_language_pair_in_it_the_same() -> None:
    from dataclasses import replace

    from support.evaluation.calibration import fit_sample_weights

    records = [
        *(replace(_record("kq.json", 0.9), group="ko-ko") for _ in range(6)),
        *(replace(_record("kq.json", 0.1, in_scope=False), group="ko") for _ in range(2)),
        *(replace(_record("hc.jsonl", 0.8), group="ko-ko") for _ in range(3)),
        replace(_record("hc.jsonl", 0.7), group="en-ko"),
    ]
    assert fit_sample_weights(records) is None
    with pytest.raises(ValueError, match="out-of-scope question"):  # an unanswerable one counted as a pair
        fit_sample_weights([*records, replace(_record("hc.jsonl", 0.1, in_scope=False), group="ko-ko")],
                           balance_pairs=True)  # fmt: skip
    by_source = fit_sample_weights(records, balance_sources=True)
    assert by_source is not None and sum(by_source[:8]) == pytest.approx(sum(by_source[8:])) == pytest.approx(6)
    pairs = fit_sample_weights(records, balance_pairs=True)
    assert pairs is not None and sum(pairs) == pytest.approx(len(records))

    def total(source: str, group: str) -> float:
        return sum(w for r, w in zip(records, pairs, strict=True) if (r.source, r.group) == (source, group))

    # Each file half of the weight, each of its two groups half of that: the one en-ko
    # question weighs as much as the three ko-ko ones together.
    assert total("kq.json", "ko-ko") == total("kq.json", "ko") == pytest.approx(3)
    assert total("hc.jsonl", "en-ko") == total("hc.jsonl", "ko-ko") == pytest.approx(3)


def test_balancing_pairs_lets_the_fit_answer_a_scarce_pair_it_would_hold_back() -> None:
    """A language pair that is rare in the data but answerable at a lower feature value: with
    the pairs balanced, the fitted gate scores its questions higher than without."""
    from dataclasses import replace

    from support.confidence import confidence_from_features
    from support.evaluation.calibration import fit_confidence_weights

    def rec(group: str, sentence: float, worth_giving: bool, cross: float = 0.0) -> QuestionRecord:
        # as the runner records them: answerable questions by their pair (a wrong citation
        # counts 0), unanswerable ones by the question's language
        in_scope = "-" in group
        base = replace(_record("hc.jsonl", 0.5, in_scope=in_scope), group=group, top_hit=worth_giving)
        return replace(base, features={"sentence": sentence, "cross_language": cross})

    records = [
        *(rec("ko-ko", 0.8, True) for _ in range(40)),
        *(rec("ko", 0.3 + 0.01 * i, False) for i in range(30)),
        *(rec("ko-en", 0.45, True, cross=1.0) for _ in range(4)),
        *(rec("ko-en", 0.45, False, cross=1.0) for _ in range(2)),  # answerable, the citation wrong
    ]
    cross_question = {"sentence": 0.45, "cross_language": 1.0}
    plain = confidence_from_features(cross_question, fit_confidence_weights(records, balance_sources=True))
    balanced = confidence_from_features(cross_question, fit_confidence_weights(records, balance_pairs=True))
    assert balanced > plain
