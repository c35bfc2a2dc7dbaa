"""Writes: answering questions and escalating them to tickets (the workflow after that: ``support.workflow``).

A question row is stored before retrieval or the answer model can fail; a ticket row is
stored (with its owed emails as outbox rows) before any email is attempted. Emails go
out from Celery tasks enqueued on commit (``support.outbox``: one attempt per task,
retries with backoff owned by the row, at-least-once with a stable Message-ID).
"""

import hashlib
import hmac
import logging
import secrets
import time
import unicodedata
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Required, TypedDict, Unpack

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from knowledge.analysis import detect_language, other_language
from knowledge.chunking import strip_html
from knowledge.embeddings import EmbeddingError, get_provider
from knowledge.models import Article, KnowledgeBase
from knowledge.selectors import Retrieval, known_gap_nearest, known_wording_similarity, retrieve, sentence_centroid
from knowledge.services import knowledge_base_get_live, known_wordings_read
from support.answering import (
    AnswerModelError,
    AnswerRequest,
    ChatProvider,
    GeneratedAnswer,
    get_chat_provider,
    source_excerpts,
    span_start_valid,
)
from support.confidence import (
    KNOWN_WORDINGS,
    LLM_UNANSWERABLE_FACTOR,
    confidence_features,
    confidence_from_features,
    known_wording_confidence,
    retrieval_confidence,
)
from support.conversations import Turn, conversation_turns, standalone_query
from support.models import AnswerPolicy, Conversation, Question
from support.selectors import answer_threshold

logger = logging.getLogger(__name__)


class QuestionInvalid(ValueError):
    """The question can't be asked; the message (English) says why and is safe to show.

    ``code`` is ``"blank"`` or ``"too_long"`` (then ``limit`` and ``count`` are set), so a
    caller answering a customer can say it in their language: :func:`question_invalid_message`.
    """

    def __init__(self, message: str, *, code: str, limit: int = 0, count: int = 0) -> None:
        super().__init__(message)
        self.code, self.limit, self.count = code, limit, count


def question_invalid_message(exc: QuestionInvalid) -> str:
    """``exc``'s message in the active language (the request's Accept-Language, or the page's),
    with the msgids the question form uses: "질문을 입력해 주세요." for a blank question."""
    if exc.code == "too_long":
        return gettext("Questions are limited to %(limit)s characters; yours has %(count)s.") % {
            "limit": f"{exc.limit:,}",
            "count": f"{exc.count:,}",
        }
    return gettext("Please type a question.")


# Letters that draw nothing: the Hangul fillers (a lone jamo placeholder, often used to post
# "blank" names) and the blank braille pattern.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _visible_edge(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch) != "Cf" and ch not in BLANK_LETTERS


def _draws(ch: str) -> bool:
    """True for a character that shows something by itself (not a combining mark on nothing)."""
    return _visible_edge(ch) and unicodedata.category(ch) not in ("Mn", "Me")


# Fullwidth forms of ASCII (U+FF01–FF5E) and the ideographic space, as a Korean IME's
# full-width mode types them, read as ASCII: "ＨＯＷ ＤＯ Ｉ ＤＥＬＥＴＥ ＭＹ ＡＣＣＯＵＮＴ？" was
# escalated at 0.246 where the same words in ASCII were answered at 0.999 (fifteenth session).
# NFKC would fold them too, but also Hangul compatibility jamo (ㅋ) and more.
FULLWIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def question_normalise(text: str) -> str:
    """``text`` in Unicode NFC, fullwidth ASCII as ASCII (``FULLWIDTH_TO_ASCII``), without
    whitespace or invisible format characters at either end.

    Korean typed or pasted on macOS arrives decomposed (NFD: 비 as ᄇ + ᅵ), which the
    morphological analyser and the embedding read as other characters (a question answered
    at 0.998 in NFC was escalated at 0.135 in NFD) and which counts 2–3 code points per
    syllable against ``QUESTION_MAX_CHARS``. Zero-width spaces, joiners and byte-order marks
    (category Cf) and letters that draw nothing (``BLANK_LETTERS``: Hangul fillers, the blank
    braille pattern) at the ends are dropped like whitespace; inside the text they stay (they
    join emoji). Text with nothing that draws by itself (only those, or combining marks on
    nothing) comes back empty: it looks blank, so it is.
    """
    text = unicodedata.normalize("NFC", text or "").translate(FULLWIDTH_TO_ASCII)
    start, end = 0, len(text)
    while start < end and not _visible_edge(text[start]):
        start += 1
    while end > start and not _visible_edge(text[end - 1]):
        end -= 1
    text = text[start:end]
    return text if any(_draws(ch) for ch in text) else ""


def question_search_text(text: str) -> str:
    """What question ``text`` is searched and answered as: without HTML markup (tags of known
    HTML elements, and ``script`` / ``style`` … with their content:
    :func:`knowledge.chunking.strip_html`, the rule article bodies are indexed by), each
    removed piece but inline formatting read as a space ("shipping<br>cost" is two words,
    "<b>shipping</b>?" is "shipping?") and runs of whitespace made one; ``text`` itself when
    it holds no markup ("<노인과 바다>" is text); "" when nothing but markup is left.
    "<script>alert(1)</script> how much is shipping?" had been escalated at 0.45 where the
    words alone are answered at 0.97: "script" and "alert" counted as words no article holds
    (exploratory pass, twenty-first session). The question is stored as typed."""
    if "<" not in text:
        return text
    stripped = strip_html(text, separator=" ")
    return text if stripped == text else " ".join(stripped.split())


def has_words(text: str) -> bool:
    """Whether ``text`` (a question's words, :func:`question_search_text`) holds a letter or a
    digit: without one ("😭😭😭", or nothing but markup) nothing in it can match an article."""
    return any(ch.isalnum() for ch in text)


def question_clean(text: str) -> str:
    """:func:`question_normalise` ``text``; raise ``QuestionInvalid`` if empty or over ``QUESTION_MAX_CHARS``."""
    text = question_normalise(text)
    if not text:
        raise QuestionInvalid("Please type a question.", code="blank")
    if len(text) > settings.QUESTION_MAX_CHARS:
        raise QuestionInvalid(
            f"Questions are limited to {settings.QUESTION_MAX_CHARS:,} characters; yours has {len(text):,}.",
            code="too_long", limit=settings.QUESTION_MAX_CHARS, count=len(text),
        )  # fmt: skip
    return text


@dataclass
class AnswerOutcome:
    """The stored question, what was retrieved, and the question's ownership secret.

    ``token`` is handed to the API client once and never stored (only its hash is):
    it proves ownership of the question to later calls (tickets, feedback).
    """

    question: Question
    retrieval: Retrieval | None
    token: str = ""


def token_hash(token: str) -> str:
    """Hex SHA-256 of a question token: what ``Question.token_hash`` stores. Any string hashes
    (a lone surrogate sent as ``\ud800`` in JSON too: it is simply no question's token)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def question_token_matches(question: Question, token: str) -> bool:
    """True when ``token`` is the secret issued with ``question`` (constant-time compare)."""
    if not token or not question.token_hash:
        return False
    return hmac.compare_digest(question.token_hash, token_hash(token))


def conversation_for_token(conversation_id: int, token: str) -> Conversation | None:
    """The conversation ``conversation_id`` if ``token`` is its secret, else None (unknown id or wrong token alike)."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or not token or not conversation.token_hash:
        return None
    return conversation if hmac.compare_digest(conversation.token_hash, token_hash(token)) else None


def _source_url(slug: str) -> str:
    from django.urls import reverse

    return reverse("support:article", kwargs={"slug": slug})


def article_kinds(article_ids: set[int]) -> dict[int, str]:
    """``{article_id: Article.kind}`` for the given ids, in one query: a source from a
    support answer is labelled "Support answer" to customers."""
    if not article_ids:
        return {}
    return dict(Article.objects.filter(pk__in=article_ids).values_list("pk", "kind"))


@dataclass
class AnswerSources:
    """First event of :func:`question_answer_events`: the question (stored, with its ``pk``
    when ``store``) and its ranked ``question.sources``, before any answer text."""

    question: Question


@dataclass
class AnswerDelta:
    """A piece of the answer text as the answerer produces it (provisional: the final
    outcome may withhold the answer, e.g. when the model judged it unanswerable)."""

    text: str


AnswerEvent = AnswerSources | AnswerDelta | AnswerOutcome


class QuestionAnswerOptions(TypedDict, total=False):
    """The keyword arguments of :func:`question_answer_events` (``text`` is required)."""

    text: Required[str]
    channel: str
    knowledge_base: KnowledgeBase | None
    provider: ChatProvider | None
    threshold: float | None
    store: bool
    query_vector: list[float] | None
    conversation: Conversation | None
    token: str
    history: Sequence[Turn] | None
    context_method: str | None
    topic_change: bool | None
    stream: bool


def question_answer(**options: Unpack[QuestionAnswerOptions]) -> AnswerOutcome:
    """Answer one customer question and return the outcome: :func:`question_answer_events`
    consumed to its end (the JSON API, the pages without JavaScript, evaluation).
    Never raises for model failures; raises ``QuestionInvalid`` for empty or over-long text."""
    for event in question_answer_events(**options):
        if isinstance(event, AnswerOutcome):
            return event
    raise AssertionError("question_answer_events ended without an outcome")  # pragma: no cover


def question_answer_events(
    *,
    text: str,
    channel: str = "web",
    knowledge_base: KnowledgeBase | None = None,
    provider: ChatProvider | None = None,
    threshold: float | None = None,
    store: bool = True,
    query_vector: list[float] | None = None,
    conversation: Conversation | None = None,
    token: str = "",
    history: Sequence[Turn] | None = None,
    context_method: str | None = None,
    topic_change: bool | None = None,
    stream: bool = False,
) -> Generator[AnswerEvent, None, None]:
    """Answer one customer question from the knowledge base, step by step; never raises for model failures.

    Yields, in this order: one :class:`AnswerSources` (the question stored, retrieval and
    confidence done), then :class:`AnswerDelta` pieces of the answer text (only with
    ``stream=True`` and only when an answer is generated, i.e. confidence is not below
    the threshold; the extractive answerer sends its whole answer as one piece), then
    exactly one :class:`AnswerOutcome` (the question saved in its final state). Raises
    ``QuestionInvalid`` for empty or over-long text, on the first ``next()``, before
    anything is stored. ``stream=False`` asks the answerer for the whole answer at once
    (``ChatProvider.answer``); ``stream=True`` uses ``ChatProvider.answer_stream``.

    Steps: store the question (as typed; what is searched and answered leaves out HTML
    markup, :func:`question_search_text`) → make the retrieval query standalone from the recent
    turns of ``conversation`` (``support.conversations.standalone_query``; the question
    itself when it is the first) → hybrid retrieval (top ``ANSWER_SOURCES`` chunks) →
    confidence → answer (extractive or LLM) to the standalone query. Status becomes
    ``answered``, ``not_confident`` (confidence < threshold), ``no_sources`` or
    ``model_error``; the last three set ``escalation_recommended``. A consumer that stops
    early (``close()``: a streaming client went away) still leaves the question saved,
    as ``model_error`` with error ``disconnected: …`` unless it was already complete.

    Without ``conversation`` a new one is started whose secret is the new question's
    ``token``. With one, the caller has checked ownership (``token``, the secret it was
    shown, is handed back unchanged; "" for the pages, which check the session) and the
    question becomes its next turn, sharing its ``token_hash``. ``store=False``
    (evaluation) keeps the rows unsaved and takes the earlier turns from ``history``
    (oldest first) instead of the database; ``context_method`` overrides
    ``CONVERSATION_OFFLINE_METHOD`` and ``topic_change`` ``CONVERSATION_TOPIC_CHANGE``
    (a follow-up the gate answers on its own is retrieved on its own, :func:`_topic_change`);
    ``query_vector`` reuses an embedding of ``text`` (ignored when markup was left out of it).
    """
    text = question_clean(text)
    words = question_search_text(text)  # "" when nothing but markup: no words, no sources
    searched = words or text
    if searched != text:
        query_vector = None  # an embedding of the text as typed
    kb = knowledge_base or knowledge_base_get_live()
    provider = provider or get_chat_provider()
    threshold = answer_threshold() if threshold is None else threshold
    if conversation is None:
        token = secrets.token_urlsafe(32)  # 256 bits; only the hash is kept
    language = detect_language(searched)
    question = Question(
        text=text, channel=channel, language=language, threshold=threshold, retrieval_query=searched,
        token_hash=conversation.token_hash if conversation else token_hash(token),
    )  # fmt: skip
    if store:
        conversation = _conversation_add(question, conversation)
        if history is None and question.turn > 1:
            history = conversation_turns(
                conversation, before_turn=question.turn, limit=settings.CONVERSATION_HISTORY_TURNS
            )
    timings: dict[str, float] = {}
    # The answerer reads the customer's words, except after a chat-model rewrite: offline
    # context only steers retrieval (answering the text with carried terms lowered
    # "answered right" from 47.7 % to 36.9 %, evaluate --conversations, README).
    answer_to, how = searched, "as_asked"
    topic_change = settings.CONVERSATION_TOPIC_CHANGE if topic_change is None else topic_change
    retrieval: Retrieval | None = None
    finished = False
    try:  # from here on, whatever breaks is recorded on the question (the finally below)
        if history:
            started = time.perf_counter()
            query, how, usage = standalone_query(
                searched, history, use_model=provider.calls_model, method=context_method
            )
            question.retrieval_query, question.usage = query, usage
            answer_to = query if how == "rewrite" else searched
            timings["standalone_query"] = (time.perf_counter() - started) * 1000
            logger.debug("follow-up %r → %r (%s)", text, query, how)
        try:
            retrieval = retrieve(
                question=question.retrieval_query, kb_id=kb.pk, limit=settings.ANSWER_SOURCES,
                query_vector=query_vector if question.retrieval_query == searched else None,
                language=question.language,  # the customer's, not that of the carried context's words
            )  # fmt: skip
            timings.update(retrieval.timings_ms)
            if topic_change and how != "rewrite" and question.retrieval_query != searched:  # offline context was added
                started = time.perf_counter()
                retrieval = _topic_change(question, retrieval, searched, kb.pk, threshold, query_vector)
                timings["topic_change"] = (time.perf_counter() - started) * 1000
        except EmbeddingError as exc:
            logger.warning("query embedding failed: %s", exc)
            question.status, question.error = Question.Status.MODEL_ERROR, f"embedding: {exc}"
        if retrieval is None:
            yield AnswerSources(question=question)
        else:
            if retrieval.query_vector:  # kept for similar past tickets (support.assist)
                question.embedding, question.embedding_model = retrieval.query_vector, get_provider().name
            started = time.perf_counter()
            confidence = _rank_sources(question, retrieval, words)
            yield AnswerSources(question=question)
            if confidence is not None:
                yield from _answer_from(question, retrieval, provider, threshold, confidence, answer_to, stream=stream)
            timings["answer"] = (time.perf_counter() - started) * 1000
        finished = True
    except GeneratorExit:  # the consumer went away (a streaming client hung up): keep the question
        question.error = question.error or "disconnected: the answer was not finished"
        raise
    except Exception as exc:  # a bug or a database error: keep the question with what broke, then fail
        question.error = f"internal: {exc!r}"[:500]
        raise
    finally:
        if not finished:
            question.status = Question.Status.MODEL_ERROR
            question.answer = ""
        question.timings_ms = {k: round(v, 2) for k, v in timings.items()}
        question.escalation_recommended = question.status != Question.Status.ANSWERED
        if store:
            question.save()
    yield AnswerOutcome(question=question, retrieval=retrieval, token=token)


def _topic_change(
    question: Question, contextual: Retrieval, text: str, kb_id: int, threshold: float, vector: list[float] | None
) -> Retrieval:
    """The retrieval to answer a follow-up from: ``text`` alone when the gate would answer it
    alone (a new topic: "교환도 똑같아요?" after a refund question) with a confidence of at least
    ``CONVERSATION_TOPIC_CHANGE_MIN_CONFIDENCE`` too, else ``contextual``.

    Offline context carries the previous topic's terms and cited title, so a customer who
    moves on was answered from the old article. One more retrieval (~30 ms) per follow-up;
    ``CONVERSATION_TOPIC_CHANGE`` turns it off. Measured with ``evaluate --conversations``
    (README): answered from the right article 81.5 → 83.1 % of follow-ups. If the follow-up
    alone can't be embedded (an embedding API failure), the contextual retrieval stands.
    """
    try:
        alone = retrieve(question=text, kb_id=kb_id, limit=settings.ANSWER_SOURCES, query_vector=vector)
    except EmbeddingError as exc:
        logger.warning("topic-change check skipped, the follow-up alone could not be embedded: %s", exc)
        return contextual
    if alone.chunks and retrieval_confidence(alone, text) >= max(
        threshold, settings.CONVERSATION_TOPIC_CHANGE_MIN_CONFIDENCE
    ):
        question.retrieval_query = text
        return alone
    return contextual


@transaction.atomic
def _conversation_add(question: Question, conversation: Conversation | None) -> Conversation:
    """Save ``question`` as the next turn of ``conversation`` (a new one if None); return the conversation.

    The conversation row is locked while the turn number is taken, so two follow-ups
    sent at once get consecutive turns.
    """
    if conversation is None:
        conversation = Conversation.objects.create(language=question.language, token_hash=question.token_hash)
        question.turn = 1
    else:
        Conversation.objects.select_for_update().filter(pk=conversation.pk).update(updated_at=timezone.now())
        last = Question.objects.filter(conversation=conversation).aggregate(last=Max("turn"))["last"]
        question.turn = (last or 0) + 1
    question.conversation = conversation
    question.save()
    return conversation


def _rank_sources(question: Question, retrieval: Retrieval, words: str) -> float | None:
    """Fill ``question.sources`` and ``features`` from ``retrieval``; the retrieval confidence
    (after the help centre's known wordings and gaps, :func:`known_wordings` and
    :func:`support.confidence.known_wording_confidence`), or None (status ``no_sources``,
    sources cleared) when nothing relevant was found or the question's ``words`` (its text
    without markup, :func:`question_search_text`) have no letter or digit (nothing in it can
    match an article)."""
    wordings = known_wordings(retrieval)
    if same_wording_first(retrieval, wordings):
        wordings["known_wording_top"] = wordings["known_wording"]
    chunks = retrieval.chunks
    features = confidence_features(retrieval, words)
    question.features = features
    kinds = article_kinds({c.article_id for c in chunks})
    question.sources = [
        {
            "chunk_id": c.chunk_id, "article_id": c.article_id, "title": c.title, "url": _source_url(c.slug),
            "excerpt": c.content, "score": round(c.score, 4), "language": c.language,
            "kind": kinds.get(c.article_id, Article.Kind.ARTICLE),
        }
        for c in chunks
    ]  # fmt: skip
    wordless = not has_words(words)  # "😭😭😭": whatever came first is no source
    if not chunks or wordless or features["coverage"] == 0.0 and features["dense"] == 0.0:
        question.status, question.confidence = Question.Status.NO_SOURCES, 0.0
        question.sources = []
        return None
    features |= wordings
    return known_wording_confidence(confidence_from_features(features), features)


def same_wording_first(retrieval: Retrieval, wordings: dict[str, float]) -> bool:
    """Put first the retrieved article (its chunks in their fused order, the rest after them)
    that holds a title or *also asked as* line in the customer's very words: a query cosine of
    at least ``KNOWN_WORDING_SAME`` (punctuation, spacing and endings aside), nearer than any line
    of the top article and ``KNOWN_WORDING_MARGIN`` nearer than any known gap (``wordings``:
    :func:`known_wordings`). Staff taught that wording to that article; "카카오페이 돼요?" is a
    line of *Payment methods we accept*, but the Korean cancellation article, whose text names
    카카오페이, came first. At the known-wording similarity instead (0.89), short lines
    ("shipping fee?") pulled other articles first and Nabi Market lost more than it gained
    (README lever table); 0 turns it off. True when the order changed."""
    near, top, gap = (wordings.get(name) for name in KNOWN_WORDINGS)
    same = settings.KNOWN_WORDING_SAME
    if same <= 0 or near is None or gap is None or near < same or (top is not None and near <= top):
        return False
    if near - gap < settings.KNOWN_WORDING_MARGIN or not retrieval.query_vector:
        return False
    query = np.asarray(retrieval.query_vector, dtype=np.float32)
    cosines = {c.article_id: cos for c in retrieval.chunks if (cos := c.alias_cosine(query)) is not None}
    first = max(cosines, key=cosines.__getitem__)  # near came from one of them: never empty
    retrieval.chunks.sort(key=lambda c: c.article_id != first)  # stable: each side keeps its order
    return True


def known_wordings(retrieval: Retrieval) -> dict[str, float]:
    """The ``KNOWN_WORDINGS`` cosines (query embeddings compared, in [−1, 1]) of the question
    behind ``retrieval``: its nearest title or *also asked as* line among the retrieved articles
    (``known_wording``) and of the top one (``known_wording_top``), and its nearest known gap
    (``known_gap``, one query), each left out when there is none; empty without a query vector
    or when the gate reads none of them (:func:`knowledge.services.known_wordings_read`: both rules
    of :func:`support.confidence.known_wording_confidence` and the lead off)."""
    vector = retrieval.query_vector
    if not vector or not retrieval.chunks or not known_wordings_read():
        return {}
    found = {
        "known_wording": known_wording_similarity(retrieval.chunks, vector),
        "known_wording_top": known_wording_similarity(retrieval.chunks[:1], vector),
    }
    gap = known_gap_nearest(retrieval.kb_id, vector, get_provider().name)
    found["known_gap"] = gap[0] if gap else None
    return {name: round(float(cos), 6) for name, cos in found.items() if cos is not None}


def known_answer(retrieval: Retrieval) -> str:
    """The answer sentence (``Article.alias_answers``) of the top article's title or *also asked
    as* line nearest the question, when that line is ``KNOWN_ANSWER_SIMILARITY`` near (query
    embeddings, cosine in [−1, 1]); "" otherwise, without a query vector, or with the setting 0.

    Support taught the line from a ticket whose answer was that sentence; a question in nearly
    the same words wants it too, and in the other language or other words nothing else finds
    it: "택 떼버렸는데 교환 되나요?" (0.959 from the line "택 뗐는데 교환 가능?") had quoted three
    sentences of the English exchange article without "with all tags attached" (README,
    twenty-sixth session)."""
    similarity = settings.KNOWN_ANSWER_SIMILARITY
    if similarity <= 0 or not retrieval.query_vector or not retrieval.chunks:
        return ""
    top = retrieval.chunks[0]
    nearest = top.nearest_line(np.asarray(retrieval.query_vector, dtype=np.float32)) if top.alias_answers else None
    if nearest is None or nearest[1] < similarity:
        return ""
    return top.alias_answers.get(nearest[0], "")


def _answer_from(
    question: Question,
    retrieval: Retrieval,
    provider: ChatProvider,
    threshold: float,
    confidence: float,
    answer_to: str,
    *,
    stream: bool,
) -> Iterator[AnswerDelta]:
    """Answer ``question`` from its ranked sources; yields the answer text's pieces when ``stream``."""
    if confidence < threshold and provider.calls_model:
        # Retrieval alone already says "not sure", and the model's verdict can only lower
        # confidence: calling it would cost the customer seconds (and money) for an answer
        # that is thrown away. The worker writes the staff draft if a ticket follows.
        question.status, question.confidence = Question.Status.NOT_CONFIDENT, confidence
        return
    chunks = retrieval.chunks
    excerpts = source_excerpts(chunks)
    centroid = None
    if chunks and retrieval.query_vector and other_language(question.language, chunks[0].language):
        found = sentence_centroid(retrieval.kb_id, question.language)
        centroid = found.tolist() if found is not None else None
    asked = AnswerRequest(
        question=answer_to, sources=excerpts, term_weights=retrieval.term_weights, language=question.language,
        query_vector=retrieval.query_vector, language_centroid=centroid, known_answer=known_answer(retrieval),
    )  # fmt: skip
    if provider.calls_model and settings.DB_POOL and not connection.in_atomic_block:
        # The model takes seconds: hand the database connection back to the pool meanwhile
        # (skipped inside a transaction, e.g. in tests, and without a pool, where closing
        # would mean a new connection per answer); the save after it takes one again.
        connection.close()
    generated: GeneratedAnswer | None = None
    try:
        if stream and confidence >= threshold:  # below it (extractive only) the excerpt is not shown: no pieces
            parts = provider.answer_stream(**asked)
            try:
                for part in parts:
                    if isinstance(part, GeneratedAnswer):
                        generated = part
                    elif part:
                        yield AnswerDelta(text=part)
            finally:
                parts.close()  # closes the model's HTTP stream when our consumer went away
        else:
            generated = provider.answer(**asked)
        if generated is None:
            raise AnswerModelError("invalid_output", "the answer stream ended without an answer")
    except AnswerModelError as exc:
        logger.warning("answer model failed (%s): %s", exc.code, exc)
        question.status, question.error, question.confidence = (
            Question.Status.MODEL_ERROR,
            f"{exc.code}: {exc}",
            confidence,
        )
        question.answer = ""
        return
    if not generated.answerable:
        confidence *= LLM_UNANSWERABLE_FACTOR
    question.confidence = confidence
    question.answer, question.answer_kind = generated.text, generated.kind
    question.usage = question.usage | generated.usage  # keeps the follow-up rewrite's tokens
    question.answer_span = generated.span if generated.span and generated.span in generated.text else ""
    question.answer_span_start = span_start_valid(generated)
    cited = [n for n in generated.cited if 1 <= n <= len(chunks)]
    if cited:  # cited sources first, in citation order; the rest after
        order = list(dict.fromkeys(cited)) + [n for n in range(1, len(chunks) + 1) if n not in cited]
        question.sources = [question.sources[n - 1] | {"cited": n in cited} for n in order]
    if not generated.text.strip():
        question.status = Question.Status.NO_SOURCES
    elif confidence < threshold:
        question.status = Question.Status.NOT_CONFIDENT
    else:
        question.status = Question.Status.ANSWERED


def answer_policy_store(*, threshold: float, note: str) -> AnswerPolicy:
    """Write a (calibrated) threshold and its note into the single answer-policy row."""
    policy, created = AnswerPolicy.objects.get_or_create(
        pk=AnswerPolicy.SINGLETON_PK, defaults={"confidence_threshold": threshold, "calibration_note": note}
    )
    if not created:
        policy.confidence_threshold, policy.calibration_note = threshold, note
        policy.save(update_fields=["confidence_threshold", "calibration_note", "updated_at"])
    return policy
