"""The shortest phrase of an answer sentence that answers the question (``answer_span``).

No reader model ships offline, so the span is chosen by rules over Kiwi's morphemes,
the way early extractive QA systems picked answer candidates (typed noun phrases near
the question's words; cf. Harabagiu et al., "FALCON", TREC-9, 2000):

* candidates are runs of up to ``MAX_SPAN_MORPHEMES`` noun-like morphemes (nouns,
  numbers, foreign words, with ``의`` inside), starting and ending on word edges, holding
  at least one content morpheme and not made only of question words;
* each scores the sum of ``1 / (1 + distance)`` to the question's words found in the
  sentence, minus ``QUESTION_WORD_PENALTY`` per question word it contains itself;
* the interrogative sets an expected type: 몇/며칠/얼마/how many/how much/how long want a
  number, 언제/when/what time a number or a word for a time (다음 날, immediately) (``TYPE_BONUS``
  if it has one, minus it if not), 누구/who favour proper
  nouns (half the bonus); otherwise a question naming an e-mail, a link or a phone number
  favours a token of that kind; 어디/where takes a menu path whole when the sentence has
  one ("My page > Orders > Receipt", :func:`_path_span`);
* the particles after the interrogative in the question (``누구의 제자로``) matched after
  a candidate add ``CONTEXT_BONUS``; ending in the question's head noun (``방송사는?`` →
  ``ABC방송사``) or being followed by it adds ``HEAD_BONUS``.

Measured on KorQuAD 1.0 dev articles 000–069 with the sentence that holds the gold answer
given (``support/evaluation``): EM 0.32 / character F1 0.47 on 600 questions the weights
were chosen on, EM 0.33 / F1 0.48 on the other 1,199. A length penalty of 0.15 per
morpheme (EM 0.27) and no type/head cues (EM 0.31) did worse.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from knowledge.analysis import QUERY_STOPWORDS, QUESTION_FRAME_WORDS, morphemes

if TYPE_CHECKING:
    from kiwipiepy import Token

MAX_SPAN_MORPHEMES = 6
QUESTION_WORD_PENALTY = 0.5
TYPE_BONUS = 1.0
CONTEXT_BONUS = 1.0
HEAD_BONUS = 1.0
MIN_SPAN_CHARS = 2  # a span of one character is a digit or nothing
LENGTH_TIEBREAK = 0.01  # per extra morpheme: of two equally placed runs, the whole one


_NOUNISH = ("NNG", "NNP", "NNB", "NR", "SN", "SL", "SH", "XPN", "XSN", "MM", "W_")
# English words Kiwi tags SL but that never start or end an answer: they break a run.
# fmt: off
_ENGLISH_FUNCTION_WORDS = (QUERY_STOPWORDS - QUESTION_FRAME_WORDS) | frozenset([
    "about", "after", "all", "also", "any", "as", "at", "been", "before", "being", "but", "by", "cost", "costs",
    "each", "every", "get", "gets", "got", "has", "have", "had", "if", "into", "its", "just", "more", "most", "no",
    "not", "only", "over", "per", "so", "take", "takes", "than", "that", "then", "these", "they", "those", "until",
    "up", "within", "were",
])
# fmt: on
_CONTENT = ("NNG", "NNP", "SL", "SH", "SN", "NR", "W_")  # W_: serials (phone numbers), e-mails, URLs
_QUESTION_WORD_TAGS = ("NN", "SL", "SH", "SN", "VV", "VA", "XR", "NR")
_PARTICLES = ("J", "VCP", "ETM", "E")
_WANTS = {
    "언제": "time", "몇": "number", "얼마": "number", "누구": "person", "누가": "person",
    "when": "time", "many": "number", "much": "number", "long": "number", "who": "person",
    "far": "number", "fast": "number", "old": "number", "often": "number", "soon": "time",
    "며칠": "number", "어디": "path", "무엇": "", "뭐": "", "무슨": "", "어느": "", "어떤": "",
    "what": "", "where": "path", "which": "",
}  # fmt: skip
_AFTER_HOW = frozenset(["far", "fast", "long", "many", "much", "old", "often", "soon"])  # only as "how far" …
# "what time" / "by what time" / "which day" ask for a time, as 언제 does; Kiwi reads 며칠 (how many
# days) as a noun, which asks for a number only when no interrogative does: "받은지 며칠 됐는데 …
# 언제 적립돼요?" asks when (twenty-eighth session: "교환하는 데 며칠 걸려요?", "until what time can i
# chat on kakaotalk" had wanted nothing, so any noun near the question's words was marked).
_WHAT_TIME = frozenset(["time", "day", "date", "hour"])
# A Korean interrogative followed by a concessive particle is an indefinite: 언제든(지) /
# 언제라도 "any time", 누구나 "anyone", 뭐든 "anything". The follow-up "언제든 해지 가능해요?"
# (can I cancel at any time?) had wanted a time and quoted the price table's digits (eighth
# session; follow-ups answered right 72.3 → 73.9 %, README).
_INDEFINITE = frozenset(["든", "든지", "이든", "이든지", "라도", "이라도", "나", "이나"])


# A question about a price wants an amount of money, not just any number (seventh session):
# "배송비 얼마예요?" quoted the delivery times, digits too, above the fees.
_PRICE_WORDS = frozenset([
    "가격", "요금", "비용", "금액", "수수료", "배송비", "값", "위약금", "배상금",
    "price", "prices", "cost", "costs", "fee", "fees", "charge", "charges", "surcharge", "fare", "fares",
    "postage",
])  # fmt: skip

# A question naming one of these wants a token of that kind (Kiwi's W_ tags), or a time:
# "What are your customer service hours?" asks no interrogative's kind and marked "그 외 시간"
# ("outside those hours") rather than the hours themselves (ninth session). Not Korean 시간,
# which names time limits and durations as often ("시간제한", "걸린 시간").
_KIND_WORDS = {
    "email": "W_EMAIL", "e-mail": "W_EMAIL", "이메일": "W_EMAIL", "메일": "W_EMAIL",
    "url": "W_URL", "website": "W_URL", "link": "W_URL", "홈페이지": "W_URL", "링크": "W_URL",
    "phone": "W_SERIAL", "number": "W_SERIAL", "전화": "W_SERIAL", "전화번호": "W_SERIAL", "번호": "W_SERIAL",
    "hours": "time",
}  # fmt: skip


# Words naming a lower and an upper limit. A question with one wants a number where no
# interrogative set the type (thirty-fourth session): "What is the minimum order for free
# shipping?" had wanted nothing and marked no span, and "whats the min order for that" left the
# gate's answer_type at 0. Which way the limit goes decides which number is marked: "₩30,000 or
# more" for a minimum, not the ₩3,000 fee next to the question's "order" (:func:`_bound_of`).
_MIN_WORDS = frozenset(["minimum", "min", "최소", "최저"])
_MAX_WORDS = frozenset(["maximum", "max", "limit", "최대", "한도"])
_LIMIT_WORDS = _MIN_WORDS | _MAX_WORDS


def _bound_of(tokens: list, a: int, b: int) -> str:
    """``"min"`` when tokens ``a``..``b`` are stated as a lower limit ("₩30,000 or more", "at
    least 8", "1,000포인트 이상", "최소 2개"), ``"max"`` as an upper one ("up to 5", "최대 50%까지",
    "3개 이하"), else ``""``."""
    after = [t.form.lower().rstrip(".,;:!?") for t in tokens[b + 1 : b + 3]]  # Kiwi keeps "more."
    before = [t.form.lower() for t in tokens[max(0, a - 2) : a]]
    if after[:2] == ["or", "more"] or after[:1] == ["이상"] or before[-2:] == ["at", "least"]:
        return "min"
    upper_after = after[:2] == ["or", "less"] or after[:1] in (["이하"], ["까지"])
    if upper_after or before[-2:] in (["up", "to"], ["at", "most"]):
        return "max"
    return {"최소": "min", "최대": "max"}.get(before[-1] if before else "", "")


_PASSWORD = re.compile(r"비밀\s*번호")
# Korean 시간 alone is not a time cue (above), but business hours are: 운영 / 영업 / 상담 / 업무 /
# 접수 시간 ask for clock times, like English "hours" ("고객센터 운영 시간이 어떻게 되나요?" had
# marked "나비마켓", the name next to 고객센터, not "평일 오전 9시부터 오후 6시").
_BUSINESS_HOURS = re.compile(r"(운영|영업|상담|업무|접수|근무)\s*시간")


@dataclass(frozen=True)
class _Cues:
    words: frozenset[str]  # the question's content morphemes, lower-cased
    wants: str  # "number", "money", "time", "person", "path", a W_ tag (e-mail, URL, serial number) or ""
    after: tuple[str, ...]  # up to two morphemes after the interrogative
    head: str  # the question's last noun
    asks: bool  # the question asks for a phrase (:func:`asks_for_phrase`)
    bound: str = ""  # "min" or "max": the question names a lower or an upper limit (_MIN_WORDS, _MAX_WORDS)


def _indefinite(tokens: "list[Token]", i: int) -> bool:
    """Token ``i`` is a Korean interrogative used as an indefinite (:data:`_INDEFINITE`); Kiwi
    splits 언제든 into 언제 + 이 (copula) + 든, and 언제든지 into 언제 + 든지. Not 얼마: 얼마나
    asks how long."""
    if tokens[i].form not in ("언제", "누구", "뭐", "무엇", "어디"):
        return False
    following = [t.form for t in tokens[i + 1 : i + 3] if t.tag != "VCP"]
    return bool(following) and following[0] in _INDEFINITE


def _cues(question: str) -> _Cues:
    tokens = morphemes(question)
    words = frozenset(
        t.form.lower()
        for t in tokens
        if t.tag.startswith(_QUESTION_WORD_TAGS) and t.form.lower() not in _ENGLISH_FUNCTION_WORDS
    )
    wants, after, interrogative = "", (), False
    for i, t in enumerate(tokens):
        form = t.form.lower()
        if form in _AFTER_HOW and (i == 0 or tokens[i - 1].form.lower() != "how"):
            continue  # "my old password", "fast delivery": no interrogative
        if _indefinite(tokens, i) or form == "며칠":  # 며칠: below, when nothing else asks
            continue
        if form in ("what", "which") and i + 1 < len(tokens) and tokens[i + 1].form.lower() in _WHAT_TIME:
            wants, after, interrogative = "time", tuple(x.form for x in tokens[i + 2 : i + 4]), True
            break
        if form in _WANTS or form.startswith(("몇", "얼마")):
            # 얼마 and "how much" ask a price; 얼마나 (how long, how far) a number
            wants = "money" if form in ("얼마", "much") else _WANTS.get(form, "number")
            after = tuple(x.form for x in tokens[i + 1 : i + 3])
            interrogative = True
            break
    if not interrogative and any(t.form == "며칠" for t in tokens):
        wants, interrogative = "number", True
    forms = {t.form.lower() for t in tokens}
    if not wants and forms & _LIMIT_WORDS:
        wants = "number"  # "whats the min order for that": a limit is a number (an amount, a count)
    # Kiwi cuts 비밀번호 (password) into 비밀 + 번호 (number): not a question about a phone number
    kinds = words - {"번호"} if _PASSWORD.search(question) else words
    for form in kinds if wants in ("", "path") else ():  # "how long is the link valid" still wants a number
        if form in _KIND_WORDS:
            wants = _KIND_WORDS[form]  # "where do I find your e-mail address": the address
    if wants in ("", "path") and _BUSINESS_HOURS.search(question):
        wants = "time"
    if not wants and forms & _PRICE_WORDS:  # "cost" is no span word, but a price word
        wants = "money"  # a price word only where no interrogative set the type: "how far … one charge"
    head = next((t.form for t in reversed(tokens) if t.tag in ("NNG", "NNP") and t.form not in _WANTS), "")
    asks = interrogative or bool(wants) or _noun_phrase_question(tokens) or _asks_otherwise(question)
    bound = "min" if forms & _MIN_WORDS else "max" if forms & _MAX_WORDS else ""
    if not bound and wants in ("number", "money") and "부터" in forms:
        bound = "min"  # "몇 포인트부터 쓸 수 있어요?": from how many, a lower limit
    return _Cues(words=words - _WANTS.keys(), wants=wants, after=after, head=head.lower(), asks=asks, bound=bound)


# A Korean question ending in one of these nouns asks yes or no: "교환 가능?", "환불 불가?"
_YES_NO_NOUNS = frozenset(["가능", "불가", "불가능", "여부"])
# An English question starting with one of these asks yes or no, for steps, or states a
# problem: "do you ship to canada", "how do i delete my account", "i forgot my password".
_NOT_ASKING_STARTS = frozenset([
    "do", "does", "did", "didnt", "dont", "don't", "can", "cant", "can't", "could", "is", "isnt", "are", "am",
    "was", "were", "will", "would", "should", "shall", "may", "might", "have", "has", "how", "i", "i'm", "im",
    "my", "please", "help", "if", "it", "why",
])  # fmt: skip


def _noun_phrase_question(tokens: "list[Token]") -> bool:
    """A question with no interrogative that still asks for a phrase: in Korean, it ends in a
    noun ("성웅 이순신의 아버지 이름은?", "배송비?"); in English, it does not open like a yes/no,
    how-to or problem statement ("free shipping minimum", "international shipping cost")."""
    words = [
        t for t in tokens
        if not (t.tag.startswith("S") and t.tag not in ("SL", "SH", "SN")) and any(ch.isalnum() for ch in t.form)
    ]  # fmt: skip  # no punctuation, no emoji (W_EMOJI): "🙏 how do i delete my account" opens with "how"
    if not words:
        return False
    if any(t.tag.startswith(("NN", "V", "XS", "E", "J")) for t in words):  # Korean
        last = next((t for t in reversed(words) if not t.tag.startswith("J")), None)
        return (
            last is not None
            and last.tag.startswith(("NN", "NR", "SN", "SL", "SH", "XSN"))
            and (last.form not in _YES_NO_NOUNS)
        )
    return words[0].form.lower() not in _NOT_ASKING_STARTS


# Korean interrogatives as written: Kiwi cuts 어떤 and 어떻게 into a verb and an ending, and
# reads 며칠 (how many days) as a noun. "어떻게 돼요" asks what something is, not how to.
# Not as an indefinite (:data:`_INDEFINITE`): "언제든 해지 가능해요?" asks yes or no.
_KOREAN_ASKING = re.compile(
    r"(?:무엇|뭐|누구|언제|어디)(?!이?(?:든|라도|나))|무슨|어느|어떤|어떠|어떻게\s*(?:되|돼)|며칠|누가|몇|얼마"
)
# "…의 이름은?", "인생작은?": a topic with nothing after it asks for the phrase it names.
_TOPIC_ONLY = re.compile(r"[가-힣](?:은|는)\s*\??\s*$")


def _asks_otherwise(question: str) -> bool:
    """The Korean interrogatives above, a bare topic ("…은?") or an exam's "…을 적으시오"
    (write down …) ask for a phrase too."""
    text = question.strip()
    return bool(_KOREAN_ASKING.search(text) or _TOPIC_ONLY.search(text)) or text.rstrip(" .?").endswith("시오")


def asks_for_phrase(question: str) -> bool:
    """Whether ``question`` asks for a phrase the span can mark: it has an interrogative
    (무엇, 언제, 얼마, what, which, how much …), names a kind of answer (a price, a phone number,
    opening hours: :func:`expected_answer_type`) or is a noun phrase (:func:`_noun_phrase_question`).
    Not a yes/no question ("교환 돼요?", "do you ship to canada"), a how-to ("how do i delete
    my account") or a statement ("반품하고 싶어요"): their answer is the sentence, and the span
    rules (nearest noun phrase to the question's words) marked stray words there ("경우 등",
    "tap", "make sure"; twelfth session, README)."""
    return _cues(question).asks


@functools.lru_cache(maxsize=4096)
def expected_answer_type(question: str) -> str:
    """What kind of token would answer ``question``: ``"money"`` (얼마/how much, or a price
    word such as 요금/배송비/fee/price/cost), ``"time"`` (언제/when/how soon/what time/which day,
    or "hours"), ``"number"`` (몇/며칠/얼마나/how many/how long/how far/how fast), ``"person"``,
    ``"path"`` (어디/where: in a help centre, where to do something is a menu path, "My page >
    Orders > Receipt"), ``"number"`` too for a limit without an interrogative (minimum, max, 최소,
    한도 …), one of Kiwi's ``W_EMAIL``/``W_URL``/``W_SERIAL`` (a question naming an
    e-mail, link or phone number), or ``""`` (no expectation)."""
    return _cues(question).wants


_PATH_SIGNS = frozenset([">", "›"])  # between the steps of a menu path
# Words for a time without a digit: "구매 확정을 한 다음 날", "즉시 재적립", "immediately".
_TIME_WORDS = r"다음\s?날|익일|당일|즉시|곧바로|next (?:business )?day|same day|immediately|right away"
_TYPE_PATTERNS = {
    "number": re.compile(r"\d"),
    # A time is a number or a word for one (_TIME_WORDS).
    "time": re.compile(rf"\d|{_TIME_WORDS}", re.I),
    "money": re.compile(r"[₩$€£]\s?\d|\d\s?(?:만\s?)?원|\d\s?(?:won|dollars?|krw|usd)\b", re.IGNORECASE),
    "W_EMAIL": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    "W_URL": re.compile(r"https?://|www\.", re.IGNORECASE),
    "W_SERIAL": re.compile(r"\d{2,}[-‐–]\d{3,}"),
    # A menu path: "My page > Orders > Receipt", "마이페이지 > 주문 내역".
    "path": re.compile(rf"\w\s*[{''.join(sorted(_PATH_SIGNS))}]\s*\w"),
}


# A time with its unit, or a word for one: "14일", "1–2 business days", "오후 6시", "9:00", "다음 날".
# Unlike _TYPE_PATTERNS["time"] (any digit), not "1%" or "500포인트".
_TIME_WITH_UNIT = re.compile(
    r"\d\s*(?:일|시|분|주|개월|달|년|영업일|business days?|days?|hours?|minutes?|weeks?|months?|years?|[ap]\.?m\b)"
    rf"|\d:\d\d|{_TIME_WORDS}",
    re.IGNORECASE,
)


def states_a_time(sentence: str) -> bool:
    """``sentence`` holds a time or a duration with its unit ("14일", "1–2 business days", "9:00",
    "오후 6시") or a word for one ("다음 날", "immediately"): stricter than
    ``has_answer_type(sentence, "time")``, for which any digit counts."""
    return bool(_TIME_WITH_UNIT.search(sentence))


def answer_type_in(wants: str, texts: "Iterable[str]") -> str:
    """``wants`` as it applies to ``texts``: an amount of money asked for where none of the
    texts holds one becomes any number ("얼마" of a population in KorQuAD, "배송비 얼마예요?"
    over an article without prices); every other type unchanged. The one rule the extractive
    answer's type cue and the gate's ``answer_type`` feature share."""
    if wants == "money" and not any(has_answer_type(text, wants) for text in texts):
        return "number"
    return wants


def has_answer_type(sentence: str, wants: str) -> bool:
    """``sentence`` holds a token of the kind ``wants`` (:func:`expected_answer_type`): a digit,
    an amount of money (₩3,000, 5,000원, 10만 원, $5), an e-mail address, a link or a dashed
    serial such as 1588-0000. ``False`` for ``""`` and ``"person"`` (no surface pattern tells
    a name)."""
    pattern = _TYPE_PATTERNS.get(wants)
    return bool(pattern and pattern.search(sentence))


def answer_span(question: str, sentence: str, only_when_asked: bool = True) -> str:
    """The substring of ``sentence`` that best answers ``question``; ``""`` when none qualifies,
    and, with ``only_when_asked`` (``ANSWER_SPAN_ONLY_WHEN_ASKED`` in the extractive answerer),
    when the question asks for no phrase (:func:`asks_for_phrase`) or asks for one without saying
    which: no kind of answer (:func:`expected_answer_type`) and no head noun.

    Both are plain text (Korean or English). The returned string is a slice of
    ``sentence`` (so a page can find and highlight it). Deterministic; raises nothing.
    """
    cues = _cues(question)
    # Without a kind of answer or a noun for it to stand beside (every English question, whose
    # words Kiwi tags SL, not NNG), nothing tells which phrase answers: such spans marked a word
    # near the question's words ("make sure", "currently", "try"). Over the twenty-three Nabi
    # Market files read, answers from the right article with the fact: highlights on the fact
    # 524 -> 494, off it 400 -> 299 (thirty-first session, README). Korean questions with a head
    # noun keep theirs (KorQuAD's are all of that kind).
    says_which = bool(cues.wants or cues.head)
    if only_when_asked and not (cues.asks and says_which):
        return ""
    tokens = morphemes(sentence)
    if cues.wants == "path" and (path := _path_span(sentence, tokens)):
        return path
    matched = [i for i, t in enumerate(tokens) if t.form.lower() in cues.words]

    def glued(i: int, j: int) -> bool:  # tokens i and j are written without a space between
        return tokens[i].start + tokens[i].len == tokens[j].start

    best: tuple[float, int, int] | None = None
    for a, b in _candidates(tokens):
        forms = [t.form.lower() for t in tokens[a : b + 1]]
        inside = sum(1 for f in forms if f in cues.words)
        if inside == len(forms) or (forms[0] in cues.words and len(forms) > 1 and forms[-1] != cues.head):
            continue
        if a > 0 and (_nounish(tokens[a - 1]) or _unit_of_number(tokens, a - 1)) and glued(a - 1, a):
            continue  # would cut a word at its start
        if b + 1 < len(tokens) and _nounish(tokens[b + 1]) and glued(b, b + 1) and not _unit_of_number(tokens, b):
            continue  # or at its end (not after "50%", where Kiwi reads a glued particle as a noun)
        score = sum(1.0 / (1 + (a - m if m < a else m - b)) for m in matched if not a <= m <= b)
        score -= QUESTION_WORD_PENALTY * inside
        score += LENGTH_TIEBREAK * (b - a)
        following = [t.form for t in tokens[b + 1 : b + 3]]
        if cues.after and following and following[0] == cues.after[0]:
            score += CONTEXT_BONUS
            if len(cues.after) > 1 and len(following) > 1 and following[1] == cues.after[1]:
                score += CONTEXT_BONUS / 2
        text = sentence[tokens[a].start : tokens[b].start + tokens[b].len]
        if len(text) < MIN_SPAN_CHARS and not text.isdigit():
            continue  # one syllable ("뒤") marks nothing a reader can use; one digit may
        has_number = any(t.tag in ("SN", "W_SERIAL") for t in tokens[a : b + 1])
        if cues.wants == "time" and not has_number:  # "다음 날": a time without a digit
            has_number = has_answer_type(text, "time")
        if cues.wants in ("number", "money", "time"):
            score += TYPE_BONUS if has_number else -TYPE_BONUS
        elif cues.wants.startswith("W_"):  # by the surface, as has_answer_type: Kiwi tags "9:00" W_SERIAL too
            score += TYPE_BONUS if has_answer_type(text, cues.wants) else 0.0
        elif cues.wants == "person" and any(t.tag == "NNP" or t.form[:1].isupper() for t in tokens[a : b + 1]):
            score += TYPE_BONUS / 2
        if cues.bound and has_number and _bound_of(tokens, a, b) == cues.bound:
            score += CONTEXT_BONUS
        if cues.head and len(forms) > 1 and forms[-1] == cues.head:
            score += HEAD_BONUS
        j = b + 1
        while j < len(tokens) and tokens[j].tag.startswith(_PARTICLES):
            j += 1
        if cues.head and b + 1 < j < len(tokens) and tokens[j].form.lower() == cues.head:
            score += HEAD_BONUS
        if best is None or score > best[0]:
            best = (score, a, b)
    if best is None:
        return ""
    _, a, b = best
    if cues.wants in ("number", "money", "time"):
        b = _range_end(tokens, b)
    return _slice(sentence, tokens, a, b)


def _range_end(tokens: list, b: int) -> int:
    """Where a range "A부터 B" ends when the chosen run (ending at token ``b``) is its A: the last
    token of the noun run after 부터 when that run holds a number, else ``b``. "오전 9시부터 오후
    6시까지" had marked "오전 9시"; the run limit (``MAX_SPAN_MORPHEMES``) applies to B alone."""
    if b + 2 >= len(tokens) or tokens[b + 1].form != "부터" or not tokens[b + 1].tag.startswith("J"):
        return b
    end = b + 2
    while end + 1 < len(tokens) and end + 1 - (b + 2) < MAX_SPAN_MORPHEMES and _nounish(tokens[end + 1]):
        end += 1
    run = tokens[b + 2 : end + 1]
    if not _nounish(tokens[b + 2]) or not any(t.tag in ("SN", "W_SERIAL") for t in run):
        return b
    return end


def span_position(answer: str, span: str, start: int | None = None) -> int | None:
    """Where ``span`` stands in ``answer``, in characters (Python string indices).

    ``start`` is the occurrence the answerer meant (``GeneratedAnswer.span_start``,
    stored as ``Question.answer_span_start``); when it is None or the span does not
    stand there, the span's first occurrence. None when there is no span or it is not
    in the answer. The customer page and the API's ``answer_span_start`` both use it,
    so the page, the widget and API clients mark the same characters.
    """
    if not span:
        return None
    if start is not None and answer[start : start + len(span)] == span:
        return start
    at = answer.find(span)
    return at if at >= 0 else None


def _slice(sentence: str, tokens: list, a: int, b: int) -> str:
    """The text of ``sentence`` from token ``a`` to token ``b``, without trailing punctuation:
    Kiwi keeps a full stop on a sentence's last English word ("days.")."""
    end = tokens[b].start + tokens[b].len
    while (
        end > tokens[a].start
        and unicodedata.category(sentence[end - 1]).startswith("P")
        and not _unit_of_number(tokens, b)  # "50%": % is punctuation to Unicode
    ):
        end -= 1
    return sentence[tokens[a].start : end]


PATH_EDGE_WORDS = 3  # words taken before a menu path's first ">" and after its last


def _path_span(sentence: str, tokens: list) -> str:
    """The first menu path in ``sentence`` ("My page > Orders > Receipt"), ``""`` if none:
    the steps between the ">" signs, and up to ``PATH_EDGE_WORDS`` noun-like or capitalised
    words (tokens written together count as one) before the first sign and after the last,
    an English first step starting with a capital ("open *My page*"). Markdown's bold
    marks the steps in an article, but sentences are plain text, so the edges are a guess:
    "… > Receipt right after payment" gives "… > Receipt right"."""
    signs = [i for i, t in enumerate(tokens) if t.form in _PATH_SIGNS]
    if not signs:
        return ""

    def step_word(t) -> bool:  # a capital keeps "My" of "My page", which is a function word
        return _nounish(t) or (t.tag == "SL" and t.form[:1].isupper())

    first = last = signs[0]
    for i in signs[1:]:  # the signs of one path have only step words between them
        if all(step_word(t) for t in tokens[last + 1 : i]):
            last = i
        else:
            break

    def edge(i: int, step: int) -> int:  # the furthest token of up to PATH_EDGE_WORDS words from sign i
        words, j, end = 0, i + step, i
        while 0 <= j < len(tokens) and step_word(tokens[j]):
            before, after = tokens[min(j, j - step)], tokens[max(j, j - step)]  # j and the token visited before it
            if j - step == i or before.start + before.len != after.start:
                words += 1  # a new word, not written together with the one before
                if words > PATH_EDGE_WORDS:
                    break
            end, j = j, j + step
        return end

    a, b = edge(first, -1), edge(last, 1)
    while a < first - 1 and tokens[a].tag == "SL" and not tokens[a].form[:1].isupper():
        a += 1  # an English first step starts with a capital: "open *My page*"
    if a == first or b == last or not (tokens[first - 1].form.isalpha() and tokens[last + 1].form[:1].isalpha()):
        return ""  # no step on a side, or a comparison ("x > 3")
    return _slice(sentence, tokens, a, b)


def _nounish(token) -> bool:
    return token.tag.startswith(_NOUNISH) and not (token.tag == "SL" and token.form.lower() in _ENGLISH_FUNCTION_WORDS)


# Unit signs written after a number, which Kiwi tags SW: "50%" is two tokens, and a span that
# stopped at the number marked "최대 50" for "최대 50%" (thirty-fourth session).
_UNIT_SIGNS = frozenset(["%", "‰", "℃", "°"])


def _unit_of_number(tokens: list, i: int) -> bool:
    """Token ``i`` is a unit sign (:data:`_UNIT_SIGNS`) written right after a number."""
    t = tokens[i]
    if t.form not in _UNIT_SIGNS or i == 0:
        return False
    before = tokens[i - 1]
    return before.tag == "SN" and before.start + before.len == t.start


def _candidates(tokens: list) -> list[tuple[int, int]]:
    """``(first, last)`` token indices of noun-like runs of 1..``MAX_SPAN_MORPHEMES`` morphemes.

    ``의`` joins two nouns into one run; a symbol glued to a number (``₩4,000``, ``2–3``,
    ``9:00~18:00``) too, and a unit sign written after one (``50%``).
    """
    runs: list[list[int]] = []
    run: list[int] = []
    for i, t in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        genitive_inside = t.tag == "JKG" and run and after is not None and _nounish(after)
        symbol_of_number = (
            t.tag in ("SW", "SO")
            and after is not None
            and after.tag in ("SN", "W_SERIAL")  # Kiwi tags a clock time "18:00" W_SERIAL
            and t.start + t.len == after.start
        )
        if _unit_of_number(tokens, i) and run:
            # the sign ends the run: Kiwi reads the particle glued after it as a word ("3%를" as
            # 3 + % + 르 + ᆯ, "3%의" with 의 a noun)
            runs.append([*run, i])
            run = []
        elif _nounish(t) or genitive_inside or symbol_of_number:
            run.append(i)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    spans = []
    for r in runs:
        for x in range(len(r)):
            for y in range(x, min(len(r), x + MAX_SPAN_MORPHEMES)):
                first, last = tokens[r[x]], tokens[r[y]]
                if first.tag.startswith(("NNB", "XSN", "JKG")) or (
                    last.tag in ("JKG", "SW", "SO") and not _unit_of_number(tokens, r[y])
                ):
                    continue
                if any(t.tag.startswith(_CONTENT) for t in tokens[r[x] : r[y] + 1]):
                    spans.append((r[x], r[y]))
    return spans
