"""Known wordings: a question asked nearly word for word as a line its top article is known to
answer is answered, and one nearer to a known gap is escalated (``support.confidence``)."""

import math
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from knowledge.embeddings import get_provider
from knowledge.selectors import embed_question, known_gap_nearest
from knowledge.services import known_gap_add
from support.confidence import (
    FEATURES,
    KNOWN_GAP_FACTOR,
    KNOWN_WORDINGS,
    confidence_from_features,
    known_wording_confidence,
)
from support.evaluation.runner import QuestionRecord
from support.models import AnswerPolicy, Question

DELETE_EN = (
    "You can delete your account from My page > Settings > Delete account. Your account is deactivated "
    "immediately and permanently deleted after a 30-day grace period. If you log in again within 30 days, "
    "the deletion is cancelled and your account is restored."
)
LEARNED = "I deleted my account by accident, can I get it back?\n회원 탈퇴 방법"  # taught from tickets
ASKED = "i deleted my account by mistake can i get it back"
STRICT = 0.92  # a help centre's threshold (the answer policy) above what retrieval alone gives ASKED


@pytest.fixture
def rules(settings: Settings) -> Settings:
    settings.KNOWN_GAP_MARGIN, settings.KNOWN_WORDING_SIMILARITY, settings.KNOWN_WORDING_MARGIN = 0.05, 0.89, 0.04
    settings.KNOWN_WORDING_SAME, settings.KNOWN_GAP_SAME = 0.97, 0.98
    settings.KNOWN_WORDING_LEAD_WEIGHT = 0.0  # the rules alone; the lead has its own test
    return settings


@pytest.mark.parametrize(
    ("cosines", "expected"),
    [
        ({}, 0.4),  # a collection without such lines: the retrieval confidence
        ({"known_wording": 0.93, "known_wording_top": 0.93}, 0.4),  # no known gap to tell it from
        ({"known_wording": 0.93, "known_wording_top": 0.93, "known_gap": 0.88}, 0.93),  # 0.05 above the gap
        ({"known_wording": 0.93, "known_wording_top": 0.93, "known_gap": 0.90}, 0.4),  # 0.03 above: not enough
        ({"known_wording": 0.93, "known_wording_top": 0.88, "known_gap": 0.5}, 0.4),  # the top article's is far
        ({"known_wording": 0.80, "known_wording_top": 0.80, "known_gap": 0.86}, 0.4 * KNOWN_GAP_FACTOR),
        ({"known_wording": 0.80, "known_wording_top": 0.80, "known_gap": 0.85}, 0.4),  # not beyond the margin
        # the very words of a known gap (KNOWN_GAP_SAME), nearer than any line by less than the margin
        ({"known_wording": 0.95, "known_wording_top": 0.95, "known_gap": 0.99}, 0.4 * KNOWN_GAP_FACTOR),
        ({"known_wording": 0.93, "known_wording_top": 0.93, "known_gap": 0.975}, 0.4),  # not that near
        ({"known_wording": 0.99, "known_wording_top": 0.99, "known_gap": 0.985}, 0.4),  # a line nearer still
    ],
)
def test_known_wordings_raise_or_lower_the_retrieval_confidence(
    rules: Settings, cosines: dict[str, float], expected: float
) -> None:
    assert set(cosines) <= set(KNOWN_WORDINGS)
    assert known_wording_confidence(0.4, cosines) == pytest.approx(expected)


def test_a_known_wording_only_raises_and_each_rule_turns_off(rules: Settings) -> None:
    near = {"known_wording": 0.93, "known_wording_top": 0.93, "known_gap": 0.5}
    assert known_wording_confidence(0.97, near) == 0.97  # never lowers a confident answer
    assert known_wording_confidence(0.4, near | {"known_wording_top": 1.00001}) == 1.0  # a float32 cosine
    rules.KNOWN_WORDING_SIMILARITY = 0.0
    assert known_wording_confidence(0.4, near) == 0.4
    gap = {"known_wording": 0.80, "known_wording_top": 0.80, "known_gap": 0.95}
    rules.KNOWN_GAP_MARGIN = -1.0
    assert known_wording_confidence(0.4, gap) == 0.4
    same = {"known_wording": 0.95, "known_wording_top": 0.95, "known_gap": 0.99}
    assert known_wording_confidence(0.4, same) == pytest.approx(0.4 * KNOWN_GAP_FACTOR)  # the other gap rule
    rules.KNOWN_GAP_SAME = 0.0
    assert known_wording_confidence(0.4, same) == 0.4


def test_the_lead_over_the_nearest_gap_moves_the_log_odds(rules: Settings) -> None:
    """Between the rules' cut-offs, the top article's line 0.02 nearer than the nearest gap adds
    20 × 0.02 = 0.4 to the log-odds, 0.02 further takes as much off; no gap or no line: unchanged."""
    rules.KNOWN_WORDING_LEAD_WEIGHT = 20.0
    nearer = {"known_wording": 0.86, "known_wording_top": 0.86, "known_gap": 0.84}
    further = {"known_wording": 0.84, "known_wording_top": 0.84, "known_gap": 0.86}
    logit = math.log(0.4 / 0.6)
    assert known_wording_confidence(0.4, nearer) == pytest.approx(1 / (1 + math.exp(-(logit + 0.4))))
    assert known_wording_confidence(0.4, further) == pytest.approx(1 / (1 + math.exp(-(logit - 0.4))))
    assert known_wording_confidence(0.4, {"known_wording": 0.86, "known_wording_top": 0.86}) == 0.4
    assert known_wording_confidence(0.4, {"known_gap": 0.86}) == 0.4
    assert known_wording_confidence(0.4, further, lead_weight=0.0) == 0.4  # a sweep's value wins
    assert known_wording_confidence(0.0, nearer) == 0.0  # nothing to move


def test_an_evaluation_record_keeps_the_floor_under_other_weights(rules: Settings) -> None:
    """``calibrate`` recomputes confidences with other weights: the known wording's floor stays."""
    features = {"coverage": 0.2, "dense": 0.1, "known_wording": 0.95, "known_wording_top": 0.95, "known_gap": 0.7}
    record = QuestionRecord(
        id="q", in_scope=True, status="answered", confidence=0.95, answerer_factor=1.0, has_answer=True,
        answer_kind="extractive", features=features,
    )  # fmt: skip
    weights = [-3.0] + [0.0] * len(FEATURES)  # every retrieval feature ignored: logistic(−3) ≈ 0.05
    assert confidence_from_features(features, weights) < 0.1
    assert record.confidence_for(weights) == pytest.approx(0.95)


def _ask(text: str) -> Question:
    response = Client().post(reverse("support:ask"), {"question": text})
    assert response.status_code == 302
    return Question.objects.latest("pk")


@pytest.mark.django_db
def test_a_customer_asking_as_a_learned_line_is_answered_and_one_near_a_gap_is_not(
    make_article: Any, sample_articles: Any, live_kb: Any, rules: Settings
) -> None:
    """The customer path: the learned line lifts a question the retrieval features alone would
    escalate at a strict threshold, once the collection also holds a known gap to tell it from;
    the cosines are kept with the question's features for staff and calibration, and a question
    nearer to a known gap stays escalated."""
    AnswerPolicy.objects.filter(pk=1).update(confidence_threshold=STRICT)
    article = make_article("How to delete your account", DELETE_EN, language="en", slug="delete", aliases=LEARNED)
    plain = _ask(ASKED)
    assert plain.status == Question.Status.NOT_CONFIDENT and plain.confidence < STRICT
    assert plain.features["known_wording_top"] >= 0.89 and "known_gap" not in plain.features  # no gap yet

    known_gap_add(knowledge_base=live_kb, text="Do you sell gift cards?")
    asked = _ask(ASKED)
    top = asked.features["known_wording_top"]
    assert top - asked.features["known_gap"] >= 0.04
    assert asked.confidence == pytest.approx(max(plain.confidence, top))
    assert asked.status == Question.Status.ANSWERED and asked.sources[0]["article_id"] == article.pk

    known_gap_add(knowledge_base=live_kb, text="Can I get my reviews back after deleting my account?")
    gap_near = _ask("can i get my reviews back after i delete my account")
    assert gap_near.status == Question.Status.NOT_CONFIDENT
    assert gap_near.features["known_gap"] > gap_near.features["known_wording"] + 0.05


@pytest.mark.django_db
def test_the_lead_alone_still_has_the_lines_embedded_and_read(
    make_article: Any, sample_articles: Any, live_kb: Any, rules: Settings
) -> None:
    """With both rules off and the lead on, the lines are still embedded at indexing and the
    question's cosines still read: the lead moves the retrieval confidence's log-odds by
    its weight times the top article's line's lead over the gap."""
    rules.KNOWN_GAP_MARGIN, rules.KNOWN_WORDING_SIMILARITY, rules.KNOWN_WORDING_LEAD_WEIGHT = -1.0, 0.0, 20.0
    make_article("How to delete your account", DELETE_EN, language="en", slug="delete", aliases=LEARNED)
    known_gap_add(knowledge_base=live_kb, text="Do you sell gift cards?")
    asked = _ask(ASKED)
    lead = asked.features["known_wording_top"] - asked.features["known_gap"]
    before = confidence_from_features(asked.features)
    moved = 1 / (1 + math.exp(-(math.log(before / (1 - before)) + 20.0 * lead)))
    assert lead > 0 and asked.confidence == pytest.approx(moved, abs=1e-6)


@pytest.mark.django_db
def test_a_line_is_embedded_with_its_abbreviations_written_out_as_the_question_is(
    make_article: Any, live_kb: Any, rules: Settings
) -> None:
    """ "비번" is embedded as 비밀번호 in a question (``embed_question``); so are lines and gaps, or
    the same wording would be 0.90 from itself."""
    make_article("비밀번호 재설정", "로그인 화면에서 비밀번호 찾기를 누르세요.", slug="pw", aliases="비번 까먹었어요")
    known_gap_add(knowledge_base=live_kb, text="비번 말고 아이디 까먹었어요")
    asked = _ask("비번 까먹었어요")
    assert asked.features["known_wording_top"] == pytest.approx(1.0, abs=1e-4)
    nearest = known_gap_nearest(
        live_kb.pk, embed_question(get_provider(), "비번 말고 아이디 까먹었어요"), get_provider().name
    )
    assert nearest is not None and nearest[0] == pytest.approx(1.0, abs=1e-4)


CANCEL_KO = (
    "주문을 취소하면 결제 금액이 자동으로 환불됩니다. 신용카드는 취소 후 3~5영업일, 카카오페이·네이버페이는 "
    "1~2영업일 안에 결제가 취소됩니다."
)
PAYMENT_EN = "Nabi Market accepts credit and debit cards issued in Korea, **KakaoPay**, **Naver Pay** and **Toss Pay**."


@pytest.mark.django_db
def test_a_question_in_the_very_words_of_another_articles_line_goes_to_that_article(
    make_article: Any, live_kb: Any, rules: Settings
) -> None:
    """The cancellation article names 카카오페이 in the customer's language and comes first; the
    payment article was taught "카카오페이 돼요?" and wins when a customer asks just that."""
    make_article("주문 취소와 변경", CANCEL_KO, slug="cancel", aliases="Cancelling or changing an order")
    payment = make_article(
        "Payment methods we accept", PAYMENT_EN, language="en", slug="pay", aliases="결제 수단\n카카오페이 돼요?"
    )
    known_gap_add(knowledge_base=live_kb, text="Do you sell gift cards?")
    rules.KNOWN_WORDING_SAME = 0.0
    before = _ask("카카오페이 돼요?")
    rules.KNOWN_WORDING_SAME = 0.97
    after = _ask("카카오페이 돼요?")
    assert before.sources[0]["article_id"] != payment.pk  # retrieval alone: the Korean article
    assert after.sources[0]["article_id"] == payment.pk and after.status == Question.Status.ANSWERED
    assert after.features["known_wording_top"] >= 0.97 and "KakaoPay" in after.answer
