"""The evaluation run: an isolated collection per file, indexed in-process, every question asked.

:func:`evaluation_run` does, in order:

1. **Collection** — a :class:`~knowledge.models.KnowledgeBase` named
   ``eval-<first 12 hex of the file's SHA-256>`` (never the live ``help-centre``), filled
   through the ordinary importer (``read_records`` + ``articles_import``). A seeded choice
   of ``round(fraction · n)`` articles is saved as draft: those are *out of scope*
   (retrieval only sees published articles, and corpus statistics count published
   chunks only) and are not indexed.
2. **Indexing** — ``article_index`` for every published article, the same path the
   worker runs; it skips articles whose content hash and embedding model are already
   indexed, so a re-run only redoes the answer side.
3. **Questions** — each question is embedded once; for in-scope questions every
   requested retriever runs with that vector (an out-of-scope question can't have a
   hit, so retrieval figures are over in-scope questions only); then every question
   goes through ``question_answer`` — the service customers use — unsaved.

The result is a JSON-ready report (see :mod:`support.evaluation.report`) with
per-question :class:`QuestionRecord`s, from which ``manage.py calibrate`` recomputes
the trade-off curve without asking anything again.
"""

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.db import connection

from knowledge.embeddings import EmbeddingProvider, get_provider
from knowledge.importers import articles_import, read_known_gaps, read_records
from knowledge.models import Article, Chunk, KnowledgeBase
from knowledge.selectors import Mode, embed_question, retrieve
from knowledge.services import (
    AliasRejected,
    KnownGapRejected,
    alias_answers_clean,
    alias_line,
    aliases_with_line,
    article_index,
    article_needs_indexing,
    article_sentences_with,
    known_gap_add,
    known_gaps_sync,
)
from support.answering import ChatProvider, get_chat_provider
from support.confidence import confidence_from_features, known_wording_confidence
from support.evaluation.metrics import (
    exact_match,
    f1_score,
    first_hit_rank,
    holds_gold,
    normalize_answer,
    span_on_answer,
)
from support.evaluation.questionset import read_question_set
from support.evaluation.squad import SquadQuestion, file_sha256, read_questions
from support.models import Question
from support.services import QuestionInvalid, question_answer

RETRIEVERS: tuple[Mode, ...] = ("lexical", "dense", "hybrid")
TOP_K = 20  # retrieved chunks per retriever: recall@1/5/20 and MRR@20
WITH_ANSWER = (Question.Status.ANSWERED, Question.Status.NOT_CONFIDENT)  # the answerer produced text


@dataclass(frozen=True)
class EvaluationOptions:
    """What to evaluate: a SQuAD/KorQuAD file (``squad_path``), or a help centre's
    articles folder (``squad_path``) with a customer question set (``questions_path``)."""

    squad_path: Path
    questions_path: Path | None = None
    exclude_fraction: float = 0.0
    seed: int = 0
    limit_questions: int | None = None
    retrievers: tuple[Mode, ...] = RETRIEVERS
    learn_from: tuple[Path, ...] = ()  # question sets the learning loop runs on first (collection_learn)
    learn_unhelpful: bool = False  # the loop also learns from answers that were not right (collection_learn)


class ProgressLine:
    """A status line redrawn in place with a carriage return, at most every ``interval`` s."""

    def __init__(self, write: Callable[[str], None], interval: float = 0.25) -> None:
        self._write, self._interval, self._last, self._width = write, interval, 0.0, 0

    def update(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self._interval:
            self._last = now
            self._write("\r" + text.ljust(self._width))
            self._width = len(text)

    def finish(self, text: str) -> None:
        self.update(text, force=True)
        self._write("\n")
        self._width = 0


def clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (or ``h:mm:ss``)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta(elapsed: float, fraction_done: float) -> str:
    """Remaining time assuming a constant rate; ``?`` before any progress."""
    if fraction_done <= 0:
        return "?"
    return clock(elapsed * (1 - fraction_done) / fraction_done)


# --- Collection and indexing ----------------------------------------------------------------


@dataclass(frozen=True)
class ChunkTruth:
    article_id: int
    content: str
    normalized: str  # normalize_answer(content), computed once per chunk


@dataclass
class Collection:
    knowledge_base: KnowledgeBase
    article_by_title: dict[str, int]
    excluded: set[int]  # article ids saved as draft: out of scope
    title_by_slug: dict[str, str] = field(default_factory=dict)
    import_errors: list[str] = field(default_factory=list)
    chunks: dict[int, ChunkTruth] = field(default_factory=dict)  # published chunks by id
    indexing: dict[str, float] = field(default_factory=dict)
    questions: list[SquadQuestion] = field(default_factory=list)  # the customer question set asked of it, if any
    withheld: frozenset[str] = frozenset()  # alias_line(question).casefold() of those questions
    withheld_lines: int = 0  # "also asked as" lines left out because they are an evaluated question
    known_gaps: int = 0  # known gaps of the collection when the run began (from the folder's known-gaps.txt)
    withheld_gaps: int = 0  # known-gap lines left out because they are an evaluated question
    learned: list[dict[str, Any]] = field(default_factory=list)  # collection_learn reports

    def is_hit(self, chunk_id: int, article_id: int, golds: Sequence[str], *, facts: bool = False) -> bool:
        """A chunk of the question's own article whose content contains a gold answer (for a
        help-centre question's ``facts``, by :func:`~support.evaluation.metrics.contains_fact`)."""
        truth = self.chunks.get(chunk_id)
        if truth is None or truth.article_id != article_id:
            return False
        return holds_gold(truth.content, golds, facts=facts, normalized=truth.normalized)


def evaluation_knowledge_base(path: Path) -> KnowledgeBase:
    """The collection for the evaluation file at ``path`` (created on first use)."""
    slug = _collection_slug(path)
    kb, _ = KnowledgeBase.objects.get_or_create(slug=slug, defaults={"name": f"Evaluation: {path.name}"[:200]})
    return kb


def _collection_slug(path: Path) -> str:
    return f"eval-{file_sha256(path)[:12]}"


@contextmanager
def collection_lock(path: Path, write: Callable[[str], None]) -> Iterator[None]:
    """Hold PostgreSQL's session advisory lock for the evaluation collection of ``path``.

    Every run over the same articles shares one collection (named by their content), and each
    re-imports and re-indexes it with its own *also asked as* lines left out or learned; two
    runs at once would replace each other's chunks under their hit tests. So the second run
    waits for the first (``write`` says so once) and the lock is released on leaving, also
    on an error. Keyed by ``hashtext`` of the collection's slug (``pg_advisory_lock``,
    PostgreSQL manual, *Advisory Lock Functions*).
    """
    key = _collection_slug(path)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        if not cursor.fetchone()[0]:
            write(f"waiting for another evaluation of {path.name} to finish\n")
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def excluded_titles(titles: Sequence[str], fraction: float, seed: int) -> set[str]:
    """``round(fraction · len(titles))`` titles chosen by ``random.Random(seed)``: out of scope."""
    count = min(len(titles), max(0, round(fraction * len(titles))))
    return set(random.Random(seed).sample(list(titles), count))


def _line_key(text: str) -> str:
    return alias_line(text).casefold()


def collection_import(
    *, path: Path, exclude_fraction: float, seed: int, questions_path: Path | None = None
) -> Collection:
    """Import the file's articles into its evaluation collection; excluded ones as draft.

    With ``questions_path``, the customer question set about these articles is read (into
    ``Collection.questions``) before anything is imported, and an *also asked as* line that is
    one of its questions (compared as :func:`knowledge.services.alias_line` makes them,
    case-insensitively) is left out: a question is never scored against its own wording,
    which the learning loop may have added to the articles (``evaluate --learn-from``, and
    the sample articles' lines learned from other question sets). The collection's known gaps
    become the folder's ``known-gaps.txt`` lines (:func:`knowledge.importers.read_known_gaps`),
    those that are one of its questions left out alike. Raises ``ValueError`` when
    the file holds no valid article or the question set a malformed line (as
    :func:`~support.evaluation.questionset.read_question_set`).
    """
    records, errors = read_records(path)
    if not records:
        raise ValueError(f"{path.name}: no valid articles ({len(errors)} skipped)")
    title_by_slug = {r.slug: r.title for r in records if r.slug}
    questions = read_question_set(questions_path, title_by_slug) if questions_path is not None else []
    keys = frozenset(_line_key(q.question) for q in questions)
    left_out = 0
    if keys:
        kept_records = []
        for r in records:
            lines = (r.aliases or "").splitlines()
            kept = [line for line in lines if _line_key(line) not in keys]
            left_out += len(lines) - len(kept)
            if len(kept) < len(lines):  # their answers go with them
                r = replace(
                    r, aliases="\n".join(kept), alias_answers=alias_answers_clean("\n".join(kept), r.alias_answers)
                )
            kept_records.append(r)
        records = kept_records
    titles = list(dict.fromkeys(r.title for r in records))
    out = excluded_titles(titles, exclude_fraction, seed)
    records = [replace(r, status=Article.Status.DRAFT if r.title in out else Article.Status.PUBLISHED) for r in records]
    kb = evaluation_knowledge_base(path)
    report = articles_import(records=records, knowledge_base=kb, schedule=False)
    gap_lines = read_known_gaps(path)
    gaps = [line for line in gap_lines if _line_key(line) not in keys]
    known_gaps_sync(knowledge_base=kb, lines=gaps, provider=get_provider())
    by_title = {r.title: article_id for r, article_id in zip(records, report.article_ids, strict=True)}
    return Collection(
        knowledge_base=kb,
        article_by_title=by_title,
        title_by_slug=title_by_slug,
        excluded={by_title[t] for t in out},
        import_errors=[str(e) for e in errors],
        questions=questions,
        withheld=keys,
        withheld_lines=left_out,
        known_gaps=len(gaps),
        withheld_gaps=len(gap_lines) - len(gaps),
    )


class IndexingProgress:
    """``article_index`` progress callback drawing articles done, chunks embedded and an ETA.

    The ETA comes from the share of body characters done (chunk counts are unknown
    until an article is chunked).
    """

    def __init__(self, line: ProgressLine, articles: int, chars: int) -> None:
        self.line, self.articles, self.chars = line, articles, max(chars, 1)
        self.started = time.monotonic()
        self.article, self.size, self.done_chars, self.embedded = 0, 0, 0, 0

    def start(self, number: int, size: int) -> None:
        self.article, self.size = number, size

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        fraction = (self.done_chars + self.size * done / max(total, 1)) / self.chars
        self.line.update(
            f"indexing: article {self.article}/{self.articles} · {self.embedded + done} chunks embedded · "
            f"{clock(elapsed)} elapsed · ETA {eta(elapsed, fraction)}"
        )

    def article_done(self, chunks: int) -> None:
        self.done_chars += self.size
        self.embedded += chunks


def collection_index(*, collection: Collection, provider: EmbeddingProvider, progress: ProgressLine) -> None:
    """Index every published article that needs it; fills ``collection.indexing``.

    ``article_index`` errors propagate: a half-indexed collection would give misleading
    figures. So does an article left unindexed, as :class:`RuntimeError`. Called under
    :func:`collection_lock`, so no other evaluation is indexing the collection: a claim an
    article still holds is a run's that was killed mid-indexing (Ctrl-C), and is released first.
    It had been left to time out (``INDEX_CLAIM_TIMEOUT_SECONDS``), and until then the next runs
    answered from the killed run's chunks, whose *also asked as* lines were another question
    set's, without a word (twenty-eighth session: a refund article's known answers went missing).
    """
    kb = collection.knowledge_base
    Article.objects.filter(knowledge_base=kb, index_state=Article.IndexState.INDEXING).update(
        index_state=Article.IndexState.PENDING, index_attempts=0
    )
    published = list(Article.objects.filter(knowledge_base=kb, status=Article.Status.PUBLISHED))
    todo = [a for a in published if article_needs_indexing(a, provider.name)]
    tally = IndexingProgress(progress, len(todo), sum(len(a.body) for a in todo))
    for number, article in enumerate(todo, 1):
        tally.start(number, len(article.body))
        article_index(article_id=article.pk, provider=provider, progress=tally)
        tally.article_done(Article.objects.filter(pk=article.pk).values_list("chunk_count", flat=True).first() or 0)
    again = Article.objects.filter(pk__in=[a.pk for a in todo])
    left = [a.title for a in again if article_needs_indexing(a, provider.name)]
    if left:
        raise RuntimeError(f"{len(left)} article(s) could not be indexed: {', '.join(left[:5])}")
    seconds = time.monotonic() - tally.started
    progress.finish(
        f"indexing: {len(todo)} articles indexed ({tally.embedded} chunks embedded), "
        f"{len(published) - len(todo)} reused, in {clock(seconds)}"
    )
    collection.indexing = {
        "articles_published": len(published),
        "articles_indexed": len(todo),
        "articles_reused": len(published) - len(todo),
        "chunks_embedded": tally.embedded,
        "seconds": round(seconds, 2),
    }


def collection_load_chunks(collection: Collection) -> None:
    """Ground truth for hit tests, fetched once: published chunk id -> article and content."""
    rows = Chunk.objects.filter(
        knowledge_base=collection.knowledge_base, article__status=Article.Status.PUBLISHED
    ).values_list("id", "article_id", "content")
    collection.chunks = {cid: ChunkTruth(aid, content, normalize_answer(content)) for cid, aid, content in rows}


# --- Questions -------------------------------------------------------------------------------


@dataclass
class QuestionRecord:
    """One asked question: what calibration and the figures are computed from.

    ``ranks``: 1-based rank of the first hit among ``TOP_K`` chunks per retriever (None:
    no hit; empty out of scope). ``answerer_factor``: confidence ÷ the retrieval confidence
    (logistic(features) after the known wordings and gaps,
    :func:`~support.confidence.known_wording_confidence`) — 1, or the LLM-unanswerable factor —
    so confidences can be recomputed for other weights. Answer scores (``contains_gold``,
    ``exact_match``, ``f1`` of the whole answer;
    ``span_exact_match``, ``span_f1`` of its ``answer_span``, ``span_on_answer``:
    :func:`~support.evaluation.metrics.span_on_answer`) are set for
    in-scope questions with an answer, whatever the threshold; ``top_hit``: the first
    cited source is a hit; ``suggested``: one of the stored sources (what an escalated question's
    page lists under "These articles might help") is from the question's article. Timings in ms.
    """

    id: str
    in_scope: bool
    status: str
    confidence: float
    features: dict[str, float]
    answerer_factor: float
    has_answer: bool
    answer_kind: str
    contains_gold: bool = False
    exact_match: float = 0.0
    f1: float = 0.0
    span_exact_match: float = 0.0
    span_f1: float = 0.0
    span_on_answer: bool = False
    top_hit: bool = False
    suggested: bool = False  # in scope, and a stored source is from the question's article
    ranks: dict[str, int | None] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    group: str = "ko-ko"  # language pair (question-article); the question's language when out of scope
    article: str = ""  # title of the question's article ("" if none answers it): cross-validation folds
    source: str = ""  # which evaluation file it came from (set when records are loaded for calibration)
    question: str = ""  # as asked, and the answer text shown (or drafted): for reading misses in the JSON
    answer: str = ""
    span: str = ""  # the answer's answer_span, as the page highlights it

    def answered(self, threshold: float, weights: list[float] | None = None, **rule: float) -> bool:
        """An answer was given at ``threshold`` (confidence with ``weights`` and ``rule``:
        :meth:`confidence_for`), not an escalation."""
        return self.has_answer and self.confidence_for(weights, **rule) >= threshold

    def answered_right(self, threshold: float, weights: list[float] | None = None, **rule: float) -> bool:
        """Answered at ``threshold`` (confidence with ``weights`` and ``rule``), in scope, the top
        cited chunk a hit and the answer containing a gold answer: what a customer counts as a
        right answer."""
        return self.in_scope and self.top_hit and self.contains_gold and self.answered(threshold, weights, **rule)

    def outcome(self, threshold: float, weights: list[float] | None = None, **rule: float) -> str:
        """What the customer got: ``"right"`` (:meth:`answered_right`), ``"wrong"`` (answered
        otherwise, in scope or not) or ``"escalated"``."""
        if self.answered_right(threshold, weights, **rule):
            return "right"
        return "wrong" if self.answered(threshold, weights, **rule) else "escalated"

    def confidence_for(self, weights: list[float] | None, **rule: float) -> float:
        """The confidence in [0, 1] the answering service would give with ``weights`` (None: the
        weights in force) and the known-wording settings in ``rule`` (keywords of
        :func:`~support.confidence.known_wording_confidence`; the rest as set): the logistic of the
        recorded features, those rules, the recorded LLM factor. As asked when neither is given."""
        if weights is None and not rule:
            return self.confidence
        if self.status == Question.Status.NO_SOURCES or not self.features:
            return 0.0
        before = confidence_from_features(self.features, weights)
        return known_wording_confidence(before, self.features, **rule) * self.answerer_factor


@dataclass(frozen=True)
class Asker:
    collection: Collection
    embedder: EmbeddingProvider
    chat: ChatProvider
    threshold: float
    retrievers: tuple[Mode, ...]


def questions_select(questions: Sequence[SquadQuestion], *, limit: int | None, seed: int) -> list[SquadQuestion]:
    """The questions in a ``random.Random(seed)`` order, the first ``limit`` if given.

    Shuffling before cutting keeps the in-scope/out-of-scope mix of the whole file.
    """
    chosen = list(questions)
    random.Random(seed).shuffle(chosen)
    return chosen[:limit] if limit else chosen


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def question_evaluate(q: SquadQuestion, asker: Asker) -> QuestionRecord | None:
    """Ask one question through every retriever and the answering service (None: no article)."""
    started = time.perf_counter()
    collection, kb = asker.collection, asker.collection.knowledge_base
    article_id = collection.article_by_title.get(q.article_title)
    if article_id is None and q.article_title:
        return None  # names an article the file does not have
    in_scope = article_id is not None and article_id not in collection.excluded
    vector = embed_question(asker.embedder, q.question)
    timings = {"embed": _ms(started)}
    ranks: dict[str, int | None] = {}
    if in_scope and article_id is not None and asker.retrievers:
        # One hybrid pass yields all three rankings: its lexical and dense candidate lists
        # (RETRIEVAL_CANDIDATES deep, ≥ TOP_K) are exactly what each retriever alone returns.
        found = retrieve(question=q.question, kb_id=kb.pk, mode="hybrid", limit=TOP_K, query_vector=vector)
        rankings = {
            "hybrid": [c.chunk_id for c in found.chunks],
            "lexical": found.lexical_ranking[:TOP_K],
            "dense": found.dense_ranking[:TOP_K],
        }
        for mode in asker.retrievers:
            hits = (collection.is_hit(cid, article_id, q.answers, facts=q.facts) for cid in rankings[mode])
            ranks[mode] = first_hit_rank(hits)
        timings["sql_retrievers"] = found.timings_ms.get("sql", 0.0)
    answering = time.perf_counter()
    try:
        outcome = question_answer(
            text=q.question, knowledge_base=kb, provider=asker.chat, threshold=asker.threshold,
            store=False, query_vector=vector,
        )  # fmt: skip
    except QuestionInvalid:
        return None
    timings["answer_service"] = _ms(answering)
    record = _record_from(q, outcome.question, in_scope=in_scope, article_id=article_id or 0, collection=collection)
    record.ranks = ranks
    timings["answer_sql"] = outcome.question.timings_ms.get("sql", 0.0)
    timings["answer_assembly"] = outcome.question.timings_ms.get("answer", 0.0)
    timings["total"] = _ms(started)
    record.timings_ms = {k: round(v, 2) for k, v in timings.items()}
    return record


def _record_from(
    q: SquadQuestion, question: Question, *, in_scope: bool, article_id: int, collection: Collection
) -> QuestionRecord:
    features = {k: float(v) for k, v in (question.features or {}).items()}
    confidence = float(question.confidence or 0.0)
    base = known_wording_confidence(confidence_from_features(features), features) if features else 0.0
    record = QuestionRecord(
        id=q.id,
        group=q.group if in_scope else q.group.split("-")[0],  # unanswerable: the question's language only
        article=q.article_title,
        in_scope=in_scope,
        status=str(question.status),
        confidence=confidence,
        features=features,
        answerer_factor=round(confidence / base, 6) if base > 0 and confidence > 0 else 1.0,
        has_answer=question.status in WITH_ANSWER,
        answer_kind=question.answer_kind,
        question=q.question,
        answer=question.answer if question.status in WITH_ANSWER else "",
        span=question.answer_span if question.status in WITH_ANSWER else "",
    )
    if in_scope and record.has_answer:
        record.contains_gold = holds_gold(question.answer, q.answers, facts=q.facts)
        record.exact_match = exact_match(question.answer, q.answers)
        record.f1 = round(f1_score(question.answer, q.answers), 6)
        record.span_exact_match = exact_match(question.answer_span, q.answers)
        record.span_f1 = round(f1_score(question.answer_span, q.answers), 6)
        record.span_on_answer = span_on_answer(question.answer_span, q.answers, facts=q.facts)
    if in_scope and question.sources:
        record.top_hit = collection.is_hit(int(question.sources[0]["chunk_id"]), article_id, q.answers, facts=q.facts)
        record.suggested = any(int(s.get("article_id") or 0) == article_id for s in question.sources)
    return record


def questions_ask(*, questions: Sequence[SquadQuestion], asker: Asker, progress: ProgressLine) -> list[QuestionRecord]:
    """Evaluate ``questions`` in order, drawing a progress line; skipped ones are left out."""
    records: list[QuestionRecord] = []
    started = time.monotonic()
    for number, q in enumerate(questions, 1):
        record = question_evaluate(q, asker)
        if record is not None:
            records.append(record)
        elapsed = time.monotonic() - started
        progress.update(
            f"questions: {number}/{len(questions)} · {number / max(elapsed, 1e-9):.1f}/s · "
            f"{clock(elapsed)} elapsed · ETA {eta(elapsed, number / len(questions))}"
        )
    skipped, seconds = len(questions) - len(records), time.monotonic() - started
    progress.finish(f"questions: {len(records)} asked ({skipped} skipped) in {clock(seconds)}")
    return records


# --- The run -----------------------------------------------------------------------------------


def _teach_line(
    collection: Collection, question: SquadQuestion, *, add: bool
) -> tuple[tuple[str, str] | None, tuple[str, str, str] | None]:
    """Teach ``question``'s article its wording as an *also asked as* line (when ``add``) with the
    sentence holding one of its facts as the line's answer, or just that answer to the line when
    the article already has it without one. Returns ``((title, line) added or None, (title, line,
    sentence) taught or None)``; both None when nothing was taught (blank, there with its answer,
    the article full, or no sentence holds a fact)."""
    article = Article.objects.get(pk=collection.article_by_title[question.article_title])
    answer = next((found[0] for fact in question.answers if (found := article_sentences_with(article, fact))), "")
    answered = dict(article.alias_answers or {})
    added = None
    if add:
        try:
            aliases, line = aliases_with_line(article.aliases, question.question, title=article.title)
            added = (article.title, line)
        except AliasRejected:
            pass
    if added is None:  # already there (or not to be added): only its answer is taught, if missing
        have = alias_line(question.question).casefold()
        aliases = article.aliases
        line = next((x.strip() for x in aliases.splitlines() if " ".join(x.split()).casefold() == have), "")
        if not (answer and line and line not in answered):
            return None, None
    if answer:
        answered = alias_answers_clean(aliases, {**answered, line: answer})
    Article.objects.filter(pk=article.pk).update(aliases=aliases, alias_answers=answered)
    return added, (article.title, line, answer) if answer else None


def collection_learn(
    *,
    collection: Collection,
    questions_path: Path,
    asker: Asker,
    progress: ProgressLine,
    unhelpful: bool = False,
    answer_lines: bool = False,
) -> dict[str, Any]:
    """The learning loop, run on the collection with the question set at ``questions_path``:
    every question is asked through the customer path, and each answerable one the portal
    escalated (a ticket, which a support agent answers from the question's own article) has
    its wording added to that article's *also asked as* lines by the rule staff use from the
    ticket page (:func:`knowledge.services.aliases_with_line`; the ticket admin's "Teach the
    help centre"). Each unanswerable one it escalated (a ticket the agent answers "we do not
    have that") is remembered as a known gap (:func:`knowledge.services.known_gap_add`, the
    ticket admin's "No article answers this"). Questions answered teach nothing: no ticket
    reaches an agent; with ``unhelpful``, one answered but not right (another article cited,
    no fact, or not answerable at all) comes back as a ticket too, as when the customer says
    "No" under the answer, which takes them to support, and teaches by the same rules. A
    question that is one of the evaluated ones (``collection.withheld``) teaches nothing
    either. Re-index with :func:`collection_index` afterwards (:func:`evaluation_run` does,
    after each set, before the next is asked).

    Each line taught carries its answer when a sentence of the article holds one of the question's
    facts (the first, :func:`knowledge.services.article_sentences_with`: the sentence the agent quoted),
    kept in ``Article.alias_answers``; a question whose line is already there without one teaches
    just the answer (the excerpt had missed it, :func:`support.services.known_answer`). With
    ``answer_lines``, so does every answerable question whose line is already there, answered or
    not: lines taught before they carried answers get the one their agent gave.

    Returns ``{"file", "questions", "escalated_in_scope", "unhelpful", "lines_added", "refused",
    "withheld", "lines", "gaps_added", "gaps", "answers"}`` (``unhelpful``: answers that came back;
    ``refused``: blank, already there (with its answer), or the article full; ``lines``:
    ``[(article title, line), …]`` as added; ``gaps``: the known gaps' lines; ``answers``:
    ``[(article title, line, sentence), …]`` as taught). Raises ``FileNotFoundError`` /
    ``ValueError`` for an unreadable set, as :func:`~support.evaluation.questionset.read_question_set`.
    """
    questions = read_question_set(questions_path, collection.title_by_slug)
    records = questions_ask(questions=questions, asker=asker, progress=progress)
    by_id = {q.id: q for q in questions}
    escalated = refused = withheld = came_back = 0
    lines: list[tuple[str, str]] = []  # (article title, line added)
    answers: list[tuple[str, str, str]] = []  # (article title, line, the sentence that answers it)
    gaps: list[str] = []  # known gaps added
    for record in records:
        question = by_id[record.id]
        if record.status == Question.Status.ANSWERED:
            if not unhelpful or record.in_scope and record.top_hit and record.contains_gold:
                if answer_lines and record.in_scope and _line_key(question.question) not in collection.withheld:
                    _, taught = _teach_line(collection, question, add=False)  # its existing line's answer
                    answers.extend([taught] if taught else [])
                continue
            came_back += 1
        else:
            escalated += record.in_scope
        if _line_key(question.question) in collection.withheld:
            withheld += 1
            continue
        if not record.in_scope:
            try:
                gaps.append(
                    known_gap_add(
                        knowledge_base=collection.knowledge_base, text=question.question, provider=asker.embedder
                    ).text
                )
            except KnownGapRejected:
                refused += 1
            continue
        added, taught = _teach_line(collection, question, add=True)
        lines.extend([added] if added else [])
        answers.extend([taught] if taught else [])
        refused += not (added or taught)
    report = {
        "file": questions_path.name, "questions": len(records), "escalated_in_scope": escalated,
        "unhelpful": came_back, "lines_added": len(lines), "refused": refused, "withheld": withheld, "lines": lines,
        "gaps_added": len(gaps), "gaps": gaps, "answers": answers,
    }  # fmt: skip
    progress.finish(
        f"learned from {questions_path.name}: {len(lines)} lines added from {escalated} escalated answerable "
        f"questions, {len(gaps)} known gaps from escalated unanswerable ones"
        + (f", {came_back} answers not right came back" if unhelpful else "")
        + f" ({refused} refused, {withheld} withheld: asked in this run)"
    )
    return report


INDEXING_COUNTS = ("articles_indexed", "chunks_embedded", "seconds")  # collection.indexing keys that add up


def collection_learn_sets(
    *,
    collection: Collection,
    paths: Sequence[Path],
    asker: Asker,
    progress: ProgressLine,
    unhelpful: bool = False,
    answer_lines: bool = False,
) -> None:
    """:func:`collection_learn` with each question set in ``paths`` in turn, as the weeks of a
    help centre's tickets, re-indexing the changed articles after each (so the next set is
    asked against what the previous taught; ``unhelpful`` and ``answer_lines`` as there); reports go to
    ``collection.learned``, and the
    articles indexed, chunks embedded and seconds (``INDEXING_COUNTS``) add up in
    ``collection.indexing``."""
    for path in paths:
        before = collection.indexing
        collection.learned.append(
            collection_learn(
                collection=collection,
                questions_path=path,
                asker=asker,
                progress=progress,
                unhelpful=unhelpful,
                answer_lines=answer_lines,
            )
        )
        collection_index(collection=collection, provider=asker.embedder, progress=progress)
        collection_load_chunks(collection)
        collection.indexing = {  # what was indexed adds up; what was published and first reused does not
            **before,
            **{k: round(before.get(k, 0) + collection.indexing[k], 2) for k in INDEXING_COUNTS},
        }


@dataclass
class EvaluationRun:
    options: EvaluationOptions
    collection: Collection
    records: list[QuestionRecord]
    threshold: float
    embedder: EmbeddingProvider
    chat: ChatProvider
    questions_total: int
    seconds: dict[str, float]


def evaluation_run(
    *, options: EvaluationOptions, write: Callable[[str], None], threshold: float | None = None
) -> EvaluationRun:
    """Run the whole evaluation; progress goes to ``write`` (raw text, carriage returns).

    Holds :func:`collection_lock` throughout: a second run over the same articles waits.
    ``threshold`` defaults to the one in force (``support.selectors.answer_threshold``).
    Raises ``FileNotFoundError``/``ValueError`` for an unreadable file.
    """
    from support.selectors import answer_threshold

    progress = ProgressLine(write)
    if options.questions_path is not None and options.questions_path.resolve() in {
        p.resolve() for p in options.learn_from
    }:
        raise ValueError(f"{options.questions_path.name}: a question set cannot be learned from and evaluated at once")
    with collection_lock(options.squad_path, write):
        collection = collection_import(
            path=options.squad_path, exclude_fraction=options.exclude_fraction, seed=options.seed,
            questions_path=options.questions_path,
        )  # fmt: skip
        questions = read_questions(options.squad_path) if options.questions_path is None else collection.questions
        embedder, chat = get_provider(), get_chat_provider()
        collection_index(collection=collection, provider=embedder, progress=progress)
        collection_load_chunks(collection)
        asker = Asker(
            collection=collection, embedder=embedder, chat=chat,
            threshold=answer_threshold() if threshold is None else threshold, retrievers=options.retrievers,
        )  # fmt: skip
        collection_learn_sets(
            collection=collection, paths=options.learn_from, asker=asker, progress=progress,
            unhelpful=options.learn_unhelpful,
        )  # fmt: skip
        chosen = questions_select(questions, limit=options.limit_questions, seed=options.seed)
        started = time.monotonic()
        records = questions_ask(questions=chosen, asker=asker, progress=progress)
        return EvaluationRun(
            options=options, collection=collection, records=records, threshold=asker.threshold,
            embedder=embedder, chat=chat, questions_total=len(chosen),
            seconds={"indexing": collection.indexing["seconds"], "questions": round(time.monotonic() - started, 2)},
        )  # fmt: skip


def records_from_json(items: Sequence[dict[str, Any]], source: str = "") -> list[QuestionRecord]:
    """Per-question records back from an evaluation JSON's ``records`` list, tagged with ``source``."""
    return [replace(QuestionRecord(**item), source=source or item.get("source", "")) for item in items]
