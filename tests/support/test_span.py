"""The answer span: the shortest phrase of the answer sentence that answers the question."""

import pytest

from support.answering.span import (
    answer_span,
    answer_type_in,
    asks_for_phrase,
    expected_answer_type,
    has_answer_type,
    span_position,
)
from support.views import answer_parts


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        ("배송은 며칠 걸리나요?", "일반 배송은 보통 2~3일 걸립니다.", "2~3일"),
        ("나비 플러스는 얼마인가요?", "나비 플러스 멤버십은 월 4,900원입니다.", "월 4,900원"),
        ("고객센터 전화번호가 뭐예요?", "고객센터 전화번호는 1588-1234이며 평일에 운영합니다.", "1588-1234"),
        ("How long does shipping take?", "Standard shipping takes 2–3 business days.", "2–3 business days"),
        ("How much is dawn delivery?", "Dawn delivery costs ₩4,000 per order.", "₩4,000"),
        ("Who founded the company?", "The company was founded by Kim Minji in 2019.", "Kim Minji"),
        (
            "How long is the reset link valid?",
            "We email you a reset link that stays valid for 30 minutes.",
            "30 minutes",
        ),
        ("What is the support email?", "You can write to help@nabi.example any time.", "help@nabi.example"),
        ("교환하는 데 며칠 걸려요?", "The whole exchange usually takes 4–6 business days.", "4–6 business days"),
        ("until what time can i chat on kakaotalk", "평일 9:00~21:00에 상담원이 답변합니다.", "평일 9:00~21:00"),
        # Kiwi tags a clock time "9:00" W_SERIAL like a phone number: the span is the number's shape
        ("고객센터 전화번호 알려주세요", "전화: 1588-0000 (평일 9:00~18:00)", "1588-0000"),
        ("What are your customer service hours?", "전화: 1588-0000 (평일 9:00~18:00)", "평일 9:00~18:00"),
        # business hours want a time (the name beside 고객센터 had been marked)
        (
            "고객센터 운영 시간이 어떻게 되나요?",
            "나비마켓 고객센터는 평일 오전 9시부터 오후 6시까지 운영합니다.",
            "평일 오전 9시부터 오후 6시",
        ),
        # a unit sign written after the number is part of it (Unicode counts % as punctuation),
        # and the particle Kiwi misreads after it is not ("3%를": 3 + % + 르 + ᆯ)
        ("포인트 한 번에 최대 얼마까지 쓸 수 있어요?", "한 번에 결제 금액의 최대 50%까지 쓸 수 있습니다.", "50%"),
        ("2019년 실업률은 몇 퍼센트인가?", "2019년 실업률은 3.8%였다.", "3.8%"),
        ("How many points do Plus members earn?", "Plus members earn 3% of every purchase.", "3%"),
        ("플러스 회원은 몇 퍼센트 적립돼요?", "나비 플러스 회원은 결제 금액의 3%를 적립합니다.", "결제 금액의 3%"),
        # a minimum marks the number stated as a lower limit, not the fee beside the question's word
        (
            "What is the minimum order for free shipping?",
            "Standard delivery costs ₩3,000 per order and is free for orders of ₩30,000 or more.",
            "₩30,000",
        ),
        (
            "무료배송 최소 금액이 얼마예요?",
            "Standard delivery costs ₩3,000 per order and is free for orders of ₩30,000 or more.",
            "₩30,000",
        ),
        (
            "몇 포인트부터 쓸 수 있는 거예요?",  # from how many: a lower limit too
            "포인트가 1,000포인트 이상 모였을 때부터 사용할 수 있으며, 한 번에 결제 금액의 최대 50%까지 쓸 수 있습니다.",
            "1,000포인트",
        ),
        # which way the limit goes picks between two numbers of one sentence
        ("whats the minimum length for a new password", "It must be at least 8 and at most 20 characters.", "8"),
        (
            "whats the maximum length for a new password",
            "It must be at least 8 and at most 20 characters.",
            "20 characters",
        ),
        ("최소 몇 개 사야 할인돼요?", "2개 이상 사면 할인되며 한 번에 10개 이하로 주문할 수 있습니다.", "2개"),
        (
            "한 번에 최대 몇 개까지 주문돼요?",
            "2개 이상 사면 할인되며 한 번에 10개 이하로 주문할 수 있습니다.",
            "10개 이하",
        ),
        (
            "What is the maximum share of a payment I can pay in points?",
            "You can use points from 1,000 or more, up to 50% of the payment.",
            "50%",
        ),
    ],
)
def test_span_is_the_answering_phrase_in_korean_and_english(question: str, sentence: str, span: str) -> None:
    assert answer_span(question, sentence) == span


def test_a_when_question_takes_a_time_spelled_without_digits() -> None:
    """ "언제" wants a time, which 다음 날 ("the next day") is; as a plain number it lost to any
    phrase and the excerpt to any sentence holding a digit."""
    span = answer_span("포인트 언제 들어와요?", "포인트는 상품을 받고 구매 확정을 한 다음 날 적립됩니다.")
    assert span.startswith("다음 날")


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # a statement: the nearest noun phrase to 반품 was "경우 등"
        (
            "반품하고 싶어요",
            "단순 변심(사이즈·색상이 마음에 들지 않는 경우 등)으로 반품할 때는 왕복 배송비 6,000원을 부담합니다.",
        ),
        # a how-to: the steps answer, and "tap" was marked
        ("How do I delete my account?", "Open Settings > Account and tap Delete account."),
        ("🙏 How do I delete my account? 🙏", "Open Settings > Account and tap Delete account."),  # marked "tap"
        # yes / no
        ("사이즈 교환 가능한가요?", "Swimwear and earrings cannot be exchanged for hygiene reasons unless faulty."),
        ("Can I exchange for a different size?", "Tap Request exchange and choose the new size."),
        ("택 뗐는데 교환 가능?", "택을 제거한 상품은 교환할 수 없습니다."),
        ("언제든 해지 가능해요?", "멤버십은 다음 결제일 전까지 해지할 수 있습니다."),
    ],
)
def test_no_span_when_the_question_asks_for_no_phrase(question: str, sentence: str) -> None:
    """Yes/no questions, how-tos and statements are answered by the sentence: the span rules
    would mark whatever noun lies next to the question's words."""
    assert not asks_for_phrase(question)
    assert answer_span(question, sentence) == ""


@pytest.mark.parametrize(
    ("question", "sentence", "old_span"),
    [
        (
            "What happens to my points when I delete my account?",
            "After 30 days your profile, addresses, wish list, Nabi points and coupons are deleted.",
            "Nabi",
        ),
        ("free trial for plus?", "New members can try Plus free for 30 days.", "try"),
    ],
)
def test_no_span_when_nothing_says_which_phrase_answers(question: str, sentence: str, old_span: str) -> None:
    """A question that asks for a phrase but names no kind of answer and has no head noun (an
    English one: Kiwi tags its words SL) gets no span: the rules would mark a word next to the
    question's words. ``only_when_asked=False`` (``ANSWER_SPAN_ONLY_WHEN_ASKED=0``) still marks
    the old span, whichever word the proximity rule picks."""
    assert asks_for_phrase(question)
    assert not expected_answer_type(question)
    assert answer_span(question, sentence) == ""
    assert answer_span(question, sentence, only_when_asked=False) == old_span


@pytest.mark.parametrize(
    "question",
    [
        "나비플러스 혜택이 뭐예요?", "반품 기간이 어떻게 돼요?", "교환하면 며칠 걸려요", "free shipping minimum",
        "진선규 연기 인생의 터닝 포인트이자 인생작은?", "1969년 닉슨 행정부가 수립된 후 미소관계는 어떤 시대로 돌입했는가?",
        "김정남이 위원장을 맡은 곳을 적으시오.", "What is Nabi Plus?", "How long does shipping take?",
        "고객센터 전화번호 알려주세요",
    ],
)  # fmt: skip
def test_questions_that_name_what_they_want_ask_for_a_phrase(question: str) -> None:
    assert asks_for_phrase(question)


def test_a_span_is_always_a_slice_of_the_sentence() -> None:
    sentence = "김이수는 1982년 대전지방법원 판사로 임관하였다."
    span = answer_span("김이수가 판사로 임관한 법원은?", sentence)
    assert span and span in sentence
    assert span != "김이수"  # the question's own words are never the answer


@pytest.mark.parametrize(("question", "sentence"), [("", ""), ("환불은?", ""), ("", "문장"), ("?", "!!!")])
def test_empty_or_wordless_input_gives_no_span(question: str, sentence: str) -> None:
    assert answer_span(question, sentence) in ("", sentence)


def test_span_position_is_where_the_answerer_found_the_span_else_its_first_occurrence() -> None:
    answer = "새벽배송은 15,000원 이상 무료, 해외배송은 15,000원입니다."
    second = answer.rindex("15,000원")
    assert span_position(answer, "15,000원", second) == second
    assert span_position(answer, "15,000원", None) == answer.index("15,000원") != second
    assert span_position(answer, "15,000원", 3) == answer.index("15,000원")  # a stale offset: the first occurrence
    assert span_position(answer, "15,000원", 10_000) == answer.index("15,000원")
    assert span_position(answer, "없는 말", 0) is None
    assert span_position(answer, "", 0) is None


def test_answer_parts_split_around_the_span_for_highlighting() -> None:
    assert answer_parts("배송은 2~3일 걸립니다.", "2~3일") == ("배송은 ", "2~3일", " 걸립니다.")
    assert answer_parts("배송은 2~3일 걸립니다.", "") == ("배송은 2~3일 걸립니다.", "", "")
    assert answer_parts("배송은 2~3일 걸립니다.", "없는 말") == ("배송은 2~3일 걸립니다.", "", "")


@pytest.mark.parametrize(
    ("question", "wants"),
    [
        ("나비플러스 얼마예요?", "money"),
        ("배송비는요?", "money"),  # a price word without an interrogative
        ("shipping fee?", "money"),
        ("배송 얼마나 걸려요?", "number"),  # 얼마나: how long, not how much
        ("포인트 언제 들어와요?", "time"),
        ("언제까지 반품돼요?", "time"),  # 까지: until when, still a question
        ("해지는 언제든 돼요?", ""),  # 언제든: any time, an indefinite, asks for no time
        ("언제든지 취소할 수 있나요?", ""),
        ("누구나 가입할 수 있어요?", ""),
        ("how fast do the e-bikes go", "number"),
        ("how far can an ebike go on one charge", "number"),  # "charge" of a battery: the interrogative decides
        ("can i reuse my old password", ""),  # "old" without "how" asks nothing
        ("thanks so much, when does it arrive", "time"),  # nor "much"
        ("How long does shipping take?", "number"),
        ("고객센터 전화번호 좀 알려주세요", "W_SERIAL"),
        ("비밀번호를 바꾸고 싶어요", ""),  # Kiwi: 비밀 + 번호; a password, not a phone number
        ("공동현관 비밀번호는 어디에 적어요", "path"),
        ("What is your email address?", "W_EMAIL"),
        ("which card companies do you accept", ""),
        ("What are your customer service hours?", "time"),  # opening hours, no interrogative's kind
        ("how many hours can I ride", "number"),  # the interrogative decides first
        ("시간제한이 있는 대국은 무엇이 적용되었나?", ""),  # Korean 시간 names limits and durations too
        ("상담 시간 알려주세요", "time"),  # but business hours are clock times
        ("영업시간이 어떻게 돼요?", "time"),
        ("플러스 해지는 어디서 해요", "path"),  # where to do something: a menu path
        ("Where can I get a receipt?", "path"),
        ("where do I find your email address", "W_EMAIL"),  # the thing named is more precise
        ("교환하는 데 며칠 걸려요?", "number"),  # Kiwi reads 며칠 (how many days) as a noun
        ("받은지 며칠 됐는데 포인트 언제 적립돼요?", "time"),  # but the interrogative decides first
        ("until what time can i chat with an agent", "time"),
        ("By what time must I order for dawn delivery?", "time"),
        ("which day does it arrive", "time"),
        ("what does dawn delivery cost", "money"),  # "cost" starts no span, but it is a price word
        ("shipping cost", "money"),
        ("whats the min order for that", "number"),  # a limit is a number
        ("What is the maximum number of points I can use?", "number"),  # not a phone "number"
        ("포인트 사용 한도 있어요?", "number"),
        ("무료배송 최소 금액이 얼마예요?", "money"),  # the interrogative decides first
    ],
)
def test_the_expected_answer_type_follows_the_interrogative(question: str, wants: str) -> None:
    assert expected_answer_type(question) == wants


@pytest.mark.parametrize(
    ("sentence", "wants", "has"),
    [
        ("Plan: Plus monthly; Price: ₩4,900 per month", "number", True),
        ("Nabi Plus is our paid membership.", "number", False),
        ("Standard delivery costs ₩3,000 per order", "money", True),
        ("자기부담금은 10만 원입니다", "money", True),
        ("Standard delivery: 1–2 business days", "money", False),
        ("포인트는 구매 확정을 한 다음 날 적립됩니다.", "time", True),  # a time without a digit
        ("Your account is deactivated immediately.", "time", True),
        ("포인트는 상품을 사면 쌓이는 적립금입니다.", "time", False),
        ("전화: 1588-0000 (평일 9:00~18:00)", "W_SERIAL", True),
        ("평일 9:00~18:00에 답변합니다.", "W_SERIAL", False),
        ("이메일: help@nabimarket.example", "W_EMAIL", True),
        ("It is in My page > Orders > Receipt.", "path", True),
        ("마이페이지 > 주문 내역에서 확인", "path", True),
        ("If x > 3, stop.", "path", True),  # the surface only: answer_span checks more
        ("Receipts are emailed.", "path", False),
        ("Anything at all", "", False),
        ("Kim Minji answers", "person", False),
    ],
)
def test_a_sentence_has_the_answer_type_by_its_surface(sentence: str, wants: str, has: bool) -> None:
    assert has_answer_type(sentence, wants) is has


def test_an_amount_asked_for_where_the_texts_hold_none_becomes_any_number() -> None:
    assert answer_type_in("money", ["Standard delivery costs ₩3,000.", "It takes 1–2 days."]) == "money"
    assert answer_type_in("money", ["인구는 약 1,000명이다."]) == "number"  # "얼마" of a population
    assert answer_type_in("money", []) == "number"
    assert answer_type_in("time", ["No digits here."]) == "time"  # only money falls back
    assert answer_type_in("", ["₩3,000"]) == ""


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        (
            "플러스 해지는 어디서 해요",
            "You can cancel Plus at any time in My page > Membership > Cancel membership.",
            "My page > Membership > Cancel membership",
        ),
        (
            "반품 신청 어디서 해요?",
            "반품 신청은 앱 또는 웹사이트의 마이페이지 > 주문 내역 > 반품 신청에서 할 수 있으며",
            "마이페이지 > 주문 내역 > 반품 신청",
        ),
        ("where can I track it", "You can also open My page > Orders and tap Track delivery.", "My page > Orders"),
        (
            "where do I leave",
            "Go to Settings > My account > Leave Gureum Bike.",
            "Settings > My account > Leave Gureum Bike",
        ),
    ],
)
def test_a_where_question_marks_the_whole_menu_path(question: str, sentence: str, span: str) -> None:
    """ "플러스 해지는 어디서 해요" had marked a noun near the question's words; in a help centre
    "where" is where to tap, and the path's steps are written between ">" signs."""
    assert answer_span(question, sentence) == span


def test_a_comparison_is_not_a_menu_path() -> None:
    assert answer_span("어디서 멈춰요?", "값이 x > 3 이면 멈춥니다.") != "x > 3"


@pytest.mark.parametrize(
    ("sentence", "states"),
    [
        ("받은 날부터 14일 이내에 신청하세요.", True), ("1–2 business days after dispatch.", True),
        ("평일 9:00~18:00", True), ("order before 11 p.m. and it arrives", True), ("구매 확정 다음 날 적립됩니다.", True),
        ("결제 금액의 1%를 적립합니다.", False), ("사진 리뷰를 쓰면 500포인트를 드립니다.", False),
        ("Standard delivery costs ₩3,000.", False),
    ],
)  # fmt: skip
def test_a_time_carries_its_unit(sentence: str, states: bool) -> None:
    from support.answering.span import states_a_time

    assert states_a_time(sentence) is states
    assert has_answer_type(sentence, "time") is (states or any(ch.isdigit() for ch in sentence))
