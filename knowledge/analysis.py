"""Lexical analysis for keyword search: Korean morphemes via Kiwi, English through the same path.

Both indexing and querying call :func:`analyse`, so a chunk and a question are cut into
the same units. The output is a list of lowercase terms made only of letters and digits,
which PostgreSQL's ``simple`` text-search parser keeps as they are. English words (Kiwi's
``SL`` tokens) are reduced to their Snowball (Porter 2) stems with PyStemmer, as Kiwi
reduces Korean verbs to their stems: "cancel", "cancelling" and "cancellation" meet.
"""

import functools
import re
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi, Token

# Kiwi (Sejong) tags kept as search terms: common/proper/bound nouns, numerals,
# verb and adjective stems, roots, foreign words, Chinese characters, numbers.
# Particles, endings and punctuation carry no topic and are dropped.
KEPT_TAG_PREFIXES = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "W_")
# Dropped from questions only (chunks keep them): pronouns/interrogatives (NP: 어디, 무엇,
# 누구), light verbs that every "how do I…" question carries, and English function words.
# In a large collection BM25's idf already mutes them; in a help centre of a dozen
# articles it can't, and they made clear questions look uncovered. English auxiliaries
# (am, been, have, had), "get" and "much"/"many" of "how much"/"how many" joined later:
# absent from every article, they carried the highest idf ("How much is Nabi Plus?" was
# half uncovered); cross-validated gate, held-out answered right Nabi Market 36.6 → 37.4 %,
# Gureum Bike 40.2 → 41.0 %, KorQuAD unchanged (README, lever table). The interrogatives
# that Kiwi tags as nouns or an adjective (며칠, 얼마, 어떻- of 어떻게) and English "how
# long/often/soon" followed: cross-validated, held-out answered right Nabi Market 38.6 →
# 39.2 %, Gureum Bike 43.5 → 45.3 %, KorQuAD 83.7 → 83.9 %, unanswerable Nabi Market
# questions escalated 89.6 → 90.7 % (fifth session, README). The cost: a question using
# one of them as content ("long sleeves") no longer matches on it; the embedding still does.
# English conjunctions, prepositions and determiners that no topic rests on (if, while, as,
# at, by, that, those, any, some …; sixth session): cross-validated, held-out answered right
# Nabi Market 41.6 → 42.3 %, Gureum Bike 47.1 % both, KorQuAD unchanged (Korean questions).
# Not "us" ("ship to the US"). A published English stop list (stop-words, 1,333 words) was
# not usable: it holds "order", "points", "plus", "free" and "member", this domain's topics.
# Their Korean counterparts (seventh session): the bound nouns 수 and 거/것 and the noun 가능
# of "할 수 있나요 / 가능해요" ("can"), 안 of "며칠 안에" ("within"), 알리- of "알려주세요"
# ("please tell me"), 걸리- of "얼마나 걸려요" ("take", of how long) and the interrogative 몇.
# "반품은 며칠 안에 해야 돼요?" had matched the cancellation article on 안 and escalated.
# Cross-validated, held-out answered right Nabi Market 42.3 → 43.7 %, Gureum Bike 47.1 →
# 47.8 %, KorQuAD 86.0 → 86.2 %; unanswerable Nabi Market questions escalated 90.7 → 92.0 %.
QUERY_DROPPED_TAGS = ("NP",)
# The Korean ones of the seventh session, kept apart: the answer-span finder still anchors
# on them (support.answering.span), as "2~3일" stands next to "걸립니다".
QUESTION_FRAME_WORDS = frozenset(["수", "거", "것", "가능", "안", "알리", "걸리", "몇"])
QUERY_STOPWORDS = QUESTION_FRAME_WORDS | frozenset(
    [
        "하",
        "되",
        "며칠",
        "얼마",
        "어떻",
        "있",
        "없",
        "이",
        "그",
        "저",
        "a",
        "about",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "get",
        "gets",
        "got",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "just",
        "long",
        "many",
        "me",
        "much",
        "my",
        "of",
        "often",
        "on",
        "or",
        "our",
        "please",
        "should",
        "so",
        "some",
        "soon",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
# Everyday Korean abbreviations and spelling variants a customer types for the word a help
# article writes: a noun Kiwi reads as one of these becomes that word's search terms, at
# indexing and in questions alike, so "비번 까먹었어요" shares 비밀번호 with the password
# article (equivalence classing of terms: Manning, Raghavan & Schütze 2008, *Introduction
# to Information Retrieval*, §2.2.3). Only forms with one meaning (not 폰, a phone in a support
# question but the pawn in KorQuAD's chess article; not 결재 "approval" for 결제; nor
# synonyms such as 적립금/포인트 that a help centre may tell apart). Mapped after Kiwi's own
# segmentation: as a Kiwi user word, "비번" was read in "비번 까먹었어요" but not in
# "비번이 뭐였지", and a higher weight cut "이메일로" into 이 + 메일.
KOREAN_VARIANTS: dict[str, tuple[str, ...]] = {
    "비번": ("비밀번호",),
    "카톡": ("카카오톡",),
    "핸드폰": ("휴대폰",),
    "멤버쉽": ("멤버십",),
    "어플": ("앱",),
    "애플리케이션": ("앱",),
    "어플리케이션": ("앱",),
    "무배": ("무료", "배송"),
}
_NON_TERM = re.compile(r"[^\w]+|_")
_LATIN_WORD = re.compile(r"[a-z]+")
_CASE_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_lock = threading.Lock()
# Part of every article's content hash (knowledge.services): a change here re-indexes.
ANALYSIS_VERSION = "4"  # 2: English stems, sentence-final English words whole; 3: KOREAN_VARIANTS; 4: case parts


@functools.cache
def _kiwi() -> "Kiwi":
    from kiwipiepy import Kiwi

    return Kiwi()


_stemmers = threading.local()  # a PyStemmer Stemmer is not safe to share between threads


def _stem(word: str) -> str:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return str(stemmer.stemWord(word))


def analyse(text: str, *, query: bool = False) -> list[str]:
    """Return the search terms of ``text`` in order, duplicates kept (term frequency counts).

    Korean text is split into morphemes by Kiwi; verb/adjective stems are returned
    without their endings (``받았다`` -> ``받``), so inflected forms match; English words
    are stemmed (``cancelling`` -> ``cancel``). ``query=True`` (questions) also drops
    ``QUERY_DROPPED_TAGS`` and ``QUERY_STOPWORDS`` (matched before stemming).
    """
    return [term for _, term in analysed_words(text, query=query)]


def analysed_words(text: str, *, query: bool = False) -> list[tuple[str, str]]:
    """``(word, term)`` for each search term of :func:`analyse`, in the same order: ``word`` is
    the lowercase piece the term came from before stemming (``cancelling`` for ``cancel``;
    a Korean morpheme is its own word). For text that is embedded as well as searched
    (a follow-up's carried context), where stems such as ``delet`` would mean nothing to
    the embedding model."""
    if not text.strip():
        return []
    with _lock:  # one Kiwi instance per process; keep calls serial across threads
        tokens = _kiwi().tokenize(text)
    # Kiwi cuts some English words that end a sentence ("Icheon." -> "I" + "cheon."):
    # adjacent Latin pieces with nothing between them are one word again.
    words: list[tuple[str, str]] = []
    end = -1
    for token in tokens:
        if token.tag == "SL" and words and words[-1][1] == "SL" and token.start == end:
            words[-1] = (words[-1][0] + token.form, "SL")
        else:
            words.append((token.form, token.tag))
        end = token.start + token.len
    pairs: list[tuple[str, str]] = []
    for form, tag in _standard_words(words):
        if not tag.startswith(KEPT_TAG_PREFIXES) or (query and tag.startswith(QUERY_DROPPED_TAGS)):
            continue
        for raw in _NON_TERM.split(form):
            for piece in case_parts(raw) if tag == "SL" else (raw.lower(),):
                if piece and not (query and piece in QUERY_STOPWORDS):
                    pairs.append((piece, _stem(piece) if tag == "SL" and _LATIN_WORD.fullmatch(piece) else piece))
    return pairs


def case_parts(word: str) -> tuple[str, ...]:
    """A Latin ``word`` lowercased, followed by its parts when it joins words by a change of
    case ("KakaoPay" → ``kakaopay``, ``kakao``, ``pay``): a brand written as one word in an
    article ("**KakaoPay**") and as two in a question ("can i pay with kakao pay") then share
    terms, and the whole word still matches a customer who writes "kakaopay". The word
    delimiter of search engines with its original kept (Lucene's WordDelimiterGraphFilter,
    ``preserveOriginal``)."""
    parts = _CASE_PART.findall(word)
    whole = word.lower()
    return (whole, *(part.lower() for part in parts)) if len(parts) > 1 and "".join(parts) == word else (whole,)


def _variant(form: str, tag: str) -> tuple[str, ...]:
    """The words a noun of ``KOREAN_VARIANTS`` stands for; ``()`` for any other morpheme."""
    return KOREAN_VARIANTS.get(form, ()) if tag.startswith("NN") else ()


def _standard_words(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``words`` with each noun of ``KOREAN_VARIANTS`` replaced by the words it stands for."""
    out: list[tuple[str, str]] = []
    for form, tag in words:
        standard = _variant(form, tag)
        if standard:
            out.extend((word, "NNG") for word in standard)
        else:
            out.append((form, tag))
    return out


def standard_text(text: str) -> str:
    """``text`` with each noun of ``KOREAN_VARIANTS`` written as the words it stands for
    ("비번 까먹었어요" → "비밀번호 까먹었어요"): what a question is embedded as, so the dense
    side reads the article's word as the lexical side does. ``text`` itself when it has none.
    """
    if not any(form in text for form in KOREAN_VARIANTS):
        return text
    out = text
    for token in reversed(morphemes(text)):
        standard = _variant(token.form, token.tag)
        end = token.start + token.len
        if standard and text[token.start : end] == token.form:
            out = out[: token.start] + " ".join(standard) + out[end:]
    return out


def morphemes(text: str) -> list["Token"]:
    """Kiwi's tokens of ``text`` (``form``, ``tag``, ``start``, ``len`` in characters), serially.

    For callers that need positions or tags (the answer span); search terms come from
    :func:`analyse`.
    """
    if not text.strip():
        return []
    with _lock:
        return list(_kiwi().tokenize(text))


def other_language(question_language: str, article_language: str) -> bool:
    """Whether an article is in another language than the question (False when either is
    unknown, ""). The one rule behind the cross-language offset in dense retrieval,
    sentence re-ranking and extractive answers, and the ``cross_language`` feature."""
    return bool(question_language and article_language and question_language != article_language)


def detect_language(text: str) -> str:
    """``"ko"`` when Hangul syllables make up at least a third of the letters, else ``"en"``."""
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    letters = sum(1 for ch in text if ch.isalpha())
    return "ko" if hangul and hangul * 3 >= letters else "en"
