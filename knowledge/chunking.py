"""Token-bounded chunking that keeps paragraph boundaries.

Paragraphs (blank-line separated Markdown blocks) are packed greedily into chunks of at
most ``max_tokens`` tokens; a paragraph longer than that is split at sentence ends, and
a sentence longer than that at token boundaries. Each new chunk starts with the last
whole paragraphs/sentences of the previous one, up to ``overlap_tokens``, so an answer
that straddles a boundary is whole in at least one chunk.
"""

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

import nh3
import pysbd

from knowledge.analysis import detect_language

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class ChunkDraft:
    content: str
    token_count: int


# Raw HTML in a Markdown body (staff paste articles from anywhere). The article page drops it
# (knowledge.rendering: nh3 with an allow-list); the indexed text must drop it too, or its
# excerpts quote "<script>…" to customers and its tags match questions as words. Only
# elements HTML knows are taken for tags (nh3's allow-list and the ones it removes), so
# plain text such as "a < b", "<The Old Man and the Sea>" or "<노인과 바다>" stays.
_HTML_CONTENT_ELEMENTS = ("script", "style", "noscript", "template", "iframe", "object", "svg", "math", "textarea")
_HTML_ELEMENTS = sorted(
    nh3.ALLOWED_TAGS
    | set(_HTML_CONTENT_ELEMENTS)
    | {"embed", "form", "input", "button", "select", "option", "link", "meta", "base", "frame", "frameset"}
    | {"html", "head", "body", "title", "font", "label", "source", "video", "audio", "picture", "canvas"}
)
_HTML_WITH_CONTENT = re.compile(
    r"<(" + "|".join(_HTML_CONTENT_ELEMENTS) + r")\b[^>]*>.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL
)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HTML_TAG = re.compile(
    r"</?(?:" + "|".join(_HTML_ELEMENTS) + r")(?=[\s/>])(?:[^<>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE
)


# Inline formatting, which joins the words around it ("how much is <b>shipping</b>?").
_HTML_INLINE_TAG = re.compile(r"</?(?:a|b|i|u|s|em|strong|small|mark|code|span|sub|sup|font)\b[^<>]*>", re.IGNORECASE)


def strip_html(markdown: str, *, separator: str = "") -> str:
    """``markdown`` without raw HTML: comments and the elements that hold no readable text
    (``script``, ``style``, ``iframe`` …) removed with their content, other tags of known HTML
    elements removed and their text kept ("<b>14일</b>" → "14일"). What is indexed, quoted and
    searched is then what the article page shows. Text without HTML comes back unchanged.
    ``separator`` takes the place of each removed piece but inline formatting
    (``_HTML_INLINE_TAG``, removed without one): " " for a customer's question, where
    "shipping<br>cost" is two words and "<b>shipping</b>?" is "shipping?" (an article body keeps
    "", which its content hash counts)."""
    if "<" not in markdown:
        return markdown
    text = _HTML_COMMENT.sub(separator, markdown)
    text = _HTML_WITH_CONTENT.sub(separator, text)
    if separator:
        text = _HTML_INLINE_TAG.sub("", text)
    return _HTML_TAG.sub(separator, text)


_MARKDOWN_INLINE = re.compile(r"\*\*|__|`|!?\[([^\]]*)\]\([^)]*\)")


# A web address up to its last character that is not sentence punctuation ("…/help?a=1&b=2"
# whole; the full stop after "…/help." ends the sentence, not the address).
_URL = re.compile(r"(?:https?://|www\.)\S*[^\s.,!?;:'\")\]]", re.IGNORECASE)
# Sentence punctuation inside an address, hidden from pysbd as private-use characters.
_URL_MASK = str.maketrans({".": "\ue000", "?": "\ue001", "!": "\ue002"})
_URL_UNMASK = {ord(v): k for k, v in {".": "\ue000", "?": "\ue001", "!": "\ue002"}.items()}


def split_sentences(text: str) -> list[str]:
    """``text`` split at sentence ends by pysbd's rules (Golden Rules, Sadvilkar & Neumann
    2020): "from 10 a.m. to 4 p.m.", "e.g." and decimals stay whole, which a split at every
    ". " cut apart. Korean ends sentences with the same punctuation, so one rule set serves both.
    A web address stays whole: its "?", "." and "!" are hidden from the rules (pysbd had cut
    "https://example.com/help?a=1&b=2" after the "?"). A segmenter per call:
    ``Segmenter.segment`` keeps the text on the instance (not thread-safe).
    """
    masked = _URL.sub(lambda m: m.group(0).translate(_URL_MASK), text)
    pieces = pysbd.Segmenter(language="en", clean=False).segment(masked)
    return [s.strip().translate(_URL_UNMASK) for s in pieces if s.strip()]


_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _table_sentences(rows: list[str]) -> list[str]:
    """A Markdown table as one sentence per data row, each cell named by its column:
    ``| Plus monthly | ₩4,900 | 3% |`` under ``| Plan | Price | Points |`` becomes
    "Plan: Plus monthly; Price: ₩4,900; Points: 3%", so a row answers on its own."""
    body = [r for r in rows if not _TABLE_RULE.match(r.strip())]
    if len(body) < 2 or not _TABLE_RULE.match(rows[1].strip()):
        return [c for r in body if (c := " ".join(_cells(r)).strip())]  # no header row: cells as text
    header = _cells(body[0])
    out = []
    for row in body[1:]:
        cells = _cells(row)
        named = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c]
        if named:
            out.append("; ".join(named))
    return out


_BULLET = re.compile(r"^\s*[-*]\s")


def _sentence_lines(markdown: str) -> Iterator[tuple[list[str], str]]:
    """``(sentences, kind)`` per Markdown line (a table: per whole table), in order, as
    :func:`plain_sentences` describes; ``kind`` is "heading", "item" (a bulleted line),
    "table" or "text". The one place :func:`plain_sentences`, :func:`heading_sentences` and
    :func:`list_groups` read."""
    text = _MARKDOWN_INLINE.sub(lambda m: m.group(1) or "", markdown)
    table: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.strip().startswith("|"):
            table.append(line)
            continue
        if table:
            yield _table_sentences(table), "table"
            table = []
        plain = line.strip(" #*->|")
        if plain:
            kind = "heading" if line.lstrip().startswith("#") else "item" if _BULLET.match(line) else "text"
            yield split_sentences(plain), kind


_LINE_MARKER = re.compile(r"^(?:#{1,6}\s+|>\s*|[-*+]\s+)")
_TABLE_RULE = re.compile(r"^[\s|:-]+$")


def plain_text(markdown: str) -> str:
    """``markdown`` as plain lines for a snippet shown to customers ("**14 days**" and "## Cost"
    showed as written under an answer's sources): emphasis, code ticks and link targets
    dropped as in :func:`plain_sentences`, heading, quote and bullet markers taken off (a
    numbered step keeps its number), a table row's cells joined by " · " and its rule line
    dropped, blank lines dropped. No sentence splitting: cheap enough for every page view."""
    lines = []
    for line in _MARKDOWN_INLINE.sub(lambda m: m.group(1) or "", markdown).splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            if not _TABLE_RULE.match(stripped):
                lines.append(" · ".join(cell.strip() for cell in stripped.strip("|").split("|") if cell.strip()))
        elif plain := _LINE_MARKER.sub("", stripped).strip():
            lines.append(plain)
    return "\n".join(lines)


def plain_sentences(markdown: str) -> list[str]:
    """Plain-text sentences of a Markdown chunk, in order: emphasis, code ticks and link
    targets dropped, each line (heading, list item) split at sentence ends, and each
    table row made a sentence that names its columns (:func:`_table_sentences`).

    The extractive answerer picks from these, and indexing embeds the same list
    (``SENTENCES_VERSION`` is part of the content hash).
    """
    return [sentence for sentences, _ in _sentence_lines(markdown) for sentence in sentences]


@functools.lru_cache(maxsize=10_000)
def heading_sentences(markdown: str) -> frozenset[str]:
    """The sentences of :func:`plain_sentences` that come from Markdown heading lines (``## Cost``),
    as the same plain strings: a heading names a section and never answers on its own.
    Cached: the extractive answerer asks for the same popular chunks question after question."""
    return frozenset(s for sentences, kind in _sentence_lines(markdown) if kind == "heading" for s in sentences)


@functools.lru_cache(maxsize=10_000)
def translated_headings(headings: str, aliases: str, language: str) -> tuple[tuple[str, str], ...]:
    """Each heading sentence of an article paired with its *also asked as* line in the other
    language, and ``("", line)`` for the title's: ``((heading sentence, alias line), …)``.

    ``headings`` are the article's Markdown heading lines in order (one per line, as the
    body has them); ``aliases`` its *also asked as* lines; ``language`` its own. Staff write
    the title and then each heading in the other language, in order, and any other wording
    after them (the admin's help text; every sample article): the lines not in ``language``
    (:func:`knowledge.analysis.detect_language`) pair with the title and the headings in
    order, as far as both go. A line added at the end changes nothing (the verification pass
    found one more line had turned the pairing off when the counts had to match). Cached
    like :func:`heading_sentences`.
    """
    foreign = [line.strip() for line in aliases.splitlines() if line.strip() and detect_language(line) != language]
    if not foreign:
        return ()
    lines = [sentences for sentences, kind in _sentence_lines(headings) if kind == "heading"]
    pairs = [("", foreign[0])]
    for sentences, line in zip(lines, foreign[1:], strict=False):
        pairs.extend((sentence, line) for sentence in sentences)
    return tuple(pairs)


@functools.lru_cache(maxsize=10_000)
def list_groups(markdown: str) -> tuple[tuple[str, ...], ...]:
    """The sentences of each bulleted list (consecutive ``- …`` lines) and each table of a
    Markdown chunk, one tuple per list in order, as the plain strings of
    :func:`plain_sentences`: the items of one list answer one question together ("Delivery
    times: standard …, dawn …, islands …, international …"). Cached like
    :func:`heading_sentences`."""
    groups: list[tuple[str, ...]] = []
    run: list[str] = []
    for sentences, kind in _sentence_lines(markdown):
        if kind == "item":
            run.extend(sentences)
            continue
        if run:
            groups.append(tuple(run))
            run = []
        if kind == "table" and sentences:
            groups.append(tuple(sentences))
    if run:
        groups.append(tuple(run))
    return tuple(groups)


# A numbered step as plain_sentences keeps it ("3. 인증번호를 입력합니다."); group 1 is its number.
STEP_NUMBER = re.compile(r"^(\d{1,2})[.)]\s")


def _item_like(sentences: list[str], kind: str) -> bool:
    """A bulleted item, or a numbered step (a line that starts "3. "): one unit of a list."""
    return kind == "item" or (kind == "text" and bool(sentences) and bool(STEP_NUMBER.match(sentences[0])))


# A sentence that opens with one of these leans on the sentence before it ("다만 상품에 문제가
# 있다면 …": "however" of what?). Explicit connectives only: a pronoun subject ("It", "This")
# is too common to read as a dependency; "단" only with its comma ("단순 변심", "단 1회").
_CONNECTIVE = re.compile(
    r"^(?:다만|단,|하지만|그러나|그런데|그래도|그 경우|이 경우|이때|이 때|그러면|그렇지 않으면"
    r"|However\b|But\b|Otherwise\b|Instead\b|In (?:that|this|which) case\b|If so\b|If not\b)",
    re.IGNORECASE,
)


_V = TypeVar("_V")


def _unambiguous(pairs: Iterator[tuple[str, _V]]) -> Mapping[str, _V]:
    """``{sentence: value}`` from ``pairs``, read-only, without a sentence that came with two
    different values (a sentence a chunk holds twice: which place was meant is unknown)."""
    found: dict[str, _V] = {}
    ambiguous: set[str] = set()
    for sentence, value in pairs:
        if found.get(sentence, value) != value:
            ambiguous.add(sentence)
        found[sentence] = value
    return MappingProxyType({s: v for s, v in found.items() if s not in ambiguous})


@functools.lru_cache(maxsize=10_000)
def sentence_antecedents(markdown: str) -> Mapping[str, str]:
    """``{sentence: the sentence it depends on}`` among the :func:`plain_sentences` of a Markdown
    chunk: each later sentence of a bulleted item or a numbered step depends on the one before it
    in the item, back to the item's first, which names what the item is about ("카카오톡 상담: …
    시작하세요." before "평일 9:00~21:00에 상담원이 답변하며 …"); a sentence of a paragraph or item that
    opens with a connective (``_CONNECTIVE``: "다만", "However", "In that case") depends on the
    sentence before it, the last of the previous paragraph or item when it opens one (not a
    heading). A sentence the chunk holds twice with different antecedents has none: which one
    was meant is unknown. Quoted alone, such a sentence misleads: the exploratory pass of the
    twenty-first session read "agents answer until 21:00" for the whole customer service. The
    extractive answer brings the antecedent along (:func:`support.answering.extractive.with_antecedents`).
    Cached, so read-only."""

    def pairs() -> Iterator[tuple[str, str]]:
        previous = ""  # the last sentence of the previous paragraph or item
        for sentences, kind in _sentence_lines(markdown):
            if kind not in ("item", "text"):
                previous = ""
                continue
            for k, sentence in enumerate(sentences):
                connective = bool(_CONNECTIVE.match(sentence))
                if k and (connective or _item_like(sentences, kind)):
                    yield sentence, sentences[k - 1]
                elif not k and connective and previous:
                    yield sentence, previous
            previous = sentences[-1] if sentences else ""

    return _unambiguous(pairs())


@functools.lru_cache(maxsize=10_000)
def paragraph_leads(markdown: str, most: int) -> Mapping[str, str]:
    """``{sentence: its paragraph's first sentence}`` for the later sentences of each paragraph
    of a Markdown chunk that holds two to ``most`` sentences (a prose line: not a heading, a
    bulleted item, a numbered step or a table, which have rules of their own). A sentence the
    chunk holds twice with different leads has none. Cached, so read-only.

    A help article's short paragraph states its rule first and qualifies it after ("Your first
    exchange on each order is free. For further exchanges on the same order, … the round-trip
    shipping fee of ₩6,000 is deducted …"): the topic sentence of a paragraph. Quoted alone, the
    qualification answered "can I swap them for a bigger pair, will it cost me anything?" with
    ₩6,000, where the customer's first exchange is free (thirty-third session). The extractive
    answer brings the lead along (:func:`support.answering.extractive.with_antecedents`),
    ``most`` being ``EXTRACTIVE_PARAGRAPH_LEAD``: over the 26 Nabi Market files read and Gureum
    Bike, answered right 1,584 → 1,590 / 1,596 / 1,596 with 2 / 3 / 4, each gain a wrong answer
    (the right article without the fact) mended, none lost, in nine files; 3 changes fewer answers
    than 4 (808 against 963 of those given, 389 → 466 characters on average). KorQuAD unchanged
    (README, lever table)."""
    return _unambiguous(
        (sentence, sentences[0])
        for sentences, kind in _sentence_lines(markdown)
        if kind == "text" and not _item_like(sentences, kind) and 2 <= len(sentences) <= most
        for sentence in sentences[1:]
    )


@functools.lru_cache(maxsize=10_000)
def sentence_lines(markdown: str) -> Mapping[str, int]:
    """``{sentence: the number of its line}`` for the :func:`plain_sentences` of a Markdown chunk:
    the sentences of one paragraph, bulleted item or numbered step share a number, each table
    row has its own. A sentence the chunk holds on two lines has none. Cached, so read-only."""

    def pairs() -> Iterator[tuple[str, int]]:
        number = 0
        for sentences, kind in _sentence_lines(markdown):
            for sentence in sentences:
                yield sentence, number
                number += kind == "table"  # a table's rows are lines of their own
            number += 1

    return _unambiguous(pairs())


MAX_ITEM_SENTENCES = 4  # a longer bulleted item is quoted in part, as a paragraph is


@functools.lru_cache(maxsize=10_000)
def item_sentences(markdown: str) -> Mapping[str, tuple[str, ...]]:
    """``{sentence: every sentence of its item}`` for the bulleted items and numbered steps of a
    Markdown chunk that hold two to ``MAX_ITEM_SENTENCES`` sentences: an item is one unit of a
    help article's list ("카카오톡 상담: … 시작하세요. 평일 9:00~21:00에 상담원이 답변하며 …"),
    and quoting its first sentence left out the hours asked for. A sentence held by two
    different items has none. Cached, so read-only."""
    return _unambiguous(
        (sentence, tuple(sentences))
        for sentences, kind in _sentence_lines(markdown)
        if _item_like(sentences, kind) and 2 <= len(sentences) <= MAX_ITEM_SENTENCES
        for sentence in sentences
    )


SENTENCES_VERSION = "3"  # bump when plain_sentences changes: re-indexes every article


def _pieces(paragraph: str, max_tokens: int, count: Callable[[str], int], cut: Callable[[str, int], str]) -> list[str]:
    """A paragraph as pieces of at most ``max_tokens`` tokens, split at sentences first."""
    if count(paragraph) <= max_tokens:
        return [paragraph]
    pieces: list[str] = []
    for sentence in split_sentences(paragraph):
        while count(sentence) > max_tokens:
            head = cut(sentence, max_tokens)
            if not head:
                break
            pieces.append(head)
            sentence = sentence[len(head) :].strip()
        if sentence:
            pieces.append(sentence)
    return pieces


def chunk_text(
    body: str,
    *,
    max_tokens: int,
    overlap_tokens: int,
    count: Callable[[str], int],
    cut: Callable[[str, int], str],
) -> list[ChunkDraft]:
    """Split ``body`` into chunks of at most ``max_tokens`` tokens (as ``count`` measures).

    ``cut(text, n)`` returns a prefix of ``text`` with at most ``n`` tokens. Returns an
    empty list for a blank body. Raises ``ValueError`` if ``overlap_tokens`` is not
    smaller than ``max_tokens``.
    """
    if overlap_tokens >= max_tokens:
        raise ValueError("overlap_tokens must be smaller than max_tokens")
    units: list[tuple[str, int]] = []
    for paragraph in _PARAGRAPH_BREAK.split(body):
        paragraph = paragraph.strip()
        if paragraph:
            units.extend((p, count(p)) for p in _pieces(paragraph, max_tokens, count, cut))

    chunks: list[ChunkDraft] = []
    current: list[tuple[str, int]] = []
    fresh = 0  # units in ``current`` that are not overlap from the previous chunk

    def size(items: list[tuple[str, int]]) -> int:
        # +2 tokens per join approximates the paragraph separator
        return sum(n for _, n in items) + 2 * max(len(items) - 1, 0)

    for unit in units:
        if current and size([*current, unit]) > max_tokens:
            if fresh:
                chunks.append(ChunkDraft("\n\n".join(t for t, _ in current), size(current)))
            overlap: list[tuple[str, int]] = []
            for prev in reversed(current):
                if size([prev, *overlap, unit]) > min(overlap_tokens + unit[1] + 2, max_tokens):
                    break
                overlap.insert(0, prev)
            current, fresh = overlap, 0
        current.append(unit)
        fresh += 1
    if current and fresh:
        chunks.append(ChunkDraft("\n\n".join(t for t, _ in current), size(current)))
    return chunks
