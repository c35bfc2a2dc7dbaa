"""The extractive answer's excerpt: the best sentences of the chunk, or the window around the best one."""

import pytest

from support.answering.base import GeneratedAnswer
from support.answering.extractive import excerpt_window


def answer_from(text: str, question: str, term_weights: dict[str, float], language: str) -> GeneratedAnswer:
    """The extractive answer to ``question`` from one source of Markdown ``text`` in ``language``,
    without sentence embeddings (words only)."""
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer

    source = SourceExcerpt(number=1, title="Article", text=text, language=language, article_id=1)
    return ExtractiveAnswerer().answer(
        question=question, sources=[source], term_weights=term_weights, language=language, query_vector=None
    )


@pytest.mark.parametrize(
    ("scores", "best", "size", "window"),
    [
        ([0.1, 0.9, 0.5, 0.2], 1, 1, (1, 2)),  # one sentence: the best alone
        ([0.1, 0.9, 0.5, 0.2], 1, 2, (1, 3)),  # the pair takes the better neighbour (after)
        ([0.6, 0.9, 0.5, 0.2], 1, 2, (0, 2)),  # ... or the one before
        ([0.6, 0.9, 0.5, 0.2], 1, 3, (0, 3)),  # three: grows on both sides
        ([0.3, 0.9, 0.3], 1, 2, (1, 3)),  # a tie goes to the sentence after
        ([0.9, 0.1, 0.1, 0.1], 0, 3, (0, 3)),  # at the start it can only grow forwards
        ([0.1, 0.1, 0.9], 2, 3, (0, 3)),  # at the end only backwards
        ([0.2, 0.9], 1, 5, (0, 2)),  # a short chunk gives what it has
        ([0.9], 0, 3, (0, 1)),
    ],
)
def test_window_grows_towards_the_better_neighbour(
    scores: list[float], best: int, size: int, window: tuple[int, int]
) -> None:
    assert excerpt_window(scores, best, size) == window


def test_the_answer_comes_from_the_article_the_confidence_is_about() -> None:
    """A Korean top source shares no words with an English question; a lower-ranked English
    article that shares "password" must not be cited in its place (it was, at 0.997 confidence)."""
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer

    reset = SourceExcerpt(
        number=1, title="비밀번호 재설정", text="로그인 화면에서 비밀번호 찾기를 누르세요.", language="ko", article_id=7
    )
    reset_more = SourceExcerpt(
        number=2, title="비밀번호 재설정", text="인증번호는 5분 동안 유효합니다.", language="ko", article_id=7
    )
    delete = SourceExcerpt(
        number=3, title="Delete your account", text="Enter your password and tap Delete my account.", language="en",
        article_id=9,
    )  # fmt: skip
    answer = ExtractiveAnswerer().answer(
        question="How do I reset my password?", sources=[reset, reset_more, delete],
        term_weights={"reset": 2.0, "password": 1.5}, language="en", query_vector=None,
    )  # fmt: skip
    assert answer.cited == [1]
    # Without article ids (stored tickets) the rank penalty alone decides, as before.
    unknown = [SourceExcerpt(number=s.number, title=s.title, text=s.text, language=s.language) for s in (reset, delete)]
    answer = ExtractiveAnswerer().answer(
        question="How do I reset my password?", sources=unknown, term_weights={"reset": 2.0, "password": 1.5},
        language="en", query_vector=None,
    )  # fmt: skip
    assert answer.cited == [delete.number]


@pytest.mark.parametrize(("bonus", "picked"), [(0.0, 0), (0.2, 1)])
def test_a_question_wanting_a_number_picks_the_sentence_with_one(settings, bonus: float, picked: int) -> None:  # type: ignore[no-untyped-def]
    """Both sentences share the question's words equally; "how long" wants a number, so with
    the answer-type bonus the sentence holding "1–2 business days" is the answer."""
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer

    settings.EXTRACTIVE_ANSWER_SENTENCES = 1
    settings.EXTRACTIVE_ANSWER_TYPE_BONUS = bonus
    settings.EXTRACTIVE_PARAGRAPH_LEAD = 0  # the one paragraph's first sentence would join the second
    sentences = ["Standard delivery is handled by CJ Logistics.", "Standard delivery: 1–2 business days."]
    source = SourceExcerpt(number=1, title="Shipping", text=" ".join(sentences), language="en", article_id=3)
    answer = ExtractiveAnswerer().answer(
        question="How long is standard delivery?", sources=[source], term_weights={}, language="en", query_vector=None
    )
    assert answer.text == sentences[picked]


def test_a_question_about_a_price_picks_the_amount_over_other_numbers(settings) -> None:  # type: ignore[no-untyped-def]
    """ "배송비 얼마예요?" wants money: the fee sentence, not the delivery times that hold
    digits too. With no amount in the sources it wants any number, as before."""
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer

    settings.EXTRACTIVE_ANSWER_SENTENCES = 1
    settings.EXTRACTIVE_PARAGRAPH_LEAD = 0  # which sentence is chosen, not what joins it
    sentences = ["Standard delivery: 1–2 business days.", "Standard delivery costs ₩3,000 per order."]
    source = SourceExcerpt(number=1, title="Shipping", text=" ".join(sentences), language="en", article_id=3)
    ask = {"sources": [source], "term_weights": {}, "language": "ko", "query_vector": None}
    assert ExtractiveAnswerer().answer(question="배송비 얼마예요?", **ask).text == sentences[1]
    without_amount = SourceExcerpt(
        number=1, title="Shipping", text="Delivery is handled by CJ Logistics. It takes 1–2 business days.",
        language="en", article_id=3,
    )  # fmt: skip
    answer = ExtractiveAnswerer().answer(question="배송비 얼마예요?", **{**ask, "sources": [without_amount]})
    assert answer.text == "It takes 1–2 business days."


def test_headings_take_no_place_in_the_excerpt(settings) -> None:  # type: ignore[no-untyped-def]
    """The next section's title after the answer ("Shipping fees") is left out, so the
    excerpt's places go to sentences; a heading that matches best starts its section."""
    from support.answering.extractive import excerpt_sentences

    settings.EXTRACTIVE_ANSWER_SENTENCES = 2
    settings.EXTRACTIVE_EXCERPT = "window"
    sentences = ["Delivery times", "Standard: 1–2 days.", "Islands: 2–4 days.", "Shipping fees", "Free over ₩30,000."]
    headings = frozenset({"Delivery times", "Shipping fees"})
    scores = [0.5, 0.3, 0.9, 0.7, 0.1]
    assert excerpt_sentences(sentences, scores, 2, headings) == (["Standard: 1–2 days.", "Islands: 2–4 days."], 2)
    # Without heading information the old window would have ended on the next section's title.
    assert excerpt_sentences(sentences, scores, 2, frozenset()) == (["Islands: 2–4 days.", "Shipping fees"], 2)
    # The best match is a heading: the answer is its section's first sentence (and its neighbour).
    assert excerpt_sentences(sentences, scores, 3, headings) == (["Islands: 2–4 days.", "Free over ₩30,000."], 4)
    assert excerpt_sentences(["Only a heading"], [1.0], 0, frozenset({"Only a heading"})) == (["Only a heading"], 0)


SHIPPING = [
    "Delivery times",  # 0, a heading
    "Standard delivery: 1–2 business days after dispatch.",  # 1
    "Dawn delivery: order before 11 p.m. and it arrives by 7 a.m.",  # 2
    "Dawn delivery is not available on Saturday nights.",  # 3
    "Jeju and other islands: 2–4 business days after dispatch.",  # 4
    "International shipping takes 7–14 business days.",  # 5
]


def test_the_excerpt_quotes_the_best_sentences_in_document_order(settings) -> None:  # type: ignore[no-untyped-def]
    """Synthetic scores for a delivery-times section: the best sentence (international) and
    the next best ones (standard, Jeju), wherever they stand, in the article's order; the
    window takes the best sentence's neighbours instead (the Saturday line, Jeju)."""
    from support.answering.extractive import excerpt_sentences

    settings.EXTRACTIVE_ANSWER_SENTENCES = 3
    headings = frozenset({"Delivery times"})
    scores = [0.4, 0.8, 0.5, 0.2, 0.85, 0.9]
    settings.EXTRACTIVE_EXCERPT = "best"
    assert excerpt_sentences(SHIPPING, scores, 5, headings) == ([SHIPPING[1], SHIPPING[4], SHIPPING[5]], 5)
    settings.EXTRACTIVE_EXCERPT = "window"
    assert excerpt_sentences(SHIPPING, scores, 5, headings) == ([SHIPPING[3], SHIPPING[4], SHIPPING[5]], 5)


def test_a_one_word_sentence_is_quoted_only_with_the_sentence_it_answers(settings) -> None:  # type: ignore[no-untyped-def]
    """A short cosine-friendly "No." (another question's answer) is not picked on its own;
    "Yes." stays with the sentence after it, and a best "Yes." brings its sentence."""
    from support.answering.extractive import best_sentences

    faq = ["Yes.", "Choose Sign up with email and pay with a card issued abroad.", "Visitor passes are day passes.",
           "No.", "Each phone number can be linked to one account only."]  # fmt: skip
    body = list(range(len(faq)))
    assert best_sentences(faq, [0.8, 0.6, 0.9, 0.85, 0.1], 2, body, 2) == [0, 1, 2]
    # A best "Yes." brings its sentence; a picked sentence keeps its own "No." before it.
    assert best_sentences(faq, [0.9, 0.1, 0.2, 0.8, 0.3], 0, body, 2) == [0, 1, 3, 4]
    assert best_sentences(faq, [0.1, 0.2, 0.9, 0.3, 0.1], 2, body, 1) == [2]


def test_a_sentence_the_chunk_repeats_is_quoted_once() -> None:
    from support.answering.extractive import best_sentences

    boilerplate = "회원의 개인정보는 관련 법령에 따라 안전하게 보호됩니다."
    chunk = [boilerplate, "중고 거래 수수료는 판매 금액의 5.5%입니다.", "정산은 매주 화요일에 합니다.", boilerplate]
    body = list(range(len(chunk)))
    assert best_sentences(chunk, [0.7, 0.9, 0.3, 0.7], 1, body, 3) == [0, 1, 2]  # not [0, 1, 3]


STEPS = [
    "If you forgot your password, set a new one in this order.",
    "1. Tap Forgot password on the sign-in screen.",
    "2. Enter your email address.",
    "3. Enter the 6-digit code.",
    "The code is valid for 10 minutes.",
    "4. Enter the new password twice.",
    "It needs at least 8 characters.",
    "Contact us if nothing arrives.",
]


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("How do I reset my password?", True),
        ("how to delete my account", True),
        ("회원 탈퇴 어떻게 해요?", True),
        ("비밀번호 재설정 방법 알려주세요", True),
        ("QR 찍고 늦게 빼면 어떻게 돼요?", False),  # what happens, not how to
        ("배송비는 어떻게 되나요?", False),  # what it is
        # 어떻게 with any other verb asks how: "비밀번호 어떻게 바꿔요?" had quoted step 4 alone
        ("비밀번호 어떻게 바꿔요?", True),
        ("선물 포장 어떻게 신청해요?", True),
        ("How long does shipping take?", False),
        # wanting to do something asks how: "비밀번호를 바꾸고 싶어요" had quoted step 4 alone
        ("비밀번호를 바꾸고 싶어요", True),
        ("I want to change my shipping address", True),
        ("I'd like to cancel my order", True),
        # forgetting or losing something asks how to get it back: "I forgot my password" had
        # quoted step 4 and the lock-out rule, not step 1 (sixteenth session)
        ("I forgot my password", True),
        ("비번 까먹었어요", True),
        ("카드를 잃어버렸어요", True),
        ("forgetful", False),
    ],
)
def test_a_procedure_question_is_told_by_its_interrogative(question: str, asks: bool) -> None:
    from support.answering.extractive import asks_how

    assert asks_how(question) is asks


SHIPPING_ARTICLE = (
    "Orders paid before 2 p.m. leave the same day.\n\n## Delivery times\n\n"
    "- **Standard delivery**: 1–2 business days after dispatch.\n"
    "- **Jeju and other islands**: 2–4 business days after dispatch.\n"
    "- **International shipping**: delivery takes 7–14 business days.\n\n"
    "## Shipping fees\n\nInternational shipping is ₩15,000 per order."
)


@pytest.mark.parametrize("on", [False, True])
def test_a_list_item_answer_quotes_its_whole_list(settings, on: bool) -> None:  # type: ignore[no-untyped-def]
    """ "How long does shipping take?" matches the international item best (it holds "shipping"
    and "takes"); the customer needs the standard line above it, so the whole list is quoted,
    with the other picked sentence ("₩15,000") kept, in the article's order."""
    settings.EXTRACTIVE_LIST_EXCERPT = on
    settings.EXTRACTIVE_ANSWER_SENTENCES = 2
    answer = answer_from(SHIPPING_ARTICLE, "How long does shipping take?", {"ship": 1.0, "take": 1.0}, "en")
    standard = "Standard delivery: 1–2 business days after dispatch."
    assert answer.span == "7–14 business days"  # the best sentence's span either way
    assert (standard in answer.text) is on
    if on:
        assert answer.text == (  # one item a line, as the article lists them
            f"{standard}\nJeju and other islands: 2–4 business days after dispatch.\nInternational shipping: "
            "delivery takes 7–14 business days.\nInternational shipping is ₩15,000 per order."
        )
        at = answer.span_start
        assert at is not None and answer.text[at : at + len(answer.span)] == answer.span  # the offset holds


FEES_ARTICLE = (
    "## Delivery times\n\nStandard delivery takes 1–2 business days.\n\n"
    "## Shipping fees\n\nStandard delivery costs ₩3,000 per order. Dawn delivery costs ₩4,000.\n\n"
    "## Abroad\n\nWe ship abroad too: international shipping is ₩15,000 per order."
)


@pytest.mark.parametrize(("weight", "quoted"), [(0.0, "₩15,000"), (1.0, "₩3,000")])
def test_a_sentence_counts_the_terms_of_its_section_heading(settings, weight: float, quoted: str) -> None:  # type: ignore[no-untyped-def]
    """ "How much is shipping?": only the international sentence says "shipping"; the standard
    fee sits under "## Shipping fees" and is the answer (the first of the equally placed)."""
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer

    settings.EXTRACTIVE_HEADING_WEIGHT = weight
    settings.EXTRACTIVE_ANSWER_SENTENCES = 1
    source = SourceExcerpt(number=1, title="Shipping", text=FEES_ARTICLE, language="en", article_id=1)
    answer = ExtractiveAnswerer().answer(
        question="How much is shipping?", sources=[source], term_weights={"ship": 1.0}, language="en",
        query_vector=None,
    )  # fmt: skip
    assert answer.span == quoted
    assert answer.text.count("₩") == 1 and quoted in answer.text


@pytest.mark.parametrize("only_when_asked", [True, False])
def test_a_yes_no_answer_marks_no_span_unless_configured(settings, only_when_asked: bool) -> None:  # type: ignore[no-untyped-def]
    """ANSWER_SPAN_ONLY_WHEN_ASKED=0 re-runs the spans of before the twelfth session: a yes/no
    question then marks the noun phrase nearest its words."""
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer

    settings.ANSWER_SPAN_ONLY_WHEN_ASKED = only_when_asked
    source = SourceExcerpt(number=1, title="Shipping", text=FEES_ARTICLE, language="en", article_id=1)
    answer = ExtractiveAnswerer().answer(
        question="Do you ship abroad?", sources=[source], term_weights={"ship": 1.0, "abroad": 1.0}, language="en",
        query_vector=None,
    )  # fmt: skip
    assert "international shipping is ₩15,000" in answer.text
    assert (answer.span == "") is only_when_asked


def test_the_span_start_points_into_the_best_sentence_not_at_an_earlier_equal_phrase() -> None:
    """ "₩15,000" is also the free dawn-delivery threshold a sentence earlier; the page marked
    that one (thirteenth session) where the answer is the international fee."""
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer, span_offset

    text = "Dawn delivery is free on orders of ₩15,000 or more. International shipping is ₩15,000 per order."
    source = SourceExcerpt(number=1, title="Shipping", text=text, language="en", article_id=1)
    answer = ExtractiveAnswerer().answer(
        question="How much is international shipping?", sources=[source], term_weights={}, language="en",
        query_vector=None,
    )  # fmt: skip
    assert answer.text == text and answer.span == "₩15,000"
    assert answer.span_start == text.rindex("₩15,000") != text.index("₩15,000")
    assert span_offset(["a b", "c d"], "c d", "d") == 6 and span_offset(["a b"], "c d", "d") is None


SECTION_FEES = (
    "## Shipping fees\n\nStandard delivery costs ₩3,000 per order. Jeju adds a ₩3,000 surcharge. "
    "International shipping is ₩15,000 per order."
)


@pytest.mark.parametrize(("on", "span"), [(True, "₩3,000"), (False, "₩15,000")])
def test_a_question_made_of_its_section_heading_marks_the_general_case(settings, on: bool, span: str) -> None:  # type: ignore[no-untyped-def]
    """ "How much is shipping?" names only the heading's topic: the international sentence scores
    best (it says "shipping"), but the span marks the section's first amount, the general case;
    the excerpt is the same either way (``EXTRACTIVE_SECTION_SPAN``)."""
    settings.EXTRACTIVE_SECTION_SPAN = on
    settings.EXTRACTIVE_HEADING_WEIGHT = 0.5  # a heading's word counts less than the sentence's own
    settings.EXTRACTIVE_ANSWER_SENTENCES = 3
    answer = answer_from(SECTION_FEES, "How much is shipping?", {"ship": 1.0}, "en")
    assert answer.text == SECTION_FEES.split("\n\n", 1)[1]
    assert answer.span == span
    assert answer.span_start == (answer.text.index("₩3,000") if on else answer.text.index("₩15,000"))


def test_a_question_naming_the_exception_keeps_its_sentence(settings) -> None:  # type: ignore[no-untyped-def]
    """ "international" is not a word of the heading: the question asks for the exception."""
    settings.EXTRACTIVE_SECTION_SPAN = True
    settings.EXTRACTIVE_ANSWER_SENTENCES = 3
    answer = answer_from(SECTION_FEES, "How much is international shipping?", {"ship": 1.0, "intern": 1.0}, "en")
    assert answer.span == "₩15,000"


def test_a_time_question_skips_a_sentence_whose_digits_are_no_time() -> None:
    """The section's first sentence holds "1%", which a time's any-digit check would take; the
    span goes to the first sentence with a time and its unit (or a word for one), and a
    question wanting no number, amount or time, or with a word outside the heading, keeps the
    best sentence."""
    from support.answering.extractive import section_answer_sentence

    sentences = [
        "적립",
        "결제 금액의 1%를 적립합니다.",
        "구매 확정 다음 날 적립됩니다.",
        "리뷰를 쓰면 500포인트를 드립니다.",
    ]
    heading = frozenset(["적립"])
    sections = [frozenset(), heading, heading, heading]
    assert section_answer_sentence(sentences, sections, 3, {"적립"}, "time", sentences) == 2
    assert section_answer_sentence(sentences, sections, 3, {"적립"}, "number", sentences) == 1
    assert section_answer_sentence(sentences, sections, 3, {"적립"}, "", sentences) == 3
    assert section_answer_sentence(sentences, sections, 3, {"적립", "리뷰"}, "number", sentences) == 3
    assert section_answer_sentence(sentences, sections, 3, {"적립"}, "number", sentences[2:]) == 3  # 1% not quoted


def test_section_terms_follow_the_heading_above_each_sentence() -> None:
    from support.answering.extractive import section_terms

    sentences = ["Intro.", "Shipping fees", "Standard costs ₩3,000.", "Refunds", "Within 14 days."]
    sections = section_terms(sentences, frozenset(["Shipping fees", "Refunds"]))
    assert sections[0] == frozenset() and sections[1] == frozenset()  # before any heading; a heading itself
    assert "ship" in sections[2] and "fee" in sections[2]
    assert "refund" in sections[4] and "ship" not in sections[4]


def test_a_source_in_the_other_language_counts_its_headings_translations() -> None:
    """Across languages no word of a heading matches: "What are your customer service hours?"
    quoted the lunch break and the phone line, not the opening hours under the title
    *Customer service hours and how to contact us* (nineteenth session)."""
    from knowledge.chunking import plain_sentences
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer, section_terms

    sentences = ["Intro.", "연락 방법", "Call us."]
    translated = {"": "Customer service hours", "연락 방법": "How to contact us"}
    sections = section_terms(sentences, frozenset(["연락 방법"]), translated)
    assert {"custom", "servic", "hour"} <= sections[0] and "contact" in sections[2]
    assert section_terms(sentences, frozenset(["연락 방법"]))[0] == frozenset()

    import numpy as np

    text = (
        "나비마켓 고객센터는 평일 오전 9시부터 오후 6시까지 운영합니다. 점심시간(낮 12시~오후 1시)에는 전화 상담이 "
        "어렵습니다.\n\n## 연락 방법\n\n- 전화: 1588-0000 (평일 9:00~18:00)\n- 카카오톡 상담: 평일 9:00~21:00"
    )
    # By meaning alone (E5's cross-language ranking, as the fourth held-out set's run) the phone line is nearest
    vectors = np.array([[0.6, 0.8], [0.2, 1.0], [0.0, 1.0], [1.0, 0.0], [0.9, 0.1]], dtype=np.float32)
    common = {"number": 1, "title": "고객센터 운영 시간과 연락 방법", "text": text, "language": "ko", "article_id": 1}
    common |= {"sentences": tuple(plain_sentences(text)), "sentence_vectors": vectors}
    translated = {"": "Customer service hours and how to contact us", "연락 방법": "How to contact us"}
    ask = {"question": "What are your customer service hours?", "term_weights": {}, "query_vector": [1.0, 0.0]}
    before = ExtractiveAnswerer().answer(sources=[SourceExcerpt(**common)], language="en", **ask)  # type: ignore[arg-type]
    assert before.span == "평일 9:00~18:00"  # the best sentence: the phone line's hours
    source = SourceExcerpt(**common, heading_translations=translated)  # type: ignore[arg-type]
    answer = ExtractiveAnswerer().answer(sources=[source], language="en", **ask)  # type: ignore[arg-type]
    assert answer.span == "평일 오전 9시부터 오후 6시"  # the opening sentence, under the title
    korean = ExtractiveAnswerer().answer(sources=[source], language="ko", **ask)  # type: ignore[arg-type]
    assert korean.span == before.span  # a question in the article's language: the headings' own words only


def test_a_list_excerpt_needs_a_list_of_several_sentences_and_not_too_many() -> None:
    from support.answering.extractive import MAX_LIST_SENTENCES, list_excerpt

    sentences = ["Intro.", "A.", "B.", "After."]
    assert list_excerpt(sentences, ["After."], 1, (("A.", "B."),)) == ["A.", "B.", "After."]
    assert list_excerpt(sentences, ["Intro."], 0, (("A.", "B."),)) == ["Intro."]  # best not in a list
    assert list_excerpt(sentences, ["A."], 1, (("A.",),)) == ["A."]  # a one-sentence list adds nothing
    long = tuple(f"{k}." for k in range(MAX_LIST_SENTENCES + 1))
    assert list_excerpt(list(long), ["0."], 0, (long,)) == ["0."]


def test_a_sentence_ending_in_a_colon_brings_the_list_it_introduces() -> None:
    """ "What payment methods do you accept?" matched the lead-in "… the following payment
    methods:" best and quoted two sentences after the list without the methods (eleventh
    session's demo)."""
    from support.answering.extractive import list_excerpt

    sentences = ["We accept the following methods:", "Cards.", "KakaoPay.", "Points combine with the others."]
    groups = (("Cards.", "KakaoPay."),)
    lead = sentences[0]
    picked = [lead, "Points combine with the others."]
    assert list_excerpt(sentences, picked, 0, groups) == sentences
    not_a_lead = ["We accept several methods.", "Cards.", "KakaoPay."]
    assert list_excerpt(not_a_lead, [not_a_lead[0]], 0, groups) == [not_a_lead[0]]
    # a colon whose next sentence is not the list's first: nothing added
    elsewhere = ["Note:", "Cards are checked.", "Cards.", "KakaoPay."]
    assert list_excerpt(elsewhere, ["Note:"], 0, groups) == ["Note:"]


PASSWORD_ARTICLE = (
    "비밀번호가 기억나지 않으면 아래 순서대로 새 비밀번호를 설정할 수 있습니다.\n\n"
    "1. 로그인 화면에서 **비밀번호 찾기**를 누릅니다.\n"
    "2. 가입할 때 사용한 이메일 주소를 입력합니다.\n"
    "3. 새 비밀번호를 두 번 입력하고 **변경하기**를 누릅니다.\n\n"
    "## 로그인 5회 실패 시\n\n비밀번호를 5번 연속으로 틀리면 계정이 30분 동안 잠깁니다."
)


@pytest.mark.parametrize("size", [3, 4])
def test_a_sentence_announcing_steps_brings_them_whatever_the_question(settings, size: int) -> None:  # type: ignore[no-untyped-def]
    """ "비밀번호를 새로 설정하려는데요" asks no "how", but its best sentence says the steps follow ("아래
    순서대로"): the answer quotes them all, not the lead-in with step 3 and the lock-out rule.
    With three sentences ``procedure_excerpt`` brings the steps; with four (shipped) they are
    already picked: either way the lead-in marks no span."""
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer, introduces

    assert introduces("비밀번호가 기억나지 않으면 아래 순서대로 새 비밀번호를 설정할 수 있습니다.")
    assert not introduces("새 비밀번호를 두 번 입력합니다.")
    settings.EXTRACTIVE_PROCEDURE_STEPS = True
    settings.EXTRACTIVE_ANSWER_SENTENCES = size
    source = SourceExcerpt(number=1, title="비밀번호", text=PASSWORD_ARTICLE, language="ko", article_id=1)
    answer = ExtractiveAnswerer().answer(
        question="비밀번호를 새로 설정하려는데요", sources=[source], term_weights={"비밀": 1.0, "번호": 1.0},
        language="ko", query_vector=None,
    )  # fmt: skip
    assert answer.text.startswith("비밀번호가 기억나지 않으면 아래 순서대로")
    assert "1. 로그인 화면에서" in answer.text and "3. 새 비밀번호를" in answer.text
    assert "30분" not in answer.text
    assert answer.span == ""  # the steps are the answer; "아래 순서" was marked


def test_a_procedure_excerpt_is_the_whole_numbered_list() -> None:
    from support.answering.extractive import procedure_excerpt

    assert procedure_excerpt(STEPS, 5) == STEPS[1:6]  # step 4 matched: steps 1–4 with step 3's second line
    assert procedure_excerpt(STEPS, 0) == STEPS[0:6]  # the introduction matched: it stays first
    assert procedure_excerpt(STEPS, 6) == STEPS[1:7]  # the line after the list matched: kept last
    assert procedure_excerpt(STEPS, 7) is None  # too far from the list: the ordinary excerpt
    assert procedure_excerpt(["No list here.", "Still none."], 0) is None
    assert procedure_excerpt(["1. Only one step.", "Then text."], 0) is None  # one numbered line is no list


DELETION = [
    "You can delete your account in the app:",
    "1. Sign in and open Settings.",
    "2. Tap Delete account at the bottom.",
    "3. Enter your password and tap Delete my account.",
    "Make sure no order is in progress.",
    "Your account is deleted after a 30-day grace period.",
    "Cancel Nabi Plus first; deleting the account refunds nothing.",
]


def test_an_excerpt_touching_numbered_steps_brings_them_all() -> None:
    """The best sentence lies beyond the steps (the grace period), but the excerpt quotes
    step 3: the steps come whole with their lead-in, and the excerpt's other sentences stay,
    in the article's order ("회원 탈퇴 어떻게 해요?" had quoted step 3 of 3)."""
    from support.answering.extractive import procedure_excerpt

    picked = [DELETION[3], DELETION[5], DELETION[6]]
    assert procedure_excerpt(DELETION, 5, picked) == DELETION[0:4] + DELETION[5:7]
    assert procedure_excerpt(DELETION, 5, [DELETION[5]]) is None  # no step quoted: the ordinary excerpt
    assert procedure_excerpt(DELETION, 5, DELETION[1:4] + [DELETION[5]]) is None  # every step quoted already
    long_run = [f"{n}. Step {n}." for n in range(1, 10)] + ["Done.", "Afterwards it is gone."]
    assert procedure_excerpt(long_run, 10, [long_run[8], long_run[10]]) is None  # nine steps: too long


def test_a_how_to_answer_quotes_the_steps_its_excerpt_touches(settings) -> None:  # type: ignore[no-untyped-def]
    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer

    settings.EXTRACTIVE_PROCEDURE_STEPS = True
    source = SourceExcerpt(
        number=1, title="Deleting your account", text=" ".join(DELETION), language="en", article_id=2
    )
    asked = {"sources": [source], "term_weights": {}, "language": "en", "query_vector": None}
    answer = ExtractiveAnswerer().answer(question="How do I delete my account, and what is the grace period?", **asked)
    assert "1. Sign in and open Settings." in answer.text and "30-day grace period" in answer.text
    settings.EXTRACTIVE_PROCEDURE_STEPS = False
    before = ExtractiveAnswerer().answer(question="How do I delete my account, and what is the grace period?", **asked)
    assert "1. Sign in" not in before.text and "30-day grace period" in before.text


def test_other_language_sentences_are_ranked_by_the_query_minus_its_language_centroid(settings) -> None:  # type: ignore[no-untyped-def]
    """Synthetic 3-d vectors [language, meaning x, meaning y]: the raw cosine prefers the
    English sentence that shares the Korean query's language component; with the Korean
    centroid taken off the query, the sentence that shares its meaning is quoted."""
    import numpy as np

    from support.answering.base import SourceExcerpt
    from support.answering.extractive import ExtractiveAnswerer

    settings.EXTRACTIVE_ANSWER_SENTENCES = 1
    settings.EXTRACTIVE_PARAGRAPH_LEAD = 0  # which sentence is chosen, not what joins it
    sentences = ("Exchanges are free the first time.", "Earrings cannot be exchanged.")
    vectors = np.array([[0.8, 0.5, 0.0], [0.1, 0.0, 0.99]], dtype=np.float32)
    source = SourceExcerpt(
        number=1, title="Exchanges", text=" ".join(sentences), language="en", sentences=sentences,
        sentence_vectors=vectors, article_id=4,
    )  # fmt: skip
    asked = {"question": "귀걸이도 교환 돼요?", "sources": [source], "term_weights": {}, "language": "ko"}
    query = [0.9, 0.0, 0.4]
    assert ExtractiveAnswerer().answer(**asked, query_vector=query).text == sentences[0]
    centred = ExtractiveAnswerer().answer(**asked, query_vector=query, language_centroid=[0.9, 0.1, 0.1])
    assert centred.text == sentences[1]
    # A same-language source ignores the centroid.
    korean = SourceExcerpt(
        number=1, title="교환", text=" ".join(sentences), language="ko", sentences=sentences, sentence_vectors=vectors,
        article_id=4,
    )  # fmt: skip
    same = ExtractiveAnswerer().answer(
        **(asked | {"sources": [korean]}), query_vector=query, language_centroid=[0.9, 0.1, 0.1]
    )
    assert same.text == sentences[0]


CONTACT_ARTICLE = (
    "고객센터는 평일 오전 9시부터 오후 6시까지 운영합니다.\n\n## 연락 방법\n\n"
    "- **전화**: 1588-0000 (평일 9:00~18:00)\n"
    "- **카카오톡 상담**: 카카오톡에서 채널을 추가한 뒤 상담을 시작하세요. 평일 9:00~21:00에 상담원이 답변합니다.\n"
    "- **이메일**: help@example.com\n\n"
    "받은 날부터 14일이 지난 상품은 반품할 수 없습니다. 다만 상품에 문제가 있다면 3개월 이내에는 반품할 수 있습니다."
)


def test_a_sentence_depends_on_its_item_lead_or_on_the_sentence_its_connective_follows() -> None:
    from knowledge.chunking import sentence_antecedents

    antecedents = sentence_antecedents(CONTACT_ARTICLE)
    assert antecedents == {
        "평일 9:00~21:00에 상담원이 답변합니다.": "카카오톡 상담: 카카오톡에서 채널을 추가한 뒤 상담을 시작하세요.",
        "다만 상품에 문제가 있다면 3개월 이내에는 반품할 수 있습니다.": "받은 날부터 14일이 지난 상품은 반품할 수 없습니다.",
    }  # a paragraph's sentence without a connective, a heading or an item's lead depend on nothing
    english = sentence_antecedents("Cards are accepted. However, gift cards are not. It takes a day.\n\n- One. Two.")
    assert english == {"However, gift cards are not.": "Cards are accepted.", "Two.": "One."}


def test_antecedents_follow_an_item_back_cross_a_paragraph_for_a_connective_and_skip_the_ambiguous() -> None:
    from knowledge.chunking import sentence_antecedents

    assert sentence_antecedents("- Chat: add us. We answer until 9 p.m. Then we reply next day.") == {
        "We answer until 9 p.m.": "Chat: add us.", "Then we reply next day.": "We answer until 9 p.m.",
    }  # fmt: skip
    opened = sentence_antecedents(
        "반품은 14일 안에 신청합니다.\n\n다만 불량이면 3개월 안에 됩니다.\n\n## 환불\n\n단, 포인트는 즉시 돌려드립니다."
    )
    assert opened == {"다만 불량이면 3개월 안에 됩니다.": "반품은 14일 안에 신청합니다."}  # not across a heading
    assert sentence_antecedents("교환합니다. 단순 변심은 6,000원입니다. 단 1회 무료입니다.") == {}  # 단 needs its comma
    assert sentence_antecedents("교환합니다. 단, 한 번만 됩니다.") == {"단, 한 번만 됩니다.": "교환합니다."}
    repeated = "- 전화: 1588-0000. 평일 9시부터 운영합니다.\n- 카카오톡: 채널 추가. 평일 9시부터 운영합니다."
    assert sentence_antecedents(repeated) == {}  # which item's hours? unknown: none brought


def test_with_antecedents_keeps_a_sentence_picked_twice() -> None:
    from support.answering.extractive import with_antecedents

    sentences = ["전화: 1588-0000.", "평일 9시부터 운영합니다.", "카카오톡: 채널 추가.", "평일 9시부터 운영합니다."]
    picked = ["평일 9시부터 운영합니다.", "카카오톡: 채널 추가.", "평일 9시부터 운영합니다."]
    got = with_antecedents(sentences, picked, {"카카오톡: 채널 추가.": "전화: 1588-0000."})
    assert got == sentences  # the lead added, both hours sentences kept


def test_an_excerpt_brings_the_sentences_its_picked_ones_depend_on_in_the_articles_order() -> None:
    from support.answering.extractive import with_antecedents

    sentences = ["a", "b", "c", "d"]
    assert with_antecedents(sentences, ["d"], {"d": "c", "c": "b"}) == ["b", "c", "d"]  # followed back
    assert with_antecedents(sentences, ["a", "d"], {"d": "c"}) == ["a", "c", "d"]
    picked = ["b", "c"]
    assert with_antecedents(sentences, picked, {"c": "b"}) is picked  # nothing missing: unchanged


@pytest.mark.parametrize("on", [False, True])
def test_a_chat_hours_sentence_is_quoted_with_the_item_that_says_it_is_the_chats(settings, on: bool) -> None:  # type: ignore[no-untyped-def]
    """ "상담 몇시까지 해요?" quoted "평일 9:00~21:00에 상담원이 답변하며 …" without "카카오톡 상담:",
    as if agents answered until 21:00 (exploratory pass, twenty-first session)."""
    settings.EXTRACTIVE_ANTECEDENTS = on
    settings.EXTRACTIVE_LIST_EXCERPT = settings.EXTRACTIVE_WHOLE_ITEMS = False  # each would bring the lead too
    settings.EXTRACTIVE_ANSWER_SENTENCES = 1
    answer = answer_from(CONTACT_ARTICLE, "상담원은 몇시까지 답변해요?", {"상담원": 1.0, "답변": 1.0}, "ko")
    chat_hours = "평일 9:00~21:00에 상담원이 답변합니다."
    assert chat_hours in answer.text and answer.span == "평일 9:00~21:00"
    assert (
        "카카오톡 상담: 카카오톡에서 채널을 추가한 뒤 상담을 시작하세요. " + chat_hours in answer.text
    ) is on  # one line
    at = answer.span_start
    assert at is not None and answer.text[at : at + len(answer.span)] == answer.span  # the offset holds


def test_a_bulleted_item_of_a_few_sentences_is_one_unit() -> None:
    from knowledge.chunking import item_sentences

    items = item_sentences(CONTACT_ARTICLE)
    kakao = (
        "카카오톡 상담: 카카오톡에서 채널을 추가한 뒤 상담을 시작하세요.",
        "평일 9:00~21:00에 상담원이 답변합니다.",
    )
    assert items == {kakao[0]: kakao, kakao[1]: kakao}  # one-sentence items and paragraphs: none
    assert item_sentences("- A. B. C. D. E.") == {}  # longer than MAX_ITEM_SENTENCES: quoted in part
    assert item_sentences("- 전화. 평일 운영.\n- 채팅. 평일 운영.") == {
        "전화.": ("전화.", "평일 운영."),
        "채팅.": ("채팅.", "평일 운영."),
    }


@pytest.mark.parametrize("on", [False, True])
def test_a_quoted_item_lead_brings_the_rest_of_its_item(settings, on: bool) -> None:  # type: ignore[no-untyped-def]
    """ "카톡 상담은 밤 몇시까지 돼?" quoted "카카오톡 상담: …" without the hours after it."""
    settings.EXTRACTIVE_WHOLE_ITEMS = on
    settings.EXTRACTIVE_LIST_EXCERPT = False  # the list alone would bring the whole item too
    settings.EXTRACTIVE_ANSWER_SENTENCES = 1
    answer = answer_from(CONTACT_ARTICLE, "카카오톡 상담 채널", {"카카오톡": 1.0, "상담": 1.0, "채널": 1.0}, "ko")
    assert answer.text.startswith("카카오톡 상담: 카카오톡에서 채널을 추가한 뒤 상담을 시작하세요.")
    assert ("평일 9:00~21:00에 상담원이 답변합니다." in answer.text) is on


def test_with_whole_items_adds_the_rest_of_an_item_once_in_order() -> None:
    from support.answering.extractive import with_whole_items

    sentences = ["a", "b", "c", "d"]
    items = {"b": ("b", "c"), "c": ("b", "c")}
    assert with_whole_items(sentences, ["c", "d"], items) == ["b", "c", "d"]
    picked = ["a", "b", "c"]
    assert with_whole_items(sentences, picked, items) is picked  # nothing missing: unchanged


def test_a_numbered_step_is_one_unit_like_a_bulleted_item() -> None:
    """ "How do I reset my password?" put step 3's second sentence, "인증번호는 10분 동안만
    유효합니다.", on a line of its own, where it read as one more step (verification pass)."""
    from knowledge.chunking import item_sentences, sentence_antecedents, sentence_lines
    from support.answering.extractive import excerpt_join

    steps = "1. 비밀번호 찾기를 누릅니다.\n2. 인증번호를 입력합니다. 인증번호는 10분 동안만 유효합니다.\n3. 새 비밀번호를 입력합니다."
    step, valid = "2. 인증번호를 입력합니다.", "인증번호는 10분 동안만 유효합니다."
    antecedents = sentence_antecedents(steps)
    assert antecedents == {valid: step} and item_sentences(steps) == {step: (step, valid), valid: (step, valid)}
    first, last = "1. 비밀번호 찾기를 누릅니다.", "3. 새 비밀번호를 입력합니다."
    text = excerpt_join([first, step, valid, last], (), sentence_lines(steps))
    assert text == f"{first}\n{step} {valid}\n{last}"  # the step's sentences on its line, steps apart


def test_an_excerpt_keeps_the_articles_lines() -> None:
    """Sentences of two paragraphs, or two sections, had run together on one line (verification
    pass: the reset step's validity, then "새 비밀번호는 8자 이상…" of the next paragraph)."""
    from knowledge.chunking import sentence_lines
    from support.answering.extractive import excerpt_join

    article = "A one. A two.\n\n## Head\n\nB one.\n\n| Plan | Price |\n|---|---|\n| Basic | Free |\n| Plus | 4,900 |"
    lines = sentence_lines(article)
    assert lines["A one."] == lines["A two."] != lines["B one."]
    rows = [s for s in lines if s.startswith("Plan:")]
    assert len(rows) == 2 and lines[rows[0]] != lines[rows[1]]  # each table row its own line
    assert excerpt_join(["A one.", "A two.", "B one.", *rows], (), lines) == "\n".join(
        ["A one. A two.", "B one.", *rows]
    )
    assert excerpt_join(["A one.", "B one."], (), {}) == "A one. B one."  # no line known: a space, as before


EXCHANGE_ARTICLE = (
    "## Cost\n\n"
    "Your first exchange on each order is free. For further exchanges on the same order, the round-trip "
    "shipping fee of ₩6,000 is deducted from your payment. Exchanges for a defective item are always free.\n\n"
    "- Courier: collects within 2 days. Then we inspect the item.\n\n"
    "One. Two. Three. Four. Five."
)


def test_a_later_sentence_of_a_short_paragraph_leads_back_to_its_first() -> None:
    from knowledge.chunking import paragraph_leads

    first = "Your first exchange on each order is free."
    fee = (
        "For further exchanges on the same order, the round-trip shipping fee of ₩6,000 is deducted from your payment."
    )
    assert paragraph_leads(EXCHANGE_ARTICLE, 4) == {
        fee: first, "Exchanges for a defective item are always free.": first,
    }  # fmt: skip  # not the heading, the bulleted item, or the paragraph of five sentences
    assert paragraph_leads(EXCHANGE_ARTICLE, 5)["Five."] == "One."
    assert paragraph_leads(EXCHANGE_ARTICLE, 2) == {}  # the three-sentence paragraph is longer
    twice = "교환은 무료입니다. 두 번째부터 6,000원입니다.\n\n반품합니다. 두 번째부터 6,000원입니다."
    assert paragraph_leads(twice, 4) == {}  # a sentence held twice with different leads has none


@pytest.mark.parametrize("most", [0, 3])
def test_a_quoted_qualification_brings_the_rule_of_its_paragraph(settings, most: int) -> None:  # type: ignore[no-untyped-def]
    """ "shoes are too small, can i swap them? will it cost me anything?" quoted the ₩6,000 for
    further exchanges without "Your first exchange on each order is free." (thirty-third session)."""
    settings.EXTRACTIVE_PARAGRAPH_LEAD = most
    settings.EXTRACTIVE_ANSWER_SENTENCES = 1
    answer = answer_from(EXCHANGE_ARTICLE, "exchange fee cost", {"exchang": 1.0, "fee": 1.0, "cost": 1.0}, "en")
    assert "₩6,000 is deducted" in answer.text
    assert answer.text.startswith("Your first exchange on each order is free. For further") is bool(most)
    at = answer.span_start
    assert answer.span and at is not None and answer.text[at : at + len(answer.span)] == answer.span
