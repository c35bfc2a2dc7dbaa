"""Offline answerer: the sentences of the retrieved chunks that best answer the question.

Each sentence of the top sources is scored by the idf-weighted share of the question's
terms it contains (the same BM25 idf the lexical retriever uses) and, when the chunk's
sentence embeddings were indexed, by the cosine between the question and the sentence
(min-max scaled over the candidate sentences), mixed with weight
``EXTRACTIVE_SENTENCE_DENSE_WEIGHT``; minus ``RANK_BONUS`` per rank step of its source.
Only chunks of the first source's article compete (``OTHER_ARTICLE_PENALTY``): the
confidence gate judged that article, and a lower-ranked article in the question's language
that merely shares a word ("password") had been cited instead of the right article in the
other language, at 0.997 confidence.
Meaning finds "Dawn delivery costs ₩4,000" for "how much is dawn delivery", and a
sentence in another language than the question, where shared words can't.

The best sentence is returned with the next best-scoring sentences of its chunk, up to
``EXTRACTIVE_ANSWER_SENTENCES``, in the article's order (``EXTRACTIVE_EXCERPT`` "best",
:func:`best_sentences`; until 5 December 2026 its better-scoring neighbours, grown one
sentence at a time: "window"), cited by source number, with the
shortest phrase of the best sentence that answers marked as its span
(``support.answering.span``). No text is generated, so nothing is invented; the page
labels such answers as excerpts. Choices measured with ``manage.py evaluate`` (README): the pair
raised "answer contains the gold text" on KorQuAD from 84 % (one sentence) to 91 %; a
0.1 rank penalty cited the right chunk more often than 0.05 or 0.3; the sentence
cosine raised "answer contains the fact" on the two help-centre question sets from 72
and 53 % to 76 and 69 % (weight 0.5); three sentences instead of two turned 5 answers on the
Nabi Market set that cited the right article without the fact into right ones (Gureum Bike
unchanged) and raised KorQuAD's contains-gold from 91.6 to 94.1 %; four instead of three
(thirtieth session) answered wrongly 59 → 41 of KorQuAD's 1,483 questions (contains-gold 96.2 →
97.5 %), 47 → 31 on the 21 Nabi Market files read, 7 → 5 on Gureum Bike, the span unchanged.

A sentence holding the kind of token the question asks for (a number for "how much" /
"얼마", a phone number for "전화번호": ``span.expected_answer_type``, the answer-type cue of
factoid QA, cf. FALCON) gains ``EXTRACTIVE_ANSWER_TYPE_BONUS``: the table row "Price:
₩4,900 per month" over "Nabi Plus is our paid membership." Nabi Market answered right
47.6 → 48.8 % (0.1, 0.2 and 0.3 alike), Gureum Bike unchanged (span F1 30.2 → 32.9 %),
KorQuAD contains-gold 94.4 → 94.5 %, span EM/F1 29.1/43.6 → 29.2/43.8 %. A question about a
price (얼마, "how much", 요금, 배송비, fee …) wants an amount of money, not any digit
(seventh session): "배송비 얼마예요?" had quoted the delivery times above the fees. Answered
right Nabi Market 92 → 93, Gureum Bike 38 → 39 questions, KorQuAD unchanged; cross-validated
held out Nabi 43.7 → 44.2 %, Gureum 47.8 → 50.3 %. A "when" question wants a time, which may
be a word ("구매 확정을 한 다음 날", "immediately"), and "how far / fast / old" a number:
Nabi Market 93 → 94 in-sample ("포인트 언제 들어와요?"), held out and KorQuAD unchanged.
A "where" question (어디 / where) wants a menu path, "My page > Orders > Receipt" (tenth
session): "카드 영수증 어디서 뽑아요" and "플러스 해지는 어디서 해요" had quoted the right article
without the path. Nabi Market 101 → 103 in-sample, Gureum Bike and KorQuAD unchanged;
held out (three fold seeds) Nabi 47.5 / 58.2 / 48.5 → 48.5 / 59.0 / 49.2 %.

A "how do I …" question whose excerpt touches a numbered list gets the whole list
(:func:`procedure_excerpt`): "How do I reset my password?" had quoted step 3's second half
and step 4. Neutral on both help-centre sets (it changed 9 answers, none from right to wrong
or back: their facts were quoted either way) and on KorQuAD (no numbered lists). Since the
sixteenth session also when any sentence of the excerpt is a step, not only its best one, and
for a customer who says they forgot or lost something: Gureum Bike 43 → 44 of 90, second
held-out set 36 → 38 of 48, the rest unchanged (README, "Sixteenth session").

Headings take no place in the excerpt (:func:`excerpt_sentences`): Nabi Market answered
right 48.8 → 50.0 %, Gureum Bike 35.6 → 37.8 %, span F1 42.5 → 46.4 % and 32.0 → 34.6 %.

A best sentence that is an item of a bulleted list or a table row brings the rest of its
list (:func:`list_excerpt`, ``EXTRACTIVE_LIST_EXCERPT``, eighth session): the items of a
help article's list answer one question together, and "How long does shipping take?" had
quoted the island and international items (they hold "shipping" and "takes") without the
standard one. Nabi Market answered right 96 → 97 of 168 (none lost), Gureum Bike 41 both,
KorQuAD identical (no lists); the 35 help-centre answers it changes grow from 232 to 411
characters on average.

A quoted sentence brings what it leans on (twenty-first session): the sentences before it in
its bulleted item or numbered step, or the sentence before it when it opens with a connective
("다만", "However": :func:`with_antecedents`), and the rest of an item of two to four sentences
(:func:`with_whole_items`); the excerpt keeps the article's lines (:func:`excerpt_join`). Quoted
alone, "평일 9:00~21:00에 상담원이 답변하며 …" read as the whole customer service's hours, not the
chat's. Both only add sentences (README, lever table).

A quoted later sentence of a short paragraph brings the paragraph's first sentence, its rule
(thirty-third session, ``EXTRACTIVE_PARAGRAPH_LEAD``, :func:`knowledge.chunking.paragraph_leads`):
"will it cost me anything?" had quoted "For further exchanges … ₩6,000 is deducted" without "Your
first exchange on each order is free." Only adds sentences (README, lever table).
"""

import functools
import re
from collections import Counter
from collections.abc import Mapping
from typing import Unpack

import numpy as np
from django.conf import settings

from knowledge.analysis import analyse, other_language
from knowledge.chunking import (
    STEP_NUMBER,
    heading_sentences,
    item_sentences,
    list_groups,
    paragraph_leads,
    plain_sentences,
    sentence_antecedents,
    sentence_lines,
)
from support.answering.base import AnswerRequest, AnswerStream, GeneratedAnswer, SourceExcerpt, whole_answer_stream
from support.answering.span import (
    answer_span,
    answer_type_in,
    expected_answer_type,
    has_answer_type,
    states_a_time,
)

RANK_BONUS = 0.1  # per rank step; keeps near-ties with the best-retrieved source
OTHER_ARTICLE_PENALTY = 1.0  # sentence scores are in [0, 1]: another article's sentence never wins


@functools.lru_cache(maxsize=50_000)
def _terms(sentence: str) -> frozenset[str]:
    # Popular chunks come back question after question; analyse each sentence once.
    return frozenset(analyse(sentence))


class ExtractiveAnswerer:
    name = "extractive"
    calls_model = False  # a local excerpt: cheap, so computed below the threshold too (staff draft, calibration)

    def answer_stream(self, **request: Unpack[AnswerRequest]) -> AnswerStream:
        """The whole excerpt as one piece: nothing is generated word by word."""
        return whole_answer_stream(self.answer(**request))

    def answer(self, **request: Unpack[AnswerRequest]) -> GeneratedAnswer:
        question, sources, term_weights = request["question"], request["sources"], request["term_weights"]
        language, query_vector = request["language"], request.get("query_vector")
        terms = set(analyse(question, query=True))
        weights = {t: term_weights.get(t, 1.0) for t in terms}
        total = sum(weights.values()) or 1.0
        scored: list[tuple[list[str], list[float]]] = []
        sections_of: list[list[frozenset[str]]] = []  # each source's sentences' heading terms
        heading_weight = settings.EXTRACTIVE_HEADING_WEIGHT
        for source in sources:
            sentences = list(source.sentences) or plain_sentences(source.text)
            translated = source.heading_translations if other_language(language, source.language) else {}
            sections = section_terms(sentences, heading_sentences(source.text), translated)
            sections_of.append(sections)
            scores = []
            for sentence, section in zip(sentences, sections, strict=True):
                own = _terms(sentence) & terms
                from_heading = (section & terms) - own
                scores.append(
                    (sum(weights[t] for t in own) + heading_weight * sum(weights[t] for t in from_heading)) / total
                )
            scored.append((sentences, scores))
        _mix_dense(
            scored, sources, query_vector, settings.EXTRACTIVE_SENTENCE_DENSE_WEIGHT, language,
            request.get("language_centroid"),
        )  # fmt: skip
        bonus = settings.EXTRACTIVE_ANSWER_TYPE_BONUS
        wants = answer_type_in(expected_answer_type(question), (x for sentences, _ in scored for x in sentences))
        if wants and bonus:
            for sentences, scores in scored:
                scores[:] = [v + bonus * has_answer_type(x, wants) for x, v in zip(sentences, scores, strict=True)]
        best: tuple[float, int, int] | None = None  # (score, source index, sentence index)
        top_article = sources[0].article_id if sources else 0
        for s_index, (_, scores) in enumerate(scored):
            other = bool(top_article) and sources[s_index].article_id != top_article
            penalty = OTHER_ARTICLE_PENALTY if other else RANK_BONUS * s_index
            for i, score in enumerate(scores):
                if best is None or score - penalty > best[0]:
                    best = (score - penalty, s_index, i)
        if best is None:
            return GeneratedAnswer(text="", cited=[], answerable=False, kind="extractive")
        _, s_index, i = best
        sentences, scores = scored[s_index]
        picked, i = excerpt_sentences(sentences, scores, i, heading_sentences(sources[s_index].text))
        chosen = len(picked)
        groups = list_groups(sources[s_index].text)
        if settings.EXTRACTIVE_LIST_EXCERPT:
            picked = list_excerpt(sentences, picked, i, groups)
        introduced = _introduced(sentences, i)
        leads_to_steps = introduced is not None and bool(STEP_NUMBER.match(introduced))
        if settings.EXTRACTIVE_PROCEDURE_STEPS and (asks_how(question) or leads_to_steps):
            picked = procedure_excerpt(sentences, i, picked) or picked
        at = i  # the sentence the span is marked in
        if settings.EXTRACTIVE_SECTION_SPAN:
            at = section_answer_sentence(sentences, sections_of[s_index], i, terms, wants, picked)
        # A lead-in quoted with its list holds no answer itself: a span there marked "following"
        # (the list brought by list_excerpt or procedure_excerpt, or numbered steps already picked)
        span = (
            ""
            if introduced is not None and (len(picked) > chosen or (leads_to_steps and introduced in picked))
            else answer_span(question, sentences[at], settings.ANSWER_SPAN_ONLY_WHEN_ASKED)
        )
        picked = with_known_answer(sentences, picked, request.get("known_answer", ""))
        if settings.EXTRACTIVE_ANTECEDENTS:
            picked = with_antecedents(sentences, picked, sentence_antecedents(sources[s_index].text))
        if settings.EXTRACTIVE_PARAGRAPH_LEAD > 1:
            leads = paragraph_leads(sources[s_index].text, settings.EXTRACTIVE_PARAGRAPH_LEAD)
            picked = with_antecedents(sentences, picked, leads)
        if settings.EXTRACTIVE_WHOLE_ITEMS:
            picked = with_whole_items(sentences, picked, item_sentences(sources[s_index].text))
        return GeneratedAnswer(
            text=excerpt_join(picked, groups, sentence_lines(sources[s_index].text)), cited=[sources[s_index].number],
            answerable=True, kind="extractive", span=span, span_start=span_offset(picked, sentences[at], span),
        )  # fmt: skip


def with_known_answer(sentences: list[str], picked: list[str], known: str) -> list[str]:
    """``picked`` (an excerpt of ``sentences``, in their order) with the sentence support taught
    answers the question's wording (``known``, :func:`support.services.known_answer`; compared
    with white space folded) added in its place, when the chunk holds it; else ``picked``.
    Its lead-in and the rest of its item follow (:func:`with_antecedents`, :func:`with_whole_items`).

    Added, not put first: the excerpt's own best sentence stays its answer (and span). On the
    third to sixth held-out sets, 9 of the 14 answers that cited the right article without the
    fact had a line at 0.91–0.96 whose answer held it, while many right answers' nearest lines
    (0.90–0.95, "불량품 반품하면 배송비 내야 돼요?" for a question about the fee for a change of
    mind) had another sentence as their answer: taking one of the three places would have lost
    theirs (README, twenty-sixth session)."""
    wanted = " ".join(known.split())
    if not wanted:
        return picked
    found = next((s for s in sentences if " ".join(s.split()) == wanted), None)
    if found is None or found in picked:
        return picked
    return _in_order(sentences, Counter(picked) + Counter([found]))


def with_antecedents(sentences: list[str], picked: list[str], antecedents: Mapping[str, str]) -> list[str]:
    """``picked`` (an excerpt of ``sentences``, in their order) with the sentence that each picked
    one depends on (``antecedents``: :func:`knowledge.chunking.sentence_antecedents`, or
    :func:`knowledge.chunking.paragraph_leads` for a short paragraph's first sentence), followed
    back as far as it goes, in document order; ``picked`` itself when none is missing. Every
    sentence of ``picked`` stays, as often as it stood there.

    "상담 몇시까지 해요?" quoted "평일 9:00~21:00에 상담원이 답변하며 …" without the item's
    "카카오톡 상담:" before it, so the excerpt told the customer that agents answer until
    21:00, which is the chat's hours only; and "다만 상품에 문제가 있다면 …" stood after the
    refund timing, its "however" referring to nothing (twenty-first session). Only adds
    sentences: what was quoted stays, and the span with it."""
    wanted = Counter(picked)
    for sentence in picked:
        while sentence in antecedents and antecedents[sentence] not in wanted:
            sentence = antecedents[sentence]
            wanted[sentence] = 1
    return picked if len(wanted) == len(set(picked)) else _in_order(sentences, wanted)


def with_whole_items(sentences: list[str], picked: list[str], items: Mapping[str, tuple[str, ...]]) -> list[str]:
    """``picked`` (an excerpt of ``sentences``, in their order) with the rest of each bulleted
    item one of its sentences is from (``items``: :func:`knowledge.chunking.item_sentences`), in
    document order; ``picked`` itself when nothing is missing. Every sentence of ``picked``
    stays, as often as it stood there.

    "카톡 상담은 밤 몇시까지 돼?" quoted the item "카카오톡 상담: … 상담을 시작하세요." without
    its next sentence, "평일 9:00~21:00에 상담원이 답변하며 …", the hours asked for (twenty-first
    session: answered right Nabi Market 105 → 106, fourth held-out set 44 → 45; 10 answers shown
    to customers grew, 237 → 333 characters on average over the 51 changed; KorQuAD has no
    bulleted items)."""
    wanted = Counter(picked)
    for sentence in picked:
        for other in items.get(sentence, ()):
            wanted[other] = max(wanted[other], 1)
    return picked if len(wanted) == len(set(picked)) else _in_order(sentences, wanted)


def _in_order(sentences: list[str], wanted: Counter[str]) -> list[str]:
    """The sentences of ``wanted`` in the order of ``sentences``, each as often as counted."""
    left = Counter(wanted)
    ordered = []
    for sentence in sentences:
        if left[sentence] > 0:
            left[sentence] -= 1
            ordered.append(sentence)
    return ordered


def excerpt_join(picked: list[str], groups: tuple[tuple[str, ...], ...], lines: Mapping[str, int] | None = None) -> str:
    """The excerpt's text: ``picked`` joined as the article has them, a sentence after one of the
    same line (``lines``: :func:`knowledge.chunking.sentence_lines`; a paragraph, a bulleted
    item, a numbered step) by one space and after one of another line by a line break: "전화:
    …" and "카카오톡 상담: …", or a table's rows, no longer run together on the page, and two
    sentences of one item or step stay on its line. For a sentence of no known line, a line
    break next to an item of a list or a table row (``groups``,
    :func:`knowledge.chunking.list_groups`) and around a numbered step, else a space. Either
    separator is one character: :func:`span_offset` counts the same."""
    listed = {sentence for group in groups for sentence in group}
    lines = lines or {}
    parts = picked[:1]
    for before, sentence in zip(picked, picked[1:], strict=False):
        if before in lines and sentence in lines:
            apart = lines[before] != lines[sentence]
        else:
            apart = (
                before in listed or sentence in listed or bool(STEP_NUMBER.match(sentence) or STEP_NUMBER.match(before))
            )
        parts.append(("\n" if apart else " ") + sentence)
    return "".join(parts)


def span_offset(picked: list[str], sentence: str, span: str) -> int | None:
    """Offset in characters of ``span`` inside ``sentence`` within the excerpt
    (:func:`excerpt_join` of ``picked``: one separator character between sentences); None when
    there is no span or the sentence is not in the excerpt.

    The span was found in ``sentence`` (the best one), but the same words may stand earlier in
    the excerpt: "₩15,000" is the international fee in its sentence and the free dawn-delivery
    threshold a sentence before, and the page marked the first."""
    if not span or sentence not in picked or span not in sentence:
        return None
    k = picked.index(sentence)
    return sum(len(p) + 1 for p in picked[:k]) + sentence.index(span)


def section_answer_sentence(
    sentences: list[str],
    sections: list[frozenset[str]],
    best: int,
    terms: set[str],
    wants: str,
    picked: list[str],
) -> int:
    """Index of the sentence of ``sentences`` whose span answers a question that asks about a
    whole section: ``best`` (the best-scoring sentence's index) unless the question asks for a
    number, an amount or a time (``wants``, :func:`~support.answering.span.expected_answer_type`)
    and all its search terms (``terms``) are in the heading of ``best``'s section (``sections``:
    :func:`section_terms`, the title's translation for the first section across languages);
    then the section's first quoted sentence (in ``picked``) that holds such a token, if one
    stands before ``best``.

    A help article states the general case first and the exceptions after it ("Standard delivery
    costs ₩3,000 …", then the islands and international shipping), and its section heading names
    the topic ("## Shipping fees"). A question made only of the heading's words asks for the
    general case, but the best-scoring sentence is the one that repeats a word of the question
    ("International shipping is ₩15,000"), so "How much is shipping?" and "배송비 얼마예요?"
    marked ₩15,000, and "What are your customer service hours?" the lunch break. A question that
    names the exception ("international") has a word the heading lacks and keeps ``best``. The
    excerpt is unchanged; only the highlighted span moves (thirty-second session, README: on the
    answers from the right article with the fact over the twenty-five Nabi Market files read, 14
    highlights moved onto the fact and 2 off it, on 516 → 528, off 306 → 294; Gureum Bike,
    KorQuAD and the two unread sets unchanged). A time must carry a unit
    (:func:`~support.answering.span.states_a_time`): "결제 금액의 1%" is no answer to "when do I
    get my points"."""
    if wants not in ("number", "money", "time") or not terms or not terms <= sections[best]:
        return best
    start = best
    while start > 0 and sections[start - 1] == sections[best]:
        start -= 1
    holds = states_a_time if wants == "time" else lambda s: has_answer_type(s, wants)
    return next((j for j in range(start, best) if sentences[j] in picked and holds(sentences[j])), best)


def section_terms(
    sentences: list[str], headings: frozenset[str], translated: Mapping[str, str] | None = None
) -> list[frozenset[str]]:
    """For each of ``sentences`` (a chunk's, in order), the search terms of the section heading
    above it in the chunk (``headings``: :func:`knowledge.chunking.heading_sentences`); empty
    for a heading itself and for sentences before the chunk's first heading.

    ``translated`` (:attr:`~support.answering.base.SourceExcerpt.heading_translations`, given
    for a source in the other language than the question) adds each heading's translation's
    terms, and the title's (key ``""``) to the sentences before the first heading: across
    languages no word of a heading matches, and "What are your customer service hours?" had
    quoted the lunch break and the phone line, not the opening "평일 오전 9시부터 오후
    6시까지" under the title *Customer service hours and how to contact us* (nineteenth
    session, README lever table).

    A help article names a section once ("## Shipping fees") and its sentences do not repeat
    it ("Standard delivery costs ₩3,000 per order"), so "How much is shipping?" had quoted
    the international fee, the one sentence that says "shipping". Counted with
    ``EXTRACTIVE_HEADING_WEIGHT`` (twelfth session, README: on the three help-centre question
    files answered right unchanged, 41 answers changed, one more span on a fact per file;
    KorQuAD unchanged, its chunks have no headings)."""
    translated = translated or {}
    current = _terms(translated[""]) if "" in translated else frozenset()
    result: list[frozenset[str]] = []
    for sentence in sentences:
        if sentence in headings:
            current = _terms(sentence) | (_terms(translated[sentence]) if sentence in translated else frozenset())
            result.append(frozenset())
        else:
            result.append(current)
    return result


_HOW = re.compile(
    r"\bhow (?:do|can|should|would|to)\b|\bhow i\b|\bsteps?\b|어떻게(?!\s*(?:되|돼|됩|된|됐))|방법|하려면"
    r"|싶어|싶은데|\b(?:want|wanna|would like|i'?d like|need) to\b"
    r"|\bforg[eo]t\b|\bcan'?t remember\b|\blost my\b|잊어|잊었|까먹|기억이?\s*안\s*나|잃어버",
    re.IGNORECASE,
)
MAX_PROCEDURE_SENTENCES = 8  # a longer list keeps the ordinary excerpt


def asks_how(question: str) -> bool:
    """The question asks for a procedure: "how do I …", "how to", "steps", "어떻게" with any verb
    ("어떻게 해요", "어떻게 바꿔요", "어떻게 신청해요": eighteenth session, only 해/하 had counted and
    "비밀번호 어떻게 바꿔요?" quoted the lead-in and step 4), "방법", "…하려면" (not "어떻게 돼요?",
    what happens or what it is), or says what the customer wants to do: "…하고
    싶어요", "I want to …", "I'd like to …" ("비밀번호를 바꾸고 싶어요" quoted the lead-in and
    step 4 of the reset steps; twelfth session: no answer changed on the three question files),
    or that they forgot or lost something, which asks how to get it back: "I forgot my
    password", "비번 까먹었어요", "카드를 잃어버렸어요" (sixteenth session: "I forgot my password"
    had quoted step 4 and the lock-out rule without step 1's "비밀번호 찾기")."""
    return bool(_HOW.search(question))


def step_runs(sentences: list[str]) -> list[tuple[int, int]]:
    """``[(start, end), …]``: the numbered steps ("1. …", "2. …") among ``sentences``, as
    index ranges (end exclusive). A run starts at a sentence numbered 1 and ends at the last
    sentence whose number follows on (sentences between two steps are the earlier step's
    continuation)."""
    runs: list[tuple[int, int]] = []
    start, expected, last = None, 1, None
    for k, sentence in enumerate(sentences):
        match = STEP_NUMBER.match(sentence)
        number = int(match.group(1)) if match else None
        if number == 1:
            if start is not None and last is not None:
                runs.append((start, last + 1))
            start, expected, last = k, 2, k
        elif start is not None and number == expected:
            expected, last = expected + 1, k
        elif start is not None and number is not None:
            runs.append((start, last + 1 if last is not None else k))
            start, last = None, None
    if start is not None and last is not None:
        runs.append((start, last + 1))
    return runs


def procedure_excerpt(sentences: list[str], best: int, picked: list[str] | None = None) -> list[str] | None:
    """The numbered steps (:func:`step_runs`) that the excerpt touches, whole, or None.

    A run is taken when sentence ``best`` lies in it or at most two sentences before (the
    introduction) or one after; ``best`` is kept when outside. Otherwise a run that holds a
    sentence of the excerpt ``picked`` (sentences of ``sentences``) is taken with the rest of
    ``picked`` and the sentence introducing it (:func:`introduces`), in document order: "회원
    탈퇴 어떻게 해요?" had quoted step 3 of 3, its best sentence being the grace period further
    on (sixteenth session, README). None when there is no such run or the excerpt (in the
    second case, the steps) would exceed ``MAX_PROCEDURE_SENTENCES``: an answer to
    "how do I reset my password?" that quotes step 3's second half and step 4 leaves the
    customer without steps 1 and 2.
    """
    runs = [(start, end) for start, end in step_runs(sentences) if end - start >= 2]
    for run_start, run_end in runs:
        first, end = min(best, run_start), max(best + 1, run_end)
        if run_start - 2 <= best <= run_end and end - first <= MAX_PROCEDURE_SENTENCES:
            return sentences[first:end]
    chosen = set(picked or ())
    at = {k for k, sentence in enumerate(sentences) if sentence in chosen}
    for run_start, run_end in runs:
        run = set(range(run_start, run_end))
        if at & run and not run <= at and len(run) <= MAX_PROCEDURE_SENTENCES:
            keep = run | at
            if run_start and introduces(sentences[run_start - 1]):
                keep.add(run_start - 1)
            return [sentences[k] for k in sorted(keep)]
    return None


MAX_LIST_SENTENCES = 8  # a longer list or table keeps the ordinary excerpt


_LEAD_IN = re.compile(r"[:：]\s*$|아래|다음과 같|\bthe following\b|\bas follows\b|\bbelow\b", re.IGNORECASE)


def introduces(sentence: str) -> bool:
    """``sentence`` announces what follows it: it ends with a colon, or says "아래" (below),
    "다음과 같" (as follows), "the following", "as follows" or "below" ("비밀번호가 기억나지
    않으면 아래 순서대로 새 비밀번호를 설정할 수 있습니다."). Whether a list does follow is
    for the caller to check."""
    return bool(_LEAD_IN.search(sentence))


def _introduced(sentences: list[str], at: int) -> str | None:
    """The sentence after ``sentences[at]`` when that one :func:`introduces` it, else None."""
    return sentences[at + 1] if at + 1 < len(sentences) and introduces(sentences[at]) else None


def list_excerpt(sentences: list[str], picked: list[str], best: int, groups: tuple[tuple[str, ...], ...]) -> list[str]:
    """``picked`` (an excerpt of ``sentences``) with the rest of the bulleted list or table
    (:func:`knowledge.chunking.list_groups`) that holds the best sentence (index ``best``), or
    that it introduces (:func:`introduces`, and the list starts right after it: "Nabi
    Market accepts the following payment methods:"), in document order; ``picked`` unchanged
    when the best sentence is in no list and introduces none, or the list has a single
    sentence or more than ``MAX_LIST_SENTENCES``.
    """
    sentence, introduced = sentences[best], _introduced(sentences, best)
    for group in groups:
        if (sentence in group or group[0] == introduced) and 2 <= len(group) <= MAX_LIST_SENTENCES:
            wanted = set(picked) | set(group)
            return [s for s in sentences if s in wanted]
    return picked


def excerpt_sentences(
    sentences: list[str], scores: list[float], best: int, headings: frozenset[str]
) -> tuple[list[str], int]:
    """``(the excerpt's sentences, index of its answer sentence)`` for best sentence ``best``:
    :func:`best_sentences` (``EXTRACTIVE_EXCERPT`` "best") or :func:`excerpt_window` ("window").

    Headings (``headings``, :func:`knowledge.chunking.heading_sentences`) are left out of
    the excerpt: "Shipping fees" at the end of an answer about delivery times is the next
    section's title and used one of its ``EXTRACTIVE_ANSWER_SENTENCES`` places. When the
    best match is a heading ("Free trial" for a question about the trial), the section's
    first sentence takes its place. With no body sentence, every sentence is a candidate.
    """
    body = [k for k, s in enumerate(sentences) if s not in headings]
    if not body:
        body = list(range(len(sentences)))
    size = settings.EXTRACTIVE_ANSWER_SENTENCES
    if best not in body:
        best = next((k for k in body if k > best), body[-1])
    if settings.EXTRACTIVE_EXCERPT == "best":
        return [sentences[k] for k in best_sentences(sentences, scores, best, body, size)], best
    at = body.index(best)
    start, end = excerpt_window([scores[k] for k in body], at, size)
    return [sentences[k] for k in body[start:end]], best


MIN_SENTENCE_WORDS = 3  # "Yes." / "No." / "네, 됩니다." answer only with the sentence after them


def best_sentences(sentences: list[str], scores: list[float], best: int, body: list[int], size: int) -> list[int]:
    """Indices, in document order, of sentence ``best`` and the ``size − 1`` best-scoring
    other sentences of ``body`` (ties to the earlier one): top-k sentence extraction.

    A help article answers one question in several places ("Standard delivery: 1–2
    business days" three lines above "Jeju: 2–4 business days"), so the window of
    neighbours around the best sentence (:func:`excerpt_window`) often quoted the best
    sentence's neighbours instead of the fact. A sentence shorter than
    ``MIN_SENTENCE_WORDS`` words ("No.") is not picked on its own, which would join another
    question's answer; it stays with the sentence after it when that one is picked, and a
    short best sentence brings the one after it. A sentence repeated word for word in the
    chunk is picked once (eighteenth session: a long article's boilerplate sentence stood
    twice in one answer). Measured with ``manage.py evaluate`` and
    the cross-validated ``calibrate`` (README, answer quality), held out, against the
    window: answered right 38.3 → 41.2 % (Nabi Market), 45.3 % both (Gureum Bike), 84.1 →
    86.0 % (KorQuAD).
    """
    words = [len(sentence.split()) for sentence in sentences]
    inside = set(body)
    others = sorted((k for k in body if k != best and words[k] >= MIN_SENTENCE_WORDS), key=lambda k: (-scores[k], k))
    seen, extra = {sentences[best]}, list[int]()
    for k in others:  # a sentence the article repeats word for word (boilerplate) is quoted once
        if len(extra) >= size - 1:
            break
        if sentences[k] not in seen:
            seen.add(sentences[k])
            extra.append(k)
    picked = {best, *extra}
    if words[best] < MIN_SENTENCE_WORDS and best + 1 in inside:
        picked.add(best + 1)
    picked |= {k - 1 for k in picked if k - 1 in inside and words[k - 1] < MIN_SENTENCE_WORDS}
    return sorted(picked)


def excerpt_window(scores: list[float], best: int, size: int) -> tuple[int, int]:
    """``[start, end)`` of ``size`` contiguous sentences around index ``best`` (fewer if the
    chunk is shorter), grown one sentence at a time towards the better-scoring neighbour
    (ties go to the sentence after: an answer often follows the sentence that repeats the
    question's words). ``size`` 2 is the sentence pair measured in the module docstring.
    """
    start, end = best, best + 1
    while end - start < size and (start > 0 or end < len(scores)):
        before = scores[start - 1] if start > 0 else None
        after = scores[end] if end < len(scores) else None
        if after is not None and (before is None or after >= before):
            end += 1
        else:
            start -= 1
    return start, end


def _mix_dense(
    scored: list[tuple[list[str], list[float]]],
    sources: list[SourceExcerpt],
    query_vector: list[float] | None,
    weight: float,
    language: str = "",
    centroid: list[float] | None = None,
) -> None:
    """Blend sentence cosines into ``scored`` in place: ``(1 − weight)·lexical + weight·dense``.

    Cosines are min-max scaled over every candidate sentence that has a vector; a source
    without indexed sentence vectors (or whose sentences differ in number) keeps its
    lexical scores. Sentences of a source in another language than the question
    (``language``) get ``RETRIEVAL_CROSS_LANGUAGE_OFFSET`` added, as in dense retrieval;
    with ``centroid`` (the mean sentence embedding of the question's language,
    :func:`knowledge.selectors.sentence_centroid`) they are instead ranked by the
    dot product with the query minus that centroid, min-max scaled among themselves.
    No-op without a query vector or with ``weight`` 0.
    """
    if query_vector is None or not weight:
        return
    query = np.asarray(query_vector, dtype=np.float32)
    centred = None if centroid is None or len(centroid) != len(query) else query - np.asarray(centroid, np.float32)
    groups: tuple[dict[int, np.ndarray], dict[int, np.ndarray]] = ({}, {})  # as is; centred
    for k, ((sentences, _), source) in enumerate(zip(scored, sources, strict=True)):
        vectors = source.sentence_vectors
        if vectors is not None and len(vectors) == len(sentences) and len(sentences) and vectors.shape[1] == len(query):
            foreign = other_language(language, source.language)
            if foreign and centred is not None:
                groups[1][k] = vectors @ centred
            else:
                groups[0][k] = vectors @ query + (settings.RETRIEVAL_CROSS_LANGUAGE_OFFSET if foreign else 0.0)
    for cosines in groups:
        if not cosines:
            continue
        every = np.concatenate(list(cosines.values()))
        low, span = float(every.min()), float(every.max() - every.min()) or 1.0
        for k, cos in cosines.items():
            lexical = scored[k][1]
            scored[k] = (
                scored[k][0],
                [(1 - weight) * lex + weight * (c - low) / span for lex, c in zip(lexical, cos, strict=True)],
            )
